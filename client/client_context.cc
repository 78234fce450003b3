#include "netstructer/client/client_context.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace netstructer {

ClientContext::ClientContext()
    : cancellation_(std::make_shared<Cancellation>()) {}

ClientContext::~ClientContext() = default;

absl::StatusOr<CallOptions> ClientContext::StartCall(const std::string& peer) {
  if (started_) {
    // A second call would write the first one's metadata over and share
    // its cancellation: refuse it rather than mix the two.
    return absl::FailedPreconditionError(absl::StrCat(
        "a ClientContext serves one call, and this one already started a "
        "call to ",
        peer_, "; use a new ClientContext for each call"));
  }
  started_ = true;
  peer_ = peer;
  CallOptions options = options_;
  options.response_metadata = &response_;
  options.cancellation = cancellation_;
  return options;
}

}  // namespace netstructer
