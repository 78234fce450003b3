// Repr (proto/python_repr.h) for what literals cannot express (inf, nan,
// unset kinds, invalid UTF-8) and the exact float formatting rules.
// python_interop_test.cc compares everything else with CPython.
#include "netstructer/proto/python_repr.h"

#include <limits>

#include "gtest/gtest.h"
#include "netstructer/proto/value.h"

namespace netstructer {
namespace {

TEST(Repr, NonFiniteFloatsPrintLikePython) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(Repr(MakeFloat(inf)), "inf");
  EXPECT_EQ(Repr(MakeFloat(-inf)), "-inf");
  EXPECT_EQ(Repr(MakeFloat(nan)), "nan");
  EXPECT_EQ(Repr(MakeFloat(-nan)), "nan");  // CPython drops a NaN's sign.
  EXPECT_EQ(Repr(MakeList({MakeFloat(nan), MakeTuple({MakeFloat(-inf)})})),
            "[nan, (-inf,)]");
}

TEST(Repr, FloatNotationSwitchesAtExponentsMinus5And16) {
  EXPECT_EQ(Repr(MakeFloat(0.0)), "0.0");
  EXPECT_EQ(Repr(MakeFloat(-0.0)), "-0.0");
  EXPECT_EQ(Repr(MakeFloat(1.0)), "1.0");
  EXPECT_EQ(Repr(MakeFloat(0.1)), "0.1");
  EXPECT_EQ(Repr(MakeFloat(1e-4)), "0.0001");
  EXPECT_EQ(Repr(MakeFloat(1e-5)), "1e-05");
  EXPECT_EQ(Repr(MakeFloat(1.5e-5)), "1.5e-05");
  EXPECT_EQ(Repr(MakeFloat(1e15)), "1000000000000000.0");
  EXPECT_EQ(Repr(MakeFloat(9999999999999998.0)), "9999999999999998.0");
  EXPECT_EQ(Repr(MakeFloat(1e16)), "1e+16");
  EXPECT_EQ(Repr(MakeFloat(1.5e300)), "1.5e+300");
  EXPECT_EQ(Repr(MakeFloat(5e-324)), "5e-324");
  EXPECT_EQ(Repr(MakeFloat(123.456)), "123.456");
}

TEST(Repr, UnsetKindsAndInvalidUtf8AreVisible) {
  EXPECT_EQ(Repr(Value()), "<unset>");
  EXPECT_EQ(Repr(MakeList({Value()})), "[<unset>]");
  EXPECT_EQ(Repr(MakeStr("a\xff"
                         "b\xc3")),
            "'a\\udcffb\\udcc3'");
}

TEST(Repr, ScalarsAndContainers) {
  EXPECT_EQ(Repr(MakeNull()), "None");
  EXPECT_EQ(Repr(MakeInt(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(Repr(MakeTuple({MakeInt(1)})), "(1,)");
  EXPECT_EQ(Repr(MakeTuple({})), "()");
  EXPECT_EQ(Repr(MakeSet({})), "set()");
  EXPECT_EQ(Repr(MakeMap({})), "{}");
  EXPECT_EQ(Repr(MakeStr("it's")), "\"it's\"");
  EXPECT_EQ(Repr(MakeStr("'\"")), "'\\'\"'");
  EXPECT_EQ(Repr(MakeBytes("it's")), "b\"it's\"");
  EXPECT_EQ(Repr(MakeBytes(std::string("\0\x7f\x80", 3))),
            "b'\\x00\\x7f\\x80'");
}

}  // namespace
}  // namespace netstructer
