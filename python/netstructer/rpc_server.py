"""The server side of RPC calls: services registered on a Server, shaped
like gRPC's Python server so ``*_ns.py`` servicers read like
``*_pb2_grpc.py`` ones. Unary handlers run on a pool of
``handler_threads`` (a call waits for a thread, as in the C++ server); a
streaming handler gets a thread of its own, at most
``max_streaming_handlers`` at once (past it: RESOURCE_EXHAUSTED, 9.3).

Ownership: a connection's ``_ServerCalls`` is fed by that connection's
reader thread (new calls, their frames); a handler's thread owns its call's
sending side; ``Services`` (the method table, the handler count, draining)
is guarded by its lock.
"""

import concurrent.futures
import logging
import threading
import time

from . import frames as F
from . import rpc_wire as W
from . import typed_messages
from .call_stream import CallStream, CallTable
from .callbacks import CALLBACKS
from .errors import NetStructerError, RpcError, StatusCode
from .timers import TIMERS

DEFAULT_MAX_STREAMING_HANDLERS = 1024
DEFAULT_HANDLER_THREADS = 16
SHUTTING_DOWN = "the server is shutting down"
_log = logging.getLogger("netstructer")


class MethodHandler:
    """How a method is served: its kind, behaviour and (de)serializers."""

    def __init__(self, behavior, request_deserializer, response_serializer,
                 request_streaming, response_streaming):
        self.behavior = behavior
        self.request_deserializer = request_deserializer
        self.response_serializer = response_serializer
        self.request_streaming = request_streaming
        self.response_streaming = response_streaming


def unary_unary_rpc_method_handler(behavior, request_deserializer=None,
                                   response_serializer=None):
    return MethodHandler(behavior, request_deserializer, response_serializer, False, False)


def unary_stream_rpc_method_handler(behavior, request_deserializer=None,
                                    response_serializer=None):
    return MethodHandler(behavior, request_deserializer, response_serializer, False, True)


def stream_unary_rpc_method_handler(behavior, request_deserializer=None,
                                    response_serializer=None):
    return MethodHandler(behavior, request_deserializer, response_serializer, True, False)


def stream_stream_rpc_method_handler(behavior, request_deserializer=None,
                                     response_serializer=None):
    return MethodHandler(behavior, request_deserializer, response_serializer, True, True)


class _Abort(Exception):
    """Raised by ServicerContext.abort() to end the handler."""


class ServicerContext:
    """What a handler knows of its call and how it ends it (gRPC's names)."""

    def __init__(self, stream, method, metadata, peer, deadline):
        self._stream = stream
        self._method = method
        self._metadata = metadata
        self._peer = peer
        self._deadline = deadline
        self._code = StatusCode.OK
        self._details = ""
        self._trailing = []
        self._initial_sent = False
        self._answered = False  # The handler's TRAILERS went out.
        self._lock = threading.Lock()

    def method(self):
        return self._method

    def invocation_metadata(self):
        """The client's metadata: (key, value bytes) pairs, in order."""
        return list(self._metadata)

    def peer(self):
        host, port = self._peer
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def peer_ip(self):
        return self._peer[0]

    def time_remaining(self):
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def is_active(self):
        return not self._stream.ended

    def cancelled(self):
        """True once the call ended without this handler's answer: the
        client cancelled it, its deadline passed, the connection ended or
        the server shut down."""
        return self._stream.ended and not self._answered

    def add_callback(self, callback):
        """``callback()`` once, when the call ends, on the process's
        callback thread (callbacks.py); at once on this thread if the call
        has ended."""
        once = threading.Lock()

        def run():
            if once.acquire(blocking=False):
                callback()
        self._stream.end_callbacks.append(lambda _stream: CALLBACKS.submit([run]))
        if self._stream.ended:
            run()

    def send_initial_metadata(self, metadata):
        """Sends the server's HEADERS before any response."""
        md = W.normalize_metadata(metadata)
        with self._lock:
            if self._initial_sent:
                raise NetStructerError(StatusCode.FAILED_PRECONDITION,
                                       "initial metadata was already sent")
            self._initial_sent = True
        headers = W.CallHeaders()
        W.to_wire(md, headers.metadata)
        self._stream.send(F.HEADERS, W.encode_prefixed(headers), deadline=self._deadline)

    def set_trailing_metadata(self, metadata):
        self._trailing = W.normalize_metadata(metadata)

    def set_code(self, code):
        self._code = StatusCode(code)

    def set_details(self, details):
        self._details = str(details)

    def abort(self, code, details):
        """Ends the call with that status (not OK); never returns."""
        code = StatusCode(code)
        if code == StatusCode.OK:
            code = StatusCode.UNKNOWN
        self._code, self._details = code, str(details)
        raise _Abort()

    def _send_response(self, body):
        with self._lock:
            self._initial_sent = True
        self._stream.send(F.DATA, body=body, deadline=self._deadline)


class _Requests:
    """The request iterator a request-streaming handler gets."""

    def __init__(self, stream, deserialize):
        self._stream = stream
        self._deserialize = deserialize

    def __iter__(self):
        return self

    def __next__(self):
        body = self._stream.read()
        if body is None:
            raise StopIteration
        return _parse(self._deserialize, body)


def _parse(deserialize, body):
    return typed_messages.parse(deserialize, body, StatusCode.INVALID_ARGUMENT,
                                "the request")


def _serialize(serialize, response):
    return typed_messages.serialize(serialize, response, StatusCode.INTERNAL,
                                    "the response")


class Services:
    """The methods a Server serves and the handlers running."""

    def __init__(self, max_concurrent_streams=W.DEFAULT_MAX_CONCURRENT_STREAMS,
                 max_streaming_handlers=DEFAULT_MAX_STREAMING_HANDLERS,
                 handler_threads=DEFAULT_HANDLER_THREADS):
        self._lock = threading.Lock()
        self._methods = {}
        self.max_concurrent_streams = max_concurrent_streams
        self.max_streaming_handlers = max_streaming_handlers
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=handler_threads, thread_name_prefix="netstructer-handler")
        self._running = 0    # Handlers started or queued, all kinds.
        self._streaming = 0  # Streaming handlers on threads of their own.
        self._draining = False
        self._connections = []
        self._idle = threading.Condition(self._lock)

    def add(self, service_name, handlers):
        """``handlers``: {method name: MethodHandler} of service
        "pkg.Service"; ALREADY_EXISTS for a method served twice."""
        with self._lock:
            for name, handler in handlers.items():
                path = f"/{service_name}/{name}"
                if path in self._methods:
                    raise NetStructerError(StatusCode.ALREADY_EXISTS,
                                           f"{path} is already served")
            for name, handler in handlers.items():
                self._methods[f"/{service_name}/{name}"] = handler

    def attach(self, connection):
        calls = _ServerCalls(self, connection)
        connection.call_streams = calls
        with self._lock:
            self._connections.append(calls)

    def _admit(self, method):
        """The handler of ``method``, or raise the status refusing the call."""
        with self._lock:
            if self._draining:
                raise RpcError(StatusCode.UNAVAILABLE, SHUTTING_DOWN)
            handler = self._methods.get(method)
            if handler is None:
                raise RpcError(StatusCode.UNIMPLEMENTED, f"unknown method {method}")
            streaming = handler.request_streaming or handler.response_streaming
            if streaming and self._streaming >= self.max_streaming_handlers:
                raise RpcError(StatusCode.RESOURCE_EXHAUSTED,
                               f"the server runs {self._streaming} streaming handlers, "
                               "its limit (max_streaming_handlers): retry later")
            self._running += 1
            self._streaming += streaming
            return handler

    def _run(self, handler, job):
        """Runs ``job()`` (the call) on the pool or its own thread."""
        if handler.request_streaming or handler.response_streaming:
            threading.Thread(target=job, daemon=True, name="netstructer-stream").start()
        else:
            self._pool.submit(job)

    def _handler_done(self, handler):
        with self._lock:
            self._running -= 1
            self._streaming -= handler.request_streaming or handler.response_streaming
            self._idle.notify_all()

    def _forget(self, calls):
        with self._lock:
            if calls in self._connections:
                self._connections.remove(calls)

    def shutdown(self, timeout):
        """New calls: UNAVAILABLE; calls in flight may finish until shortly
        before the deadline, then are cancelled (CANCELLED)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._draining = True
            self._idle.wait_for(lambda: self._running == 0,
                                max(0.0, deadline - time.monotonic() - 0.05))
            connections = list(self._connections)
        for calls in connections:
            calls.cancel_all(StatusCode.CANCELLED, SHUTTING_DOWN)
        self._pool.shutdown(wait=False)


class _ServerCalls(CallTable):
    """One server connection's calls (its reader thread feeds them)."""

    def __init__(self, services, connection):
        self._services = services
        self._conn = connection
        self._lock = threading.Lock()
        self._calls = {}
        self._max_seen = 0

    def on_frame(self, frame):
        with self._lock:
            stream = self._calls.get(frame.stream)
            new = stream is None and frame.stream > self._max_seen
            if new:
                self._max_seen = frame.stream
        if stream is not None:
            stream.on_frame(frame)
        elif new and frame.type == F.HEADERS:
            self._open(frame)
        elif new:
            raise F.data_loss(f"a frame of type 0x{frame.type:02x} opens stream "
                              f"{frame.stream} (a call starts with HEADERS)")
        # Else a late frame of a call that ended: dropped (9.1).

    def _open(self, frame):
        headers, rest = W.parse_prefixed(frame.payload, W.CallHeaders)
        metadata = W.from_wire(headers.metadata)
        arrived = time.monotonic()
        try:
            with self._lock:
                # A call counts until its TRAILERS go out (9.3): the client
                # may open the next one as soon as it has them, before the
                # handler's thread has let go of the finished one.
                open_calls = sum(1 for c in self._calls.values() if not c.answered())
                if open_calls >= self._services.max_concurrent_streams:
                    raise RpcError(StatusCode.RESOURCE_EXHAUSTED,
                                   "too many concurrent calls on this connection "
                                   f"(max_concurrent_streams "
                                   f"{self._services.max_concurrent_streams})")
            handler = self._services._admit(headers.method)
        except RpcError as e:
            self._refuse(frame.stream, e.code, e.message)
            return
        started = False
        try:
            stream = CallStream(self._conn, frame.stream, "server",
                                compress=not headers.no_compression,
                                max_message_bytes=self._conn.options.max_message_bytes,
                                on_end=self._forget)
            with self._lock:
                self._calls[frame.stream] = stream
            deadline = None
            if headers.timeout_micros:
                deadline = arrived + headers.timeout_micros / 1e6
                timer = TIMERS.add(deadline, lambda: stream.cancel(
                    StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed"))
                stream.end_callbacks.append(lambda s: TIMERS.cancel(timer))
            if rest or frame.flags & F.END_STREAM:
                stream.on_frame(F.Frame(frame.sequence, frame.stream, F.DATA,
                                        frame.flags, rest))
            context = ServicerContext(stream, headers.method, metadata, self._conn.peer,
                                      deadline)
            self._dispatch(stream, handler, context)
            started = True
        finally:
            if not started:  # A malformed message in the HEADERS, or no thread.
                self._services._handler_done(handler)

    def _dispatch(self, stream, handler, context):
        """Runs the call's handler: a streaming one at once, on a thread of
        its own; a unary one on the pool once its request is whole (the
        client half-closed), so that a client which never finishes its
        request holds a call slot, never a pool thread."""
        job = lambda: self._run(stream, handler, context)  # noqa: E731
        if handler.request_streaming or handler.response_streaming or stream.remote_done():
            self._start(stream, handler, job)
            return
        decided = threading.Lock()

        def request_complete():
            if decided.acquire(blocking=False):
                self._start(stream, handler, job)

        def ended_first(_stream):
            if decided.acquire(blocking=False):
                self._services._handler_done(handler)  # The slot, unused.
        stream.on_remote_done = request_complete
        stream.end_callbacks.append(ended_first)
        if stream.remote_done() or stream.ended:  # It happened meanwhile.
            request_complete() if not stream.ended else ended_first(stream)

    def _start(self, stream, handler, job):
        """Hands the call to its thread; when none can take it (the pool has
        shut down since the call was admitted, or no thread can start),
        the call is answered with the reason, never left open."""
        try:
            self._services._run(handler, job)
        except RuntimeError as e:
            self._services._handler_done(handler)
            if self._services._draining:
                code, message = StatusCode.UNAVAILABLE, SHUTTING_DOWN
            else:
                code, message = (StatusCode.RESOURCE_EXHAUSTED,
                                 f"the server could not start the call's handler ({e})")
            if stream.finish(code, message):
                self._refuse(stream.id, code, message)

    def _refuse(self, stream_id, code, message):
        """On the reader thread: answers with TRAILERS, never waiting."""
        prefix = W.encode_prefixed(W.trailers_for(code, message))
        self._conn.queue_control((stream_id, F.TRAILERS, F.END_STREAM, prefix, False))

    def _run(self, stream, handler, context):
        try:
            if not stream.ended:  # A queued call may have been cancelled.
                self._serve(stream, handler, context)
        except Exception:  # noqa: BLE001 - _serve reports what it can.
            _log.exception("netstructer: serving a call failed")
        finally:
            self._services._handler_done(handler)

    def _serve(self, stream, handler, context):
        response = None
        try:
            if handler.request_streaming:
                request = _Requests(stream, handler.request_deserializer)
            else:
                body = stream.read()
                if body is None:
                    raise RpcError(StatusCode.INVALID_ARGUMENT,
                                   "the client ended a unary call without its request")
                request = _parse(handler.request_deserializer, body)
            result = handler.behavior(request, context)
            serialize = handler.response_serializer or (lambda m: m.SerializeToString())
            if handler.response_streaming:
                for item in result or ():
                    context._send_response(_serialize(serialize, item))
            elif context._code == StatusCode.OK:
                if result is None:
                    raise RpcError(StatusCode.INTERNAL,
                                   "the handler returned no response")
                response = _serialize(serialize, result)
            code, details = context._code, context._details
        except _Abort:
            code, details = context._code, context._details
        except RpcError as e:
            if stream.ended:
                return  # Cancelled, deadline, connection gone: nothing to say.
            code, details = e.code, e.message
        except NetStructerError as e:
            if stream.ended:
                return
            code, details = e.code, e.message
        except Exception as e:
            code, details = StatusCode.UNKNOWN, f"the handler raised {type(e).__name__}: {e}"
        if code != StatusCode.OK:
            response = None
        prefix = W.encode_prefixed(W.trailers_for(code, details, context._trailing))
        try:
            stream.send(F.TRAILERS, prefix, response, deadline=context._deadline)
        except NetStructerError:
            return  # The call ended first (cancelled, connection lost).
        context._answered = True
        stream.finish(code, details)

    def _forget(self, stream):
        with self._lock:
            self._calls.pop(stream.id, None)

    def cancel_all(self, code, reason):
        with self._lock:
            calls = list(self._calls.values())
        for stream in calls:
            stream.cancel(code, reason)

    # The connection's hooks.
    def on_goaway(self, peer):
        pass  # Calls in flight go on; the client opens no more.

    def on_end(self, error):
        with self._lock:
            calls = list(self._calls.values())
        for stream in calls:
            stream.finish(StatusCode.CANCELLED
                          if error.code == StatusCode.OUT_OF_RANGE else error.code,
                          error.message)
        self._services._forget(self)
