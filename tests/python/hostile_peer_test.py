"""Hostile peers against the Python server: the cases of the C++ suite that
apply to a server. Each one ends (or fails alone) as docs/PROTOCOL.md 8.4
says, with the GOAWAY of 8.3, and the server goes on serving others."""

import socket
import struct
import time
import unittest

import netstructer
from netstructer import AcceptPolicy, Bridge, Server, StatusCode
from netstructer import frames as F
from netstructer import handshake_io, streams, values
from netstructer.keys import parse_key

import testing_support as ts


class RawClient:
    """An authenticated connection whose frames the test writes by hand."""

    def __init__(self, port, key):
        self.conn = handshake_io.connect("127.0.0.1", port, parse_key(key), timeout=10)
        self.sock = self.conn._sock
        self.sealer = self.conn._sealer
        self.opener = self.conn._opener

    def seal(self, stream, type, flags, payload, compressible=False):
        return self.sealer.seal(stream, type, flags, payload, compressible)

    def send(self, data):
        self.sock.sendall(data)

    def message(self, kind, body):
        payload = streams.message_header(kind, len(body)) + body
        return self.seal(F.BRIDGE_STREAM, F.DATA, F.END_MESSAGE, payload)

    def goaway(self, timeout=10):
        """(code, reason) of the server's GOAWAY, reading frames until it;
        None if the connection ended without one."""
        self.sock.settimeout(timeout)
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buffer += chunk
            while len(buffer) >= 4:
                n = struct.unpack(">I", buffer[:4])[0]
                if len(buffer) < 4 + n:
                    break
                frame = self.opener.open(buffer[4:4 + n])
                buffer = buffer[4 + n:]
                if frame.type == F.GOAWAY:
                    return StatusCode(frame.payload[0]), frame.payload[1:].decode()

    def close(self):
        self.sock.close()


class HostilePeers(unittest.TestCase):
    def setUp(self):
        self.key = netstructer.generate_key()
        self.server = Server(('127.0.0.1', 0), key=self.key,
                             policy=AcceptPolicy(handshake_timeout=0.5)).init()
        self.server.listen()
        self.addCleanup(self.server.shutdown)

    def raw(self):
        client = RawClient(self.server.port, self.key)
        self.addCleanup(client.close)
        return client

    def assert_still_serving(self):
        with Bridge.Link('127.0.0.1', self.server.port, key=self.key) as bridge:
            bridge.SendBuffer("still here")
        for session in self.server.get_all('127.0.0.1'):
            try:
                if session.RecvBuffer(timeout=10) == "still here":
                    return
            except netstructer.NetStructerError:
                pass  # A hostile session of the test that ended.
        self.fail("the server no longer serves new sessions")

    def test_an_oversized_frame_ends_the_connection_before_its_body(self):
        client = self.raw()
        client.send(struct.pack(">I", 0xFFFFFFFF))
        self.assertEqual(client.goaway(), (
            StatusCode.RESOURCE_EXHAUSTED,
            "frame of 4294967295 bytes exceeds the limit of 1049600 bytes"))
        self.assert_still_serving()

    def test_an_lz4_bomb_is_refused_before_decompressing(self):
        client = self.raw()
        bomb = struct.pack(">I", 100 << 20) + b"\x1f\x00" + b"\xff" * 64
        client.send(client.seal(F.BRIDGE_STREAM, F.DATA, F.COMPRESSED | F.END_MESSAGE, bomb))
        code, reason = client.goaway()
        self.assertEqual(code, StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("decompressed size of 104857600 bytes exceeds the limit", reason)
        self.assert_still_serving()

    def test_a_replayed_frame_is_data_loss_and_delivers_nothing(self):
        client = self.raw()
        frame = client.message(streams.KIND_VALUE, values.encode("once"))
        client.send(frame + frame)
        self.assertEqual(client.goaway(), (
            StatusCode.DATA_LOSS,
            "frame out of sequence: expected 1, got 0 (a replayed, reordered or "
            "dropped frame)"))
        session = self.server.get('127.0.0.1', timeout=10)
        # The message before the bad frame stays readable; then the end.
        self.assertEqual(session.RecvBuffer(timeout=10), "once")
        with self.assertRaises(netstructer.ConnectionEndError) as e:
            session.RecvBuffer(timeout=10)
        self.assertEqual(e.exception.code, StatusCode.DATA_LOSS)

    def test_a_skipped_sequence_number_is_data_loss(self):
        client = self.raw()
        client.sealer.next_sequence += 1
        client.send(client.message(streams.KIND_VALUE, values.encode("skipped")))
        code, reason = client.goaway()
        self.assertEqual(code, StatusCode.DATA_LOSS)
        self.assertIn("expected 0, got 1", reason)
        # Nothing of the bad frame was delivered: the session leaves (no
        # unread message keeps it).
        deadline = time.monotonic() + 10
        while self.server.get('127.0.0.1') is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIsNone(self.server.get('127.0.0.1'))

    def test_a_tampered_token_is_an_invalid_token(self):
        client = self.raw()
        frame = bytearray(client.message(streams.KIND_VALUE, values.encode("x")))
        frame[30] ^= 0x40
        client.send(bytes(frame))
        self.assertEqual(client.goaway(), (StatusCode.DATA_LOSS, "invalid token"))

    def test_deep_nesting_fails_that_message_alone(self):
        client = self.raw()
        deep = values.encode(1)
        for _ in range(150):
            deep = b"\x3a" + values._varint(len(deep) + 1 + len(values._varint(len(deep)))) \
                + b"\x0a" + values._varint(len(deep)) + deep
        client.send(client.message(streams.KIND_VALUE, deep)
                    + client.message(streams.KIND_VALUE, values.encode("next")))
        session = self.server.get('127.0.0.1', timeout=10)
        with self.assertRaises(values.InvalidValueError) as e:
            session.RecvBuffer(timeout=10)
        self.assertIn("nesting deeper than the limit of 100", str(e.exception))
        self.assertEqual(session.RecvBuffer(timeout=10), "next")

    def test_a_message_over_max_message_bytes_fails_alone(self):
        self.server.shutdown()
        options = netstructer.ConnectionOptions(max_message_bytes=1000)
        self.server = Server(('127.0.0.1', 0), key=self.key, options=options).init()
        self.server.listen()
        client = self.raw()
        client.send(client.message(streams.KIND_VALUE, values.encode(b"x" * 5000))
                    + client.message(streams.KIND_VALUE, values.encode("small")))
        session = self.server.get('127.0.0.1', timeout=10)
        with self.assertRaises(netstructer.BufferDataError) as e:
            session.RecvBuffer(timeout=10)
        self.assertIn("exceeds the limit of 1000 bytes", str(e.exception))
        self.assertEqual(session.RecvBuffer(timeout=10), "small")

    def test_a_silent_peer_is_closed_at_the_handshake_deadline_without_a_word(self):
        silent = socket.create_connection(('127.0.0.1', self.server.port))
        self.addCleanup(silent.close)
        silent.settimeout(10)
        start = time.monotonic()
        self.assertEqual(silent.recv(100), b"")  # Closed, nothing sent.
        self.assertLess(time.monotonic() - start, 9)
        self.assert_still_serving()

    def test_http_gets_a_malformed_handshake_refusal(self):
        peer = socket.create_connection(('127.0.0.1', self.server.port))
        self.addCleanup(peer.close)
        peer.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        peer.settimeout(10)
        data = b""
        while True:
            chunk = peer.recv(1000)
            if not chunk:
                break
            data += chunk
        frame = F.decode_inner(data[4:])
        self.assertEqual((frame.type, frame.sequence), (F.REFUSAL, 0))
        self.assertEqual(frame.payload, bytes([StatusCode.INVALID_ARGUMENT]) +
                         b"malformed handshake")

    def test_a_call_frame_on_an_even_stream_is_data_loss(self):
        client = self.raw()
        client.send(client.seal(4, F.DATA, 0, b""))
        code, reason = client.goaway()
        self.assertEqual(code, StatusCode.DATA_LOSS)
        self.assertIn("stream 4", reason)


class MalformedCalls(unittest.TestCase):
    def test_a_malformed_message_in_headers_returns_its_handler_slot(self):
        from netstructer import Channel, RpcError
        from netstructer import rpc_wire as W
        from examples.greeter import greeter_ns, greeter_pb2
        from examples.greeter.python.greeter_servicer import Greeter
        key = netstructer.generate_key()
        server = Server(('127.0.0.1', 0), key=key, max_streaming_handlers=1)
        greeter_ns.add_GreeterServicer_to_server(Greeter(), server)
        server.init().listen()
        self.addCleanup(server.shutdown)
        prefix = W.encode_prefixed(W.CallHeaders(method="/greeter.Greeter/SayHelloStream"))
        for _ in range(3):
            client = RawClient(server.port, key)
            self.addCleanup(client.close)
            bad = prefix + streams.message_header(streams.KIND_VALUE, 1) + b"x"
            client.send(client.seal(3, F.HEADERS, F.END_MESSAGE, bad))
            code, reason = client.goaway()
            self.assertEqual(code, StatusCode.DATA_LOSS)
            self.assertIn("unknown message kind 0x01", reason)
        with Channel('127.0.0.1', server.port, key=key) as channel:
            replies = greeter_ns.GreeterStub(channel).SayHelloStream(
                iter([greeter_pb2.HelloRequest(name="ok")]), timeout=10)
            self.assertEqual([r.message for r in replies], ["Hello, ok"])


class UnfinishedRequests(unittest.TestCase):
    def test_unfinished_unary_requests_hold_no_handler_thread(self):
        from netstructer import Channel
        from netstructer import rpc_wire as W
        from examples.greeter import greeter_ns, greeter_pb2
        from examples.greeter.python.greeter_servicer import Greeter
        key = netstructer.generate_key()
        server = Server(('127.0.0.1', 0), key=key, handler_threads=1)
        greeter_ns.add_GreeterServicer_to_server(Greeter(), server)
        server.init().listen()
        self.addCleanup(server.shutdown)
        client = RawClient(server.port, key)
        self.addCleanup(client.close)
        prefix = W.encode_prefixed(W.CallHeaders(method="/greeter.Greeter/SayHello"))
        for stream in (3, 5, 7):  # HEADERS, no request, no END_STREAM: ever.
            client.send(client.seal(stream, F.HEADERS, 0, prefix))
        with Channel('127.0.0.1', server.port, key=key) as channel:
            reply = greeter_ns.GreeterStub(channel).SayHello(
                greeter_pb2.HelloRequest(name="served"), timeout=10)
        self.assertEqual(reply.message, "Hello, served")


class ManyDescriptors(unittest.TestCase):
    def test_connections_above_descriptor_1023(self):
        import os
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 1200:
            self.skipTest(f"the hard descriptor limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        filler = [os.dup(0) for _ in range(1050)]
        self.addCleanup(lambda: [os.close(fd) for fd in filler])
        key = netstructer.generate_key()
        server = Server(('127.0.0.1', 0), key=key).init()
        server.listen()
        self.addCleanup(server.shutdown)
        with Bridge.Link('127.0.0.1', server.port, key=key) as bridge:
            self.assertGreater(bridge.connection._sock.fileno(), 1023)
            bridge.SendBuffer("high")
        self.assertEqual(server.get('127.0.0.1', timeout=10).RecvBuffer(timeout=10), "high")


if __name__ == "__main__":
    ts.main()
