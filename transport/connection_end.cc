#include "netstructer/transport/connection_end.h"

#include "absl/strings/cord.h"

namespace netstructer {

absl::Status MarkConnectionEnd(absl::Status status) {
  if (!status.ok()) status.SetPayload(kConnectionEndTypeUrl, absl::Cord());
  return status;
}

bool IsConnectionEnd(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kConnectionEndTypeUrl).has_value();
}

}  // namespace netstructer
