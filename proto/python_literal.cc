#include "netstructer/proto/python_literal.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "netstructer/proto/unicode.h"
#include "netstructer/proto/value_canonical.h"
#include "netstructer/proto/value_validate.h"

namespace netstructer {
namespace {

bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// A numeric token before its sign is applied.
struct Number {
  bool is_float = false;
  uint64_t magnitude = 0;  // When !is_float; saturates above 2**64 - 1.
  bool overflow = false;   // The integer does not fit in 64 bits.
  double value = 0;        // When is_float.
};

// Recursive descent over the text. Each Parse* function starts at pos_
// (whitespace already skipped, unless it says otherwise) and leaves pos_
// just past what it consumed.
class Parser {
 public:
  Parser(absl::string_view text, const ValueLimits& limits)
      : text_(text), limits_(limits) {}

  absl::StatusOr<Value> ParseAll() {
    const size_t nul = text_.find('\0');
    if (nul != absl::string_view::npos) {
      return Error(nul, "null bytes are not allowed in a literal");
    }
    Value value;
    absl::Status status = ParseValue(1, &value);
    if (!status.ok()) return status;
    SkipSpace();
    if (pos_ != text_.size()) {
      return Error(pos_, absl::StrCat("unexpected ", Describe(pos_),
                                      " after the value"));
    }
    return value;
  }

 private:
  absl::Status Error(size_t offset, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("at offset ", offset, ": ", what));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  // "end of input", "',' (0x2c)"-style names for error messages.
  std::string Describe(size_t offset) const {
    if (offset >= text_.size()) return "end of input";
    const unsigned char c = static_cast<unsigned char>(text_[offset]);
    if (c >= 0x21 && c < 0x7F) return absl::StrFormat("'%c'", c);
    return absl::StrFormat("byte 0x%02x", c);
  }

  absl::Status Expected(absl::string_view what) const {
    return Error(pos_,
                 absl::StrCat("expected ", what, ", found ", Describe(pos_)));
  }

  // Whitespace, comments and explicit line joins between tokens.
  void SkipSpace() {
    while (!AtEnd()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\f' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (!AtEnd() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
      } else if (c == '\\' && (Peek(1) == '\n' || Peek(1) == '\r')) {
        pos_ += 2;
      } else {
        return;
      }
    }
  }

  absl::Status CheckDepth(int depth) const {
    if (depth > limits_.max_depth) {
      return Error(pos_, absl::StrCat("nesting deeper than the limit of ",
                                      limits_.max_depth));
    }
    return absl::OkStatus();
  }

  absl::Status ParseValue(int depth, Value* out) {
    SkipSpace();
    absl::Status status = CheckDepth(depth);
    if (!status.ok()) return status;
    if (AtEnd()) return Expected("a value");
    const char c = text_[pos_];
    switch (c) {
      case '[':
        return ParseList(depth, out);
      case '(':
        return ParseParenthesized(depth, out);
      case '{':
        return ParseBraced(depth, out);
      case '-':
      case '+':
        return ParseSigned(depth, out);
      case '\'':
      case '"':
        return ParseStrings(out);
      default:
        break;
    }
    if (absl::ascii_isdigit(c) || (c == '.' && absl::ascii_isdigit(Peek(1)))) {
      return ParseUnsigned(/*negative=*/false, pos_, out);
    }
    if (absl::ascii_isalpha(c) || c == '_') {
      if (StringStartsHere()) return ParseStrings(out);
      return ParseName(out);
    }
    return Error(pos_, absl::StrCat("unexpected ", Describe(pos_)));
  }

  absl::Status ParseName(Value* out) {
    const size_t start = pos_;
    while (!AtEnd() && IsNameChar(text_[pos_])) ++pos_;
    const absl::string_view name = text_.substr(start, pos_ - start);
    if (name == "None") {
      out->set_null_value(NULL_VALUE);
    } else if (name == "True" || name == "False") {
      out->set_bool_value(name == "True");
    } else if (name == "set") {
      SkipSpace();
      if (Peek() != '(') return Expected("'(' after set");
      ++pos_;
      SkipSpace();
      if (Peek() != ')') {
        return Expected("')': only set() is accepted, not set(iterable)");
      }
      ++pos_;
      out->mutable_set_value();
    } else {
      return Error(start, absl::StrCat("unexpected name '", name, "'"));
    }
    return absl::OkStatus();
  }

  // Elements up to `close`, separated by commas, a trailing comma allowed,
  // appended to `list`. pos_ is just past the opening bracket or just past
  // the comma after the elements already in `list`.
  absl::Status ParseElements(int depth, char close, bool require_hashable,
                             ValueList* list) {
    for (;;) {
      SkipSpace();
      if (Peek() == close) {
        ++pos_;
        return absl::OkStatus();
      }
      absl::Status status =
          ParseMember(depth, require_hashable, list->add_values());
      if (!status.ok()) return status;
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
      } else if (Peek() != close) {
        return Expected(absl::StrFormat("',' or '%c'", close));
      }
    }
  }

  // An element of a container at `depth`; set members and dict keys must be
  // hashable, as Python's set and dict insist.
  absl::Status ParseMember(int depth, bool require_hashable, Value* out) {
    SkipSpace();
    const size_t start = pos_;
    absl::Status status = ParseValue(depth + 1, out);
    if (!status.ok()) return status;
    if (require_hashable) {
      const absl::string_view unhashable = UnhashableType(*out);
      if (!unhashable.empty()) {
        return Error(start,
                     absl::StrCat("unhashable type: '", unhashable, "'"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseList(int depth, Value* out) {
    ++pos_;  // '['
    return ParseElements(depth, ']', false, out->mutable_list_value());
  }

  // `()`, `(x)` (just x), `(x,)`, `(x, y, ...)`.
  absl::Status ParseParenthesized(int depth, Value* out) {
    ++pos_;  // '('
    SkipSpace();
    if (Peek() == ')') {
      ++pos_;
      out->mutable_tuple_value();
      return absl::OkStatus();
    }
    Value first;
    absl::Status status = ParseMember(depth, false, &first);
    if (!status.ok()) return status;
    SkipSpace();
    if (Peek() == ')') {
      ++pos_;
      *out = std::move(first);
      return absl::OkStatus();
    }
    if (Peek() != ',') return Expected("',' or ')'");
    ++pos_;
    ValueList* tuple = out->mutable_tuple_value();
    *tuple->add_values() = std::move(first);
    return ParseElements(depth, ')', false, tuple);
  }

  // `{}` (an empty dict), `{k: v, ...}` or `{a, ...}`.
  absl::Status ParseBraced(int depth, Value* out) {
    ++pos_;  // '{'
    SkipSpace();
    if (Peek() == '}') {
      ++pos_;
      out->mutable_map_value();
      return absl::OkStatus();
    }
    Value first;
    absl::Status status = ParseMember(depth, true, &first);
    if (!status.ok()) return status;
    SkipSpace();
    if (Peek() != ':') {
      if (Peek() != ',' && Peek() != '}') return Expected("':', ',' or '}'");
      if (Peek() == ',') ++pos_;
      ValueList* set = out->mutable_set_value();
      *set->add_values() = std::move(first);
      status = ParseElements(depth, '}', true, set);
      if (!status.ok()) return status;
      CanonicalizeSetMembers(set);
      return absl::OkStatus();
    }
    ValueMap* map = out->mutable_map_value();
    MapEntry* entry = map->add_entries();
    *entry->mutable_key() = std::move(first);
    for (;;) {
      ++pos_;  // ':'
      status = ParseMember(depth, false, entry->mutable_value());
      if (!status.ok()) return status;
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
      } else if (Peek() != '}') {
        return Expected("',' or '}'");
      }
      if (Peek() == '}') {
        ++pos_;
        break;
      }
      entry = map->add_entries();
      status = ParseMember(depth, true, entry->mutable_key());
      if (!status.ok()) return status;
      SkipSpace();
      if (Peek() != ':') return Expected("':' after a dict key");
    }
    CanonicalizeMapEntries(map);
    return absl::OkStatus();
  }

  // A unary sign applies to a number only, as in ast.literal_eval, possibly
  // parenthesized: -1, - 1, -(1), but not -True, --1 or -(-1).
  absl::Status ParseSigned(int depth, Value* out) {
    const size_t sign_offset = pos_;
    const bool negative = text_[pos_] == '-';
    ++pos_;
    SkipSpace();
    int parens = 0;
    while (Peek() == '(') {
      ++pos_;
      ++parens;
      absl::Status status = CheckDepth(depth + parens);
      if (!status.ok()) return status;
      SkipSpace();
    }
    if (!absl::ascii_isdigit(Peek()) &&
        !(Peek() == '.' && absl::ascii_isdigit(Peek(1)))) {
      return Expected(
          absl::StrCat("a number after unary '", negative ? "-" : "+", "'"));
    }
    absl::Status status = ParseUnsigned(negative, sign_offset, out);
    if (!status.ok()) return status;
    for (; parens > 0; --parens) {
      SkipSpace();
      if (Peek() != ')') return Expected("')'");
      ++pos_;
    }
    return absl::OkStatus();
  }

  // A number token with `negative` applied; `sign_offset` is where the
  // literal (its sign, if any) starts, for range errors.
  absl::Status ParseUnsigned(bool negative, size_t sign_offset, Value* out) {
    Number number;
    absl::Status status = ScanNumber(&number);
    if (!status.ok()) return status;
    if (number.is_float) {
      out->set_float_value(negative ? -number.value : number.value);
      return absl::OkStatus();
    }
    constexpr uint64_t kMaxPositive = uint64_t{INT64_MAX};
    if (number.overflow ||
        number.magnitude > kMaxPositive + (negative ? 1 : 0)) {
      return Error(sign_offset, "integer out of range (int64)");
    }
    // Two's complement negation of the magnitude covers INT64_MIN too.
    out->set_int_value(negative ? static_cast<int64_t>(0 - number.magnitude)
                                : static_cast<int64_t>(number.magnitude));
    return absl::OkStatus();
  }

  // digit (['_'] digit)* in `base`, accumulated into number->magnitude.
  // Returns false (pos_ unspecified) when an underscore is not followed by a
  // digit. `digits` receives the digits without underscores.
  bool ScanDigitPart(int base, std::string* digits) {
    bool any = false;
    while (!AtEnd()) {
      const char c = text_[pos_];
      if (c == '_') {
        if (!any || DigitValue(Peek(1)) >= base) return false;
        ++pos_;
        continue;
      }
      if (DigitValue(c) >= base) break;
      digits->push_back(c);
      any = true;
      ++pos_;
    }
    return true;
  }

  static void Accumulate(absl::string_view digits, int base, Number* number) {
    for (char c : digits) {
      const uint64_t d = static_cast<uint64_t>(DigitValue(c));
      if (number->magnitude > (UINT64_MAX - d) / static_cast<uint64_t>(base)) {
        number->overflow = true;
        return;
      }
      number->magnitude = number->magnitude * base + d;
    }
  }

  absl::Status ScanNumber(Number* number) {
    const size_t start = pos_;
    const auto invalid = [&](absl::string_view kind) {
      return Error(start, absl::StrCat("invalid ", kind, " literal"));
    };
    const char prefix = absl::ascii_tolower(Peek(1));
    if (Peek() == '0' && (prefix == 'x' || prefix == 'o' || prefix == 'b')) {
      const int base = prefix == 'x' ? 16 : (prefix == 'o' ? 8 : 2);
      const absl::string_view kind =
          base == 16 ? "hexadecimal" : (base == 8 ? "octal" : "binary");
      pos_ += 2;
      if (Peek() == '_') ++pos_;  // 0x_ff is allowed.
      std::string digits;
      if (!ScanDigitPart(base, &digits) || digits.empty() ||
          IsNameChar(Peek()) || Peek() == '.') {
        return invalid(kind);
      }
      Accumulate(digits, base, number);
      return absl::OkStatus();
    }
    std::string int_part;
    std::string text;  // For the float conversion: no underscores.
    if (!ScanDigitPart(10, &int_part)) return invalid("decimal");
    text = int_part;
    if (Peek() == '.') {
      ++pos_;
      number->is_float = true;
      text.push_back('.');
      std::string fraction;
      if (!ScanDigitPart(10, &fraction)) return invalid("decimal");
      if (int_part.empty() && fraction.empty()) return invalid("decimal");
      text += fraction;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      number->is_float = true;
      text.push_back('e');
      if (Peek() == '+' || Peek() == '-') text.push_back(text_[pos_++]);
      std::string exponent;
      if (!ScanDigitPart(10, &exponent) || exponent.empty()) {
        return invalid("float");
      }
      text += exponent;
    }
    if (Peek() == 'j' || Peek() == 'J') {
      return Error(start, "complex numbers are not supported");
    }
    if (IsNameChar(Peek()) || Peek() == '.') return invalid("decimal");
    if (number->is_float) {
      if (!absl::SimpleAtod(text, &number->value)) return invalid("float");
      return absl::OkStatus();
    }
    if (int_part.size() > 1 && int_part[0] == '0' &&
        int_part.find_first_not_of('0') != std::string::npos) {
      return Error(start,
                   "leading zeros in decimal integer literals are not "
                   "permitted; use an 0o prefix for octal integers");
    }
    Accumulate(int_part, 10, number);
    return absl::OkStatus();
  }

  // ---- Strings ----

  // Whether a string literal (with or without a prefix) starts at pos_.
  bool StringStartsHere() const {
    size_t i = pos_;
    while (i < text_.size() && i - pos_ < 2 && absl::ascii_isalpha(text_[i])) {
      ++i;
    }
    return i < text_.size() && (text_[i] == '\'' || text_[i] == '"');
  }

  // One or more adjacent string literals, concatenated.
  absl::Status ParseStrings(Value* out) {
    bool is_bytes = false;
    std::string result;
    bool first = true;
    do {
      const size_t start = pos_;
      bool literal_is_bytes;
      absl::Status status = ParseStringLiteral(&literal_is_bytes, &result);
      if (!status.ok()) return status;
      if (!first && literal_is_bytes != is_bytes) {
        return Error(start, "cannot mix bytes and nonbytes literals");
      }
      is_bytes = literal_is_bytes;
      first = false;
      SkipSpace();
    } while (!AtEnd() && StringStartsHere());
    if (is_bytes) {
      out->set_bytes_value(std::move(result));
    } else {
      out->set_str_value(std::move(result));
    }
    return absl::OkStatus();
  }

  // Appends the contents of the literal at pos_ to `*out`.
  absl::Status ParseStringLiteral(bool* is_bytes, std::string* out) {
    const size_t start = pos_;
    bool raw = false;
    *is_bytes = false;
    bool unicode_prefix = false;
    while (absl::ascii_isalpha(Peek())) {
      const char c = absl::ascii_tolower(Peek());
      bool* flag = c == 'r'   ? &raw
                   : c == 'b' ? is_bytes
                   : c == 'u' ? &unicode_prefix
                              : nullptr;
      if (flag == nullptr || *flag) {
        return Error(start, "invalid string prefix");
      }
      *flag = true;
      ++pos_;
    }
    if (unicode_prefix && (raw || *is_bytes)) {
      return Error(start, "invalid string prefix");
    }
    const char quote = text_[pos_];
    const bool triple = Peek(1) == quote && Peek(2) == quote;
    pos_ += triple ? 3 : 1;
    for (;;) {
      if (AtEnd()) {
        return Error(start, triple ? "unterminated triple-quoted string literal"
                                   : "unterminated string literal");
      }
      const char c = text_[pos_];
      if (c == quote) {
        if (!triple) {
          ++pos_;
          return absl::OkStatus();
        }
        if (Peek(1) == quote && Peek(2) == quote) {
          pos_ += 3;
          return absl::OkStatus();
        }
        out->push_back(c);
        ++pos_;
      } else if (c == '\n' || c == '\r') {
        if (!triple) return Error(start, "unterminated string literal");
        AppendNewline(out);
      } else if (c == '\\') {
        absl::Status status =
            raw ? ParseRawBackslash(quote, out) : ParseEscape(*is_bytes, out);
        if (!status.ok()) return status;
      } else {
        absl::Status status = AppendSourceChar(*is_bytes, out);
        if (!status.ok()) return status;
      }
    }
  }

  // A newline in the source (\n, \r\n or \r) reads as \n, as Python's
  // tokenizer translates it.
  void AppendNewline(std::string* out) {
    if (text_[pos_] == '\r' && Peek(1) == '\n') ++pos_;
    ++pos_;
    out->push_back('\n');
  }

  // A character written as itself inside a literal.
  absl::Status AppendSourceChar(bool is_bytes, std::string* out) {
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++pos_;
      return absl::OkStatus();
    }
    if (is_bytes) {
      return Error(pos_, "bytes can only contain ASCII literal characters");
    }
    const size_t start = pos_;
    char32_t cp;
    if (!unicode::DecodeUtf8(text_, &pos_, &cp)) {
      return Error(pos_, "invalid UTF-8");
    }
    out->append(text_.data() + start, pos_ - start);
    return absl::OkStatus();
  }

  // In a raw literal a backslash stays, and keeps the next quote, backslash
  // or newline from ending anything.
  absl::Status ParseRawBackslash(char quote, std::string* out) {
    out->push_back('\\');
    ++pos_;
    const char next = Peek();
    if (AtEnd()) return absl::OkStatus();  // Reported as unterminated.
    if (next == quote || next == '\\') {
      out->push_back(next);
      ++pos_;
    } else if (next == '\n' || next == '\r') {
      AppendNewline(out);
    }
    return absl::OkStatus();
  }

  // pos_ is at a backslash in a non-raw literal.
  absl::Status ParseEscape(bool is_bytes, std::string* out) {
    const size_t start = pos_;
    ++pos_;
    if (AtEnd()) return absl::OkStatus();  // Reported as unterminated.
    const char c = text_[pos_];
    const auto simple = [&](char value) {
      out->push_back(value);
      ++pos_;
      return absl::OkStatus();
    };
    switch (c) {
      case '\n':
        ++pos_;  // Line continuation: both vanish.
        return absl::OkStatus();
      case '\r':
        ++pos_;
        if (Peek() == '\n') ++pos_;
        return absl::OkStatus();
      case '\\':
      case '\'':
      case '"':
        return simple(c);
      case 'a':
        return simple('\a');
      case 'b':
        return simple('\b');
      case 'f':
        return simple('\f');
      case 'n':
        return simple('\n');
      case 'r':
        return simple('\r');
      case 't':
        return simple('\t');
      case 'v':
        return simple('\v');
      case 'x':
        return ParseHexEscape(start, 2, is_bytes, out);
      case 'u':
        if (is_bytes) break;
        return ParseHexEscape(start, 4, is_bytes, out);
      case 'U':
        if (is_bytes) break;
        return ParseHexEscape(start, 8, is_bytes, out);
      case 'N':
        if (is_bytes) break;
        return Error(start, "\\N{...} escapes are not supported");
      default:
        break;
    }
    if (c >= '0' && c <= '7') {
      uint32_t value = 0;
      for (int i = 0; i < 3 && Peek() >= '0' && Peek() <= '7'; ++i) {
        value = value * 8 + static_cast<uint32_t>(Peek() - '0');
        ++pos_;
      }
      // Python 3.11: in bytes the value is taken modulo 256, in str it is
      // the code point (at most 0o777).
      if (is_bytes) {
        out->push_back(static_cast<char>(value & 0xFF));
      } else {
        unicode::AppendUtf8(value, out);
      }
      return absl::OkStatus();
    }
    // Not an escape: the backslash stays and the next character is read as
    // itself on the next round.
    out->push_back('\\');
    return absl::OkStatus();
  }

  // \xhh, \uXXXX or \UXXXXXXXX; pos_ is at the letter.
  absl::Status ParseHexEscape(size_t start, int digits, bool is_bytes,
                              std::string* out) {
    const char letter = text_[pos_];
    ++pos_;
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i) {
      const int d = DigitValue(Peek());
      if (d >= 16) {
        return Error(start, absl::StrFormat("truncated \\%c escape", letter));
      }
      value = value * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    if (is_bytes) {
      out->push_back(static_cast<char>(value));
      return absl::OkStatus();
    }
    if (value > unicode::kMaxCodePoint) {
      return Error(start, "illegal Unicode character");
    }
    if (unicode::IsSurrogate(value)) {
      return Error(
          start, absl::StrFormat("surrogate U+%04X cannot be represented in a "
                                 "UTF-8 str",
                                 value));
    }
    unicode::AppendUtf8(value, out);
    return absl::OkStatus();
  }

  const absl::string_view text_;
  const ValueLimits& limits_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<Value> ParseLiteral(absl::string_view text,
                                   const ValueLimits& limits) {
  if (text.size() > limits.max_input_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("literal of ", text.size(), " bytes exceeds the limit of ",
                     limits.max_input_bytes));
  }
  return Parser(text, limits).ParseAll();
}

}  // namespace netstructer
