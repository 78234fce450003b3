#include "netstructer/tools/json_documents.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace netstructer::tools {

absl::StatusOr<std::optional<std::string>> JsonDocumentReader::Next() {
  int c = in_->get();
  while (c != EOF && absl::ascii_isspace(static_cast<unsigned char>(c))) {
    c = in_->get();
  }
  if (c == EOF) return std::nullopt;
  ++documents_;
  if (c != '{') {
    return absl::InvalidArgumentError(absl::StrCat(
        "request ", documents_, " is not a JSON object (it starts with '",
        std::string(1, static_cast<char>(c)), "')"));
  }
  // To the brace that closes it, skipping braces inside strings.
  std::string doc(1, '{');
  int depth = 1;
  bool in_string = false;
  bool escaped = false;
  while (depth > 0) {
    c = in_->get();
    if (c == EOF) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request ", documents_, " ends before its closing '}'"));
    }
    doc.push_back(static_cast<char>(c));
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      --depth;
    }
  }
  return std::optional<std::string>(std::move(doc));
}

}  // namespace netstructer::tools
