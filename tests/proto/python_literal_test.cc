// ParseLiteral (proto/python_literal.h): what it accepts, what it builds,
// and a table of bad literals with their offsets. tests/proto/
// python_interop_test.cc checks the same syntax against CPython.
#include "netstructer/proto/python_literal.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/value.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/proto/value_validate.h"
#include "netstructer/tests/proto/literal_tables.h"

namespace netstructer {
namespace {

using ::testing::StartsWith;

Value Parse(absl::string_view text) {
  absl::StatusOr<Value> v = ParseLiteral(text);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status();
  return v.ok() ? *v : Value();
}

TEST(ParseLiteral, TheReadmeExample) {
  const Value v =
      Parse("['hi im haytam',128,{b'gg':'gg'},{1,2,6,4},(False,True)]");
  const Value expected =
      MakeList({MakeStr("hi im haytam"), MakeInt(128),
                MakeMap({{MakeBytes("gg"), MakeStr("gg")}}),
                MakeSet({MakeInt(1), MakeInt(2), MakeInt(4), MakeInt(6)}),
                MakeTuple({MakeBool(false), MakeBool(true)})});
  EXPECT_TRUE(ValuesEqual(v, expected));
  EXPECT_EQ(v.SerializeAsString(), expected.SerializeAsString());
  EXPECT_EQ(
      Repr(v),
      "['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 4, 6}, (False, True)]");
}

TEST(ParseLiteral, Scalars) {
  EXPECT_EQ(Parse("None").kind_case(), Value::kNullValue);
  EXPECT_TRUE(Parse("True").bool_value());
  EXPECT_EQ(Parse("False").kind_case(), Value::kBoolValue);
  EXPECT_EQ(Parse("-9223372036854775808").int_value(), INT64_MIN);
  EXPECT_EQ(Parse("9_223_372_036_854_775_807").int_value(), INT64_MAX);
  EXPECT_EQ(Parse("0x7fffffffffffffff").int_value(), INT64_MAX);
  EXPECT_EQ(Parse("-0x8000000000000000").int_value(), INT64_MIN);
  EXPECT_EQ(Parse("0o17").int_value(), 15);
  EXPECT_EQ(Parse("0B1_01").int_value(), 5);
  EXPECT_EQ(Parse("0x_fF").int_value(), 255);
  EXPECT_EQ(Parse("000").int_value(), 0);
  EXPECT_EQ(Parse("- ( ( 5 ) )").int_value(), -5);
  EXPECT_EQ(Parse("+7").int_value(), 7);
  EXPECT_EQ(Parse("1.5").float_value(), 1.5);
  EXPECT_EQ(Parse(".5").float_value(), 0.5);
  EXPECT_EQ(Parse("5.").float_value(), 5.0);
  EXPECT_EQ(Parse("1e10").float_value(), 1e10);
  EXPECT_EQ(Parse("1_0.2_5E-0_1").float_value(), 1.025);
  EXPECT_EQ(Parse("012.5").float_value(), 12.5);
  EXPECT_EQ(Parse("01e1").float_value(), 10.0);
  EXPECT_TRUE(std::signbit(Parse("-0.0").float_value()));
  EXPECT_EQ(Parse("1e400").float_value(), HUGE_VAL);  // As in Python.
  EXPECT_EQ(Parse("1e-400").float_value(), 0.0);
  EXPECT_EQ(Parse("'a\\tb'").str_value(), "a\tb");
  EXPECT_EQ(Parse("b'\\x00\\xff'").bytes_value(), std::string("\0\xff", 2));
}

TEST(ParseLiteral, StringEscapes) {
  EXPECT_EQ(Parse(R"('\\ \' \" \a \b \f \n \r \t \v')").str_value(),
            "\\ ' \" \a \b \f \n \r \t \v");
  EXPECT_EQ(Parse(R"('\x41\101\0\08\777')").str_value(),
            std::string("AA\0\0"
                        "8\xc7\xbf",
                        7));
  EXPECT_EQ(Parse(R"('\u20ac\U0001F600')").str_value(),
            "\xe2\x82\xac\xf0\x9f\x98\x80");
  EXPECT_EQ(Parse(R"('\q\8\ ')").str_value(), "\\q\\8\\ ");
  EXPECT_EQ(Parse(R"(b'\u20ac\N{X}\777')").bytes_value(), "\\u20ac\\N{X}\xff");
  EXPECT_EQ(Parse("'a\\\nb'").str_value(), "ab");  // Line continuation.
  EXPECT_EQ(Parse("'caf\xc3\xa9 \xf0\x9f\x98\x80'").str_value(),
            "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(ParseLiteral, RawTripleQuotedAndConcatenatedStrings) {
  EXPECT_EQ(Parse(R"(r'\n\'')").str_value(), "\\n\\'");
  EXPECT_EQ(Parse(R"(Rb"\x00")").bytes_value(), "\\x00");
  EXPECT_EQ(Parse(R"(bR'\\')").bytes_value(), "\\\\");
  EXPECT_EQ(Parse(R"(u'\x41')").str_value(), "A");
  EXPECT_EQ(Parse("'''a'b\"\r\nc'''").str_value(), "a'b\"\nc");
  EXPECT_EQ(Parse("\"\"\"x\"\"\"").str_value(), "x");
  EXPECT_EQ(Parse("''''''").str_value(), "");
  EXPECT_EQ(Parse("'a' \"b\"\n r'\\c'").str_value(), "ab\\c");
  EXPECT_EQ(Parse("b'a' b'b'").bytes_value(), "ab");
  EXPECT_EQ(Parse("'''a'''''").str_value(), "a");  // 'a' then ''.
}

TEST(ParseLiteral, Containers) {
  EXPECT_EQ(Repr(Parse("[]")), "[]");
  EXPECT_EQ(Repr(Parse("()")), "()");
  EXPECT_EQ(Repr(Parse("( )")), "()");
  EXPECT_EQ(Repr(Parse("{}")), "{}");
  EXPECT_EQ(Repr(Parse("set()")), "set()");
  EXPECT_EQ(Repr(Parse("set ( )")), "set()");
  EXPECT_EQ(Repr(Parse("(1)")), "1");
  EXPECT_EQ(Repr(Parse("(1,)")), "(1,)");
  EXPECT_EQ(Repr(Parse("((1,),)")), "((1,),)");
  EXPECT_EQ(Repr(Parse("[1,]")), "[1]");
  EXPECT_EQ(Repr(Parse("{1,}")), "{1}");
  EXPECT_EQ(Repr(Parse("{1:2,}")), "{1: 2}");
  EXPECT_EQ(Repr(Parse(" [ 1 ,\n\t2 # two\n , 3 ] ")), "[1, 2, 3]");
  EXPECT_EQ(Repr(Parse("[1, \\\n 2]")), "[1, 2]");
  EXPECT_EQ(Repr(Parse("{(1, 'a'): [None], (): {}}")),
            "{(1, 'a'): [None], (): {}}");
}

TEST(ParseLiteral, SetsAndDictsFollowPythonSemantics) {
  EXPECT_EQ(Repr(Parse("{3, 1, 2, 1}")), "{1, 2, 3}");
  EXPECT_EQ(Repr(Parse("{1, True, 1.0}")), "{1}");
  EXPECT_EQ(Repr(Parse("{True, 1}")), "{True}");
  EXPECT_EQ(Repr(Parse("{1: 'a', True: 'b', 2: 'c', 1.0: 'd'}")),
            "{1: 'd', 2: 'c'}");
  EXPECT_EQ(Repr(Parse("{'b', 'a', b'a', None, -1, (2,)}")),
            "{None, -1, 'a', 'b', b'a', (2,)}");
}

TEST(ParseLiteral, ResultsAreValidAndCanonical) {
  const Value v = Parse("[{(1, 2), (1, 2.0)}, {'k': {3, 2}}]");
  EXPECT_TRUE(Validate(v).ok());
  EXPECT_EQ(Repr(v), "[{(1, 2)}, {'k': {2, 3}}]");
}

TEST(ParseLiteral, DepthLimitCountsEveryBracket) {
  ValueLimits limits;
  limits.max_depth = 3;
  EXPECT_TRUE(ParseLiteral("[[1]]", limits).ok());
  EXPECT_TRUE(ParseLiteral("[[[]]]", limits).ok());
  EXPECT_EQ(ParseLiteral("[[[1]]]", limits).status().message(),
            "at offset 3: nesting deeper than the limit of 3");
  EXPECT_EQ(ParseLiteral("(((1)))", limits).status().message(),
            "at offset 3: nesting deeper than the limit of 3");
  EXPECT_EQ(ParseLiteral("[[-(1)]]", limits).status().message(),
            "at offset 4: nesting deeper than the limit of 3");
  // The default limit is 100 and a deep input never overflows the stack.
  EXPECT_TRUE(ParseLiteral(std::string(100, '[') + std::string(100, ']')).ok());
  EXPECT_EQ(ParseLiteral(std::string(101, '[') + std::string(101, ']'))
                .status()
                .message(),
            "at offset 100: nesting deeper than the limit of 100");
  EXPECT_EQ(ParseLiteral(std::string(100000, '(')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseLiteral, InputSizeLimitIsResourceExhausted) {
  ValueLimits limits;
  limits.max_input_bytes = 3;
  EXPECT_TRUE(ParseLiteral("'a'", limits).ok());
  EXPECT_EQ(ParseLiteral("'ab'", limits).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(ParseLiteral, BadLiteralsAreInvalidArgumentAtTheirOffset) {
  for (const testing::BadLiteral& bad : testing::BadLiterals()) {
    const absl::StatusOr<Value> v = ParseLiteral(bad.text);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument)
        << bad.text;
    EXPECT_EQ(v.status().message(), bad.message) << bad.text;
    EXPECT_THAT(std::string(v.status().message()), StartsWith("at offset "));
  }
}

}  // namespace
}  // namespace netstructer
