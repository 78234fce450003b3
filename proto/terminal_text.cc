#include "netstructer/proto/terminal_text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "netstructer/proto/unicode.h"

namespace netstructer {

std::string EscapeForTerminal(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    if (byte == '\\') {
      out += "\\\\";
      ++pos;
      continue;
    }
    if (byte < 0x20 || byte == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", byte);
      ++pos;
      continue;
    }
    if (byte < 0x80) {
      out.push_back(static_cast<char>(byte));
      ++pos;
      continue;
    }
    const size_t start = pos;
    char32_t cp = 0;
    if (!unicode::DecodeUtf8(text, &pos, &cp)) {
      absl::StrAppendFormat(&out, "\\x%02x", byte);
      ++pos;
      continue;
    }
    if (cp <= 0x9f) {  // C1 controls (U+0080-U+009F).
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<uint32_t>(cp));
      continue;
    }
    out.append(text.data() + start, pos - start);
  }
  return out;
}

std::string StatusForTerminal(const absl::Status& status) {
  if (status.ok()) return "OK";
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                      EscapeForTerminal(status.message()));
}

}  // namespace netstructer
