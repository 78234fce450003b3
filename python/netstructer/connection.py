"""One established connection (docs/PROTOCOL.md 8): the socket, both
directions' sealing state, the Bridge stream and the hand-off of call frames.

Ownership, in one paragraph: the connection's **reader thread** owns
everything that comes in (the opener and its sequence number, the Bridge
stream's assembler and receive window, keepalive, the peer's GOAWAY) and is
the only thread that reads the socket. Everything that goes out is sealed
and written by whoever holds ``_write_lock`` (the sealer's sequence number
and the socket's sending side); the reader thread never waits for that lock:
it queues its control frames (PING answers, WINDOW_UPDATEs, GOAWAY) and the
holder writes them before it lets go ("the first producer writes"), so a
writer blocked on a full socket never stops the reading that would unblock
it. Application threads meet the reader only through ``_state`` (a
Condition): the inbox, the send credit and the end of the connection.
"""

import os
import select
import socket
import struct
import threading
import time
from collections import deque

from . import frames as F
from . import streams
from .errors import ConnectionEndError, NetStructerError, StatusCode

INITIAL_WINDOW_BYTES = 16 << 20
DEFAULT_MAX_INBOX_BYTES = 32 << 20
MAX_GOAWAY_REASON_BYTES = 512
_U32 = struct.Struct(">I")


class ConnectionOptions:
    """Limits and behaviour of one connection, either side (BridgeOptions)."""

    def __init__(self, max_message_bytes=streams.DEFAULT_MAX_MESSAGE_BYTES,
                 memory_threshold_bytes=streams.DEFAULT_MEMORY_THRESHOLD_BYTES,
                 spill_directory=None, max_inbox_bytes=DEFAULT_MAX_INBOX_BYTES,
                 fragment_bytes=streams.DEFAULT_FRAGMENT_BYTES,
                 max_frame_bytes=F.DEFAULT_MAX_FRAME_BYTES, compression=True,
                 keepalive_interval=30.0, keepalive_timeout=20.0,
                 idle_timeout=None, max_lifetime=None, max_depth=100):
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

    def copy(self, **changes):
        other = ConnectionOptions.__new__(ConnectionOptions)
        other.__dict__.update(self.__dict__)
        other.__dict__.update(changes)
        return other


def _format_duration(seconds):
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:g}s"


def lost(message="the connection was lost"):
    return ConnectionEndError(StatusCode.UNAVAILABLE, message)


class Connection:
    """An authenticated connection. ``role`` is "client" or "server".

    ``call_streams`` (set by the RPC layer before ``start()``) receives the
    frames of odd stream ids from 3 (``on_frame(frame)``) on the reader
    thread, and ``on_end(error)`` once when the connection ends.
    """

    def __init__(self, sock, sealer, opener, role, options=None, peer=None,
                 key_index=None):
        self.options = options or ConnectionOptions()
        self.role = role
        self.peer = peer  # (host, port) of the other end.
        self.key_index = key_index
        self.call_streams = None
        self._sock = sock
        self._sealer = sealer
        self._opener = opener
        self._write_lock = threading.Lock()
        self._goaway_written = False  # Guarded by _write_lock.
        self._control = deque()  # Frames the reader queued for the writer.
        self._state = threading.Condition(threading.Lock())
        # Guarded by _state:
        self._inbox = deque()
        self._send_credit = INITIAL_WINDOW_BYTES
        self._window = streams.ReceiveWindow(INITIAL_WINDOW_BYTES,
                                             self.options.max_inbox_bytes)
        self._end = None           # The ConnectionEndError once it ended.
        self._inbox_end = None     # What RecvBuffer reports after the inbox.
        self._sent_goaway = False
        self._peer_goaway = None   # (code, reason, ack)
        self._closed_by_us = False
        self._last_activity = time.monotonic()
        # Owned by the reader thread:
        self._assembler = streams.MessageAssembler(
            (streams.KIND_VALUE, streams.KIND_TYPED),
            self.options.max_message_bytes, self.options.memory_threshold_bytes,
            self.options.spill_directory)
        self._bridge_send_lock = threading.Lock()
        self._message_listener = None
        self._created = time.monotonic()
        self._reader = None
        self.end_listeners = []      # f(connection, error) once it ended
        self.drained_listeners = []  # f(connection) once ended and read out
        self._drained_told = False

    # --- lifecycle --------------------------------------------------------

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

    def wait_ended(self, timeout=None):
        with self._state:
            self._state.wait_for(lambda: self._end is not None, timeout)
            return self._end

    # --- writing ----------------------------------------------------------

    def write_frames(self, frames_to_send):
        """Seals and writes frames, given as (stream, type, flags, payload,
        compressible), in order; ConnectionEndError once the sending side is
        shut."""
        try:
            with self._write_lock:
                self._write_locked(frames_to_send)
        finally:
            self._flush_control()

    def _write_locked(self, frames_to_send):
        with self._state:
            if self._sent_goaway or self._end is not None:
                raise self._send_error_locked()
        self._write_out(self._take_control() + list(frames_to_send))

    def _write_out(self, frames_to_send):
        """Seals and writes; the caller holds the write lock. A GOAWAY among
        the frames is the last thing this side sends: the sending side is
        shut after it."""
        if self._goaway_written:
            return
        for i, f in enumerate(frames_to_send):
            if f[0] == F.CONNECTION_STREAM and f[1] == F.GOAWAY:
                frames_to_send = frames_to_send[:i + 1]
                self._goaway_written = True
                break
        data = b"".join(self._sealer.seal(*f) for f in frames_to_send)
        try:
            self._sock.sendall(data)
            if self._goaway_written:
                self._sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            error = lost(f"the connection was lost while sending ({e.strerror or e})")
            self._finish(error)
            raise error from None

    def _take_control(self):
        taken = []
        while self._control:
            taken.append(self._control.popleft())
        return taken

    def queue_control(self, frame):
        """From the reader thread: written by whoever holds the write lock."""
        self._control.append(frame)
        self._flush_control()

    def _flush_control(self, wait=0.0):
        while self._control and self._write_lock.acquire(timeout=wait if wait else -1,
                                                         blocking=bool(wait)):
            try:
                frames_now = self._take_control()
                if frames_now:
                    self._write_out(frames_now)
            except NetStructerError:
                pass  # The connection ended; everyone sees that.
            finally:
                self._write_lock.release()

    def _send_error_locked(self):
        if self._end is not None:
            return self._end
        return ConnectionEndError(StatusCode.FAILED_PRECONDITION,
                                  "this connection's sending side was closed (GOAWAY)")

    # --- the Bridge stream: sending -----------------------------------------

    def send_message(self, kind, body, deadline=None):
        """Sends one Bridge message, waiting for connection credit."""
        if len(body) > self.options.max_message_bytes:
            raise NetStructerError(
                StatusCode.INVALID_ARGUMENT,
                f"a message of {len(body)} bytes exceeds the limit of "
                f"{self.options.max_message_bytes} bytes (max_message_bytes)")
        parts = streams.fragments(kind, body, self.options.fragment_bytes)
        with self._bridge_send_lock:
            for i, part in enumerate(parts):
                self._take_send_credit(len(part), deadline)
                flags = F.END_MESSAGE if i == len(parts) - 1 else 0
                self.write_frames([(F.BRIDGE_STREAM, F.DATA, flags, part,
                                    self.options.compression)])
        self.note_activity()

    def _take_send_credit(self, n, deadline):
        with self._state:
            while True:
                if self._end is not None or self._sent_goaway:
                    raise self._send_error_locked()
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
        with self._state:
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
                self._last_activity = time.monotonic()
                released = self._window.dequeued(message.size)
                credit = self._window.take_credit(force=released)
                error = None
            else:
                error = self._inbox_end
                tell = self._end is not None and not self._drained_told
                self._drained_told = self._drained_told or tell
        if tell:
            for listener in list(self.drained_listeners):
                listener(self)
        if error is not None:
            raise error
        if credit:
            self._send_window_update(credit)
        return message

    def has_unread_messages(self):
        with self._state:
            return bool(self._inbox)

    def _send_window_update(self, credit):
        try:
            self.write_frames([(F.CONNECTION_STREAM, F.WINDOW_UPDATE, 0,
                                _U32.pack(credit), False)])
        except NetStructerError:
            pass  # The connection ended; readers see that.

    # --- closing ------------------------------------------------------------

    def close(self, timeout=5.0):
        """Graceful close (8.3): GOAWAY OK, then wait for the peer's answer.
        Returns None when the peer confirmed it had every message; raises
        ConnectionEndError saying why not otherwise."""
        deadline = time.monotonic() + timeout
        self._send_goaway(StatusCode.OK, "", ack=False)
        with self._state:
            self._state.wait_for(lambda: self._peer_goaway is not None
                                 or self._end is not None,
                                 max(0.0, deadline - time.monotonic()))
            peer, end = self._peer_goaway, self._end
            self._closed_by_us = True
        result = None
        if peer is not None and peer[2]:
            result = None
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
        on_reader = threading.current_thread() is self._reader
        self._send_goaway(code, reason, ack=False, wait=1.0 if on_reader else None)
        self._finish(ConnectionEndError(code, reason))

    def abort(self, error=None):
        """Closes at once without a word to the peer."""
        self._finish(error or ConnectionEndError(StatusCode.FAILED_PRECONDITION,
                                                 "this Bridge was closed"))

    def _send_goaway(self, code, reason, ack, wait=None):
        """Queues our GOAWAY, the last frame this side sends, and writes it
        (waiting at most ``wait`` seconds for the write lock; None = as long
        as it takes, for an application thread)."""
        data = reason.encode("utf-8", "replace")[:MAX_GOAWAY_REASON_BYTES]
        data = data.decode("utf-8", "ignore").encode("utf-8")
        with self._state:
            if self._sent_goaway or self._end is not None:
                return
            self._sent_goaway = True
            self._state.notify_all()
        self._control.append((F.CONNECTION_STREAM, F.GOAWAY, F.ACK if ack else 0,
                              bytes([int(code)]) + data, False))
        if wait is None:
            with self._write_lock:
                try:
                    self._write_out(self._take_control())
                except NetStructerError:
                    pass
        else:
            self._flush_control(wait)

    def _finish(self, error):
        """Ends the connection once: the first error is what everyone sees."""
        with self._state:
            if self._end is not None:
                return
            self._end = error
            if self._inbox_end is None:
                self._inbox_end = error
            self._state.notify_all()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if threading.current_thread() is self._reader or self._reader is None:
            self._sock.close()
        if self.call_streams is not None:
            self.call_streams.on_end(error)
        for listener in list(self.end_listeners):
            listener(self, error)

    # --- the reader thread ---------------------------------------------------

    def _read_loop(self):
        try:
            self._read_frames()
        except ConnectionEndError as e:
            self._finish(e)  # A late refusal: the server has closed already.
        except NetStructerError as e:
            # An error in the peer's input: say why (8.3), then close.
            self.close_with_error(e.code, e.message)
        except OSError as e:
            self._finish(lost(f"the connection was lost ({e.strerror or e})"))
        finally:
            self._assembler.close()
            try:
                self._sock.close()
            except OSError:
                pass
            self._finish(lost())

    def _read_frames(self):
        buffer = bytearray()
        heard = time.monotonic()
        ping_outstanding = False
        options = self.options
        while True:
            # Whole frames in the buffer first.
            while len(buffer) >= 4:
                length = _U32.unpack_from(buffer)[0]
                F.check_length(length, options.max_frame_bytes)
                if len(buffer) < 4 + length:
                    break
                body = bytes(buffer[4:4 + length])
                del buffer[:4 + length]
                frame = self._opener.open(body)
                heard = time.monotonic()
                ping_outstanding = False
                if not self._dispatch(frame):
                    return
            now = time.monotonic()
            with self._state:
                if self._end is not None:
                    return
                last_activity = self._last_activity
            silent = now - heard
            if silent > options.keepalive_interval + options.keepalive_timeout:
                self._finish(lost(
                    f"the connection was lost: nothing from the peer for "
                    f"{_format_duration(round(silent, 3))} (keepalive)"))
                return
            if silent > options.keepalive_interval and not ping_outstanding:
                ping_outstanding = True
                self.queue_control((F.CONNECTION_STREAM, F.PING, 0, b"netstruc", False))
            if options.idle_timeout is not None and now - last_activity > options.idle_timeout:
                self.close_with_error(
                    StatusCode.UNAVAILABLE,
                    f"closed after {_format_duration(options.idle_timeout)} without "
                    "messages (idle_timeout)")
                return
            if options.max_lifetime is not None and now - self._created > options.max_lifetime:
                self.close_with_error(
                    StatusCode.UNAVAILABLE,
                    f"closed after {_format_duration(options.max_lifetime)} "
                    "(max_lifetime); reconnect")
                return
            waits = [options.keepalive_interval / 4]
            if options.idle_timeout is not None:
                waits.append(options.idle_timeout / 4)
            if options.max_lifetime is not None:
                waits.append(options.max_lifetime / 4)
            tick = min(max(min(waits), 0.005), 1.0)
            readable, _, _ = select.select([self._sock], [], [], tick)
            if not readable:
                continue
            chunk = self._sock.recv(1 << 18)
            if not chunk:
                if buffer:
                    got = len(buffer) - 4 if len(buffer) >= 4 else len(buffer)
                    raise F.data_loss("truncated frame" if len(buffer) >= 4 else
                                      f"truncated length prefix: got {got} of 4 bytes")
                self._on_eof()
                return
            buffer += chunk

    def _on_eof(self):
        with self._state:
            peer = self._peer_goaway
        if peer is not None:
            self._finish(self._goaway_status(peer))
        else:
            self._finish(lost("the connection was lost (closed without GOAWAY)"))

    @staticmethod
    def _goaway_status(peer):
        code, reason, _ = peer
        if code == StatusCode.OK:
            return ConnectionEndError(StatusCode.OUT_OF_RANGE,
                                      "end of stream: the peer closed the connection")
        return ConnectionEndError(code, reason)

    def _dispatch(self, frame):
        """Handles one frame; False once reading should stop."""
        stream = frame.stream
        if stream == F.CONNECTION_STREAM:
            return self._on_connection_frame(frame)
        if stream == F.BRIDGE_STREAM:
            if frame.type != F.DATA:
                raise F.data_loss(f"a frame of type 0x{frame.type:02x} on the Bridge stream")
            self._on_bridge_data(frame)
            return True
        if stream % 2 == 1 and self.call_streams is not None:
            self.call_streams.on_frame(frame)
            return True
        raise F.data_loss(f"a frame on stream {stream}, which the peer may not use")

    def _on_connection_frame(self, frame):
        payload = frame.payload
        if frame.type == F.PING:
            if len(payload) != 8:
                raise F.data_loss(f"a PING of {len(payload)} bytes (8 expected)")
            if not frame.flags & F.ACK:
                self.queue_control((F.CONNECTION_STREAM, F.PING, F.ACK, payload, False))
            return True
        if frame.type == F.WINDOW_UPDATE:
            increment = streams.window_increment(payload)
            with self._state:
                self._send_credit += increment
                if self._send_credit > streams.MAX_WINDOW_INCREMENT:
                    raise F.data_loss("the flow-control window overflowed")
                self._state.notify_all()
            return True
        if frame.type == F.GOAWAY:
            return self._on_goaway(frame)
        raise F.data_loss(f"a frame of type 0x{frame.type:02x} on stream 0")

    def _on_goaway(self, frame):
        payload = frame.payload
        if not payload or payload[0] > 16 or len(payload) - 1 > MAX_GOAWAY_REASON_BYTES:
            raise F.data_loss("a malformed GOAWAY")
        try:
            reason = bytes(payload[1:]).decode("utf-8")
        except UnicodeDecodeError:
            raise F.data_loss("a GOAWAY whose reason is not UTF-8") from None
        peer = (StatusCode(payload[0]), reason, bool(frame.flags & F.ACK))
        with self._state:
            if self._peer_goaway is not None:
                raise F.data_loss("a second GOAWAY")
            self._peer_goaway = peer
            answer = not self._sent_goaway
            # Messages already queued stay readable; then the peer's word.
            if self._inbox_end is None:
                self._inbox_end = self._goaway_status(peer)
            self._state.notify_all()
        if self.call_streams is not None:
            self.call_streams.on_goaway(peer)
        if answer:
            self._send_goaway(StatusCode.OK, "", ack=True, wait=0.0)
        return True  # Read on to EOF: the peer closes after its GOAWAY.

    def _on_bridge_data(self, frame):
        n = len(frame.payload)
        with self._state:
            if not self._window.receive(n):
                raise F.data_loss("DATA beyond the flow-control window")
        message = self._assembler.add(frame.payload, bool(frame.flags & F.END_MESSAGE))
        listener = self._message_listener
        with self._state:
            self._window.stored(n)
            if message is not None:
                self._last_activity = time.monotonic()
                if listener is None:
                    self._inbox.append(message)
                    self._window.queued += message.size
                    self._state.notify_all()
            credit = self._window.take_credit()
        if credit:
            self.queue_control((F.CONNECTION_STREAM, F.WINDOW_UPDATE, 0,
                                 _U32.pack(credit), False))
        if message is not None and listener is not None:
            listener(message)
