"""One established connection (docs/PROTOCOL.md 8): the socket, both
directions' sealing state, the Bridge stream and the hand-off of call frames.

Ownership, in one paragraph: the connection's **reader thread** owns
everything that comes in (reader.py: the opener and its sequence number, the
Bridge stream's assembler and receive window, keepalive, the peer's
GOAWAY) and is the only thread that reads the socket. Everything that goes
out is sealed in order and written without blocking by ``send_queue.py``,
whose lock any thread holds only for a seal and a non-blocking send; what
the socket does not take at once, the reader writes when it becomes
writable. So no thread ever waits on a peer that does not read, except an
application thread waiting, up to its deadline, for flow-control credit or
room in the queue. Application threads meet the reader on ``_state`` (a
Condition): the inbox, the send credit and the end of the connection.
"""

import logging
import socket
import struct
import threading
import time
from collections import deque

from . import frames as F
from . import streams
from .errors import ConnectionEndError, NetStructerError, StatusCode
from .reader import Reader
from .send_queue import DEFAULT_MAX_QUEUED_BYTES, SendQueue

INITIAL_WINDOW_BYTES = 16 << 20
DEFAULT_MAX_INBOX_BYTES = 32 << 20
_U32 = struct.Struct(">I")
_log = logging.getLogger("netstructer")


class ConnectionOptions:
    """Limits and behaviour of one connection, either side (BridgeOptions)."""

    def __init__(self, max_message_bytes=streams.DEFAULT_MAX_MESSAGE_BYTES,
                 memory_threshold_bytes=streams.DEFAULT_MEMORY_THRESHOLD_BYTES,
                 spill_directory=None, max_inbox_bytes=DEFAULT_MAX_INBOX_BYTES,
                 fragment_bytes=streams.DEFAULT_FRAGMENT_BYTES,
                 max_frame_bytes=F.DEFAULT_MAX_FRAME_BYTES, compression=True,
                 keepalive_interval=30.0, keepalive_timeout=20.0,
                 idle_timeout=None, max_lifetime=None, max_depth=100,
                 max_queued_send_bytes=DEFAULT_MAX_QUEUED_BYTES):
        self.max_message_bytes = max_message_bytes
        self.memory_threshold_bytes = memory_threshold_bytes
        self.spill_directory = spill_directory
        self.max_inbox_bytes = max_inbox_bytes
        self.fragment_bytes = fragment_bytes
        self.max_frame_bytes = max_frame_bytes
        self.compression = compression
        self.keepalive_interval = keepalive_interval
        self.keepalive_timeout = keepalive_timeout
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.max_depth = max_depth
        self.max_queued_send_bytes = max_queued_send_bytes

    def copy(self, **changes):
        other = ConnectionOptions.__new__(ConnectionOptions)
        other.__dict__.update(self.__dict__)
        other.__dict__.update(changes)
        return other


def lost(message="the connection was lost"):
    return ConnectionEndError(StatusCode.UNAVAILABLE, message)


def run_callbacks(callbacks, *args):
    """User code (end listeners, done callbacks) that must not take the
    connection down with it: an exception is logged, never propagated."""
    for callback in callbacks:
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - user code, reported below.
            _log.exception("netstructer: a callback raised")


class Connection(Reader):
    """An authenticated connection. ``role`` is "client" or "server".

    ``call_streams`` (set by the RPC layer before ``start()``) receives the
    frames of odd stream ids from 3 (``on_frame(frame)``) on the reader
    thread, ``on_goaway(peer)`` and ``on_end(error)`` once.
    """

    def __init__(self, sock, sealer, opener, role, options=None, peer=None,
                 key_index=None):
        self.options = options or ConnectionOptions()
        self.role = role
        self.peer = peer  # (host, port) of the other end.
        self.key_index = key_index
        self.call_streams = None
        self._sock = sock
        self._opener = opener
        # Wakes the reader's select (to write, or to see the end).
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_lock = threading.Lock()
        self._wake_closed = False
        self._sendq = SendQueue(sock, sealer, self._wake,
                                self.options.max_queued_send_bytes)
        self._sealer = sealer  # For tests that write frames by hand.
        self._state = threading.Condition(threading.Lock())
        # Guarded by _state:
        self._inbox = deque()
        self._send_credit = INITIAL_WINDOW_BYTES
        self._window = streams.ReceiveWindow(INITIAL_WINDOW_BYTES,
                                             self.options.max_inbox_bytes)
        self._end = None           # The ConnectionEndError once it ended.
        self._inbox_end = None     # What RecvBuffer reports after the inbox.
        self._peer_goaway = None   # (code, reason, ack)
        self._drained_told = False
        self._end_told = False
        # Written by any thread, read by the reader (a float: atomic).
        self._last_activity = time.monotonic()
        self._bridge_send_lock = threading.Lock()  # One message at a time.
        self._message_listener = None
        self._created = time.monotonic()
        self._reader = None
        self.end_listeners = []      # f(connection, error) once it ended
        self.drained_listeners = []  # f(connection) once ended and read out
        Reader.__init__(self)

    # --- lifecycle ------------------------------------------------------------

    def start(self, run_reader_here=False):
        """Starts reading: on a thread of its own, or on this thread (a
        server's handshake thread becomes its session's reader)."""
        if run_reader_here:
            self._reader = threading.current_thread()
            self._read_loop()
        else:
            self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                            name=f"netstructer-reader-{self.peer}")
            self._reader.start()

    @property
    def ended(self):
        with self._state:
            return self._end

    def _wake(self):
        with self._wake_lock:
            if self._wake_closed:
                return
            try:
                self._wake_w.send(b"w")
            except OSError:
                pass  # Already signalled (the buffer is full).

    # --- writing -------------------------------------------------------------

    def write_frames(self, frames_to_send, deadline=None, wait_for_room=True):
        """Seals and queues frames (stream, type, flags, payload,
        compressible), in order. ConnectionEndError once the sending side
        is shut; DEADLINE_EXCEEDED if the queue stayed full past
        ``deadline``. The reader thread and timers pass
        ``wait_for_room=False``: they never wait."""
        try:
            self._sendq.send(frames_to_send, deadline, wait_for_room)
        except ConnectionEndError as e:
            if self._sendq.socket_failure() is not None:
                # The socket failed: the sender learns it now, but the
                # connection ends when the reader has read what the peer
                # sent before (every message before its GOAWAY, 8.3).
                # Threads waiting for credit to send learn it now too.
                self._wake()
                with self._state:
                    self._state.notify_all()
                if self.call_streams is not None:
                    self.call_streams.on_send_failure()
            with self._state:
                raise self._end or e from None

    def send_failure(self):
        """The socket's error once a send failed on it (the connection may
        still be delivering what arrived before), else None."""
        failure = self._sendq.socket_failure()
        return None if failure is None else failure[0]

    def queue_control(self, frame):
        """A frame of the connection's own (an answer, credit, a CANCEL),
        from any thread, never waiting; dropped once the connection ended."""
        try:
            self.write_frames([frame], wait_for_room=False)
        except NetStructerError:
            pass

    # --- the Bridge stream: sending -----------------------------------------

    def send_message(self, kind, body, deadline=None):
        """Sends one Bridge message, waiting up to ``deadline`` for
        connection credit and room in the send queue. A deadline that passes
        once part of the message has gone out closes the connection (the
        rest of the stream would be garbage): DEADLINE_EXCEEDED either way."""
        if len(body) > self.options.max_message_bytes:
            raise NetStructerError(
                StatusCode.INVALID_ARGUMENT,
                f"a message of {len(body)} bytes exceeds the limit of "
                f"{self.options.max_message_bytes} bytes (max_message_bytes)")
        parts = streams.fragments(kind, body, self.options.fragment_bytes)
        with self._bridge_send_lock:
            for i, part in enumerate(parts):
                flags = F.END_MESSAGE if i == len(parts) - 1 else 0
                try:
                    self._take_send_credit(len(part), deadline)
                    self.write_frames([(F.BRIDGE_STREAM, F.DATA, flags, part,
                                        self.options.compression)], deadline)
                except NetStructerError as e:
                    if i > 0 and e.code == StatusCode.DEADLINE_EXCEEDED:
                        self.close_with_error(
                            StatusCode.ABORTED,
                            "the sender gave up on a message it had started "
                            "(its deadline passed): the connection is closed")
                        raise NetStructerError(
                            StatusCode.DEADLINE_EXCEEDED,
                            f"{e.message}; part of the message had gone out, so "
                            "the connection was closed") from None
                    raise
        self.note_activity()

    def _take_send_credit(self, n, deadline):
        with self._state:
            while True:
                if self._end is not None:
                    raise self._end
                failure = self.send_failure()
                if failure is not None:
                    raise failure
                if self._sendq.goaway_queued:
                    raise ConnectionEndError(
                        StatusCode.FAILED_PRECONDITION,
                        "this connection's sending side was closed (GOAWAY)")
                if self._send_credit >= n:
                    self._send_credit -= n
                    return
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise NetStructerError(
                        StatusCode.DEADLINE_EXCEEDED,
                        "the peer gave no flow-control credit in time "
                        "(it is not reading)")
                self._state.wait(remaining)

    def note_activity(self):
        self._last_activity = time.monotonic()

    # --- the Bridge stream: receiving ---------------------------------------

    def set_message_listener(self, listener):
        """``listener(message)`` on the reader thread for every message,
        instead of the inbox (a server serving many sessions)."""
        self._message_listener = listener

    def next_message(self, deadline=None, max_bytes=None):
        """The next streams.Message of the Bridge stream, or raise the end
        (after every message that arrived before it)."""
        tell = False
        credit = 0
        message = error = None
        with self._state:
            while not self._inbox and self._inbox_end is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise NetStructerError(StatusCode.DEADLINE_EXCEEDED,
                                           "no message arrived in time")
                self._state.wait(remaining)
            if self._inbox:
                message = self._inbox[0]
                if (max_bytes is not None and message.error is None
                        and message.size > max_bytes):
                    raise NetStructerError(
                        StatusCode.RESOURCE_EXHAUSTED,
                        f"the next message has {message.size} bytes, more than the "
                        f"{max_bytes} asked for (it stays queued)")
                self._inbox.popleft()
                released = self._window.dequeued(message.size)
                credit = self._window.take_credit(force=released)
            else:
                error = self._inbox_end
                tell = self._end is not None and not self._drained_told
                self._drained_told = self._drained_told or tell
        if tell:
            run_callbacks(list(self.drained_listeners), self)
        if error is not None:
            raise error
        self.note_activity()
        if credit:
            self.queue_control((F.CONNECTION_STREAM, F.WINDOW_UPDATE, 0,
                                _U32.pack(credit), False))
        return message

    def has_unread_messages(self):
        with self._state:
            return bool(self._inbox)

    def discard_unread_messages(self):
        """Drops the inbox (closing spilled files); the end stays to report."""
        with self._state:
            dropped, self._inbox = list(self._inbox), deque()
        for message in dropped:
            if message.body is not None and not isinstance(message.body, (bytes, bytearray)):
                message.body.close()

    # --- closing ---------------------------------------------------------------

    def close(self, timeout=5.0):
        """Graceful close (8.3): GOAWAY OK, then wait (up to ``timeout``)
        for the peer's answer. Returns None when the peer confirmed it had
        every message; raises ConnectionEndError saying why not otherwise."""
        deadline = time.monotonic() + timeout
        self._sendq.send_goaway(StatusCode.OK, "", ack=False)
        with self._state:
            self._state.wait_for(lambda: self._peer_goaway is not None
                                 or self._end is not None,
                                 max(0.0, deadline - time.monotonic()))
            peer, end = self._peer_goaway, self._end
        if peer is not None and peer[2]:
            result = None  # The peer had every message before ours.
        elif peer is not None and peer[0] not in (StatusCode.OK, StatusCode.OUT_OF_RANGE):
            result = ConnectionEndError(peer[0], peer[1])
        elif peer is not None:
            result = lost("the peer closed the connection on its own (its GOAWAY "
                          "did not answer ours): delivery of the last messages is "
                          "not confirmed")
        elif end is not None:
            result = end
        else:
            result = ConnectionEndError(StatusCode.DEADLINE_EXCEEDED,
                                        "the peer did not confirm the close in time")
        self._finish(ConnectionEndError(StatusCode.FAILED_PRECONDITION,
                                        "this Bridge was closed"))
        if result is not None:
            raise result

    def close_with_error(self, code, reason):
        """Tells the peer why (GOAWAY with the code), then closes at once
        (8.3): a peer that does not read may not get the GOAWAY."""
        self._sendq.send_goaway(code, reason, ack=False)
        self._finish(ConnectionEndError(code, reason))

    def abort(self, error=None):
        """Closes at once without a word to the peer."""
        self._finish(error or ConnectionEndError(StatusCode.FAILED_PRECONDITION,
                                                 "this Bridge was closed"))

    def _finish(self, error):
        """Ends the connection once: the first error is what everyone sees."""
        with self._state:
            if self._end is not None:
                return
            self._end = error
            if self._inbox_end is None:
                self._inbox_end = error
            self._state.notify_all()
        self._sendq.close(error)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._wake()  # The reader sees the end and closes the socket.
        # What the end sets off (every call's end, the user's callbacks, the
        # server's bookkeeping) runs on the reader thread, which holds none
        # of the locks an application thread may hold here (a call's send
        # lock, the channel's open lock): a callback may start a new call.
        if self._reader is None:
            self._run_end_callbacks()
            self._close_descriptors()
        elif threading.current_thread() is self._reader:
            self._run_end_callbacks()

    def _run_end_callbacks(self):
        with self._state:
            if self._end_told:
                return
            self._end_told = True
            error = self._end
        if self.call_streams is not None:
            run_callbacks([self.call_streams.on_end], error)
        run_callbacks(list(self.end_listeners), self, error)

    def _close_descriptors(self):
        self._sendq.close_socket()
        with self._wake_lock:
            self._wake_closed = True
            self._wake_r.close()
            self._wake_w.close()
