"""RPC calls between Python and C++, both ways, through the generated
greeter_ns.py: the four kinds of examples/greeter, errors, deadlines,
cancellation, metadata, a wrong key and a denied address."""

import json
import subprocess
import tempfile
import threading
import unittest

import netstructer
from netstructer import AcceptPolicy, Channel, RpcError, Server, StatusCode
from examples.greeter import greeter_ns, greeter_pb2
from examples.greeter.python.greeter_servicer import Greeter

import testing_support as ts

HelloRequest = greeter_pb2.HelloRequest


def names(*ns):
    return [HelloRequest(name=n) for n in ns]


class PythonStubCppServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.key_file, cls.key = ts.write_key_file(cls.dir)
        cls.server = ts.Process([ts.runfile(ts.GREETER_SERVER), "--listen", "127.0.0.1:0",
                                 "--key-file", cls.key_file])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def setUp(self):
        self.channel = Channel('127.0.0.1', self.server.port, key=self.key)
        self.addCleanup(self.channel.close)
        self.stub = greeter_ns.GreeterStub(self.channel)

    def test_the_four_kinds(self):
        self.assertEqual(self.stub.SayHello(HelloRequest(name="World"), timeout=10).message,
                         "Hello, World")
        self.assertEqual([r.message for r in self.stub.SayHelloStream(
            iter(names("Ada", "Grace")), timeout=10)], ["Hello, Ada", "Hello, Grace"])
        self.assertEqual([r.message for r in self.stub.SayHelloRepeatedly(
            HelloRequest(name="Ada", count=3), timeout=10)], ["Hello, Ada"] * 3)
        self.assertEqual(self.stub.SayHelloToAll(iter(names("A", "B", "C")),
                                                 timeout=10).message,
                         "Hello, A, B and C")

    def test_status_errors(self):
        with self.assertRaises(RpcError) as e:
            self.stub.SayHello(HelloRequest(), timeout=10)
        self.assertEqual((e.exception.code, e.exception.details()),
                         (StatusCode.INVALID_ARGUMENT, "name is empty"))
        with self.assertRaises(RpcError) as e:
            list(self.stub.SayHelloRepeatedly(HelloRequest(name="x", count=101), timeout=10))
        self.assertEqual(e.exception.code, StatusCode.INVALID_ARGUMENT)
        unknown = self.channel.unary_unary("/greeter.Greeter/Nope",
                                           response_deserializer=greeter_pb2.HelloReply.FromString)
        with self.assertRaises(RpcError) as e:
            unknown(HelloRequest(name="x"), timeout=10)
        self.assertEqual(e.exception.code, StatusCode.UNIMPLEMENTED)

    def test_a_deadline_ends_a_call_the_server_keeps_open(self):
        release = threading.Event()
        self.addCleanup(release.set)

        def requests():
            yield HelloRequest(name="first")
            release.wait(30)  # Never half-closes before the deadline.
        call = self.stub.SayHelloStream(requests(), timeout=0.3)
        self.assertEqual(next(call).message, "Hello, first")
        with self.assertRaises(RpcError) as e:
            next(call)
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)
        # The channel still serves other calls.
        self.assertEqual(self.stub.SayHello(HelloRequest(name="next"), timeout=10).message,
                         "Hello, next")

    def test_cancellation(self):
        release = threading.Event()
        self.addCleanup(release.set)

        def requests():
            yield HelloRequest(name="first")
            release.wait(30)
        call = self.stub.SayHelloStream(requests(), timeout=30)
        self.assertEqual(next(call).message, "Hello, first")
        self.assertTrue(call.cancel())
        with self.assertRaises(RpcError) as e:
            next(call)
        self.assertEqual(e.exception.code, StatusCode.CANCELLED)
        self.assertFalse(call.cancel())  # Already ended.

        future = self.stub.SayHelloToAll.future(requests(), timeout=30)
        self.assertTrue(future.cancel())
        self.assertTrue(future.cancelled())
        with self.assertRaises(RpcError):
            future.result(10)

    def test_messages_larger_than_the_call_window(self):
        big = "x" * (3 << 20)
        self.assertEqual(self.stub.SayHello(HelloRequest(name=big), timeout=30).message,
                         "Hello, " + big)

    def test_calls_from_many_threads_share_the_channel(self):
        errors = []

        def call(i):
            try:
                for _ in range(20):
                    reply = self.stub.SayHello(HelloRequest(name=str(i)), timeout=10)
                    assert reply.message == f"Hello, {i}", reply
            except Exception as e:  # Reported below.
                errors.append(e)
        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

    def test_a_wrong_key_fails_the_call_as_unauthenticated(self):
        channel = Channel('127.0.0.1', self.server.port, key=netstructer.generate_key())
        self.addCleanup(channel.close)
        with self.assertRaises(RpcError) as e:
            greeter_ns.GreeterStub(channel).SayHello(HelloRequest(name="x"), timeout=10)
        self.assertEqual(e.exception.code, StatusCode.UNAUTHENTICATED)


class Observed(Greeter):
    """The example servicer, and what the tests need to see of the server."""

    def __init__(self):
        self.ended = threading.Event()
        self.ended_active = None
        self.stream_cancelled = threading.Event()

    def SayHelloStream(self, request_iterator, context):
        context.add_callback(lambda: self.stream_cancelled.set()
                             if context.cancelled() else None)
        yield from super().SayHelloStream(request_iterator, context)

    def SayHello(self, request, context):
        if request.name == "slow":
            # Waits until the call ends (deadline, cancellation).
            done = threading.Event()
            context.add_callback(done.set)
            done.wait(30)
            self.ended_active = context.is_active()
            self.ended.set()
            return greeter_pb2.HelloReply(message="too late")
        if request.name == "echo-metadata":
            got = dict(context.invocation_metadata())
            context.send_initial_metadata([("x-initial", b"yes")])
            context.set_trailing_metadata([("x-echo", got.get("x-trace", b"none"))])
        return super().SayHello(request, context)


class CppClientPythonServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.key_file, cls.key = ts.write_key_file(cls.dir)
        cls.proto = ts.runfile("examples/greeter/greeter.proto")

    def start(self, **kwargs):
        server = Server(('127.0.0.1', 0), key=self.key, **kwargs)
        self.servicer = Observed()
        greeter_ns.add_GreeterServicer_to_server(self.servicer, server)
        server.init().listen()
        self.addCleanup(server.shutdown)
        return server

    def call(self, server, method, data, *flags, key_file=None):
        return subprocess.run(
            [ts.runfile(ts.NETSTRUCTER), "call", "--to", f"127.0.0.1:{server.port}",
             "--key-file", key_file or self.key_file, "--proto", self.proto, *flags, f"greeter.Greeter/{method}", data],
            capture_output=True, text=True, timeout=60)

    def test_the_cpp_greeter_client(self):
        server = self.start()
        result = subprocess.run([ts.runfile(ts.GREETER_CLIENT), "--to",
                                 f"127.0.0.1:{server.port}", "--key-file", self.key_file,
                                 "Ada", "Grace"], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(),
                         ["Hello, Ada", "Hello, Ada", "Hello, Grace"])

    def test_the_four_kinds_from_the_cli(self):
        server = self.start()
        cases = [("SayHello", '{"name": "World"}', ["Hello, World"]),
                 ("SayHelloStream", '{"name": "A"} {"name": "B"}', ["Hello, A", "Hello, B"]),
                 ("SayHelloRepeatedly", '{"name": "A", "count": 2}', ["Hello, A"] * 2),
                 ("SayHelloToAll", '{"name": "A"} {"name": "B"}', ["Hello, A and B"])]
        for method, data, expected in cases:
            result = self.call(server, method, data, "--timeout", "10s")
            self.assertEqual(result.returncode, 0, (method, result.stderr))
            got = [json.loads(line)["message"] for line in result.stdout.splitlines()]
            self.assertEqual(got, expected, method)

    def test_an_error_status_reaches_the_cpp_client(self):
        server = self.start()
        result = self.call(server, "SayHello", '{"name": ""}')
        self.assertEqual(result.returncode, 64 + StatusCode.INVALID_ARGUMENT, result.stderr)
        self.assertIn("INVALID_ARGUMENT: name is empty", result.stderr)

    def test_the_cpp_clients_deadline_cancels_the_python_handler(self):
        server = self.start()
        result = self.call(server, "SayHello", '{"name": "slow"}', "--timeout", "300ms")
        self.assertEqual(result.returncode, 64 + StatusCode.DEADLINE_EXCEEDED, result.stderr)
        self.assertTrue(self.servicer.ended.wait(30), "the handler never saw the end")
        self.assertFalse(self.servicer.ended_active)

    def test_the_cpp_clients_cancellation_reaches_the_python_handler(self):
        server = self.start()
        result = subprocess.run([ts.runfile(ts.ECHO_PEER), "cancel",
                                 f"127.0.0.1:{server.port}", self.key_file],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout.strip(), "cancelled: CANCELLED")
        self.assertTrue(self.servicer.stream_cancelled.wait(30))

    def test_metadata_both_ways(self):
        server = self.start()
        result = self.call(server, "SayHello", '{"name": "echo-metadata"}',
                           "-H", "x-trace: abc123", "-v")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("x-initial: yes", result.stderr)
        self.assertIn("x-echo: abc123", result.stderr)

    def test_a_wrong_key_and_a_denied_address(self):
        server = self.start()
        other, _ = ts.write_key_file(self.dir)
        result = self.call(server, "SayHello", '{"name": "x"}', key_file=other)
        self.assertEqual(result.returncode, 64 + StatusCode.UNAUTHENTICATED, result.stderr)
        denied = self.start(policy=AcceptPolicy(deny=["127.0.0.1/32"]))
        result = self.call(denied, "SayHello", '{"name": "x"}')
        self.assertEqual(result.returncode, 64 + StatusCode.PERMISSION_DENIED, result.stderr)
        self.assertIn("127.0.0.1 is denied by rule 127.0.0.1/32", result.stderr)


if __name__ == "__main__":
    ts.main()
