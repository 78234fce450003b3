"""One client call, and what a caller holds of it: ``Call`` (an iterator of
responses with the call's metadata and status) and ``CallFuture``.

A call's deadline is a timer (timers.py) that cancels it with
DEADLINE_EXCEEDED (the server is told by CANCEL, 9.3), so a caller that is
not waiting still sees the call end on time.
"""

import threading
import time

from . import frames as F
from . import rpc_wire as W
from . import typed_messages
from .callbacks import CALLBACKS
from .errors import NetStructerError, RpcError, StatusCode
from .timers import TIMERS

CANCELLED_BY_CLIENT = "the client cancelled the call"
DEADLINE_PASSED = "the call's deadline passed"


class ClientCall:
    def __init__(self, channel, method, serialize, deserialize, timeout, metadata,
                 compression):
        self._channel = channel
        self.method = method
        self._serialize = serialize
        self._deserialize = deserialize
        self.metadata = W.normalize_metadata(metadata)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.compress = bool(compression)
        self.max_message_bytes = channel._options.max_message_bytes
        self.stream = None
        self._early_status = None  # A call that ended before it started.

    def begin(self, request, client_streams):
        if self.deadline is not None and self.deadline <= time.monotonic():
            self._early_status = (StatusCode.DEADLINE_EXCEEDED,
                                  "the call's deadline passed before it started")
            return
        body = None
        if not client_streams:
            try:
                body = typed_messages.serialize(self._serialize, request,
                                                StatusCode.INVALID_ARGUMENT, "the request")
            except RpcError as e:  # Refused before anything leaves.
                self._early_status = (e.code, e.message)
                return
        try:
            calls = self._channel.calls(self.deadline)
            headers = W.CallHeaders(method=self.method, no_compression=not self.compress)
            if self.deadline is not None:
                headers.timeout_micros = max(1, int((self.deadline - time.monotonic()) * 1e6))
            W.to_wire(self.metadata, headers.metadata)
            prefix = W.encode_prefixed(headers)
            calls.start(self, lambda s: s.send(F.HEADERS, prefix, body,
                                               end_stream=not client_streams,
                                               deadline=self.deadline), self.deadline)
        except NetStructerError as e:  # Connecting, or the first write.
            if self.stream is None:  # Never started: nothing was sent.
                self._early_status = (e.code, e.message)
            else:
                self.stream.finish(e.code, e.message)
            return
        if client_streams:
            threading.Thread(target=self._send_requests, args=(iter(request),),
                             daemon=True, name=f"netstructer-requests{self.method}").start()

    def stream_created(self):
        """The call has its stream (and id), before its first frame: its
        deadline is armed from here on, whatever the first write waits for."""
        if self.deadline is not None:
            stream = self.stream
            timer = TIMERS.add(self.deadline, lambda: stream.cancel(
                StatusCode.DEADLINE_EXCEEDED, DEADLINE_PASSED))
            stream.end_callbacks.append(lambda s: TIMERS.cancel(timer))

    def _send_requests(self, requests):
        try:
            for request in requests:
                if self.stream.ended:
                    return
                try:
                    body = typed_messages.serialize(self._serialize, request,
                                                    StatusCode.INVALID_ARGUMENT,
                                                    "the request")
                except RpcError as e:  # The call cannot go on without it.
                    self.stream.cancel(e.code, e.message)
                    return
                self.stream.send(F.DATA, body=body, deadline=self.deadline)
            self.stream.send(F.DATA, body=None, end_stream=True, deadline=self.deadline)
        except (RpcError, NetStructerError):
            return  # The call ended; its status says why.
        except Exception as e:  # The caller's iterator or serializer failed.
            self.stream.cancel(StatusCode.CANCELLED,
                               f"the request iterator raised {type(e).__name__}: {e}")

    def cancel(self):
        """Cancels the call (CANCELLED); True unless it had already ended."""
        if self.stream is None:
            return False
        return self.stream.cancel(StatusCode.CANCELLED, CANCELLED_BY_CLIENT)

    def status(self, wait=True):
        if self._early_status is not None:
            return self._early_status
        if not wait:
            return self.stream.status
        return self.stream.wait_end()

    def _error(self):
        code, message = self.status()
        stream = self.stream
        return RpcError(code, message,
                        stream.initial_metadata or () if stream else (),
                        stream.trailing_metadata if stream else ())

    def next_response(self):
        """The next response, or None after the last; RpcError for a call
        that ended with another status than OK."""
        if self._early_status is not None:
            raise self._error()
        try:
            body = self.stream.read()
        except RpcError:
            raise self._error() from None
        if body is None:
            if self.status()[0] != StatusCode.OK:
                raise self._error()
            return None
        try:
            return typed_messages.parse(self._deserialize, body, StatusCode.INTERNAL,
                                        "the response")
        except RpcError as e:
            self.stream.cancel(e.code, e.message)
            raise self._error() from None

    def result(self):
        """The one response of a unary or client-streaming call."""
        response = self.next_response()
        if response is None:
            raise RpcError(StatusCode.INTERNAL,
                           "the server ended the call with OK but without a response")
        if self.status()[0] != StatusCode.OK:
            raise self._error()
        return response


class Call:
    """What a caller holds of a call: iterate it for the responses of a
    server-streaming or bidi call; metadata and status once known."""

    def __init__(self, call):
        self._call = call

    def __iter__(self):
        return self

    def __next__(self):
        response = self._call.next_response()
        if response is None:
            raise StopIteration
        return response

    def cancel(self):
        return self._call.cancel()

    def is_active(self):
        status = self._call.status(wait=False)
        return status is None

    def time_remaining(self):
        if self._call.deadline is None:
            return None
        return max(0.0, self._call.deadline - time.monotonic())

    def initial_metadata(self):
        stream = self._call.stream
        return [] if stream is None else stream.wait_initial_metadata()

    def trailing_metadata(self):
        self._call.status()
        stream = self._call.stream
        return [] if stream is None else list(stream.trailing_metadata)

    def code(self):
        return self._call.status()[0]

    def details(self):
        return self._call.status()[1]


class CallFuture(Call):
    """A unary or client-streaming call's response, later."""

    def __init__(self, call):
        super().__init__(call)
        self._done = threading.Event()
        self._callbacks = []
        self._lock = threading.Lock()
        if call.stream is None:
            self._set_done()
        else:
            call.stream.end_callbacks.append(lambda s: self._set_done())
            if call.stream.ended:
                self._set_done()

    def _set_done(self):
        with self._lock:
            if self._done.is_set():
                return
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        CALLBACKS.submit(callbacks, self)  # Never on the thread that ended it.

    def done(self):
        return self._done.is_set()

    def cancelled(self):
        return self.done() and self.code() == StatusCode.CANCELLED

    def running(self):
        return not self.done()

    def result(self, timeout=None):
        if not self._done.wait(timeout):
            raise NetStructerError(StatusCode.DEADLINE_EXCEEDED,
                                   "the future's result did not come in time")
        return self._call.result()

    def exception(self, timeout=None):
        try:
            self.result(timeout)
        except RpcError as e:
            return e
        return None

    def add_done_callback(self, fn):
        """``fn(future)`` once the call ended, on the process's callback
        thread (callbacks.py); at once on this thread if it has ended."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(fn)
                return
        fn(self)
