"""Frames, the inner frame header, compression and sealing (PROTOCOL.md 3).

``FrameSealer`` and ``FrameOpener`` hold one direction's sequence number and
key; they are the only place that turns payloads into bytes on the wire and
back, in the order 3.3 fixes: compress, frame, seal; open (HMAC first),
header, sequence, decompress. Errors are NetStructerErrors with the codes of
8.4 and the C++ library's messages.
"""

import struct

import lz4.block

from . import fernet
from .errors import NetStructerError, StatusCode

LENGTH_PREFIX_BYTES = 4
HEADER_BYTES = 16
DEFAULT_MAX_FRAME_BYTES = (1 << 20) + 1024
PROTOCOL_MAX_FRAME_BYTES = 16 << 20
DEFAULT_MAX_DECOMPRESSED_BYTES = DEFAULT_MAX_FRAME_BYTES
COMPRESSION_THRESHOLD = 1024

# Frame types.
HEADERS = 0x01
DATA = 0x02
TRAILERS = 0x03
CANCEL = 0x04
WINDOW_UPDATE = 0x05
PING = 0x06
GOAWAY = 0x07
REFUSAL = 0x08
HANDSHAKE = 0x09

# Flags.
COMPRESSED = 0x01
END_STREAM = 0x02
END_MESSAGE = 0x04
ACK = 0x08
KNOWN_FLAGS = 0x0F

CONNECTION_STREAM = 0
BRIDGE_STREAM = 1

_HEADER = struct.Struct(">QIBBH")
_LENGTH = struct.Struct(">I")


def data_loss(message):
    return NetStructerError(StatusCode.DATA_LOSS, message)


class Frame:
    """One inner frame: sequence, stream id, type, flags, payload."""

    __slots__ = ("sequence", "stream", "type", "flags", "payload")

    def __init__(self, sequence, stream, type, flags, payload):
        self.sequence = sequence
        self.stream = stream
        self.type = type
        self.flags = flags
        self.payload = payload

    def __repr__(self):
        return (f"Frame(seq={self.sequence}, stream={self.stream}, "
                f"type=0x{self.type:02x}, flags=0x{self.flags:02x}, "
                f"{len(self.payload)} bytes)")


def encode_inner(sequence, stream, type, flags, payload):
    return _HEADER.pack(sequence, stream, type, flags, 0) + payload


def decode_inner(body):
    """A Frame from an inner frame's bytes; DATA_LOSS for a bad header."""
    if len(body) < HEADER_BYTES:
        raise data_loss(f"frame of {len(body)} bytes is shorter than the "
                        f"{HEADER_BYTES}-byte frame header")
    sequence, stream, type, flags, reserved = _HEADER.unpack_from(body)
    if not HEADERS <= type <= HANDSHAKE:
        raise data_loss(f"unknown frame type 0x{type:02x}")
    if flags & ~KNOWN_FLAGS:
        raise data_loss(f"reserved flag bits set: 0x{flags:02x}")
    if reserved:
        raise data_loss(f"reserved header field is 0x{reserved:04x}, must be 0")
    return Frame(sequence, stream, type, flags, body[HEADER_BYTES:])


def length_prefix(body_bytes):
    return _LENGTH.pack(body_bytes)


def check_length(length, max_frame_bytes):
    """The checks of a length prefix, made before any byte of the body."""
    if length == 0:
        raise data_loss("frame of 0 bytes: a frame body is never empty")
    if length > max_frame_bytes:
        raise NetStructerError(
            StatusCode.RESOURCE_EXHAUSTED,
            f"frame of {length} bytes exceeds the limit of {max_frame_bytes} bytes")


def compress(payload):
    """The COMPRESSED form of ``payload`` (3.2), or None when it would not
    be strictly smaller or is below the threshold."""
    if len(payload) < COMPRESSION_THRESHOLD:
        return None
    block = lz4.block.compress(bytes(payload), store_size=False)
    if LENGTH_PREFIX_BYTES + len(block) >= len(payload):
        return None
    return _LENGTH.pack(len(payload)) + block


def decompress(payload, max_decompressed_bytes):
    if len(payload) < LENGTH_PREFIX_BYTES:
        raise data_loss(f"compressed payload of {len(payload)} bytes is shorter "
                        f"than its {LENGTH_PREFIX_BYTES}-byte size prefix")
    declared = _LENGTH.unpack_from(payload)[0]
    if declared > max_decompressed_bytes:
        raise NetStructerError(
            StatusCode.RESOURCE_EXHAUSTED,
            f"decompressed size of {declared} bytes exceeds the limit of "
            f"{max_decompressed_bytes} bytes")
    try:
        out = lz4.block.decompress(bytes(payload[4:]), uncompressed_size=declared)
    except lz4.block.LZ4BlockError:
        raise data_loss("malformed lz4 block, or it decompresses to more than "
                        f"the declared {declared} bytes") from None
    if len(out) != declared:
        raise data_loss(f"lz4 block decompresses to {len(out)} bytes, "
                        f"declared {declared}")
    return out


class FrameSealer:
    """One sending direction: numbers, compresses and seals frames.

    ``keys`` None is insecure mode (plaintext inner frames). Not
    thread-safe: its owner (the connection's write lock) serializes it.
    """

    def __init__(self, key=None, clock=None, iv_source=None):
        self._key = key
        self._clock = clock
        self._iv_source = iv_source
        self.next_sequence = 0

    def seal(self, stream, type, flags, payload, compressible=False):
        """The bytes on the wire of one frame (length prefix included)."""
        if compressible:
            packed = compress(payload)
            if packed is not None:
                payload, flags = packed, flags | COMPRESSED
        inner = encode_inner(self.next_sequence, stream, type, flags, payload)
        self.next_sequence += 1
        if self._key is None:
            body = inner
        else:
            now = self._clock() if self._clock else None
            iv = self._iv_source() if self._iv_source else None
            body = fernet.seal(self._key, inner, now=now, iv=iv)
        return _LENGTH.pack(len(body)) + body


class FrameOpener:
    """One receiving direction: opens, checks the sequence, decompresses."""

    def __init__(self, key=None,
                 max_decompressed_bytes=DEFAULT_MAX_DECOMPRESSED_BYTES):
        self._keys = None if key is None else [key]
        self._max_decompressed = max_decompressed_bytes
        self.next_sequence = 0

    def open(self, body):
        inner = body if self._keys is None else fernet.open_token(self._keys, body)[0]
        frame = decode_inner(inner)
        if frame.sequence != self.next_sequence:
            raise data_loss(
                f"frame out of sequence: expected {self.next_sequence}, got "
                f"{frame.sequence} (a replayed, reordered or dropped frame)")
        self.next_sequence += 1
        if frame.flags & COMPRESSED:
            frame.payload = decompress(frame.payload, self._max_decompressed)
            frame.flags &= ~COMPRESSED
        return frame
