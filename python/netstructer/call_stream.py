"""One call's stream, either side (docs/PROTOCOL.md 9.2-9.5): its messages
cut into frames under the call's flow-control window, reassembled as they
arrive, and its end (TRAILERS, CANCEL, or the connection's end).

Ownership: frames arrive on the connection's reader thread (``on_frame``)
and change the call's state under ``_cv``; application threads send (one
message's frames at a time, ``_send_lock``) and wait on ``_cv``. The end
is decided once (``finish``); callbacks of the end run after ``_cv`` is
released.
"""

import struct
import threading
import time
from collections import deque

from . import frames as F
from . import rpc_wire as W
from . import streams
from .connection import run_callbacks
from .errors import NetStructerError, RpcError, StatusCode

_U32 = struct.Struct(">I")


class CallStream:
    def __init__(self, connection, stream_id, role, compress=True,
                 max_message_bytes=streams.DEFAULT_MAX_MESSAGE_BYTES, on_end=None):
        self.id = stream_id
        self.role = role  # "client" or "server": who we are.
        self._conn = connection
        self._compress = compress and connection.options.compression
        self._fragment = connection.options.fragment_bytes
        self._cv = threading.Condition(threading.Lock())
        self._send_lock = threading.Lock()
        self._send_credit = W.STREAM_WINDOW_BYTES
        self._window = streams.ReceiveWindow(W.STREAM_WINDOW_BYTES, W.STREAM_WINDOW_BYTES)
        self._assembler = streams.MessageAssembler(
            (streams.KIND_METHOD,), max_message_bytes,
            connection.options.memory_threshold_bytes, connection.options.spill_directory)
        # The reassembly is fed by the reader thread and let go of by
        # whichever thread ends the call: _asm_lock orders the two.
        self._asm_lock = threading.Lock()
        self._asm_closed = False
        self._messages = deque()
        # A client call's stream exists on the wire once its HEADERS went
        # out; a cancel before that sends nothing (or waits for it).
        self._opened = role == "server"
        self._cancel_after_open = None
        self._remote_done = False   # The peer sends no more messages.
        self._sent_end = False      # We sent END_STREAM (client) or TRAILERS (server).
        self.status = None          # (code, message) once the call ended.
        self.initial_metadata = None
        self.trailing_metadata = []
        self._on_end = on_end
        self.end_callbacks = []
        # Called once the call's first frame is written (the client's
        # registry holds the lock that keeps stream ids in order until then).
        self.after_first_frame = None
        # Server: called on the reader thread when the client half-closes.
        self.on_remote_done = None

    # --- sending -------------------------------------------------------------

    def send(self, frame_type=F.DATA, prefix=None, body=None, end_stream=False,
             deadline=None):
        """Sends one message (``body``, or None for none) and, with ``prefix``,
        the HEADERS or TRAILERS (``frame_type``) that carries it. Metadata is
        never compressed together with message bytes (9.2): a message that
        may be compressed travels in DATA frames of its own."""
        try:
            self._send(frame_type, prefix, body, end_stream, deadline)
        except NetStructerError as e:
            if e.code != StatusCode.DEADLINE_EXCEEDED or isinstance(e, RpcError):
                raise
            # Waiting for credit or for the socket outlived the deadline:
            # the call ends (part of a message may have gone out).
            self.cancel(StatusCode.DEADLINE_EXCEEDED, "the call's deadline passed")
            raise RpcError(StatusCode.DEADLINE_EXCEEDED, e.message) from None

    def _send(self, frame_type, prefix, body, end_stream, deadline):
        message = b"" if body is None else streams.message_header(
            streams.KIND_METHOD, len(body)) + bytes(body)
        compressible = self._compress and len(message) >= F.COMPRESSION_THRESHOLD
        shares = body is not None and not compressible and len(message) <= self._fragment
        with self._send_lock:
            self._check_can_send()
            if prefix is not None and frame_type == F.HEADERS:
                if body is None or shares:
                    flags = (F.END_MESSAGE if body is not None else 0) | (
                        F.END_STREAM if end_stream else 0)
                    self._send_frame(F.HEADERS, flags, prefix + message, len(message),
                                     deadline, False)
                    return
                self._send_frame(F.HEADERS, 0, prefix, 0, deadline, False)
                self._send_fragments(message, end_stream, deadline, compressible)
            elif prefix is not None and frame_type == F.TRAILERS:
                if shares:
                    self._send_frame(F.TRAILERS, F.END_MESSAGE | F.END_STREAM,
                                     prefix + message, len(message), deadline, False)
                    return
                if body is not None:
                    self._send_fragments(message, False, deadline, compressible)
                self._send_frame(F.TRAILERS, F.END_STREAM, prefix, 0, deadline, False)
            elif body is None:
                self._send_frame(F.DATA, F.END_STREAM if end_stream else 0, b"", 0,
                                 deadline, False)
            else:
                self._send_fragments(message, end_stream, deadline, compressible)
        self._conn.note_activity()

    def _send_fragments(self, message, end_stream, deadline, compressible):
        view = memoryview(message)
        for start in range(0, len(message), self._fragment):
            part = view[start:start + self._fragment]
            last = start + self._fragment >= len(message)
            flags = (F.END_MESSAGE | (F.END_STREAM if end_stream else 0)) if last else 0
            self._send_frame(F.DATA, flags, part, len(part), deadline, compressible)

    def _send_frame(self, type, flags, payload, message_bytes, deadline, compressible):
        if message_bytes:
            self._take_credit(message_bytes, deadline)
        with self._cv:
            if self.status is not None:
                raise self._error_locked()
            if type == F.TRAILERS or (flags & F.END_STREAM):
                self._sent_end = True
        self._conn.write_frames([(self.id, type, flags, payload, compressible)], deadline)
        with self._cv:
            self._opened = True
            late_cancel, self._cancel_after_open = self._cancel_after_open, None
        if late_cancel is not None:  # Cancelled while its HEADERS was queued.
            self._conn.queue_control((self.id, F.CANCEL, 0, W.encode_cancel(*late_cancel),
                                      False))
        hook, self.after_first_frame = self.after_first_frame, None
        if hook is not None:
            hook()

    def _take_credit(self, n, deadline):
        with self._cv:
            while True:
                if self.status is not None:
                    raise self._error_locked()
                failure = self._conn.send_failure()
                if failure is not None:
                    raise failure  # No credit could be used (on_send_failure).
                if self._send_credit >= n:
                    self._send_credit -= n
                    return
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise NetStructerError(StatusCode.DEADLINE_EXCEEDED,
                                           "deadline exceeded while waiting for "
                                           "flow-control credit")
                self._cv.wait(remaining)

    def wake_senders(self):
        """The connection can no longer send: a sender waiting for credit
        looks again (and raises)."""
        with self._cv:
            self._cv.notify_all()

    def _check_can_send(self):
        with self._cv:
            if self.status is not None:
                raise self._error_locked()
            if self._sent_end:
                raise NetStructerError(StatusCode.FAILED_PRECONDITION,
                                       "this call's sending side is closed")

    def cancel(self, code, reason):
        """Sends CANCEL(code, reason) and ends the call with that status.
        False when the call had already ended (nothing is sent)."""
        if not self.finish(code, reason):
            return False
        with self._cv:
            if not self._opened:
                # Its HEADERS has not gone out (PROTOCOL.md 9.1: a CANCEL
                # may not open a stream): the thread writing it sends the
                # CANCEL after it, or nothing if it never writes it.
                self._cancel_after_open = (code, reason)
                return True
        # Never waits: timers and the reader thread cancel calls too.
        self._conn.queue_control((self.id, F.CANCEL, 0, W.encode_cancel(code, reason),
                                  False))
        return True

    # --- receiving (the reader thread) ----------------------------------------

    def on_frame(self, frame):
        type, payload = frame.type, frame.payload
        if self.ended:
            return  # Ended here (a cancel, a deadline): late frames are dropped.
        if type == F.CANCEL:
            code, reason = W.decode_cancel(payload)
            self.finish(code, reason)
            return
        if type == F.WINDOW_UPDATE:
            increment = streams.window_increment(payload)
            with self._cv:
                self._send_credit += increment
                if self._send_credit > streams.MAX_WINDOW_INCREMENT:
                    raise F.data_loss("a call's flow-control window overflowed")
                self._cv.notify_all()
            return
        trailers = None
        if type == F.HEADERS:
            if self.role == "server" or self.initial_metadata is not None:
                raise F.data_loss(f"a second HEADERS on stream {self.id}")
            headers, payload = W.parse_prefixed(payload, W.CallHeaders)
            with self._cv:
                self.initial_metadata = W.from_wire(headers.metadata)
                self._cv.notify_all()
        elif type == F.TRAILERS:
            if self.role == "server":
                raise F.data_loss(f"a TRAILERS from the client on stream {self.id}")
            if not frame.flags & F.END_STREAM:
                raise F.data_loss("a TRAILERS without END_STREAM")
            trailers, payload = W.parse_prefixed(payload, W.CallTrailers)
        elif type != F.DATA:
            raise F.data_loss(f"a frame of type 0x{type:02x} on call stream {self.id}")
        if payload:
            self._on_message_bytes(payload, bool(frame.flags & F.END_MESSAGE))
        if trailers is not None:
            code, message = W.status_from(trailers)
            metadata = W.from_wire(trailers.metadata)
            if self._assembler.in_progress:
                raise F.data_loss("TRAILERS inside a message")
            with self._cv:
                self.trailing_metadata = metadata
                self._remote_done = True
            self.finish(code, message)
        elif frame.flags & F.END_STREAM and self.role == "server":
            if self._assembler.in_progress:
                raise F.data_loss("END_STREAM inside a message")
            with self._cv:
                self._remote_done = True
                self._cv.notify_all()
                hook, self.on_remote_done = self.on_remote_done, None
            if hook is not None:
                hook()

    def _on_message_bytes(self, payload, end_message):
        n = len(payload)
        with self._cv:
            if not self._window.receive(n):
                raise F.data_loss("DATA beyond a call's flow-control window")
        with self._asm_lock:
            if self._asm_closed:
                return  # The call ended on another thread meanwhile.
            message = self._assembler.add(payload, end_message)
        with self._cv:
            self._window.stored(n)
            if message is not None and message.error is None:
                self._messages.append(message)
                self._window.queued += message.size
                self._cv.notify_all()
            credit = 0 if self.status is not None else self._window.take_credit()
        if message is not None and message.error is not None:
            self.cancel(StatusCode.RESOURCE_EXHAUSTED, message.error.message)
        elif credit:
            self._conn.queue_control((self.id, F.WINDOW_UPDATE, 0, _U32.pack(credit), False))

    # --- the application's side ---------------------------------------------

    def read(self, deadline=None):
        """The next message's body (bytes), or None once the peer sends no
        more; RpcError when the call ended otherwise first."""
        with self._cv:
            while not self._messages:
                if self._remote_done:
                    return None
                if self.status is not None:
                    raise self._error_locked()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise NetStructerError(StatusCode.DEADLINE_EXCEEDED,
                                           "deadline exceeded while reading")
                self._cv.wait(remaining)
            message = self._messages.popleft()
            released = self._window.dequeued(message.size)
            credit = 0 if self.status is not None else self._window.take_credit(force=released)
        if credit:
            self._conn.queue_control((self.id, F.WINDOW_UPDATE, 0, _U32.pack(credit), False))
        return streams.body_bytes(message)

    def wait_initial_metadata(self, deadline=None):
        with self._cv:
            self._cv.wait_for(lambda: self.initial_metadata is not None
                              or self.status is not None or bool(self._messages),
                              None if deadline is None else max(0, deadline - time.monotonic()))
            return list(self.initial_metadata or [])

    def wait_end(self, deadline=None):
        """(code, message) once the call ended; None at the deadline."""
        with self._cv:
            self._cv.wait_for(lambda: self.status is not None,
                              None if deadline is None else max(0, deadline - time.monotonic()))
            return self.status

    def answered(self):
        """Server: its TRAILERS are on their way (set before they are
        written)."""
        with self._cv:
            return self._sent_end

    def remote_done(self):
        """The peer sends nothing more (the client half-closed, or the
        server's TRAILERS arrived)."""
        with self._cv:
            return self._remote_done

    @property
    def ended(self):
        with self._cv:
            return self.status is not None

    def finish(self, code, message):
        """Ends the call with a status, once. True for the first end."""
        with self._cv:
            if self.status is not None:
                return False
            self.status = (StatusCode(code), message)
            self._cv.notify_all()
            callbacks = list(self.end_callbacks)
        with self._asm_lock:  # A half-received message (or its file) goes now.
            self._asm_closed = True
            self._assembler.close()
        if self._on_end is not None:
            self._on_end(self)
        run_callbacks(callbacks, self)
        return True

    def _error_locked(self):
        code, message = self.status
        if code == StatusCode.OK:
            return NetStructerError(StatusCode.FAILED_PRECONDITION, "the call has ended")
        return RpcError(code, message, self.initial_metadata or (), self.trailing_metadata)


class CallTable:
    """Mixed into a connection's calls (_ClientCalls, _ServerCalls), whose
    ``_lock`` guards ``_calls`` (stream id -> CallStream)."""

    def on_send_failure(self):
        """The socket failed to send (any thread): calls waiting for credit
        learn it now, not at the connection's end."""
        with self._lock:
            calls = list(self._calls.values())
        for stream in calls:
            stream.wake_senders()
