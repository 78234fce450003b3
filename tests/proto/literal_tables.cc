#include "netstructer/tests/proto/literal_tables.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace netstructer::testing {

std::vector<std::string> ReprLiterals() {
  std::vector<std::string> literals = {
      // The README example.
      "['hi im haytam',128,{b'gg':'gg'},{1,2,6,4},(False,True)]",
      // Scalars.
      "None",
      "True",
      "False",
      "0",
      "-0",
      "7",
      "-7",
      "1_000_000",
      "0xff",
      "-0o17",
      "0b1",
      "9223372036854775807",
      "-9223372036854775808",
      // Floats: CPython's repr picks fixed or exponent notation by exponent.
      "0.0",
      "-0.0",
      "0.1",
      "0.30000000000000004",
      "1.5",
      "-2.5",
      "100.0",
      "1e15",
      "1e16",
      "-1e16",
      "1.5e16",
      "1e22",
      "1e-4",
      "1e-5",
      "0.00012",
      "1.5e300",
      "-1.5e-300",
      "5e-324",
      "1.7976931348623157e308",
      "2.2250738585072014e-308",
      "123456789012345678.0",
      "12345.678",
      "9007199254740993.0",
      ".5",
      "5.",
      "1_0.5e-0_3",
      "0.3333333333333333",
      "1e400",   // inf
      "-1e400",  // -inf
      // str: quote choice and escapes.
      "''",
      "'a'",
      "\"it's\"",
      "'say \"hi\"'",
      R"('both \' and "')",
      R"("both ' and \"")",
      R"('\t\n\r\\')",
      R"('\x00\x01\x1f\x7f\x20~')",
      R"('\a\b\f\v')",
      R"('\x80\x85\x9f\xa0\xa1\xad\xff')",
      R"('\u00e9 caf\u00e9 )"
      "\xc3\xa9'",  // é escaped and as UTF-8
      R"('\u0378\u0600\u061c\u200b\u200d\u200e\u2028\u2029')",
      R"('\u3000\u1680\u202f\ufeff\ufffd\ufffe\uffff\ue000\uf8ff')",
      R"('\U0001F600\U000E0001\U000E007F\U0010FFFF\U000F0000')",
      R"('\u0301a\u0301 \uac00 \u4e2d\u6587 \u05d0 \u0391')",
      R"('\uff41\u2603\u20ac\u00a9')",
      R"('\U00016FE4\U0001E94B\U0001F1E6\U0002A6DF')",
      "'''multi\nline\ttext'''",
      R"(r'\d+\.\w*')",
      R"(u'x')",
      "'con' \"cat\" 'enated'",
      "'a\\\nb'",
      R"('\q\8')",
      R"('\101\0\777')",
      // bytes.
      "b''",
      "b'abc'",
      "b\"it's\"",
      R"(b'say "hi"')",
      R"(b'\'"')",
      R"(b'\t\n\r\\\x0b\x0c')",
      R"(rb'\x00')",
      R"(b'\u1234\777')",
      // Containers.
      "[]",
      "()",
      "{}",
      "set()",
      "(1,)",
      "((),)",
      "((1,),)",
      "[[[]]]",
      "[(), [], {}, set()]",
      "(1, 2)",
      "[1, 'a', b'b', None, 2.5, (True,)]",
      "{1, 2, 4, 6}",
      "{0, 5, 7}",
      "{True}",
      "{False, True}",
      "{(1, 2)}",
      "{'only'}",
      "{b'x'}",
      "{None}",
      "{1: 'a', True: 'b'}",
      "{1: 'a', 2: 'b', 1.0: 'c'}",
      "{'z': 1, 'a': 2, 'm': 3}",
      "{(1, 2): {'a': (3,)}, (): [None]}",
      "{(1, (2, 'x')): None}",
      "{-0.0: 1, 0: 2}",
      "{'k': {'k': {'k': {}}}}",
      "[[1, [2, [3, [4, [5]]]]], ((((((1,),),),),),)]",
      "[1,\n  2,  # comment\n  3,]",
      "{'nested': [{'deep': ({1, 2},)}]}",
  };
  // Every byte value, escaped.
  std::string all_bytes = "b'";
  for (int b = 0; b < 256; ++b) absl::StrAppendFormat(&all_bytes, "\\x%02x", b);
  literals.push_back(all_bytes + "'");
  // Every code point below U+0300 and a sample above, escaped.
  std::string code_points = "'";
  for (uint32_t cp = 1; cp < 0x110000; cp += (cp < 0x300 ? 1 : 997)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    absl::StrAppendFormat(&code_points, "\\U%08x", cp);
  }
  literals.push_back(code_points + "'");
  return literals;
}

std::vector<std::string> UnorderedSetLiterals() {
  return {
      "{'b', 'a', 'c'}",
      "{b'y', b'x', 'x', None, -1, 2.5, (1, 'a'), (0,)}",
      "{100, 3, 1000000, -5, 9}",
      "{-1, -2, 17, 8, 1e100}",
      "[{('a', 1), ('a', 0)}, {'k': {'x', 'y'}}]",
  };
}

std::vector<BadLiteral> BadLiterals() {
  return {
      {"", "at offset 0: expected a value, found end of input"},
      {"   ", "at offset 3: expected a value, found end of input"},
      {"[1, 2", "at offset 5: expected ',' or ']', found end of input"},
      {"[1 2]", "at offset 3: expected ',' or ']', found '2'"},
      {"[1,,2]", "at offset 3: unexpected ','"},
      {"(,)", "at offset 1: unexpected ','"},
      {"{,}", "at offset 1: unexpected ','"},
      {"(1 2)", "at offset 3: expected ',' or ')', found '2'"},
      {"{1: 2, 3}", "at offset 8: expected ':' after a dict key, found '}'"},
      {"{1, 2: 3}", "at offset 5: expected ',' or '}', found ':'"},
      {"{1 2}", "at offset 3: expected ':', ',' or '}', found '2'"},
      {"{1: 2 3: 4}", "at offset 6: expected ',' or '}', found '3'"},
      {"1 2", "at offset 2: unexpected '2' after the value"},
      {"[1]]", "at offset 3: unexpected ']' after the value"},
      {"none", "at offset 0: unexpected name 'none'"},
      {"Truex", "at offset 0: unexpected name 'Truex'"},
      {"inf", "at offset 0: unexpected name 'inf'"},
      {"nan", "at offset 0: unexpected name 'nan'"},
      {"-inf", "at offset 1: expected a number after unary '-', found 'i'"},
      {"set", "at offset 3: expected '(' after set, found end of input"},
      {"set([1])",
       "at offset 4: expected ')': only set() is accepted, not "
       "set(iterable), found '['"},
      {"-True", "at offset 1: expected a number after unary '-', found 'T'"},
      {"--1", "at offset 1: expected a number after unary '-', found '-'"},
      {"-'a'", "at offset 1: expected a number after unary '-', found '''"},
      {"-(1,)", "at offset 3: expected ')', found ','"},
      {"1 + 2", "at offset 2: unexpected '+' after the value"},
      {"01",
       "at offset 0: leading zeros in decimal integer literals are not "
       "permitted; use an 0o prefix for octal integers"},
      {"0_7",
       "at offset 0: leading zeros in decimal integer literals are not "
       "permitted; use an 0o prefix for octal integers"},
      {"1__0", "at offset 0: invalid decimal literal"},
      {"1_", "at offset 0: invalid decimal literal"},
      {"1abc", "at offset 0: invalid decimal literal"},
      {"1.2.3", "at offset 0: invalid decimal literal"},
      {"1._5", "at offset 0: invalid decimal literal"},
      {"[1e]", "at offset 1: invalid float literal"},
      {"1e+", "at offset 0: invalid float literal"},
      {"1e_5", "at offset 0: invalid float literal"},
      {"0x", "at offset 0: invalid hexadecimal literal"},
      {"0x_", "at offset 0: invalid hexadecimal literal"},
      {"0xfg", "at offset 0: invalid hexadecimal literal"},
      {"0b102", "at offset 0: invalid binary literal"},
      {"0o8", "at offset 0: invalid octal literal"},
      // Python accepts these; a Value cannot hold them.
      {"1j", "at offset 0: complex numbers are not supported", true},
      {"[1.5J]", "at offset 1: complex numbers are not supported", true},
      {"'abc", "at offset 0: unterminated string literal"},
      {"[1, 'a\nb']", "at offset 4: unterminated string literal"},
      {"'a\rb'", "at offset 0: unterminated string literal"},
      {"'''abc''", "at offset 0: unterminated triple-quoted string literal"},
      {"r'\\'", "at offset 0: unterminated string literal"},
      {"'\\x4'", "at offset 1: truncated \\x escape"},
      {"'\\u12'", "at offset 1: truncated \\u escape"},
      {"'ab\\U0000004'", "at offset 3: truncated \\U escape"},
      {"'\\U00110000'", "at offset 1: illegal Unicode character"},
      {"'\\N{DASH}'", "at offset 1: \\N{...} escapes are not supported"},
      {"b'\\x4'", "at offset 2: truncated \\x escape"},
      {"b'caf\xc3\xa9'",
       "at offset 5: bytes can only contain ASCII literal characters"},
      {"'a' b'b'", "at offset 4: cannot mix bytes and nonbytes literals"},
      {"b'a' 'b'", "at offset 5: cannot mix bytes and nonbytes literals"},
      {"f'x'", "at offset 0: invalid string prefix"},
      {"ur'x'", "at offset 0: invalid string prefix"},
      {"bb'x'", "at offset 0: invalid string prefix"},
      {"{[1]: 2}", "at offset 1: unhashable type: 'list'"},
      {"{1: 2, {3}: 4}", "at offset 7: unhashable type: 'set'"},
      {"{(1, [2]): 3}", "at offset 1: unhashable type: 'list'"},
      {"{1, {}}", "at offset 4: unhashable type: 'dict'"},
      {"'\xff'", "at offset 1: invalid UTF-8"},
      {"'\xed\xa0\x80'", "at offset 1: invalid UTF-8"},  // Encoded surrogate.
      {std::string("'a\0'", 4),
       "at offset 2: null bytes are not allowed in a literal"},
      {"\xc2\xa0"
       "1",
       "at offset 0: unexpected byte 0xc2"},
      {"\v1", "at offset 0: unexpected byte 0x0b"},
      {"@", "at offset 0: unexpected '@'"},
      // Python accepts these; a Value cannot hold them.
      {"9223372036854775808", "at offset 0: integer out of range (int64)",
       true},
      {"[-9223372036854775809]", "at offset 1: integer out of range (int64)",
       true},
      {"0x1_0000_0000_0000_0000", "at offset 0: integer out of range (int64)",
       true},
      {"123456789012345678901234567890",
       "at offset 0: integer out of range (int64)", true},
      {"'\\ud800'",
       "at offset 1: surrogate U+D800 cannot be represented in a UTF-8 str",
       true},
  };
}

}  // namespace netstructer::testing
