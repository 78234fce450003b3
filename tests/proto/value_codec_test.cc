// EncodeValue / DecodeValue (proto/value_codec.h), with a table of corrupt
// and hostile inputs.
#include "netstructer/proto/value_codec.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/value.h"
#include "netstructer/proto/value_compare.h"

namespace netstructer {
namespace {

using ::testing::HasSubstr;

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// A length-delimited field: tag byte, length, payload.
std::string Field(char tag, const std::string& payload) {
  std::string out(1, tag);
  AppendVarint(payload.size(), &out);
  return out + payload;
}

// Wire tags (field number << 3 | wire type).
constexpr char kStrTag = 0x2a;
constexpr char kListTag = 0x3a;
constexpr char kSetTag = 0x4a;
constexpr char kMapTag = 0x52;
constexpr char kValuesTag = 0x0a;      // ValueList.values, ValueMap.entries
constexpr char kKeyTag = 0x0a;         // MapEntry.key
constexpr char kEntryValueTag = 0x12;  // MapEntry.value

std::string ListOf(const std::vector<std::string>& encoded_values) {
  std::string list;
  for (const std::string& v : encoded_values) list += Field(kValuesTag, v);
  return Field(kListTag, list);
}

// The encoding of [[[...[0]...]]] with `lists` lists, built without
// recursion so that it can be far deeper than any limit.
std::string DeepListBytes(int lists) {
  const std::string zero("\x18\x00", 2);
  std::vector<size_t> value_size(lists + 1);
  std::vector<size_t> list_size(lists + 1);
  value_size[0] = zero.size();
  for (int i = 1; i <= lists; ++i) {
    list_size[i] = 1 + VarintSize(value_size[i - 1]) + value_size[i - 1];
    value_size[i] = 1 + VarintSize(list_size[i]) + list_size[i];
  }
  std::string out;
  for (int i = lists; i >= 1; --i) {
    out.push_back(kListTag);
    AppendVarint(list_size[i], &out);
    out.push_back(kValuesTag);
    AppendVarint(value_size[i - 1], &out);
  }
  return out + zero;
}

Value Nested(int depth) {
  Value v = MakeInt(0);
  for (int i = 1; i < depth; ++i) v = MakeList({v});
  return v;
}

Value NestedMaps(int depth) {
  Value v = MakeInt(0);
  for (int i = 1; i < depth; ++i) v = MakeMap({{MakeInt(i), v}});
  return v;
}

TEST(ValueCodec, KnownEncodings) {
  EXPECT_EQ(EncodeValue(MakeNull()), std::string("\x08\x00", 2));
  EXPECT_EQ(EncodeValue(MakeBool(false)), std::string("\x10\x00", 2));
  EXPECT_EQ(EncodeValue(MakeInt(-1)), "\x18\x01");  // zigzag
  EXPECT_EQ(EncodeValue(MakeInt(64)), "\x18\x80\x01");
  EXPECT_EQ(EncodeValue(MakeStr("hi")), "\x2a\x02hi");
  EXPECT_EQ(EncodeValue(MakeList({})), std::string("\x3a\x00", 2));
  EXPECT_EQ(EncodeValue(MakeTuple({MakeInt(1)})), "\x42\x04\x0a\x02\x18\x02");
}

TEST(ValueCodec, RoundTripsEveryKind) {
  const std::vector<Value> values = {
      MakeNull(),
      MakeBool(true),
      MakeInt(INT64_MIN),
      MakeInt(INT64_MAX),
      MakeFloat(-0.0),
      MakeFloat(1e300),
      MakeStr(""),
      MakeStr("\xe2\x82\xac"),
      MakeBytes(std::string("\0\xff", 2)),
      MakeList({MakeList({}), MakeTuple({}), MakeSet({}), MakeMap({})}),
      MakeSet(
          {MakeInt(3), MakeTuple({MakeStr("a"), MakeBytes("b")}), MakeNull()}),
      MakeMap({{MakeStr("z"), MakeList({MakeInt(1)})},
               {MakeTuple({}), MakeMap({{MakeInt(1), MakeInt(2)}})}}),
      Nested(100),
      NestedMaps(100)};
  for (const Value& v : values) {
    const std::string bytes = EncodeValue(v);
    EXPECT_EQ(EncodeValue(v), bytes) << "deterministic";
    absl::StatusOr<Value> decoded = DecodeValue(bytes);
    ASSERT_TRUE(decoded.ok()) << Repr(v) << ": " << decoded.status();
    EXPECT_TRUE(ValuesEqual(*decoded, v)) << Repr(v);
    EXPECT_EQ(EncodeValue(*decoded), bytes) << Repr(v);
  }
}

TEST(ValueCodec, DecodeCanonicalizesSetsAndMaps) {
  // {3, 1, 3, True} as a peer might send it.
  const std::string set = Field(
      kSetTag, Field(kValuesTag, "\x18\x06") + Field(kValuesTag, "\x18\x02") +
                   Field(kValuesTag, "\x18\x06") +
                   Field(kValuesTag, std::string("\x10\x01", 2)));
  absl::StatusOr<Value> decoded = DecodeValue(set);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(Repr(*decoded), "{1, 3}");
  // {1: None, 1: 5}
  const std::string entry1 = Field(kKeyTag, "\x18\x02") +
                             Field(kEntryValueTag, std::string("\x08\x00", 2));
  const std::string entry2 =
      Field(kKeyTag, "\x18\x02") + Field(kEntryValueTag, "\x18\x0a");
  decoded = DecodeValue(
      Field(kMapTag, Field(kValuesTag, entry1) + Field(kValuesTag, entry2)));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(Repr(*decoded), "{1: 5}");
}

TEST(ValueCodec, DropsUnknownFields) {
  // int 1, then unknown field 99 (varint).
  absl::StatusOr<Value> decoded = DecodeValue("\x18\x02\x98\x06\x01");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(EncodeValue(*decoded), "\x18\x02");
}

TEST(ValueCodec, DepthLimitIsExact) {
  EXPECT_TRUE(DecodeValue(EncodeValue(Nested(100))).ok());
  EXPECT_TRUE(DecodeValue(EncodeValue(NestedMaps(100))).ok());
  const absl::StatusOr<Value> too_deep = DecodeValue(DeepListBytes(100));
  EXPECT_EQ(too_deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_deep.status().message(),
              HasSubstr("nesting deeper than the limit of 100"));
  ValueLimits limits;
  limits.max_depth = 3;
  EXPECT_TRUE(DecodeValue(DeepListBytes(2), limits).ok());
  EXPECT_EQ(DecodeValue(DeepListBytes(3), limits).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValueCodec, FarTooDeepInputIsRejectedByProtobufWithoutRecursing) {
  const std::string bytes = DeepListBytes(100000);
  ASSERT_LT(bytes.size(), kDefaultMaxValueInputBytes);
  const absl::StatusOr<Value> decoded = DecodeValue(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("not an encoded"));
}

TEST(ValueCodec, InputSizeLimitIsResourceExhausted) {
  ValueLimits limits;
  limits.max_input_bytes = 4;
  EXPECT_TRUE(DecodeValue("\x2a\x02hi", limits).ok());
  const absl::StatusOr<Value> decoded = DecodeValue("\x2a\x03hii", limits);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(decoded.status().message(),
            "encoded Value of 5 bytes exceeds the limit of 4");
}

struct Corrupt {
  const char* name;
  std::string bytes;
  const char* message_part;
};

TEST(ValueCodec, CorruptionTableIsInvalidArgument) {
  const std::string kNotValue = "not an encoded netstructer.Value";
  const std::vector<Corrupt> cases = {
      {"empty input: no kind", "", "at $: no kind set"},
      {"truncated varint", "\x18\x80", kNotValue.c_str()},
      {"truncated length", "\x2a\x05hi", kNotValue.c_str()},
      {"length past the end of a nested message",
       Field(kListTag, "\x0a\x09\x18"), kNotValue.c_str()},
      {"field number 0", std::string("\x00\x01", 2), kNotValue.c_str()},
      {"wire type 7", "\x1f\x01", kNotValue.c_str()},
      {"end-group without start", "\x0c", kNotValue.c_str()},
      // A known field number with the wrong wire type is an unknown field.
      {"wrong wire type for a message", "\x38\x01", "at $: no kind set"},
      {"invalid UTF-8 in str", Field(kStrTag, "\xff"), kNotValue.c_str()},
      {"surrogate in str", Field(kStrTag, "\xed\xa0\x80"), kNotValue.c_str()},
      {"unset element", ListOf({""}), "at $[0]: no kind set"},
      {"null enum out of range", "\x08\x05",
       "at $: null_value must be NULL_VALUE (0), not 5"},
      {"list in a set", Field(kSetTag, Field(kValuesTag, Field(kListTag, ""))),
       "at $[0]: unhashable type: 'list'"},
      {"map entry without key",
       Field(kMapTag, Field(kValuesTag, Field(kEntryValueTag, "\x18\x02"))),
       "at $[0].key: map entry has no key"},
      {"map key is a dict",
       Field(kMapTag, Field(kValuesTag, Field(kKeyTag, Field(kMapTag, "")) +
                                            Field(kEntryValueTag, "\x18\x02"))),
       "at $[0].key: unhashable type: 'dict'"},
      {"101 levels", DeepListBytes(100), "nesting deeper than the limit"},
  };
  for (const Corrupt& c : cases) {
    const absl::StatusOr<Value> decoded = DecodeValue(c.bytes);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
        << c.name;
    EXPECT_THAT(decoded.status().message(), HasSubstr(c.message_part))
        << c.name;
  }
}

TEST(ValueCodec, EveryTruncationOfAValidEncodingFailsCleanly) {
  const std::string bytes = EncodeValue(
      MakeList({MakeStr("hi im haytam"), MakeInt(128),
                MakeMap({{MakeBytes("gg"), MakeStr("gg")}}),
                MakeSet({MakeInt(1), MakeInt(2), MakeInt(6), MakeInt(4)}),
                MakeTuple({MakeBool(false), MakeBool(true)})}));
  for (size_t n = 1; n < bytes.size(); ++n) {
    const absl::StatusOr<Value> decoded = DecodeValue(bytes.substr(0, n));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
        << "prefix of " << n << " bytes";
  }
}

}  // namespace
}  // namespace netstructer
