"""One stream machinery for the Bridge stream and every call (PROTOCOL.md
8.1, 8.2, 9.5): messages cut into fragments, reassembled with a size limit
and a temporary-file spill, and the receiving side's flow-control window.

Both classes are owned by one thread at a time: the connection's reader
thread (assembling, storing credit) under the owning stream's lock.
"""

import struct
import tempfile

from .errors import NetStructerError, StatusCode

MESSAGE_HEADER_BYTES = 9
KIND_VALUE = 0x01
KIND_TYPED = 0x02
KIND_METHOD = 0x03
MAX_WINDOW_INCREMENT = 0x7FFFFFFF

DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
DEFAULT_MEMORY_THRESHOLD_BYTES = 8 << 20
DEFAULT_FRAGMENT_BYTES = 64 << 10

_MESSAGE_HEADER = struct.Struct(">QB")


def message_header(kind, body_bytes):
    return _MESSAGE_HEADER.pack(body_bytes, kind)


def fragments(kind, body, fragment_bytes=DEFAULT_FRAGMENT_BYTES):
    """The payloads of a message's frames: the 9-byte header and the body,
    cut at ``fragment_bytes`` (the first one holds the whole header)."""
    whole = memoryview(message_header(kind, len(body)) + bytes(body))
    return [whole[i:i + fragment_bytes]
            for i in range(0, len(whole), fragment_bytes)] or [whole]


def window_increment(payload):
    """The increment a WINDOW_UPDATE payload carries (8.2, 9.5); DATA_LOSS
    for a malformed one."""
    if len(payload) != 4:
        raise NetStructerError(StatusCode.DATA_LOSS,
                               f"a WINDOW_UPDATE of {len(payload)} bytes (4 expected)")
    increment = struct.unpack(">I", payload)[0]
    if not 1 <= increment <= MAX_WINDOW_INCREMENT:
        raise NetStructerError(StatusCode.DATA_LOSS, f"a WINDOW_UPDATE of {increment}")
    return increment


class Message:
    """A complete message: its kind and body (bytes), or the error that took
    its place in the queue (``error``, a NetStructerError)."""

    __slots__ = ("kind", "body", "size", "error")

    def __init__(self, kind=None, body=None, size=0, error=None):
        self.kind = kind
        self.body = body
        self.size = size
        self.error = error


class ReceiveWindow:
    """How much the peer may still send on a stream, and the credit owed to
    it: owed as bytes are stored, held back while the queue of whole
    messages is at its limit, returned in batches of a quarter window."""

    def __init__(self, window_bytes, max_queued_bytes):
        self.available = window_bytes
        self._batch = window_bytes // 4
        self._max_queued = max_queued_bytes
        self.queued = 0
        self._owed = 0
        self._deferred = 0

    def receive(self, n):
        """False when the peer had no credit for ``n`` bytes (DATA_LOSS)."""
        if n > self.available:
            return False
        self.available -= n
        return True

    def stored(self, n):
        if self.queued >= self._max_queued:
            self._deferred += n
        else:
            self._owed += n

    def dequeued(self, n):
        self.queued -= n
        if self._deferred and self.queued < self._max_queued:
            self._owed += self._deferred
            self._deferred = 0
            return True
        return False

    def take_credit(self, force=False):
        if self._owed == 0 or (not force and self._owed < self._batch):
            return 0
        n = min(self._owed, MAX_WINDOW_INCREMENT)
        self._owed -= n
        self.available += n
        return n


class MessageAssembler:
    """Reassembles one stream's messages from DATA payloads (8.1).

    ``add(payload, end_message)`` returns a Message when one completes (or
    fails alone: over ``max_message_bytes``) and None otherwise; a framing
    error of the stream raises DATA_LOSS (it ends the connection).
    """

    def __init__(self, kinds, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
                 memory_threshold_bytes=DEFAULT_MEMORY_THRESHOLD_BYTES,
                 spill_directory=None):
        self._kinds = kinds
        self._max = max_message_bytes
        self._threshold = memory_threshold_bytes
        self._spill_directory = spill_directory
        self._reset()

    def _reset(self):
        self._expected = None  # 9 + B while a message is in progress.
        self._got = 0
        self._kind = None
        self._buffer = None
        self._file = None
        self._discard_error = None

    @property
    def in_progress(self):
        return self._expected is not None

    def add(self, payload, end_message):
        if self._expected is None:
            if len(payload) < MESSAGE_HEADER_BYTES:
                raise NetStructerError(
                    StatusCode.DATA_LOSS,
                    f"the first frame of a message holds {len(payload)} bytes, "
                    f"less than its {MESSAGE_HEADER_BYTES}-byte header")
            size, kind = _MESSAGE_HEADER.unpack_from(payload)
            if kind not in self._kinds:
                raise NetStructerError(StatusCode.DATA_LOSS,
                                       f"unknown message kind 0x{kind:02x}")
            self._expected = MESSAGE_HEADER_BYTES + size
            self._kind = kind
            if size > self._max:
                self._discard_error = NetStructerError(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"a message of {size} bytes exceeds the limit of "
                    f"{self._max} bytes (max_message_bytes); it was discarded")
            elif size > self._threshold:
                try:
                    self._file = tempfile.TemporaryFile(dir=self._spill_directory)
                except OSError:
                    raise NetStructerError(
                        StatusCode.INTERNAL,
                        "the receiver could not store a message") from None
            else:
                self._buffer = bytearray()
            self._got = MESSAGE_HEADER_BYTES
            payload = payload[MESSAGE_HEADER_BYTES:]
        self._got += len(payload)
        if self._got > self._expected:
            raise NetStructerError(
                StatusCode.DATA_LOSS,
                f"a message of {self._expected - MESSAGE_HEADER_BYTES} bytes got "
                f"{self._got - MESSAGE_HEADER_BYTES} bytes")
        if self._discard_error is None and payload:
            if self._file is not None:
                try:
                    self._file.write(payload)
                except OSError:
                    raise NetStructerError(
                        StatusCode.INTERNAL,
                        "the receiver could not store a message") from None
            else:
                self._buffer += payload
        if not end_message:
            return None
        if self._got != self._expected:
            raise NetStructerError(
                StatusCode.DATA_LOSS,
                f"a message of {self._expected - MESSAGE_HEADER_BYTES} bytes ended "
                f"after {self._got - MESSAGE_HEADER_BYTES} bytes")
        size = self._expected - MESSAGE_HEADER_BYTES
        if self._discard_error is not None:
            message = Message(self._kind, error=self._discard_error)
        elif self._file is not None:
            message = Message(self._kind, self._file, size)
        else:
            message = Message(self._kind, bytes(self._buffer), size)
        self._reset()
        return message

    def close(self):
        if self._file is not None:
            self._file.close()
        self._reset()


def body_bytes(message):
    """The body of a Message as bytes (a spilled one is read back, then its
    file closed, which removes it)."""
    body = message.body
    if isinstance(body, (bytes, bytearray)):
        return body
    try:
        body.seek(0)
        return body.read()
    finally:
        body.close()
