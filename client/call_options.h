// Per-call options of the RPC client (docs/RPC_API.md).
#ifndef NETSTRUCTER_CLIENT_CALL_OPTIONS_H_
#define NETSTRUCTER_CLIENT_CALL_OPTIONS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netstructer/rpc/metadata.h"
#include "netstructer/transport/mutex.h"

namespace netstructer {

// What the server sent besides messages. Filled in before the call's final
// status is reported (before a blocking call returns, before an
// asynchronous call's callback runs, before Finish returns).
struct ResponseMetadata {
  Metadata initial;   // ServerContext::AddInitialMetadata
  Metadata trailing;  // ServerContext::AddTrailingMetadata
};

// Cancels calls from any thread, like gRPC's ClientContext::TryCancel:
// give the same Cancellation to the calls' CallOptions::cancellation, then
// Cancel(). Every such call not yet finished ends with CANCELLED "the call
// was cancelled by the client": a blocking call returns, an asynchronous
// call's callback runs (on its I/O thread), a stream's Read/Write/Finish
// report it, and the server's context sees the cancellation. A call started
// after Cancel fails at once with CANCELLED and sends nothing. One object
// may serve any number of calls. Thread-safe; hold it by shared_ptr.
class Cancellation {
 public:
  void Cancel();
  bool cancelled() const;

  // For the call machinery: `cancel` runs once, on the thread that calls
  // Cancel() (at once, here, if that happened already: then 0 is returned),
  // unless Forget(id) comes first. `cancel` must not call back into this.
  uint64_t OnCancel(std::function<void()> cancel);
  // After Forget returns, the callback of `id` does not start (one running
  // on another thread may still finish).
  void Forget(uint64_t id);

 private:
  mutable Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::function<void()>> callbacks_
      ABSL_GUARDED_BY(mu_);
};

// Value type; `{}` is the defaults.
struct CallOptions {
  // The call's deadline: the earlier of `deadline` and now + `timeout`.
  // Past it the call fails with DEADLINE_EXCEEDED and the server's context
  // sees the cancellation. Neither set = no deadline.
  absl::Time deadline = absl::InfiniteFuture();
  absl::Duration timeout = absl::InfiniteDuration();
  // Sent with the call (ServerContext::client_metadata()). Keys: lowercase
  // ASCII a-z 0-9 - _ . (rpc/metadata.h); others are INVALID_ARGUMENT.
  Metadata metadata;
  // lz4 for this call's messages of 1 KiB or more, both ways (when the
  // connection allows it). Off for secrets mixed with attacker-chosen data.
  bool compression = true;
  // Where the server's metadata goes, if wanted. Must outlive the call.
  ResponseMetadata* response_metadata = nullptr;
  // Cancels the call when Cancel() is called on it (from any thread).
  std::shared_ptr<Cancellation> cancellation;

  // The effective absolute deadline, InfiniteFuture if none.
  absl::Time EffectiveDeadline(absl::Time now) const {
    absl::Time d = deadline;
    if (timeout != absl::InfiniteDuration()) d = std::min(d, now + timeout);
    return d;
  }
};

template <typename T>
using UnaryCallback = std::function<void(absl::StatusOr<T>)>;

// Sees every call of a Channel: may add metadata, change the options or
// refuse the call (a non-OK status fails it without sending anything), and
// observes each call's final status. Thread-safe: called concurrently.
class ClientInterceptor {
 public:
  virtual ~ClientInterceptor() = default;
  // Before the call starts; `method` is "/pkg.Service/Method".
  virtual absl::Status OnStart(absl::string_view method, CallOptions* options) {
    return absl::OkStatus();
  }
  // Once, with the final status (on the thread that saw it end; must not
  // block).
  virtual void OnFinish(absl::string_view method, const absl::Status& status) {}
};

}  // namespace netstructer

#endif  // NETSTRUCTER_CLIENT_CALL_OPTIONS_H_
