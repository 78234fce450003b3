#include "netstructer/rpc/metadata.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace netstructer::rpc {

absl::Status ValidateMetadataKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxMetadataKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata key of ", key.size(), " bytes (1..", kMaxMetadataKeyBytes,
        " allowed)"));
  }
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata key \"", absl::CHexEscape(key),
          "\" has a character outside a-z 0-9 - _ ."));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateMetadata(const Metadata& metadata) {
  size_t total = 0;
  for (const auto& [key, value] : metadata) {
    if (absl::Status s = ValidateMetadataKey(key); !s.ok()) return s;
    total += key.size() + value.size();
  }
  if (total > kMaxMetadataBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata of ", total, " bytes exceeds ", kMaxMetadataBytes));
  }
  return absl::OkStatus();
}

}  // namespace netstructer::rpc
