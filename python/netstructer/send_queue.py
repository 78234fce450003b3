"""The sending side of a connection: frames sealed in order and written
without ever blocking in the kernel (brpc's write queue, in a few lines).

Any thread seals its frames under ``_cv``'s lock, appends them to the
backlog and writes what the socket takes at once (``MSG_DONTWAIT``); what it
does not take, the connection's reader thread writes when the socket becomes
writable (it selects for that while the backlog is not empty). So the lock
is only ever held for a seal and a non-blocking send: the reader thread, a
timer and an application thread can all write without waiting on a peer
that does not read. Application threads wait (on ``_cv``, up to their
deadline) while the backlog holds more than ``max_queued_bytes``; the
reader and timers never wait. A GOAWAY is the last frame: once it is
queued nothing more is, and the sending side is shut when it has left.
"""

import socket
import threading
import time

from . import frames as F
from .errors import ConnectionEndError, NetStructerError, StatusCode

DEFAULT_MAX_QUEUED_BYTES = 8 << 20


class SendQueue:
    def __init__(self, sock, sealer, wake, max_queued_bytes=DEFAULT_MAX_QUEUED_BYTES):
        self._sock = sock
        self._sealer = sealer
        self._wake = wake  # Wakes the reader to select for writability.
        self._max = max_queued_bytes
        self._cv = threading.Condition(threading.Lock())
        # Guarded by _cv:
        self._backlog = bytearray()
        self._closed = None        # The error new frames get, once closed.
        self._goaway_queued = False
        self._shut = False         # The sending side is shut (after GOAWAY).
        self._failed = None        # The socket's error, once one happened.
        self._failed_at = None     # When the socket failed (not a close).
        self._input_paused = False  # See input_paused().

    def send(self, frames, deadline=None, wait_for_room=True):
        """Seals and queues ``frames`` (stream, type, flags, payload,
        compressible), in order. Raises the queue's error once it is closed;
        with ``wait_for_room``, waits up to ``deadline`` while the backlog is
        full (DEADLINE_EXCEEDED after it)."""
        with self._cv:
            while wait_for_room and len(self._backlog) > self._max and self._closed is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise NetStructerError(StatusCode.DEADLINE_EXCEEDED,
                                           "the socket took nothing in time (the peer "
                                           "is not reading)")
                self._cv.wait(remaining)
            if self._closed is not None:
                raise self._closed
            for frame in frames:
                self._backlog += self._sealer.seal(*frame)
            self._flush_locked()
            if self._failed is not None:
                raise self._failed  # What was queued is lost: say so.
            pending = bool(self._backlog)
        if pending:
            self._wake()

    def send_goaway(self, code, reason, ack):
        """Queues our GOAWAY, the last frame; False if one was already
        queued or the queue is closed."""
        data = reason.encode("utf-8", "replace")[:512].decode("utf-8", "ignore")
        with self._cv:
            if self._closed is not None:
                return False
            self._backlog += self._sealer.seal(F.CONNECTION_STREAM, F.GOAWAY,
                                               F.ACK if ack else 0,
                                               bytes([int(code)]) + data.encode(), False)
            self._goaway_queued = True
            self._closed = ConnectionEndError(
                StatusCode.FAILED_PRECONDITION,
                "this connection's sending side was closed (GOAWAY)")
            self._flush_locked()
            pending = bool(self._backlog)
        if pending:
            self._wake()
        return True

    def _flush_locked(self):
        while self._backlog and self._failed is None:
            try:
                n = self._sock.send(self._backlog, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self._failed = ConnectionEndError(
                    StatusCode.UNAVAILABLE,
                    f"the connection was lost while sending ({e.strerror or e})")
                self._failed_at = time.monotonic()
                self._closed = self._closed or self._failed
                self._backlog.clear()
                break
            del self._backlog[:n]
        if not self._backlog and self._goaway_queued and not self._shut:
            self._shut = True
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self._cv.notify_all()

    @property
    def goaway_queued(self):
        with self._cv:
            return self._goaway_queued

    def input_paused(self):
        """The server side's backpressure on a peer that sends without
        reading (every PING, credit or call it sends makes us queue an
        answer): True once the backlog went over its limit, until the peer
        has taken half of it; the reader reads nothing meanwhile, and a peer
        that never reads is closed by the keepalive. Never on the client
        side (if both sides paused, each would wait for the other: healthy
        two-way bulk traffic would stall), nor after our GOAWAY, which ends
        our output. As the C++ Bridge (transport/bridge_input.cc)."""
        with self._cv:
            if self._goaway_queued or self._closed is not None:
                self._input_paused = False
            elif len(self._backlog) > self._max:
                self._input_paused = True
            elif len(self._backlog) <= self._max // 2:
                self._input_paused = False
            return self._input_paused

    def socket_failure(self):
        """(error, when) once a send failed on the socket itself, else
        None. The connection does not end there: what the peer sent before
        it stopped reading (its GOAWAY included) is still read (8.3)."""
        with self._cv:
            if self._failed_at is None:
                return None
            return self._failed, self._failed_at

    def wants_write(self):
        with self._cv:
            return bool(self._backlog) and self._failed is None

    def on_writable(self):
        """The reader thread: the socket can take more. Returns the
        socket's error if writing failed."""
        with self._cv:
            self._flush_locked()
            return self._failed

    def wait_drained(self, deadline):
        """True once everything queued has left (or failed)."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._backlog or self._failed is not None,
                                     max(0.0, deadline - time.monotonic()))

    def close(self, error):
        """No more frames; what is queued is dropped (the connection ended)."""
        with self._cv:
            self._closed = error
            self._failed = self._failed or error
            self._backlog.clear()
            self._cv.notify_all()

    def close_socket(self):
        """Closes the socket, under the lock every send holds, so that no
        send is in flight on a descriptor that is being reused."""
        with self._cv:
            self._closed = self._closed or ConnectionEndError(
                StatusCode.UNAVAILABLE, "the connection was closed")
            self._failed = self._failed or self._closed
            self._backlog.clear()
            try:
                self._sock.close()
            except OSError:
                pass
            self._cv.notify_all()
