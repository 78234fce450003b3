// Validate (proto/value_validate.h) and Canonicalize
// (proto/value_canonical.h).
#include "netstructer/proto/value_validate.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/value.h"
#include "netstructer/proto/value_canonical.h"
#include "netstructer/proto/value_compare.h"

namespace netstructer {
namespace {

using ::testing::HasSubstr;

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

// A list nested `depth` deep: depth 1 is the scalar 0.
Value Nested(int depth) {
  Value v = MakeInt(0);
  for (int i = 1; i < depth; ++i) v = MakeList({v});
  return v;
}

TEST(Validate, AcceptsEveryKindAndHashableMembers) {
  const Value v =
      MakeList({MakeNull(), MakeBool(true), MakeInt(-5), MakeFloat(0.5),
                MakeStr("\xe2\x82\xac"), MakeBytes("\xff"),
                MakeTuple({MakeList({})}),  // A tuple may hold a list...
                MakeSet({MakeTuple({MakeInt(1), MakeTuple({MakeStr("x")})})}),
                MakeMap({{MakeTuple({}), MakeList({MakeSet({})})}})});
  EXPECT_TRUE(Validate(v).ok()) << Validate(v);
}

struct BadCase {
  const char* name;
  Value value;
  const char* message;  // The exact status message.
};

TEST(Validate, EachRuleIsInvalidArgumentWithItsPath) {
  Value bad_null;
  bad_null.set_null_value(static_cast<NullValue>(7));
  MapEntry no_key_entry;
  *no_key_entry.mutable_value() = MakeInt(1);
  Value no_key;
  *no_key.mutable_map_value()->add_entries() = no_key_entry;
  Value no_value;
  *no_value.mutable_map_value()->add_entries()->mutable_key() = MakeInt(1);

  const std::vector<BadCase> cases = {
      {"unset root", Value(), "at $: no kind set"},
      {"unset element", MakeList({MakeInt(1), Value()}),
       "at $[1]: no kind set"},
      {"bad null", bad_null, "at $: null_value must be NULL_VALUE (0), not 7"},
      {"invalid UTF-8", MakeTuple({MakeStr("ok\xff")}),
       "at $[0]: str is not valid UTF-8 at byte 2"},
      {"surrogate in UTF-8", MakeStr("\xed\xa0\x80"),
       "at $: str is not valid UTF-8 at byte 0"},
      {"overlong UTF-8", MakeStr("\xc0\xaf"),
       "at $: str is not valid UTF-8 at byte 0"},
      {"list in set", RawSet({MakeInt(1), MakeList({})}),
       "at $[1]: unhashable type: 'list'"},
      {"set in set", RawSet({RawSet({})}), "at $[0]: unhashable type: 'set'"},
      {"dict in set", RawSet({RawMap({})}), "at $[0]: unhashable type: 'dict'"},
      {"list in tuple in set",
       RawSet({MakeTuple({MakeInt(1), MakeTuple({MakeList({})})})}),
       "at $[0]: unhashable type: 'list'"},
      {"list key", MakeList({RawMap({{MakeList({}), MakeInt(1)}})}),
       "at $[0][0].key: unhashable type: 'list'"},
      {"tuple key holding a dict",
       RawMap(
           {{MakeInt(0), MakeInt(0)}, {MakeTuple({RawMap({})}), MakeInt(1)}}),
       "at $[1].key: unhashable type: 'dict'"},
      {"bad map value", RawMap({{MakeInt(0), MakeList({Value()})}}),
       "at $[0].value[0]: no kind set"},
      {"entry without key", no_key, "at $[0].key: map entry has no key"},
      {"entry without value", no_value,
       "at $[0].value: map entry has no value"},
      {"too deep", MakeTuple({Nested(100)}),
       "at $[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting deeper than the "
       "limit of 100"},
  };
  for (const BadCase& c : cases) {
    const absl::Status status = Validate(c.value);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(status.message(), c.message) << c.name;
  }
}

TEST(Validate, DepthCountsScalarsAndContainersAsOneLevelEach) {
  EXPECT_TRUE(Validate(Nested(100)).ok());
  EXPECT_FALSE(Validate(Nested(101)).ok());
  ValueLimits limits;
  limits.max_depth = 1;
  EXPECT_TRUE(Validate(MakeInt(1), limits).ok());
  EXPECT_TRUE(Validate(MakeList({}), limits).ok());  // Empty: depth 1.
  EXPECT_EQ(Validate(MakeList({MakeInt(1)}), limits).message(),
            "at $[0]: nesting deeper than the limit of 1");
  limits.max_depth = 2;
  EXPECT_TRUE(Validate(MakeMap({{MakeInt(1), MakeTuple({})}}), limits).ok());
  EXPECT_FALSE(
      Validate(MakeMap({{MakeTuple({MakeInt(1)}), MakeInt(1)}}), limits).ok());
  limits.max_depth = 0;
  EXPECT_FALSE(Validate(MakeNull(), limits).ok());
}

TEST(Validate, DoesNotRecurseBeyondTheLimit) {
  // 100000 levels would overflow the stack of an unbounded recursion.
  Value v = MakeInt(0);
  for (int i = 0; i < 100000; ++i) {
    Value outer;
    *outer.mutable_list_value()->add_values() = std::move(v);
    v = std::move(outer);
  }
  EXPECT_EQ(Validate(v).code(), absl::StatusCode::kInvalidArgument);
  // Free it iteratively, too: the destructor recurses as well.
  while (v.list_value().values_size() > 0) {
    Value inner = std::move(*v.mutable_list_value()->mutable_values(0));
    v = std::move(inner);
  }
}

TEST(IsHashable, FollowsPython) {
  EXPECT_TRUE(IsHashable(MakeNull()));
  EXPECT_TRUE(IsHashable(MakeFloat(1)));
  EXPECT_TRUE(IsHashable(MakeBytes("")));
  EXPECT_TRUE(IsHashable(MakeTuple({MakeTuple({MakeStr("")})})));
  EXPECT_FALSE(IsHashable(MakeTuple({MakeTuple({MakeSet({})})})));
  EXPECT_FALSE(IsHashable(MakeList({})));
  EXPECT_FALSE(IsHashable(MakeMap({})));
  EXPECT_FALSE(IsHashable(Value()));
  EXPECT_EQ(UnhashableType(MakeTuple({MakeInt(1), MakeList({MakeMap({})})})),
            "list");
}

TEST(Canonicalize, SortsAndDeduplicatesSetsAtEveryLevel) {
  const Value raw = MakeList(
      {RawSet({MakeInt(6), MakeInt(1), MakeBool(true), MakeInt(4),
               MakeFloat(6.0)}),
       RawMap({{MakeStr("k"), RawSet({MakeStr("b"), MakeStr("a")})}})});
  absl::StatusOr<Value> canonical = Canonicalize(raw);
  ASSERT_TRUE(canonical.ok()) << canonical.status();
  EXPECT_EQ(Repr(*canonical), "[{1, 4, 6}, {'k': {'a', 'b'}}]");
  EXPECT_TRUE(ValuesEqual(*canonical, raw));
}

TEST(Canonicalize, MapKeysFollowDictDisplaySemantics) {
  absl::StatusOr<Value> canonical =
      Canonicalize(RawMap({{MakeInt(1), MakeStr("a")},
                           {MakeStr("x"), MakeStr("b")},
                           {MakeBool(true), MakeStr("c")},
                           {MakeFloat(1.0), MakeStr("d")},
                           {MakeTuple({MakeInt(0)}), MakeStr("e")},
                           {MakeTuple({MakeBool(false)}), MakeStr("f")}}));
  ASSERT_TRUE(canonical.ok()) << canonical.status();
  EXPECT_EQ(Repr(*canonical), "{1: 'd', 'x': 'b', (0,): 'f'}");
}

TEST(Canonicalize, IsIdempotentAndKeepsListOrder) {
  const Value v = MakeList({MakeInt(3), MakeInt(1), MakeInt(3)});
  absl::StatusOr<Value> once = Canonicalize(v);
  ASSERT_TRUE(once.ok());
  EXPECT_EQ(Repr(*once), "[3, 1, 3]");
  absl::StatusOr<Value> twice = Canonicalize(*once);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->SerializeAsString(), once->SerializeAsString());
}

TEST(Canonicalize, RejectsInvalidValuesLikeValidate) {
  const absl::StatusOr<Value> result = Canonicalize(RawSet({MakeList({})}));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("unhashable type: 'list'"));
  ValueLimits limits;
  limits.max_depth = 4;
  EXPECT_EQ(Canonicalize(Nested(5), limits).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace netstructer
