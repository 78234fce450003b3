"""Channel: the client side of RPC calls (docs/PROTOCOL.md 9), shaped like
grpc.Channel so generated stubs (``*_ns.py``) read like ``*_pb2_grpc.py``.

    channel = netstructer.Channel('127.0.0.1:50051', key=KEY)
    stub = greeter_ns.GreeterStub(channel)
    reply = stub.SayHello(HelloRequest(name='World'), timeout=5)

A Channel holds one connection, made on the first call and made again after
it ended (or after the server's GOAWAY). Calls on it are multiplexed.
"""

import threading
import time

from . import frames as F
from . import handshake_io
from . import keys as _keys
from . import rpc_wire as W
from .bridge import _parse_address
from .call_stream import CallStream, CallTable
from .client_calls import Call, CallFuture, ClientCall
from .connection import ConnectionOptions
from .errors import NetStructerError, RpcError, StatusCode


class _ClientCalls(CallTable):
    """A client connection's calls: stream ids and the frames of each."""

    def __init__(self, connection):
        self._conn = connection
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()  # HEADERS go out in id order.
        self._calls = {}
        self._next_id = W.FIRST_CALL_STREAM
        self._closed = None  # (code, message) once no new call may start.

    def start(self, call, send_first, deadline=None):
        """Registers ``call`` under the next id and runs ``send_first()``,
        which writes its HEADERS; ids reach the wire in increasing order.
        RpcError DEADLINE_EXCEEDED if the calls ahead held the way past
        ``deadline``."""
        wait = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._open_lock.acquire(timeout=wait):
            raise RpcError(StatusCode.DEADLINE_EXCEEDED,
                           "the call's deadline passed before it started "
                           "(the calls ahead of it were still being written)")
        released = [False]

        def release():
            if not released[0]:
                released[0] = True
                self._open_lock.release()
        try:
            with self._lock:
                if self._closed is not None:
                    raise RpcError(*self._closed)
                stream_id = self._next_id
                self._next_id += 2
                stream = CallStream(self._conn, stream_id, "client",
                                    compress=call.compress,
                                    max_message_bytes=call.max_message_bytes,
                                    on_end=self._forget)
                self._calls[stream_id] = stream
            call.stream = stream
            call.stream_created()
            stream.after_first_frame = release
            send_first(stream)
        finally:
            release()

    def _forget(self, stream):
        with self._lock:
            self._calls.pop(stream.id, None)

    def accepts_calls(self):
        with self._lock:
            return self._closed is None

    # The connection's hooks (its reader thread).
    def on_frame(self, frame):
        with self._lock:
            stream = self._calls.get(frame.stream)
            opened = frame.stream < self._next_id
        if stream is not None:
            stream.on_frame(frame)
        elif not opened:
            raise F.data_loss(f"a frame on stream {frame.stream}, which this client "
                              "never opened")
        # Else a late frame of a call that ended: dropped (9.1).

    def on_goaway(self, peer):
        with self._lock:
            if self._closed is None:
                self._closed = (StatusCode.UNAVAILABLE,
                                "the server is going away (GOAWAY): retry on a new "
                                "connection")

    def on_end(self, error):
        with self._lock:
            if self._closed is None or error.code != StatusCode.OUT_OF_RANGE:
                self._closed = (StatusCode.UNAVAILABLE
                                if error.code == StatusCode.OUT_OF_RANGE else error.code,
                                error.message)
            calls = list(self._calls.values())
        code, message = self._closed
        for stream in calls:
            stream.finish(code, message)


class Channel:
    def __init__(self, target, port=None, *, key=None, key_file=None,
                 insecure=False, connect_timeout=10.0, options=None):
        self._host, self._port = _parse_address(target, port)
        if insecure:
            if key is not None or key_file is not None:
                raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                       "insecure=True takes no key")
            self._key = None
        else:
            self._key = _keys.key_ring(key=key, key_file=key_file)[0]
        self._connect_timeout = connect_timeout
        self._options = options or ConnectionOptions()
        self._lock = threading.Lock()
        self._connection = None
        self._calls = None
        self._closed = False

    @property
    def target(self):
        return f"{self._host}:{self._port}"

    def calls(self, deadline=None):
        """The _ClientCalls of a live connection, connecting if need be.
        RpcError with the connection's code when that fails."""
        with self._lock:
            if self._closed:
                raise RpcError(StatusCode.CANCELLED, "the channel was closed")
            if (self._connection is not None and self._connection.ended is None
                    and self._connection.send_failure() is None
                    and self._calls.accepts_calls()):
                return self._calls
            timeout = self._connect_timeout
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            try:
                connection = handshake_io.connect(self._host, self._port, self._key,
                                                  timeout=timeout, options=self._options)
            except NetStructerError as e:
                raise RpcError(e.code, e.message) from None
            calls = _ClientCalls(connection)
            connection.call_streams = calls
            connection.start()
            old = self._connection
            self._connection, self._calls = connection, calls
        if old is not None and old.ended is None:
            threading.Thread(target=_close_quietly, args=(old,), daemon=True).start()
        return calls

    def unary_unary(self, method, request_serializer=None, response_deserializer=None):
        return _Multi(self, method, request_serializer, response_deserializer, False, False)

    def unary_stream(self, method, request_serializer=None, response_deserializer=None):
        return _Multi(self, method, request_serializer, response_deserializer, False, True)

    def stream_unary(self, method, request_serializer=None, response_deserializer=None):
        return _Multi(self, method, request_serializer, response_deserializer, True, False)

    def stream_stream(self, method, request_serializer=None, response_deserializer=None):
        return _Multi(self, method, request_serializer, response_deserializer, True, True)

    def close(self):
        """Closes the connection; calls in flight end with UNAVAILABLE."""
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            _close_quietly(connection)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _close_quietly(connection):
    try:
        connection.close(1.0)
    except NetStructerError:
        pass


class _Multi:
    """One method of a stub: called like gRPC's multi-callables."""

    def __init__(self, channel, method, serializer, deserializer, client_streams,
                 server_streams):
        self._channel = channel
        self._method = method
        self._serialize = serializer or (lambda m: m.SerializeToString())
        self._deserialize = deserializer or (lambda b: b)
        self._client_streams = client_streams
        self._server_streams = server_streams

    def _start(self, request, timeout, metadata, compression, wait_for_ready=None):
        call = ClientCall(self._channel, self._method, self._serialize,
                          self._deserialize, timeout, metadata, compression)
        call.begin(request, self._client_streams)
        return call

    def __call__(self, request, timeout=None, metadata=None, compression=True):
        call = self._start(request, timeout, metadata, compression)
        if self._server_streams:
            return Call(call)
        return call.result()

    def with_call(self, request, timeout=None, metadata=None, compression=True):
        """(response, call): the call gives initial_metadata(),
        trailing_metadata(), code(), details()."""
        call = self._start(request, timeout, metadata, compression)
        return call.result(), Call(call)

    def future(self, request, timeout=None, metadata=None, compression=True):
        """A CallFuture: result(timeout), exception(), cancel(), done(),
        add_done_callback(fn)."""
        if self._server_streams:
            raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                   "future() is for methods with one response")
        return CallFuture(self._start(request, timeout, metadata, compression))
