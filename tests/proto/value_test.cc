// Builders (proto/value.h) and equality / order (proto/value_compare.h).
#include "netstructer/proto/value.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/value_compare.h"

namespace netstructer {
namespace {

const double kNan = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

TEST(ValueBuilders, BuildTheReadmeExample) {
  const Value v =
      MakeList({MakeStr("hi im haytam"), MakeInt(128),
                MakeMap({{MakeBytes("gg"), MakeStr("gg")}}),
                MakeSet({MakeInt(1), MakeInt(2), MakeInt(6), MakeInt(4)}),
                MakeTuple({MakeBool(false), MakeBool(true)})});
  EXPECT_EQ(
      Repr(v),
      "['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 4, 6}, (False, True)]");
  ASSERT_EQ(v.list_value().values_size(), 5);
  EXPECT_EQ(v.list_value().values(1).int_value(), 128);
  EXPECT_EQ(v.list_value().values(2).map_value().entries(0).key().bytes_value(),
            "gg");
}

TEST(ValueBuilders, ScalarsSetTheirKind) {
  EXPECT_EQ(MakeNull().kind_case(), Value::kNullValue);
  EXPECT_EQ(MakeBool(false).kind_case(), Value::kBoolValue);
  EXPECT_EQ(MakeInt(0).kind_case(), Value::kIntValue);
  EXPECT_EQ(MakeFloat(0).kind_case(), Value::kFloatValue);
  EXPECT_EQ(MakeStr("").kind_case(), Value::kStrValue);
  EXPECT_EQ(MakeBytes("").kind_case(), Value::kBytesValue);
  EXPECT_EQ(MakeList({}).kind_case(), Value::kListValue);
  EXPECT_EQ(MakeTuple({}).kind_case(), Value::kTupleValue);
  EXPECT_EQ(MakeSet({}).kind_case(), Value::kSetValue);
  EXPECT_EQ(MakeMap({}).kind_case(), Value::kMapValue);
  EXPECT_EQ(MakeBytes(std::string("a\0b", 3)).bytes_value().size(), 3u);
}

TEST(ValueBuilders, MakeSetKeepsTheFirstOfEqualMembersInCanonicalOrder) {
  EXPECT_EQ(Repr(MakeSet({MakeInt(3), MakeInt(1), MakeInt(3), MakeInt(2)})),
            "{1, 2, 3}");
  // Python: {1, True} == {1}, {True, 1} == {True}, {0.0, -0.0} == {0.0}.
  EXPECT_EQ(Repr(MakeSet({MakeInt(1), MakeBool(true)})), "{1}");
  EXPECT_EQ(Repr(MakeSet({MakeBool(true), MakeInt(1), MakeFloat(1.0)})),
            "{True}");
  EXPECT_EQ(Repr(MakeSet({MakeFloat(-0.0), MakeFloat(0.0)})), "{-0.0}");
  EXPECT_EQ(
      Repr(MakeSet({MakeStr("b"), MakeBytes("a"), MakeNull(),
                    MakeTuple({MakeInt(1)}), MakeFloat(0.5), MakeStr("a")})),
      "{None, 0.5, 'a', 'b', b'a', (1,)}");
  // Every NaN is its own member, as distinct NaN objects are in Python.
  EXPECT_EQ(Repr(MakeSet({MakeFloat(kNan), MakeFloat(kNan)})), "{nan, nan}");
}

TEST(ValueBuilders, MakeMapKeepsFirstKeyPositionAndLastValue) {
  EXPECT_EQ(Repr(MakeMap({{MakeInt(1), MakeStr("a")},
                          {MakeInt(2), MakeStr("b")},
                          {MakeBool(true), MakeStr("c")}})),
            "{1: 'c', 2: 'b'}");
  EXPECT_EQ(
      Repr(MakeMap({{MakeStr("z"), MakeInt(1)}, {MakeStr("a"), MakeInt(2)}})),
      "{'z': 1, 'a': 2}");  // Insertion order, not sorted.
}

TEST(ValuesEqual, NumbersCompareByValueAcrossKinds) {
  EXPECT_TRUE(ValuesEqual(MakeInt(1), MakeBool(true)));
  EXPECT_TRUE(ValuesEqual(MakeInt(1), MakeFloat(1.0)));
  EXPECT_TRUE(ValuesEqual(MakeBool(false), MakeFloat(-0.0)));
  EXPECT_TRUE(ValuesEqual(MakeFloat(0.0), MakeFloat(-0.0)));
  EXPECT_FALSE(ValuesEqual(MakeInt(1), MakeFloat(1.5)));
  EXPECT_FALSE(ValuesEqual(MakeInt(2), MakeBool(true)));
  // Exact int/float comparison: 2**53 + 1 is not 2.0**53.
  const int64_t two53 = int64_t{1} << 53;
  EXPECT_TRUE(ValuesEqual(MakeInt(two53), MakeFloat(9007199254740992.0)));
  EXPECT_FALSE(ValuesEqual(MakeInt(two53 + 1), MakeFloat(9007199254740992.0)));
  EXPECT_FALSE(
      ValuesEqual(MakeInt(INT64_MAX), MakeFloat(9223372036854775808.0)));
  EXPECT_TRUE(
      ValuesEqual(MakeInt(INT64_MIN), MakeFloat(-9223372036854775808.0)));
}

TEST(ValuesEqual, NanEqualsNothingNotEvenItself) {
  const Value nan = MakeFloat(kNan);
  EXPECT_FALSE(ValuesEqual(nan, nan));
  EXPECT_FALSE(ValuesEqual(MakeList({nan}), MakeList({nan})));
  EXPECT_FALSE(ValuesEqual(MakeSet({nan}), MakeSet({nan})));
  EXPECT_TRUE(ValuesEqual(MakeFloat(kInf), MakeFloat(kInf)));
}

TEST(ValuesEqual, KindsThatNeverMeet) {
  EXPECT_FALSE(ValuesEqual(MakeStr("a"), MakeBytes("a")));
  EXPECT_FALSE(ValuesEqual(MakeList({MakeInt(1)}), MakeTuple({MakeInt(1)})));
  EXPECT_FALSE(ValuesEqual(MakeSet({}), MakeMap({})));
  EXPECT_FALSE(ValuesEqual(MakeNull(), MakeBool(false)));
  EXPECT_FALSE(ValuesEqual(MakeInt(0), MakeStr("0")));
  EXPECT_TRUE(ValuesEqual(Value(), Value()));
  EXPECT_FALSE(ValuesEqual(Value(), MakeNull()));
}

TEST(ValuesEqual, SequencesCompareElementwise) {
  EXPECT_TRUE(ValuesEqual(MakeList({MakeInt(1), MakeStr("x")}),
                          MakeList({MakeFloat(1), MakeStr("x")})));
  EXPECT_FALSE(ValuesEqual(MakeList({MakeInt(1), MakeInt(2)}),
                           MakeList({MakeInt(2), MakeInt(1)})));
  EXPECT_FALSE(ValuesEqual(MakeTuple({MakeInt(1)}),
                           MakeTuple({MakeInt(1), MakeInt(1)})));
}

// Sets built without MakeSet (as a peer may send them) still compare as sets.
Value RawSet(std::vector<Value> members) {
  Value v;
  v.mutable_set_value();
  for (Value& m : members) *v.mutable_set_value()->add_values() = m;
  return v;
}

Value RawMap(std::vector<std::pair<Value, Value>> entries) {
  Value v;
  v.mutable_map_value();
  for (auto& [key, value] : entries) {
    MapEntry* e = v.mutable_map_value()->add_entries();
    *e->mutable_key() = key;
    *e->mutable_value() = value;
  }
  return v;
}

TEST(ValuesEqual, SetsIgnoreOrderAndDuplicates) {
  EXPECT_TRUE(ValuesEqual(RawSet({MakeInt(2), MakeInt(1), MakeInt(2)}),
                          RawSet({MakeInt(1), MakeFloat(2.0)})));
  EXPECT_FALSE(
      ValuesEqual(RawSet({MakeInt(1)}), RawSet({MakeInt(1), MakeInt(3)})));
  EXPECT_TRUE(ValuesEqual(
      RawSet({MakeTuple({MakeInt(1), MakeStr("a")}), MakeBytes("z")}),
      RawSet({MakeBytes("z"), MakeTuple({MakeBool(true), MakeStr("a")})})));
}

TEST(ValuesEqual, MapsCompareByKeyLookupWithLastValueWinning) {
  EXPECT_TRUE(ValuesEqual(
      RawMap({{MakeInt(1), MakeStr("a")}, {MakeInt(2), MakeStr("b")}}),
      RawMap({{MakeInt(2), MakeStr("b")}, {MakeBool(true), MakeStr("a")}})));
  // {1: 'a', 1: 'b'} == {1: 'b'}
  EXPECT_TRUE(ValuesEqual(
      RawMap({{MakeInt(1), MakeStr("a")}, {MakeInt(1), MakeStr("b")}}),
      RawMap({{MakeInt(1), MakeStr("b")}})));
  EXPECT_FALSE(ValuesEqual(
      RawMap({{MakeInt(1), MakeStr("a")}, {MakeInt(1), MakeStr("b")}}),
      RawMap({{MakeInt(1), MakeStr("a")}})));
  EXPECT_FALSE(ValuesEqual(RawMap({{MakeInt(1), MakeStr("a")}}),
                           RawMap({{MakeInt(2), MakeStr("a")}})));
}

TEST(CompareValues, OrdersKindsThenValues) {
  // Ascending, each strictly before the next.
  const std::vector<Value> ascending = {
      Value(),
      MakeNull(),
      MakeFloat(-kInf),
      MakeInt(INT64_MIN),
      MakeFloat(-1.5),
      MakeBool(false),
      MakeFloat(0.5),
      MakeBool(true),
      MakeInt(2),
      MakeInt(INT64_MAX),
      MakeFloat(9223372036854775808.0),
      MakeFloat(kInf),
      MakeFloat(kNan),
      MakeStr(""),
      MakeStr("a"),
      MakeStr("ab"),
      MakeStr("\xc3\xa9"),          // U+00E9
      MakeStr("\xef\xbf\xbd"),      // U+FFFD
      MakeStr("\xf0\x9f\x98\x80"),  // U+1F600: code point order.
      MakeBytes(""),
      MakeBytes(std::string(1, '\0')),
      MakeBytes("\xff"),
      MakeTuple({}),
      MakeTuple({MakeInt(1)}),
      MakeTuple({MakeInt(1), MakeInt(0)}),
      MakeTuple({MakeInt(2)}),
      MakeList({}),
      MakeList({MakeInt(0)}),
      MakeSet({}),
      MakeSet({MakeInt(0)}),
      MakeMap({}),
      MakeMap({{MakeInt(0), MakeInt(0)}}),
      MakeMap({{MakeInt(0), MakeInt(1)}}),
  };
  for (size_t i = 0; i < ascending.size(); ++i) {
    EXPECT_EQ(CompareValues(ascending[i], ascending[i]), 0) << i;
    for (size_t j = i + 1; j < ascending.size(); ++j) {
      EXPECT_LT(CompareValues(ascending[i], ascending[j]), 0)
          << Repr(ascending[i]) << " vs " << Repr(ascending[j]);
      EXPECT_GT(CompareValues(ascending[j], ascending[i]), 0)
          << Repr(ascending[j]) << " vs " << Repr(ascending[i]);
    }
  }
}

TEST(CompareValues, ZeroExactlyForEqualValues) {
  EXPECT_EQ(CompareValues(MakeInt(1), MakeBool(true)), 0);
  EXPECT_EQ(CompareValues(MakeFloat(-0.0), MakeInt(0)), 0);
  EXPECT_EQ(CompareValues(RawSet({MakeInt(2), MakeInt(1)}),
                          RawSet({MakeInt(1), MakeInt(2), MakeInt(1)})),
            0);
  // Identical NaNs compare 0 although they are not equal.
  EXPECT_EQ(CompareValues(MakeFloat(kNan), MakeFloat(kNan)), 0);
  EXPECT_NE(CompareValues(MakeFloat(kNan), MakeFloat(-kNan)), 0);
}

TEST(CompareValues, NestedSetsOfSetsStayFast) {
  // Invalid (sets hold sets) but still compared in polynomial time. Sorting
  // each level compares its nested set with two small sets, so without
  // memoized views 60 levels would take about 2**60 steps.
  const Value small1 = RawSet({RawSet({})});
  const Value small2 = RawSet({RawSet({}), RawSet({RawSet({})})});
  Value a = RawSet({});
  for (int i = 0; i < 60; ++i) a = RawSet({a, small1, small2});
  const Value b = a;
  EXPECT_TRUE(ValuesEqual(a, b));
  EXPECT_EQ(CompareValues(a, b), 0);
}

}  // namespace
}  // namespace netstructer
