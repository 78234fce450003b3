"""What call streams carry beside messages (docs/PROTOCOL.md 9.2): the
prefixed CallHeaders / CallTrailers, metadata rules, CANCEL payloads."""

import re
import struct

from google.protobuf.message import DecodeError

from . import handshake as H
from ._generated.rpc import rpc_pb2
from .errors import NetStructerError, StatusCode

FIRST_CALL_STREAM = 3
STREAM_WINDOW_BYTES = 2 << 20
DEFAULT_MAX_CONCURRENT_STREAMS = 100
MAX_CALL_PREFIX_BYTES = 96 * 1024
MAX_STATUS_MESSAGE_BYTES = 4096
MAX_METADATA_KEY_BYTES = 128
MAX_METADATA_BYTES = 64 * 1024

_U32 = struct.Struct(">I")
_KEY = re.compile(rb"^[a-z0-9._-]{1,128}$")

CallHeaders = rpc_pb2.CallHeaders
CallTrailers = rpc_pb2.CallTrailers


def normalize_metadata(metadata):
    """[(key str, value bytes)] from what a caller gives: pairs whose values
    are str or bytes. INVALID_ARGUMENT naming the offending key."""
    out = []
    total = 0
    for pair in metadata or ():
        try:
            key, value = pair
        except (TypeError, ValueError):
            raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                   f"metadata is (key, value) pairs, got {pair!r}") from None
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(key, str) or not isinstance(value, (bytes, bytearray)):
            raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                   f"metadata {key!r}: a key is str, a value str or bytes")
        if not _KEY.match(key.encode("ascii", "replace")):
            raise NetStructerError(
                StatusCode.INVALID_ARGUMENT,
                f"metadata key {key!r}: 1 to 128 bytes of a-z 0-9 - _ .")
        total += len(key) + len(value)
        out.append((key, bytes(value)))
    if total > MAX_METADATA_BYTES:
        raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                               f"metadata of {total} bytes exceeds {MAX_METADATA_BYTES}")
    return out


def to_wire(metadata, repeated):
    for key, value in metadata:
        entry = repeated.add()
        entry.key = key
        entry.value = value


def from_wire(entries):
    """Metadata of a received CallHeaders/CallTrailers; DATA_LOSS if it
    breaks the rules."""
    out = []
    total = 0
    for entry in entries:
        if not _KEY.match(entry.key.encode("utf-8")):
            raise NetStructerError(StatusCode.DATA_LOSS,
                                   f"the peer sent metadata key {entry.key!r}")
        total += len(entry.key) + len(entry.value)
        out.append((entry.key, bytes(entry.value)))
    if total > MAX_METADATA_BYTES:
        raise NetStructerError(StatusCode.DATA_LOSS,
                               f"the peer sent {total} bytes of metadata")
    return out


def encode_prefixed(message):
    data = message.SerializeToString()
    return _U32.pack(len(data)) + data


def parse_prefixed(payload, cls):
    """(parsed message, the message bytes after it); DATA_LOSS if malformed."""
    if len(payload) < 4:
        raise NetStructerError(StatusCode.DATA_LOSS,
                               "a HEADERS or TRAILERS frame without its prefix")
    n = _U32.unpack_from(payload)[0]
    if n > MAX_CALL_PREFIX_BYTES or 4 + n > len(payload):
        raise NetStructerError(StatusCode.DATA_LOSS,
                               f"a {cls.DESCRIPTOR.name} of {n} bytes")
    message = cls()
    try:
        message.ParseFromString(bytes(payload[4:4 + n]))
    except DecodeError:
        raise NetStructerError(StatusCode.DATA_LOSS,
                               f"a {cls.DESCRIPTOR.name} that does not parse") from None
    return message, payload[4 + n:]


def sanitize(text, limit=MAX_STATUS_MESSAGE_BYTES):
    data = text.encode("utf-8", "replace")[:limit]
    return data.decode("utf-8", "ignore")


def trailers_for(code, message, metadata=()):
    t = CallTrailers()
    t.code = int(code)
    t.message = sanitize(message)
    to_wire(metadata, t.metadata)
    return t


def status_from(trailers):
    if trailers.code > 16:
        raise NetStructerError(StatusCode.DATA_LOSS,
                               f"the server sent status code {trailers.code}")
    return StatusCode(trailers.code), trailers.message


def encode_cancel(code, reason):
    return H.encode_refusal(code, reason)


def decode_cancel(payload):
    """(code, reason) a CANCEL carries; DATA_LOSS if malformed."""
    if len(payload) == 1 and 1 <= payload[0] <= 16:
        return StatusCode(payload[0]), ""
    error = H.decode_refusal(payload)
    if error.code == StatusCode.DATA_LOSS and error.message.startswith("malformed refusal"):
        raise NetStructerError(StatusCode.DATA_LOSS,
                               error.message.replace("refusal", "CANCEL", 1))
    return error.code, error.message
