"""The reading half of a Connection (connection.py), run by its reader
thread, which owns all of it: frames are cut from the byte stream, opened
in sequence, and handed to the connection itself (stream 0), the Bridge
stream (1) or the calls (odd ids from 3). It also writes what the send
queue could not (the socket became writable), sends keepalive PINGs and
enforces the idle timeout and the session's lifetime.
"""

import logging
import select
import struct
import time

from . import frames as F
from . import streams
from .errors import ConnectionEndError, NetStructerError, StatusCode

MAX_GOAWAY_REASON_BYTES = 512
_U32 = struct.Struct(">I")
_log = logging.getLogger("netstructer")


def _format_duration(seconds):
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:g}s"


def _lost(message):
    return ConnectionEndError(StatusCode.UNAVAILABLE, message)


class Reader:
    """Mixed into Connection; every method runs on the reader thread."""

    def __init__(self):
        self._assembler = streams.MessageAssembler(
            (streams.KIND_VALUE, streams.KIND_TYPED),
            self.options.max_message_bytes, self.options.memory_threshold_bytes,
            self.options.spill_directory)
        self._poller = select.poll()
        self._poller.register(self._wake_r, select.POLLIN)

    def _read_loop(self):
        try:
            self._read_frames()
        except ConnectionEndError as e:
            self._finish(e)  # A late refusal: the server has closed already.
        except NetStructerError as e:
            # An error in the peer's input: say why (8.3), then close.
            self.close_with_error(e.code, e.message)
        except OSError as e:
            self._finish(_lost(f"the connection was lost ({e.strerror or e})"))
        except Exception as e:  # noqa: BLE001 - a bug must not go unseen.
            _log.exception("netstructer: the connection's reader failed")
            self.close_with_error(StatusCode.INTERNAL,
                                  f"the receiver failed: {type(e).__name__}")
        finally:
            self._assembler.close()
            self._finish(_lost("the connection was lost"))
            self._run_end_callbacks()
            self._close_descriptors()

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
                if self.ended is not None:
                    return  # Ended on another thread: look at nothing more.
                frame = self._opener.open(body)
                heard = time.monotonic()
                ping_outstanding = False
                self._dispatch(frame)
            if self.ended is not None:
                return
            now = time.monotonic()
            silent = now - heard
            if silent > options.keepalive_interval + options.keepalive_timeout:
                self._finish(_lost(
                    f"the connection was lost: nothing from the peer for "
                    f"{_format_duration(round(silent, 3))} (keepalive)"))
                return
            if silent > options.keepalive_interval and not ping_outstanding:
                ping_outstanding = True
                self.queue_control((F.CONNECTION_STREAM, F.PING, 0, b"netstruc", False))
            if (options.idle_timeout is not None
                    and now - self._last_activity > options.idle_timeout):
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
            if self._check_send_failure(now):
                return
            chunk = self._wait_for_input(self._tick())
            if chunk is None:
                continue
            if not chunk:
                if buffer:
                    got = len(buffer) - 4 if len(buffer) >= 4 else len(buffer)
                    raise F.data_loss("truncated frame" if len(buffer) >= 4 else
                                      f"truncated length prefix: got {got} of 4 bytes")
                self._on_eof()
                return
            buffer += chunk

    def _check_send_failure(self, now):
        """After the socket failed to send, reading goes on to the peer's
        EOF (what it sent before it stopped reading is delivered, 8.3), but
        not for longer than keepalive_timeout: nothing we owe it (credit,
        PING answers) can go out any more."""
        failure = self._sendq.socket_failure()
        if failure is None or now - failure[1] <= self.options.keepalive_timeout:
            return False
        self._finish(failure[0])
        return True

    def _tick(self):
        options = self.options
        waits = [options.keepalive_interval / 4, options.keepalive_timeout / 4]
        if options.idle_timeout is not None:
            waits.append(options.idle_timeout / 4)
        if options.max_lifetime is not None:
            waits.append(options.max_lifetime / 4)
        return min(max(min(waits), 0.005), 1.0)

    def _wait_for_input(self, timeout):
        """Bytes from the socket, b"" at its end, or None when the wait ended
        for another reason (a wake-up, writing, the tick). poll, not select:
        descriptors above 1023 are common on a busy server."""
        events = 0
        if self.role != "server" or not self._sendq.input_paused():
            events |= select.POLLIN  # Else we owe too much: read nothing.
        if self._sendq.wants_write():
            events |= select.POLLOUT
        poller = self._poller
        poller.register(self._sock, events)
        ready = dict(poller.poll(timeout * 1000))
        sock_events = ready.get(self._sock.fileno(), 0)
        if self._wake_r.fileno() in ready:
            try:
                self._wake_r.recv(4096)
            except OSError:
                pass
        if sock_events & select.POLLOUT:
            self._sendq.on_writable()  # A failure: see _check_send_failure.
        if sock_events & (select.POLLIN | select.POLLHUP | select.POLLERR):
            return self._sock.recv(1 << 18)
        return None

    def _on_eof(self):
        with self._state:
            peer = self._peer_goaway
        if peer is not None:
            self._finish(self._goaway_status(peer))
        else:
            self._finish(_lost("the connection was lost (closed without GOAWAY)"))

    @staticmethod
    def _goaway_status(peer):
        code, reason, _ = peer
        if code == StatusCode.OK:
            return ConnectionEndError(StatusCode.OUT_OF_RANGE,
                                      "end of stream: the peer closed the connection")
        return ConnectionEndError(code, reason)

    def _dispatch(self, frame):
        stream = frame.stream
        if stream == F.CONNECTION_STREAM:
            self._on_connection_frame(frame)
        elif stream == F.BRIDGE_STREAM:
            if frame.type != F.DATA:
                raise F.data_loss(f"a frame of type 0x{frame.type:02x} on the Bridge stream")
            self._on_bridge_data(frame)
        elif stream % 2 == 1 and self.call_streams is not None:
            self._last_activity = time.monotonic()  # Calls keep a session busy.
            self.call_streams.on_frame(frame)
        else:
            raise F.data_loss(f"a frame on stream {stream}, which the peer may not use")

    def _on_connection_frame(self, frame):
        payload = frame.payload
        if frame.type == F.PING:
            if len(payload) != 8:
                raise F.data_loss(f"a PING of {len(payload)} bytes (8 expected)")
            if not frame.flags & F.ACK:
                self.queue_control((F.CONNECTION_STREAM, F.PING, F.ACK, payload, False))
        elif frame.type == F.WINDOW_UPDATE:
            increment = streams.window_increment(payload)
            with self._state:
                self._send_credit += increment
                if self._send_credit > streams.MAX_WINDOW_INCREMENT:
                    raise F.data_loss("the flow-control window overflowed")
                self._state.notify_all()
        elif frame.type == F.GOAWAY:
            self._on_goaway(frame)
        else:
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
            # Messages already queued stay readable; then the peer's word.
            if self._inbox_end is None:
                self._inbox_end = self._goaway_status(peer)
            self._state.notify_all()
        if self.call_streams is not None:
            self.call_streams.on_goaway(peer)
        # Answer (with ACK) unless we sent ours first; read on to EOF.
        self._sendq.send_goaway(StatusCode.OK, "", ack=True)

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
                if listener is None:
                    self._inbox.append(message)
                    self._window.queued += message.size
                    self._state.notify_all()
            credit = self._window.take_credit()
        if message is not None:
            self._last_activity = time.monotonic()
        if credit:
            self.queue_control((F.CONNECTION_STREAM, F.WINDOW_UPDATE, 0,
                                _U32.pack(credit), False))
        if message is not None and listener is not None:
            listener(message)
