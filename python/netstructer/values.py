"""Python values <-> netstructer.Value bytes (docs/PROTOCOL.md 4).

``encode(obj)`` and ``decode(data)`` convert between native Python values and
the protobuf binary encoding of ``netstructer.Value`` (proto/value.proto):

    None, bool, int (int64), float, str, bytes, list, tuple, set/frozenset, dict

Anything else is a ``ValueTypeError`` (a TypeError) naming the type; nothing
is ever pickled. Instances of subclasses travel as their base type
(an IntEnum as int, a namedtuple as tuple, a bytearray as bytes).

The codec is written by hand rather than with protobuf's generated classes:
protobuf's Python parser (the C++ one Debian ships included) stops at 100
nested messages, which is 50 levels of Value (every level is a Value and a
ValueList), while the protocol allows 100. Decoding checks the depth before
it recurses, every oneof, UTF-8 and hashability, as the C++ decoder does,
and the encoder writes what the C++ encoder writes (sets in canonical order),
so both produce the same bytes for the same value.
"""

import math
import struct

from .errors import NetStructerError, StatusCode

DEFAULT_MAX_DEPTH = 100
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

_DOUBLE = struct.Struct("<d")
_BITS = struct.Struct("<Q")


class ValueTypeError(NetStructerError, TypeError):
    """A Python object that is not a NetStructer value (INVALID_ARGUMENT)."""

    def __init__(self, message):
        NetStructerError.__init__(self, StatusCode.INVALID_ARGUMENT, message)


class InvalidValueError(NetStructerError, ValueError):
    """A value of a valid type that cannot travel: an int outside int64, a str
    with a lone surrogate, nesting too deep, an unhashable set member
    (INVALID_ARGUMENT)."""

    def __init__(self, message):
        NetStructerError.__init__(self, StatusCode.INVALID_ARGUMENT, message)



# --- encoding ---------------------------------------------------------------

def _varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag, payload):
    return tag + _varint(len(payload)) + payload


def _sort_key(obj):
    """The canonical set order (proto/value_compare.h): None < numbers <
    str < bytes < tuples; numbers by value, NaNs after +inf by bit pattern."""
    if obj is None:
        return (1,)
    if isinstance(obj, (bool, int)):
        return (2, 0, int(obj))
    if isinstance(obj, float):
        if math.isnan(obj):
            return (2, 1, _BITS.unpack(_DOUBLE.pack(obj))[0])
        return (2, 0, obj)
    if isinstance(obj, str):
        return (3, obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return (4, bytes(obj))
    if isinstance(obj, tuple):
        return (5, tuple(_sort_key(x) for x in obj))
    return (9,)  # Refused by the encoder before the order matters.


_TAG_NULL = b"\x08"
_TAG_BOOL = b"\x10"
_TAG_INT = b"\x18"
_TAG_FLOAT = b"\x21"
_TAG_STR = b"\x2a"
_TAG_BYTES = b"\x32"
_TAG_LIST = b"\x3a"
_TAG_TUPLE = b"\x42"
_TAG_SET = b"\x4a"
_TAG_MAP = b"\x52"
_TAG_ELEMENT = b"\x0a"  # ValueList.values, ValueMap.entries, MapEntry.key
_TAG_ENTRY_VALUE = b"\x12"


def _check_hashable(obj, where):
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, bytearray,
                                       memoryview)):
        return
    if isinstance(obj, tuple):
        for x in obj:
            _check_hashable(x, where)
        return
    if isinstance(obj, (list, dict, set, frozenset)):
        raise InvalidValueError(
            f"a {type(obj).__name__} cannot be a {where}: {where}s hold only "
            "None, bool, int, float, str, bytes and tuples of those")


def _encode(obj, depth, max_depth):
    if depth > max_depth:
        raise InvalidValueError(f"nesting deeper than the limit of {max_depth}")
    if obj is None:
        return _TAG_NULL + b"\x00"
    if isinstance(obj, bool):
        return _TAG_BOOL + (b"\x01" if obj else b"\x00")
    if isinstance(obj, int):
        n = int(obj)
        if not INT64_MIN <= n <= INT64_MAX:
            raise InvalidValueError(
                f"int {n} is outside the 64-bit range of a NetStructer int")
        return _TAG_INT + _varint(((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF)
    if isinstance(obj, float):
        return _TAG_FLOAT + _DOUBLE.pack(obj)
    if isinstance(obj, str):
        try:
            data = obj.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValueError(
                "a str with a lone surrogate cannot travel as UTF-8") from None
        return _field(_TAG_STR, data)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _field(_TAG_BYTES, bytes(obj))
    if isinstance(obj, (list, tuple)):
        body = b"".join(_field(_TAG_ELEMENT, _encode(x, depth + 1, max_depth))
                        for x in obj)
        return _field(_TAG_TUPLE if isinstance(obj, tuple) else _TAG_LIST, body)
    if isinstance(obj, (set, frozenset)):
        for x in obj:
            _check_hashable(x, "set member")
        members = sorted(obj, key=_sort_key)
        body = b"".join(_field(_TAG_ELEMENT, _encode(x, depth + 1, max_depth))
                        for x in members)
        return _field(_TAG_SET, body)
    if isinstance(obj, dict):
        parts = []
        for k, v in obj.items():
            _check_hashable(k, "dict key")
            entry = (_field(_TAG_ELEMENT, _encode(k, depth + 1, max_depth)) +
                     _field(_TAG_ENTRY_VALUE, _encode(v, depth + 1, max_depth)))
            parts.append(_field(_TAG_ELEMENT, entry))
        return _field(_TAG_MAP, b"".join(parts))
    raise ValueTypeError(
        f"a {type(obj).__module__}.{type(obj).__qualname__} is not a NetStructer "
        "value (None, bool, int, float, str, bytes, list, tuple, set, frozenset, "
        "dict)")


def encode(obj, max_depth=DEFAULT_MAX_DEPTH):
    """The netstructer.Value encoding of ``obj``."""
    return _encode(obj, 1, max_depth)


# --- decoding ---------------------------------------------------------------

def _bad(message):
    return InvalidValueError(message)


def _read_varint(data, pos, end):
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _bad("truncated varint in a Value")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise _bad("a varint longer than 10 bytes in a Value")


def _skip(data, pos, end, wire_type):
    if wire_type == 0:
        return _read_varint(data, pos, end)[1]
    if wire_type == 1:
        pos += 8
    elif wire_type == 2:
        n, pos = _read_varint(data, pos, end)
        pos += n
    elif wire_type == 5:
        pos += 4
    else:
        raise _bad(f"unsupported wire type {wire_type} in a Value")
    if pos > end:
        raise _bad("truncated field in a Value")
    return pos


def _fields(data, pos, end):
    """(field number, wire type, start, stop or value) of each field."""
    while pos < end:
        key, pos = _read_varint(data, pos, end)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise _bad("field number 0 in a Value")
        if wire_type == 2:
            n, pos = _read_varint(data, pos, end)
            if pos + n > end:
                raise _bad("truncated field in a Value")
            yield number, 2, pos, pos + n
            pos += n
        elif wire_type == 0:
            value, pos = _read_varint(data, pos, end)
            yield number, 0, value, None
        elif wire_type == 1:
            if pos + 8 > end:
                raise _bad("truncated field in a Value")
            yield number, 1, pos, pos + 8
            pos += 8
        else:
            start = pos
            pos = _skip(data, pos, end, wire_type)
            yield number, wire_type, start, pos


_CONTAINERS = {7: "list", 8: "tuple", 9: "set", 10: "map"}


def _decode(data, pos, end, depth, max_depth):
    if depth > max_depth:
        raise _bad(f"nesting deeper than the limit of {max_depth}")
    kind = None
    scalar = None
    ranges = []  # A message field seen again merges (protobuf's rule).
    for number, wire_type, a, b in _fields(data, pos, end):
        if number in (1, 2, 3) and wire_type == 0:
            kind, ranges = number, []
            scalar = a
        elif number == 4 and wire_type == 1:
            kind, ranges = 4, []
            scalar = _DOUBLE.unpack_from(data, a)[0]
        elif number in (5, 6) and wire_type == 2:
            kind, ranges = number, []
            scalar = (a, b)
        elif number in _CONTAINERS and wire_type == 2:
            if kind != number:
                ranges = []
            kind = number
            ranges.append((a, b))
        # Anything else is an unknown field: skipped, as protobuf does.
    if kind is None:
        raise _bad("a Value with no kind set")
    if kind == 1:
        return None
    if kind == 2:
        return scalar != 0
    if kind == 3:
        return (scalar >> 1) ^ -(scalar & 1)
    if kind == 4:
        return scalar
    if kind == 5:
        try:
            return bytes(data[scalar[0]:scalar[1]]).decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("a str that is not valid UTF-8") from None
    if kind == 6:
        return bytes(data[scalar[0]:scalar[1]])
    if kind == 10:
        result = {}
        for a, b in ranges:
            for number, wire_type, ea, eb in _fields(data, a, b):
                if number != 1 or wire_type != 2:
                    continue
                key = value = None
                has_key = has_value = False
                for n2, w2, ka, kb in _fields(data, ea, eb):
                    if n2 == 1 and w2 == 2:
                        key, has_key = _decode(data, ka, kb, depth + 1, max_depth), True
                    elif n2 == 2 and w2 == 2:
                        value, has_value = _decode(data, ka, kb, depth + 1, max_depth), True
                if not (has_key and has_value):
                    raise _bad("a map entry without its key or value")
                try:
                    result[key] = value
                except TypeError:
                    raise _bad(f"a {type(key).__name__} cannot be a dict key") from None
        return result
    elements = []
    for a, b in ranges:
        for number, wire_type, ea, eb in _fields(data, a, b):
            if number == 1 and wire_type == 2:
                elements.append(_decode(data, ea, eb, depth + 1, max_depth))
    if kind == 7:
        return elements
    if kind == 8:
        return tuple(elements)
    result = set()
    for x in elements:
        try:
            result.add(x)
        except TypeError:
            raise _bad(f"a {type(x).__name__} cannot be a set member") from None
    return result


def decode(data, max_depth=DEFAULT_MAX_DEPTH):
    """The Python value of a netstructer.Value encoding; InvalidValueError
    (INVALID_ARGUMENT) for bytes that are not a valid Value."""
    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    return _decode(data, 0, len(data), 1, max_depth)
