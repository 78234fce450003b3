"""Python values <-> netstructer.Value (docs/PROTOCOL.md 4): exact round
trips, the refusals, and agreement with protobuf's own parser."""

import math
import unittest

from netstructer import values
from netstructer._generated.proto import value_pb2
from netstructer.errors import NetStructerError, StatusCode

import testing_support


def nested(depth):
    v = 1
    for _ in range(depth - 1):
        v = [v]
    return v


class RoundTrip(unittest.TestCase):
    def roundtrip(self, obj):
        back = values.decode(values.encode(obj))
        self.assertEqual(back, obj)
        self.assertEqual(type(back), type(obj))
        return back

    def test_the_readme_value(self):
        self.roundtrip(['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 6, 4}, (False, True)])

    def test_falsy_values_are_values(self):
        for v in (0, '', [], None, False, b'', {}, set(), (), 0.0):
            self.roundtrip(v)

    def test_scalars_at_their_limits(self):
        for v in (values.INT64_MIN, values.INT64_MAX, -1, 2 ** 31, 1e308, -0.0,
                  float("inf"), "\U0010ffff\u00e9", b"\x00\xff"):
            self.roundtrip(v)
        self.assertTrue(math.isnan(values.decode(values.encode(float("nan")))))

    def test_nested_containers_keep_their_kinds(self):
        self.roundtrip({(1, "a"): [set(), {None: (b"x", [{2.5}])}], "k": ()})

    def test_dict_order_is_kept(self):
        back = self.roundtrip({"b": 1, "a": 2, 3: 4})
        self.assertEqual(list(back), ["b", "a", 3])

    def test_frozenset_travels_as_a_set(self):
        self.assertEqual(values.decode(values.encode(frozenset({1, 2}))), {1, 2})

    def test_subclasses_travel_as_their_base(self):
        import collections
        import enum

        class Color(enum.IntEnum):
            RED = 3
        Point = collections.namedtuple("Point", "x y")
        self.assertEqual(values.decode(values.encode([Color.RED, Point(1, 2),
                                                      bytearray(b"ab")])),
                         [3, (1, 2), b"ab"])

    def test_depth_100_travels(self):
        self.roundtrip(nested(100))


class Refusals(unittest.TestCase):
    def test_other_types_are_a_type_error_naming_the_type(self):
        class Thing:
            pass
        for obj, name in ((Thing(), "Thing"), (1j, "complex"), (object(), "object")):
            with self.assertRaises(TypeError) as e:
                values.encode([obj])
            self.assertIn(name, str(e.exception))
            self.assertIsInstance(e.exception, NetStructerError)
            self.assertEqual(e.exception.code, StatusCode.INVALID_ARGUMENT)

    def test_int_outside_int64(self):
        with self.assertRaises(values.InvalidValueError) as e:
            values.encode(2 ** 63)
        self.assertIn("64-bit", str(e.exception))

    def test_lone_surrogate(self):
        with self.assertRaises(values.InvalidValueError):
            values.encode("\ud800")

    def test_unhashable_in_sets_and_keys(self):
        with self.assertRaises(values.InvalidValueError):
            values.encode({frozenset({1})})
        with self.assertRaises(values.InvalidValueError):
            values.encode({(1, frozenset()): 2})

    def test_depth_101_is_refused_both_ways(self):
        with self.assertRaises(values.InvalidValueError) as e:
            values.encode(nested(101))
        self.assertIn("limit of 100", str(e.exception))
        deep = values.encode(nested(100))
        deep = b"\x3a" + values._varint(len(deep) + 2) + b"\x0a" + values._varint(len(deep)) + deep
        with self.assertRaises(values.InvalidValueError):
            values.decode(deep)

    def test_bytes_that_are_not_a_value(self):
        for data, why in ((b"", "no kind"), (b"\x2a\x02\xff\xfe", "UTF-8"),
                          (b"\x2a\x05ab", "truncated"), (b"\x18\xff", "truncated"),
                          (b"\x4a\x04\x0a\x02\x3a\x00", "set member")):
            with self.assertRaises(values.InvalidValueError, msg=data) as e:
                values.decode(data)
            self.assertIn(why, str(e.exception))


class AgreesWithProtobuf(unittest.TestCase):
    """The hand-written codec and protobuf's parser read the same bytes."""

    def test_protobuf_reads_what_we_write(self):
        obj = [None, True, -5, 2.5, "s", b"b", (1,), {3, 1}, {"k": [1]}]
        v = value_pb2.Value.FromString(values.encode(obj))
        items = v.list_value.values
        self.assertEqual(items[0].WhichOneof("kind"), "null_value")
        self.assertEqual(items[2].int_value, -5)
        self.assertEqual([m.int_value for m in items[7].set_value.values], [1, 3])
        self.assertEqual(items[8].map_value.entries[0].key.str_value, "k")

    def test_we_read_what_protobuf_writes(self):
        v = value_pb2.Value()
        entry = v.map_value.entries.add()
        entry.key.tuple_value.values.add().int_value = 7
        entry.value.list_value.values.add().bytes_value = b"x"
        self.assertEqual(values.decode(v.SerializeToString()), {(7,): [b"x"]})

    def test_unknown_fields_are_skipped_and_a_repeated_container_merges(self):
        one = values.encode([1])
        two = values.encode([2])
        unknown = b"\xa8\x06\x01"  # field 101, varint 1
        self.assertEqual(values.decode(unknown + one + two), [1, 2])

    def test_canonical_set_order(self):
        encoded = values.encode({b"b", "a", None, 2.5, -1, (1, 2), (1,)})
        members = value_pb2.Value.FromString(encoded).set_value.values
        kinds = [m.WhichOneof("kind") for m in members]
        self.assertEqual(kinds, ["null_value", "int_value", "float_value", "str_value",
                                 "bytes_value", "tuple_value", "tuple_value"])
        self.assertEqual(len(members[5].tuple_value.values), 1)


if __name__ == "__main__":
    testing_support.main()
