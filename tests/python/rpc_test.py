"""RPC with Python on both ends: what a servicer and a caller see of errors,
metadata, futures, limits and shutdown."""

import threading
import unittest

import netstructer
from netstructer import Channel, RpcError, Server, StatusCode
from examples.greeter import greeter_ns, greeter_pb2
from examples.greeter.python.greeter_servicer import Greeter

import testing_support as ts

HelloRequest = greeter_pb2.HelloRequest
HelloReply = greeter_pb2.HelloReply


class Behaving(Greeter):
    """The example servicer, with names that make it misbehave."""

    def __init__(self):
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.saw_end = threading.Event()
        self.entered = threading.Event()
        self.callback_threads = []
        self.callback_ran = threading.Event()

    def SayHello(self, request, context):
        if request.name == "callback":
            def record():
                self.callback_threads.append(threading.current_thread().name)
                self.callback_ran.set()
            context.add_callback(record)
        if request.name == "queued":
            self.entered.set()
        if request.name == "raise":
            raise ValueError("boom")
        if request.name == "hold":
            # Until the test releases it, or the call ends.
            wake = threading.Event()
            context.add_callback(wake.set)
            threading.Thread(target=lambda: (self.release.wait(30), wake.set()),
                             daemon=True).start()
            self.started.release()
            wake.wait(30)
            if not context.is_active():
                self.saw_end.set()
            return HelloReply(message="held")
        if request.name == "metadata":
            context.send_initial_metadata([("x-first", "1")])
            context.set_trailing_metadata([("x-last", b"\x00\xff")])
            return HelloReply(message=dict(context.invocation_metadata())["x-in"].decode())
        return super().SayHello(request, context)

    def SayHelloToAll(self, request_iterator, context):
        try:
            return super().SayHelloToAll(request_iterator, context)
        finally:
            if not context.is_active():
                self.saw_end.set()


class PythonToPython(unittest.TestCase):
    def start(self, **kwargs):
        self.key = netstructer.generate_key()
        self.servicer = Behaving()
        self.server = Server(('127.0.0.1', 0), key=self.key, **kwargs)
        greeter_ns.add_GreeterServicer_to_server(self.servicer, self.server)
        self.server.init().listen()
        self.addCleanup(self.server.shutdown)
        self.addCleanup(self.servicer.release.set)
        self.channel = Channel('127.0.0.1', self.server.port, key=self.key)
        self.addCleanup(self.channel.close)
        self.stub = greeter_ns.GreeterStub(self.channel)

    def test_a_handler_that_raises_is_unknown(self):
        self.start()
        with self.assertRaises(RpcError) as e:
            self.stub.SayHello(HelloRequest(name="raise"), timeout=10)
        self.assertEqual((e.exception.code, e.exception.details()),
                         (StatusCode.UNKNOWN, "the handler raised ValueError: boom"))

    def test_metadata_both_ways(self):
        self.start()
        reply, call = self.stub.SayHello.with_call(HelloRequest(name="metadata"), timeout=10,
                                                   metadata=[("x-in", "hello")])
        self.assertEqual(reply.message, "hello")
        self.assertEqual(call.initial_metadata(), [("x-first", b"1")])
        self.assertEqual(call.trailing_metadata(), [("x-last", b"\x00\xff")])
        self.assertEqual(call.code(), StatusCode.OK)
        with self.assertRaises(netstructer.NetStructerError) as e:
            self.stub.SayHello(HelloRequest(name="x"), metadata=[("Bad Key", "v")])
        self.assertEqual(e.exception.code, StatusCode.INVALID_ARGUMENT)

    def test_futures(self):
        self.start()
        done = threading.Event()
        future = self.stub.SayHello.future(HelloRequest(name="Ada"), timeout=10)
        future.add_done_callback(lambda f: done.set())
        self.assertEqual(future.result(10).message, "Hello, Ada")
        self.assertTrue(done.wait(10))
        failed = self.stub.SayHello.future(HelloRequest(name=""), timeout=10)
        self.assertEqual(failed.exception(10).code, StatusCode.INVALID_ARGUMENT)

    def test_a_done_callback_may_make_a_blocking_call_on_the_same_channel(self):
        # On the connection's reader, the follow-up call would wait for a
        # response that only the blocked reader could read.
        self.start()
        seen = []
        done = threading.Event()

        def follow_up(future):
            try:
                seen.append((threading.current_thread().name, future.result().message,
                             self.stub.SayHello(HelloRequest(name="Bob"), timeout=5).message))
            except Exception as e:  # noqa: BLE001 - reported below.
                seen.append(repr(e))
            done.set()
        self.stub.SayHello.future(HelloRequest(name="Ada"), timeout=10).add_done_callback(
            follow_up)
        self.assertTrue(done.wait(10))
        self.assertEqual(seen, [("netstructer-callbacks", "Hello, Ada", "Hello, Bob")])

    def test_callbacks_never_run_on_the_thread_that_ended_the_call(self):
        self.start()
        threads = []
        done = threading.Event()
        held = self.stub.SayHello.future(HelloRequest(name="hold"), timeout=30)
        self.assertTrue(self.servicer.started.acquire(timeout=10))
        held.add_done_callback(lambda f: (threads.append(threading.current_thread().name),
                                          done.set()))
        held.cancel()  # Ends the call on this thread.
        self.assertTrue(done.wait(10))
        self.assertEqual(threads, ["netstructer-callbacks"])
        # A handler's return ends its call on the handler's thread.
        self.assertEqual(self.stub.SayHello(HelloRequest(name="callback"), timeout=10).message,
                         "Hello, callback")
        self.assertTrue(self.servicer.callback_ran.wait(10))
        self.assertEqual(self.servicer.callback_threads, ["netstructer-callbacks"])

    def test_a_deadline_reaches_the_handler(self):
        self.start()
        with self.assertRaises(RpcError) as e:
            self.stub.SayHello(HelloRequest(name="hold"), timeout=0.2)
        self.assertEqual(e.exception.code, StatusCode.DEADLINE_EXCEEDED)
        self.assertTrue(self.servicer.saw_end.wait(10))

    def test_a_request_iterator_that_raises_cancels_the_call(self):
        self.start()

        def requests():
            yield HelloRequest(name="a")
            raise RuntimeError("the caller's generator broke")
        with self.assertRaises(RpcError) as e:
            self.stub.SayHelloToAll(requests(), timeout=10)
        self.assertEqual(e.exception.code, StatusCode.CANCELLED)
        self.assertIn("RuntimeError: the caller's generator broke", e.exception.details())

    def test_a_call_admitted_as_the_server_stops_is_answered_unavailable(self):
        # The server shuts its pool down between a call's admission and its
        # hand-off to a pool thread: the call is answered, not left open,
        # and the connection is not closed over it.
        self.start()
        services = self.server._services
        admit = services._admit

        def admit_then_stop(method):
            handler = admit(method)
            with services._lock:
                services._draining = True
            services._pool.shutdown(wait=False)
            return handler
        services._admit = admit_then_stop
        with self.assertRaises(RpcError) as e:
            self.stub.SayHello(HelloRequest(name="late"), timeout=10)
        self.assertEqual((e.exception.code, e.exception.details()),
                         (StatusCode.UNAVAILABLE, "the server is shutting down"))
        self.assertEqual(services._running, 0)
        services._admit = admit  # Refused at admission from here on, same words.
        with self.assertRaises(RpcError) as e:
            self.stub.SayHello(HelloRequest(name="later"), timeout=10)
        self.assertEqual(e.exception.code, StatusCode.UNAVAILABLE)

    def test_max_concurrent_streams(self):
        self.start(max_concurrent_streams=1)
        held = self.stub.SayHello.future(HelloRequest(name="hold"), timeout=30)
        self.assertTrue(self.servicer.started.acquire(timeout=10))
        with self.assertRaises(RpcError) as e:
            self.stub.SayHello(HelloRequest(name="x"), timeout=10)
        self.assertEqual(e.exception.code, StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("max_concurrent_streams 1", e.exception.details())
        self.servicer.release.set()
        self.assertEqual(held.result(10).message, "held")
        self.assertEqual(self.stub.SayHello(HelloRequest(name="y"), timeout=10).message,
                         "Hello, y")

    def test_max_streaming_handlers(self):
        self.start(max_streaming_handlers=1)
        release = threading.Event()
        self.addCleanup(release.set)

        def requests():
            yield HelloRequest(name="a")
            release.wait(30)
        held = self.stub.SayHelloStream(requests(), timeout=30)
        self.assertEqual(next(held).message, "Hello, a")
        with self.assertRaises(RpcError) as e:
            list(self.stub.SayHelloRepeatedly(HelloRequest(name="x"), timeout=10))
        self.assertEqual((e.exception.code, e.exception.details()), (
            StatusCode.RESOURCE_EXHAUSTED,
            "the server runs 1 streaming handlers, its limit (max_streaming_handlers): "
            "retry later"))
        # Unary calls do not count.
        self.assertEqual(self.stub.SayHello(HelloRequest(name="u"), timeout=10).message,
                         "Hello, u")
        release.set()
        self.assertEqual(list(held), [])

    def test_unary_calls_wait_for_a_handler_thread(self):
        self.start(handler_threads=1)
        held = self.stub.SayHello.future(HelloRequest(name="hold"), timeout=30)
        self.assertTrue(self.servicer.started.acquire(timeout=10))
        waiting = self.stub.SayHello.future(HelloRequest(name="queued"), timeout=30)
        # The one pool thread is held: the second handler does not start.
        self.assertFalse(self.servicer.entered.wait(0.5))
        self.assertFalse(waiting.done())
        self.servicer.release.set()
        self.assertEqual(held.result(10).message, "held")
        self.assertEqual(waiting.result(10).message, "Hello, queued")

    def test_calls_keep_a_session_out_of_its_idle_timeout(self):
        self.start(policy=netstructer.AcceptPolicy(idle_timeout=0.3))

        def paced():
            for name in "abcdefgh":  # 0.8 s of calls, a frame every 0.1 s.
                yield HelloRequest(name=name)
                threading.Event().wait(0.1)
        self.assertEqual(self.stub.SayHelloToAll(paced(), timeout=10).message,
                         "Hello, a, b, c, d, e, f, g and h")

    def test_shutdown_cancels_calls_in_flight_and_refuses_new_ones(self):
        self.start()
        held = self.stub.SayHello.future(HelloRequest(name="hold"), timeout=30)
        self.assertTrue(self.servicer.started.acquire(timeout=10))
        self.server.shutdown(0.3)
        error = held.exception(10)
        self.assertIn(error.code, (StatusCode.CANCELLED, StatusCode.UNAVAILABLE))
        with self.assertRaises(RpcError) as e:
            self.stub.SayHello(HelloRequest(name="x"), timeout=10)
        self.assertEqual(e.exception.code, StatusCode.UNAVAILABLE)

    def test_an_unimplemented_method_of_the_generated_base(self):
        self.key = netstructer.generate_key()
        server = Server(('127.0.0.1', 0), key=self.key)
        greeter_ns.add_GreeterServicer_to_server(greeter_ns.GreeterServicer(), server)
        server.init().listen()
        self.addCleanup(server.shutdown)
        with Channel('127.0.0.1', server.port, key=self.key) as channel:
            with self.assertRaises(RpcError) as e:
                greeter_ns.GreeterStub(channel).SayHello(HelloRequest(name="x"), timeout=10)
        self.assertEqual((e.exception.code, e.exception.details()),
                         (StatusCode.UNIMPLEMENTED,
                          "method greeter.Greeter/SayHello is not implemented"))


if __name__ == "__main__":
    ts.main()
