"""The Bridge between Python and C++, both ways: a Python client against
`netstructer serve` and the C++ echo peer, and C++ clients (`netstructer
send`, the echo peer) against a Python Server."""

import os
import random
import subprocess
import tempfile
import threading
import time
import unittest

import netstructer
from netstructer import (AcceptPolicy, Bridge, BufferDataError, ConnectionEndError,
                         Refused, Server, StatusCode)

import testing_support as ts

README_VALUE = ['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 6, 4}, (False, True)]
FALSY = [0, '', [], None, False, b'', {}, set(), (), 0.0]
NESTED = {(1, 'a'): [{None: (b'x', [{2.5, -7}])}], 'deep': [[[[['bottom']]]]]}


def pattern(n):
    text = b"NetStructer compresses repeating text. "
    return (text * (n // len(text) + 1))[:n]


def random_bytes(n):
    return random.Random(20261206).randbytes(n)


class PythonClientCppServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.key_file, cls.key = ts.write_key_file(cls.dir)

    def serve(self, *extra):
        server = ts.Process([ts.runfile(ts.NETSTRUCTER), "serve", "--listen",
                             "127.0.0.1:0", "--key-file", self.key_file, *extra],
                            listening_on_stderr=True)
        self.addCleanup(server.close)
        return server

    def test_serve_prints_what_python_prints(self):
        server = self.serve()
        sent = [README_VALUE, "support us"] + FALSY + [NESTED]
        with Bridge.Link(('127.0.0.1', server.port), key=self.key) as bridge:
            for value in sent:
                bridge.SendBuffer(value)
        self.assertEqual(server.read_lines(len(sent)), [f"127.0.0.1 {v!r}" for v in sent])

    def test_large_payloads_echo_back_intact(self):
        echo = ts.Process([ts.runfile(ts.ECHO_PEER), "serve", self.key_file])
        self.addCleanup(echo.close)
        bridge = Bridge.Link('127.0.0.1', echo.port, key=self.key, timeout=10)
        for payload in (pattern(20 << 20), random_bytes(5 << 20)):
            bridge.SendBuffer(payload)
            self.assertEqual(bridge.RecvBuffer(timeout=60), payload)
        bridge.Close()

    def test_a_wrong_key_is_unauthenticated(self):
        server = self.serve()
        with self.assertRaises(Refused) as e:
            Bridge.Link('127.0.0.1', server.port, key=netstructer.generate_key())
        self.assertEqual(e.exception.code, StatusCode.UNAUTHENTICATED)
        self.assertEqual(e.exception.message, "the server did not accept this key")

    def test_a_denied_address_is_permission_denied(self):
        server = self.serve("--deny", "127.0.0.0/8")
        with self.assertRaises(Refused) as e:
            Bridge.Link('127.0.0.1', server.port, key=self.key)
        self.assertEqual(e.exception.code, StatusCode.PERMISSION_DENIED)
        self.assertIn("127.0.0.1 is denied by rule 127.0.0.0/8", e.exception.message)

    def test_an_unreachable_server_is_unavailable(self):
        server = self.serve()
        port = server.port
        server.close()
        with self.assertRaises(ConnectionEndError) as e:
            Bridge.Link('127.0.0.1', port, key=self.key)
        self.assertEqual(e.exception.code, StatusCode.UNAVAILABLE)

    def test_a_value_that_cannot_travel_fails_alone(self):
        server = self.serve()
        with Bridge.Link('127.0.0.1', server.port, key=self.key) as bridge:
            with self.assertRaises(TypeError):
                bridge.SendBuffer([object()])
            bridge.SendBuffer("after")
        self.assertEqual(server.read_lines(1), ["127.0.0.1 'after'"])


class CppClientPythonServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.key_file, cls.key = ts.write_key_file(cls.dir)

    def start(self, **kwargs):
        server = Server(('127.0.0.1', 0), key=self.key, **kwargs).init()
        self.addCleanup(server.shutdown)
        return server

    def send(self, port, *literals, check=True):
        return subprocess.run([ts.runfile(ts.NETSTRUCTER), "send", "--to",
                               f"127.0.0.1:{port}", "--key-file", self.key_file,
                               "--timeout", "20s", *literals],
                              capture_output=True, text=True, check=check, timeout=60)

    def test_values_sent_by_cpp_arrive_as_equal_python_objects(self):
        server = self.start()
        server.listen()
        sent = [README_VALUE, "support us"] + FALSY + [NESTED]
        self.send(server.port, *[repr(v) for v in sent])
        session = server.get('127.0.0.1')
        self.assertIsNotNone(session, "a session that sent and left stays until read")
        got = [session.RecvBuffer(timeout=10) for _ in sent]
        self.assertEqual(got, sent)
        self.assertEqual([type(v) for v in got], [type(v) for v in sent])
        with self.assertRaises(ConnectionEndError) as e:
            session.RecvBuffer(timeout=10)
        self.assertEqual(e.exception.code, StatusCode.OUT_OF_RANGE)
        # Read out and ended (the end may follow the GOAWAY by a moment):
        # the session leaves the registry.
        deadline = time.monotonic() + 10
        while server.count() and time.monotonic() < deadline:
            server.get("0.0.0.0", timeout=0.01)  # Waits on the registry.
        self.assertEqual(server.count(), 0)

    def test_large_payloads_from_cpp_echo_back(self):
        server = self.start()

        def echo_loop(srv):
            while True:
                try:
                    bridge = srv.accept(timeout=60)
                except netstructer.NetStructerError:
                    return

                def echo(b=bridge):
                    try:
                        while True:
                            b.SendBuffer(b.RecvBuffer())
                    except netstructer.NetStructerError:
                        pass
                threading.Thread(target=echo, daemon=True).start()
        threading.Thread(target=server.listen_on, args=(echo_loop,), daemon=True).start()
        for size, kind in ((20 << 20, "pattern"), (5 << 20, "random")):
            result = subprocess.run([ts.runfile(ts.ECHO_PEER), "link",
                                     f"127.0.0.1:{server.port}", self.key_file,
                                     str(size), kind],
                                    capture_output=True, text=True, timeout=120)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout.strip(), f"echoed {size} bytes")

    def test_a_wrong_key_is_refused_by_the_python_server(self):
        server = self.start()
        server.listen()
        other, _ = ts.write_key_file(self.dir)
        result = subprocess.run([ts.runfile(ts.NETSTRUCTER), "send", "--to",
                                 f"127.0.0.1:{server.port}", "--key-file", other, "1"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 64 + StatusCode.UNAUTHENTICATED, result.stderr)
        self.assertIn("UNAUTHENTICATED: the server did not accept this key", result.stderr)

    def test_a_denied_address_is_refused_by_the_python_server(self):
        server = self.start(policy=AcceptPolicy(deny=["127.0.0.0/8"]))
        server.listen()
        result = self.send(server.port, "1", check=False)
        self.assertEqual(result.returncode, 64 + StatusCode.PERMISSION_DENIED, result.stderr)
        self.assertIn("127.0.0.1 is denied by rule 127.0.0.0/8", result.stderr)

    def test_a_message_over_buffer_size_stays_queued(self):
        server = self.start()
        server.listen()
        self.send(server.port, repr(b"x" * 5000), "'small'")
        session = server.get('127.0.0.1')
        with self.assertRaises(BufferDataError):
            session.RecvBuffer(buffer_size=100, timeout=10)
        self.assertEqual(session.RecvBuffer(timeout=10), b"x" * 5000)
        self.assertEqual(session.RecvBuffer(buffer_size=100, timeout=10), "small")


if __name__ == "__main__":
    ts.main()
