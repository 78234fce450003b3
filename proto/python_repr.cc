#include "netstructer/proto/python_repr.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "netstructer/proto/unicode.h"

namespace netstructer {
namespace {

// CPython's float_repr: repr style 'r' of Python/pystrtod.c.
void AppendFloat(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("nan");  // CPython ignores the sign of a NaN.
    return;
  }
  if (std::isinf(d)) {
    out->append(d > 0 ? "inf" : "-inf");
    return;
  }
  // Shortest round-trip digits, e.g. "-1.2345e+17" or "1e-05".
  char buf[64];
  const std::to_chars_result result =
      std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  const absl::string_view sci(buf, result.ptr - buf);
  const size_t e_pos = sci.find('e');
  absl::string_view mantissa = sci.substr(0, e_pos);
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  if (!mantissa.empty() && mantissa[0] == '-') {
    out->push_back('-');
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  // The value is 0.DIGITS * 10**decpt, as _Py_dg_dtoa reports it.
  const int decpt = exponent + 1;
  const int ndigits = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out->push_back(digits[0]);
    if (ndigits > 1) {
      out->push_back('.');
      out->append(digits, 1, std::string::npos);
    }
    absl::StrAppendFormat(out, "e%c%02d", exponent < 0 ? '-' : '+',
                          std::abs(exponent));
  } else if (decpt <= 0) {
    out->append("0.");
    out->append(-decpt, '0');
    out->append(digits);
  } else if (decpt >= ndigits) {
    out->append(digits);
    out->append(decpt - ndigits, '0');
    out->append(".0");
  } else {
    out->append(digits, 0, decpt);
    out->push_back('.');
    out->append(digits, decpt, std::string::npos);
  }
}

char Quote(absl::string_view text) {
  const bool has_single = text.find('\'') != absl::string_view::npos;
  const bool has_double = text.find('"') != absl::string_view::npos;
  return has_single && !has_double ? '"' : '\'';
}

// The escapes str and bytes reprs share for ASCII. Returns false for a
// printable ASCII character that needs none.
bool AppendAsciiEscape(unsigned char c, char quote, std::string* out) {
  if (c == quote || c == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(c));
  } else if (c == '\t') {
    out->append("\\t");
  } else if (c == '\n') {
    out->append("\\n");
  } else if (c == '\r') {
    out->append("\\r");
  } else if (c < ' ' || c >= 0x7F) {
    absl::StrAppendFormat(out, "\\x%02x", c);
  } else {
    return false;
  }
  return true;
}

// CPython's unicode_repr.
void AppendStr(absl::string_view text, std::string* out) {
  const char quote = Quote(text);
  out->push_back(quote);
  size_t pos = 0;
  while (pos < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[pos]);
    if (c < 0x80) {
      if (!AppendAsciiEscape(c, quote, out)) out->push_back(text[pos]);
      ++pos;
      continue;
    }
    const size_t start = pos;
    char32_t cp;
    if (!unicode::DecodeUtf8(text, &pos, &cp)) {
      absl::StrAppendFormat(out, "\\udc%02x", c);  // surrogateescape
      ++pos;
    } else if (unicode::IsPrintable(cp)) {
      out->append(text.data() + start, pos - start);
    } else if (cp <= 0xFF) {
      absl::StrAppendFormat(out, "\\x%02x", static_cast<uint32_t>(cp));
    } else if (cp <= 0xFFFF) {
      absl::StrAppendFormat(out, "\\u%04x", static_cast<uint32_t>(cp));
    } else {
      absl::StrAppendFormat(out, "\\U%08x", static_cast<uint32_t>(cp));
    }
  }
  out->push_back(quote);
}

// CPython's bytes_repr.
void AppendBytes(absl::string_view bytes, std::string* out) {
  const char quote = Quote(bytes);
  out->push_back('b');
  out->push_back(quote);
  for (char c : bytes) {
    if (!AppendAsciiEscape(static_cast<unsigned char>(c), quote, out)) {
      out->push_back(c);
    }
  }
  out->push_back(quote);
}

void AppendValue(const Value& v, std::string* out);

void AppendElements(const ValueList& list, std::string* out) {
  for (int i = 0; i < list.values_size(); ++i) {
    if (i > 0) out->append(", ");
    AppendValue(list.values(i), out);
  }
}

void AppendValue(const Value& v, std::string* out) {
  switch (v.kind_case()) {
    case Value::KIND_NOT_SET:
      out->append("<unset>");
      return;
    case Value::kNullValue:
      out->append("None");
      return;
    case Value::kBoolValue:
      out->append(v.bool_value() ? "True" : "False");
      return;
    case Value::kIntValue:
      absl::StrAppend(out, v.int_value());
      return;
    case Value::kFloatValue:
      AppendFloat(v.float_value(), out);
      return;
    case Value::kStrValue:
      AppendStr(v.str_value(), out);
      return;
    case Value::kBytesValue:
      AppendBytes(v.bytes_value(), out);
      return;
    case Value::kListValue:
      out->push_back('[');
      AppendElements(v.list_value(), out);
      out->push_back(']');
      return;
    case Value::kTupleValue:
      out->push_back('(');
      AppendElements(v.tuple_value(), out);
      if (v.tuple_value().values_size() == 1) out->push_back(',');
      out->push_back(')');
      return;
    case Value::kSetValue:
      if (v.set_value().values_size() == 0) {
        out->append("set()");
        return;
      }
      out->push_back('{');
      AppendElements(v.set_value(), out);
      out->push_back('}');
      return;
    case Value::kMapValue:
      out->push_back('{');
      for (int i = 0; i < v.map_value().entries_size(); ++i) {
        if (i > 0) out->append(", ");
        AppendValue(v.map_value().entries(i).key(), out);
        out->append(": ");
        AppendValue(v.map_value().entries(i).value(), out);
      }
      out->push_back('}');
      return;
  }
}

}  // namespace

std::string Repr(const Value& value) {
  std::string out;
  AppendValue(value, &out);
  return out;
}

}  // namespace netstructer
