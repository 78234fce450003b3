#include "netstructer/proto/unicode.h"

#include <algorithm>
#include <cstdint>

namespace netstructer::unicode {
namespace {

struct CodePointRange {
  char32_t lo;
  char32_t hi;
};

#include "proto/unicode_printable.inc"

}  // namespace

bool DecodeUtf8(absl::string_view text, size_t* pos, char32_t* cp) {
  const size_t start = *pos;
  const size_t left = text.size() - start;
  const auto byte = [&](size_t i) {
    return static_cast<uint8_t>(text[start + i]);
  };
  const auto is_cont = [&](size_t i) { return (byte(i) & 0xC0) == 0x80; };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) {
    *cp = b0;
    *pos = start + 1;
    return true;
  }
  size_t len;
  char32_t value;
  char32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    value = b0 & 0x1F;
    min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    value = b0 & 0x0F;
    min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    value = b0 & 0x07;
    min = 0x10000;
  } else {
    return false;  // Continuation byte, 0xC0/0xC1 (overlong) or 0xF5+.
  }
  if (left < len) return false;
  for (size_t i = 1; i < len; ++i) {
    if (!is_cont(i)) return false;
    value = (value << 6) | (byte(i) & 0x3F);
  }
  if (value < min || value > kMaxCodePoint || IsSurrogate(value)) return false;
  *cp = value;
  *pos = start + len;
  return true;
}

size_t FindInvalidUtf8(absl::string_view text) {
  size_t pos = 0;
  char32_t cp;
  while (pos < text.size()) {
    if (!DecodeUtf8(text, &pos, &cp)) return pos;
  }
  return absl::string_view::npos;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsPrintable(char32_t cp) {
  if (cp >= 0x20 && cp < 0x7F) return true;  // Fast path: printable ASCII.
  if (cp > kMaxCodePoint) return false;
  // The first range whose `hi` is >= cp is the only one that can hold it.
  const CodePointRange* end = std::end(kNonPrintableRanges);
  const CodePointRange* it = std::lower_bound(
      std::begin(kNonPrintableRanges), end, cp,
      [](const CodePointRange& r, char32_t c) { return r.hi < c; });
  return it == end || cp < it->lo;
}

absl::string_view PrintableUnicodeVersion() { return kPrintableUnicodeVersion; }

}  // namespace netstructer::unicode
