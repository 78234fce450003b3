// UTF-8 decoding and encoding, and CPython's notion of a printable code point
// (str.isprintable()), for the Python literal parser and printer.
#ifndef NETSTRUCTER_PROTO_UNICODE_H_
#define NETSTRUCTER_PROTO_UNICODE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace netstructer::unicode {

inline constexpr char32_t kMaxCodePoint = 0x10FFFF;

inline bool IsSurrogate(char32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

// Decodes the UTF-8 sequence starting at `text[*pos]` into `*cp` and advances
// `*pos` past it. Strict (RFC 3629): rejects overlong forms, surrogates, code
// points above U+10FFFF and truncated sequences. On failure returns false and
// leaves `*pos` unchanged. REQUIRES: *pos < text.size().
bool DecodeUtf8(absl::string_view text, size_t* pos, char32_t* cp);

// Offset of the first byte that does not start a valid UTF-8 sequence, or
// absl::string_view::npos when all of `text` is valid UTF-8.
size_t FindInvalidUtf8(absl::string_view text);

// Appends the UTF-8 encoding of `cp`. REQUIRES: cp <= kMaxCodePoint and not
// a surrogate.
void AppendUtf8(char32_t cp, std::string* out);

// CPython's Py_UNICODE_ISPRINTABLE: false for categories Cc, Cf, Cs, Co, Cn,
// Zl, Zp and Zs other than U+0020. Exact for the Unicode version in
// kPrintableUnicodeVersion (generated from Debian's python3 by
// proto/gen_unicode_printable.py); later versions only make more code points
// printable (newly assigned ones), which repr() would then print as escapes.
bool IsPrintable(char32_t cp);

// The Unicode version of the IsPrintable() table, e.g. "14.0.0".
absl::string_view PrintableUnicodeVersion();

}  // namespace netstructer::unicode

#endif  // NETSTRUCTER_PROTO_UNICODE_H_
