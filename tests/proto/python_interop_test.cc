// ParseLiteral, Repr and the Value codec against an independent
// implementation: Debian's CPython (/usr/bin/python3, ast.literal_eval and
// repr) and its protobuf runtime (python3-protobuf). Each test runs Python
// once for a whole table; lines travel hex-encoded so that any byte
// survives.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "netstructer/proto/python_literal.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/unicode.h"
#include "netstructer/proto/value.h"
#include "netstructer/proto/value_codec.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/tests/proto/literal_tables.h"
#include "netstructer/tests/testing/python.h"

namespace netstructer {
namespace {

using ::netstructer::testing::RunPython;

std::vector<std::string> Lines(const std::string& out) {
  return absl::StrSplit(out, '\n', absl::SkipEmpty());
}

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

// For each input line ("x" and the hex of a literal's UTF-8 text): "ok <hex of
// repr(ast.literal_eval(text))>" or "error <exception type>".
constexpr char kLiteralEvalScript[] = R"(
import ast, sys, warnings
warnings.simplefilter('ignore')  # invalid escape sequences like '\q'
for line in sys.stdin.read().split():
    try:
        value = ast.literal_eval(bytes.fromhex(line[1:]).decode('utf-8'))
        print('ok', repr(value).encode('utf-8', 'surrogatepass').hex())
    except Exception as e:
        print('error', type(e).__name__)
)";

// Runs kLiteralEvalScript over `literals`; one result line each.
std::vector<std::string> LiteralEval(const std::vector<std::string>& literals) {
  std::string input;
  for (const std::string& literal : literals) {
    absl::StrAppend(&input, "x", Hex(literal), "\n");
  }
  absl::StatusOr<std::string> out = RunPython(kLiteralEvalScript, input);
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  std::vector<std::string> lines = Lines(*out);
  EXPECT_EQ(lines.size(), literals.size());
  return lines;
}

TEST(PythonInterop, ReprMatchesCPythonForEveryLiteralOfTheTable) {
  const std::vector<std::string> literals = testing::ReprLiterals();
  ASSERT_GE(literals.size(), 60u);
  const std::vector<std::string> results = LiteralEval(literals);
  ASSERT_EQ(results.size(), literals.size());
  for (size_t i = 0; i < literals.size(); ++i) {
    const std::string& literal = literals[i];
    ASSERT_EQ(results[i].substr(0, 3), "ok ")
        << literal << ": CPython says " << results[i];
    const std::string python_repr =
        absl::HexStringToBytes(results[i].substr(3));
    absl::StatusOr<Value> ours = ParseLiteral(literal);
    ASSERT_TRUE(ours.ok()) << literal << ": " << ours.status();
    EXPECT_EQ(Repr(*ours), python_repr) << "literal: " << literal;
    // And back: CPython's repr parses to the same value, except inf, which
    // is not a literal.
    if (python_repr.find("inf") != std::string::npos) continue;
    absl::StatusOr<Value> reparsed = ParseLiteral(python_repr);
    ASSERT_TRUE(reparsed.ok()) << python_repr << ": " << reparsed.status();
    EXPECT_TRUE(ValuesEqual(*reparsed, *ours)) << python_repr;
    EXPECT_EQ(Repr(*reparsed), python_repr);
  }
}

TEST(PythonInterop, SetsWithHashDependentOrderAreEqualAsValues) {
  const std::vector<std::string> literals = testing::UnorderedSetLiterals();
  const std::vector<std::string> results = LiteralEval(literals);
  ASSERT_EQ(results.size(), literals.size());
  for (size_t i = 0; i < literals.size(); ++i) {
    ASSERT_EQ(results[i].substr(0, 3), "ok ") << literals[i];
    const std::string python_repr =
        absl::HexStringToBytes(results[i].substr(3));
    absl::StatusOr<Value> ours = ParseLiteral(literals[i]);
    absl::StatusOr<Value> theirs = ParseLiteral(python_repr);
    ASSERT_TRUE(ours.ok()) << ours.status();
    ASSERT_TRUE(theirs.ok()) << theirs.status();
    EXPECT_TRUE(ValuesEqual(*ours, *theirs)) << python_repr;
    // Canonical order does not depend on the order CPython printed.
    EXPECT_EQ(Repr(*ours), Repr(*theirs));
  }
}

TEST(PythonInterop, CPythonRejectsOurBadLiteralsExceptDocumentedOnes) {
  std::vector<std::string> literals;
  for (const testing::BadLiteral& bad : testing::BadLiterals()) {
    literals.push_back(bad.text);
  }
  const std::vector<std::string> results = LiteralEval(literals);
  ASSERT_EQ(results.size(), literals.size());
  for (size_t i = 0; i < literals.size(); ++i) {
    const bool python_accepts = results[i].substr(0, 3) == "ok ";
    EXPECT_EQ(python_accepts, testing::BadLiterals()[i].python_accepts)
        << "literal: " << absl::CHexEscape(literals[i])
        << " CPython: " << results[i];
  }
}

TEST(PythonInterop, FloatReprMatchesCPythonOnRandomDoubles) {
  std::mt19937_64 random(20240611);
  std::vector<double> doubles = {0.1,
                                 1e16,
                                 1e-5,
                                 5e-324,
                                 1.7976931348623157e308,
                                 2.0 / 3,
                                 1e23,
                                 9007199254740993.0};
  while (doubles.size() < 3000) {
    const uint64_t bits = random();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    if (!std::isfinite(d)) continue;
    doubles.push_back(d);
    // Also "short" decimals, the common case.
    doubles.push_back(static_cast<double>(
                          static_cast<int64_t>(random() % 2000001) - 1000000) /
                      std::pow(10.0, static_cast<int>(random() % 30) - 10));
  }
  std::string input;
  for (double d : doubles) absl::StrAppendFormat(&input, "%a\n", d);
  absl::StatusOr<std::string> out = RunPython(R"(
import sys
for line in sys.stdin.read().split():
    print(repr(float.fromhex(line)))
)",
                                              input);
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<std::string> lines = Lines(*out);
  ASSERT_EQ(lines.size(), doubles.size());
  int mismatches = 0;
  for (size_t i = 0; i < doubles.size(); ++i) {
    if (Repr(MakeFloat(doubles[i])) != lines[i] && ++mismatches <= 10) {
      ADD_FAILURE() << absl::StrFormat("%a", doubles[i]) << ": ours "
                    << Repr(MakeFloat(doubles[i])) << ", CPython " << lines[i];
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(PythonInterop, PrintableTableMatchesCPythonForEveryCodePoint) {
  absl::StatusOr<std::string> out = RunPython(R"(
import unicodedata
print(unicodedata.unidata_version)
print(''.join('1' if chr(c).isprintable() else '0' for c in range(0x110000)))
)");
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<std::string> lines = Lines(*out);
  ASSERT_EQ(lines.size(), 2u);
  if (lines[0] != unicode::PrintableUnicodeVersion()) {
    GTEST_SKIP() << "CPython has Unicode " << lines[0] << ", our table "
                 << unicode::PrintableUnicodeVersion()
                 << ": regenerate with proto/gen_unicode_printable.py";
  }
  ASSERT_EQ(lines[1].size(), 0x110000u);
  int mismatches = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    const bool python = lines[1][cp] == '1';
    if (unicode::IsPrintable(cp) != python && ++mismatches <= 10) {
      ADD_FAILURE() << absl::StrFormat("U+%04X: CPython says %d",
                                       static_cast<uint32_t>(cp), python);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// Builds Python's Value class from our descriptor, so that python3-protobuf
// encodes and decodes with no generated code of ours.
std::string ValueClassPreamble() {
  google::protobuf::FileDescriptorProto file;
  Value::descriptor()->file()->CopyTo(&file);
  return absl::StrCat(R"(
import sys
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
_pool = descriptor_pool.DescriptorPool()
_pool.Add(descriptor_pb2.FileDescriptorProto.FromString(bytes.fromhex(')",
                      Hex(file.SerializeAsString()), R"(')))
Value = message_factory.MessageFactory(_pool).GetPrototype(
    _pool.FindMessageTypeByName('netstructer.Value'))

def encode(obj, v):
    if obj is None: v.null_value = 0
    elif isinstance(obj, bool): v.bool_value = obj
    elif isinstance(obj, int): v.int_value = obj
    elif isinstance(obj, float): v.float_value = obj
    elif isinstance(obj, str): v.str_value = obj
    elif isinstance(obj, bytes): v.bytes_value = obj
    elif isinstance(obj, (list, tuple, set)):
        field = {list: v.list_value, tuple: v.tuple_value, set: v.set_value}[type(obj)]
        field.SetInParent()
        for x in obj: encode(x, field.values.add())
    elif isinstance(obj, dict):
        v.map_value.SetInParent()
        for k, x in obj.items():
            e = v.map_value.entries.add()
            encode(k, e.key)
            encode(x, e.value)
    else: raise TypeError(type(obj))
    return v

def decode(v):
    kind = v.WhichOneof('kind')
    if kind == 'null_value': return None
    if kind in ('list_value', 'tuple_value', 'set_value'):
        items = [decode(x) for x in getattr(v, kind).values]
        return {'list_value': list, 'tuple_value': tuple, 'set_value': set}[kind](items)
    if kind == 'map_value': return {decode(e.key): decode(e.value) for e in v.map_value.entries}
    return getattr(v, kind)
)");
}

TEST(PythonInterop, PythonProtobufDecodesWhatWeEncode) {
  std::string input;
  std::vector<std::string> reprs;
  for (const std::string& literal : testing::ReprLiterals()) {
    absl::StatusOr<Value> v = ParseLiteral(literal);
    ASSERT_TRUE(v.ok()) << v.status();
    absl::StrAppend(&input, Hex(EncodeValue(*v)), "\n");
    reprs.push_back(Repr(*v));
  }
  absl::StatusOr<std::string> out =
      RunPython(absl::StrCat(ValueClassPreamble(), R"(
for line in sys.stdin.read().split():
    obj = decode(Value.FromString(bytes.fromhex(line)))
    print(repr(obj).encode('utf-8', 'surrogatepass').hex())
)"),
                input);
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<std::string> lines = Lines(*out);
  ASSERT_EQ(lines.size(), reprs.size());
  for (size_t i = 0; i < reprs.size(); ++i) {
    EXPECT_EQ(absl::HexStringToBytes(lines[i]), reprs[i]);
  }
}

TEST(PythonInterop, WeDecodeWhatPythonProtobufEncodes) {
  // Objects no literal can express (inf, nan) and sets in Python's order.
  absl::StatusOr<std::string> out =
      RunPython(absl::StrCat(ValueClassPreamble(), R"(
nan = float('nan')
objects = [
    float('inf'), -float('inf'), nan, -nan, [nan, (float('inf'),)],
    {'x': float('-inf')}, (1e-7, -0.0, 1e16), 2**63 - 1, -2**63,
    {1: {2: {3: None}}}, {(1, 2): [3, b'\x00\xff']}, '\u2028\x85\xad',
    {6, 1, 4, 2}, {(0, 'a')}, {1: 'a', 2: 'b'}, [], (), set(), {},
    'x' * 1000, [[[[[[[[[[[[]]]]]]]]]]]],
]
for obj in objects:
    print(encode(obj, Value()).SerializeToString().hex(),
          repr(obj).encode('utf-8', 'surrogatepass').hex())
)"));
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<std::string> lines = Lines(*out);
  ASSERT_EQ(lines.size(), 21u);
  for (const std::string& line : lines) {
    const std::vector<std::string> fields = absl::StrSplit(line, ' ');
    ASSERT_EQ(fields.size(), 2u);
    const std::string python_repr = absl::HexStringToBytes(fields[1]);
    absl::StatusOr<Value> v = DecodeValue(absl::HexStringToBytes(fields[0]));
    ASSERT_TRUE(v.ok()) << python_repr << ": " << v.status();
    EXPECT_EQ(Repr(*v), python_repr);
  }
}

}  // namespace
}  // namespace netstructer
