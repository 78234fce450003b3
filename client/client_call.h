// The untyped client call under the generated stubs: bytes in, bytes out.
// The typed templates (client/rpc_client.h) serialise around it; the CLI's
// `call` uses it directly with messages built by reflection.
#ifndef NETSTRUCTER_CLIENT_CLIENT_CALL_H_
#define NETSTRUCTER_CLIENT_CLIENT_CALL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "netstructer/client/call_options.h"
#include "netstructer/client/channel.h"
#include "netstructer/rpc/connection.h"

namespace netstructer::internal {

// One call as a stream of serialised messages. Resource type; one reader and
// one writer thread may use it at once.
class ClientCall {
 public:
  // Runs the interceptors, then opens the call; with `request` the first
  // message goes in the same frame as the headers, and `half_close` ends
  // the client's side there (a unary call is then one frame). A call that
  // cannot start is returned anyway, reporting its status everywhere.
  // `on_event` (optional) runs on the reading thread whenever a message
  // arrives or the call ends (the asynchronous calls built on it post it
  // to the loop when that thread is not the loop's).
  static std::unique_ptr<ClientCall> Start(
      Channel* channel, const char* method, const CallOptions& options,
      const std::string* request, bool half_close,
      std::function<void()> on_event = nullptr);
  // A call that failed before it could start (e.g. its request does not
  // serialise): every operation reports `status`; interceptors see nothing.
  static std::unique_ptr<ClientCall> Failed(Channel* channel, const char* method,
                                            const CallOptions& options,
                                            absl::Status status);
  // Cancels the call if it has not finished.
  ~ClientCall();
  ClientCall(const ClientCall&) = delete;
  ClientCall& operator=(const ClientCall&) = delete;

  absl::Status Write(absl::string_view message);
  absl::Status WritesDone();
  // The next message; nullopt at the clean end of the server's messages; the
  // call's error once it failed.
  absl::StatusOr<std::optional<std::string>> Read();
  // Waits for the final status (reading and dropping messages not read).
  absl::Status Finish();
  // A unary call's result: its single response message or its status.
  absl::StatusOr<std::string> FinishUnary();
  void Cancel();
  // Ends the call with `status` on both sides (CANCEL to the server), as
  // Cancel does with CANCELLED; queued messages are dropped.
  void CancelWith(const absl::Status& status);
  // For AsyncStream, whose end is reported by its delivering thread only:
  // from now on Write, WritesDone, Read and Cancel do not report the end
  // (to interceptors and the options' metadata sink); Finish or FinishWith
  // does. Call before the call is shared with another thread.
  void DeferReportToFinish() { defer_report_ = true; }
  // Ends the call with `status` if it has not ended, drops what is queued,
  // and reports `status` as the final one (a response that did not parse,
  // after the server had finished OK).
  absl::Status FinishWith(absl::Status status);
  // Non-blocking: a message that has arrived, if any (for AsyncStream).
  std::optional<std::string> TryRead();
  bool has_messages() const {
    return stream_ != nullptr && stream_->has_messages();
  }
  // Ends the call with DEADLINE_EXCEEDED now if its deadline has passed.
  void ExpireIfDue();

  bool finished() const { return stream_ == nullptr || stream_->finished(); }
  absl::Time deadline() const { return deadline_; }
  rpc::RpcConnection* connection() const { return connection_; }
  Bridge* bridge() const { return keep_alive_.get(); }

 private:
  ClientCall(Channel* channel, const char* method, const CallOptions& options);
  absl::Status Open(const std::string* request, bool half_close,
                    std::function<void()> on_event);
  // Ends the call with DEADLINE_EXCEEDED on both sides, if it passed.
  absl::Status CheckDeadline(absl::Status status);
  // Reports the final status to the interceptors and the options' metadata
  // sink once; returns it.
  absl::Status Report(absl::Status status);
  absl::Status ReportUnlessDeferred(absl::Status status);
  // On an event loop's thread, an operation that would wait: ends the call
  // with FAILED_PRECONDITION saying why, and returns its final status.
  absl::Status RefuseToWait();

  std::shared_ptr<Bridge> keep_alive_;
  rpc::RpcConnection* connection_ = nullptr;
  const std::string method_;  // Copied: callers may pass a temporary.
  CallOptions options_;
  std::vector<std::shared_ptr<ClientInterceptor>> interceptors_;
  absl::Time deadline_ = absl::InfiniteFuture();
  std::shared_ptr<rpc::CallStream> stream_;  // Null when the call never started.
  absl::Status start_status_;
  std::atomic<bool> reported_{false};
  bool defer_report_ = false;  // Set before the call is shared.
  // The registration with options_.cancellation, 0 if none.
  uint64_t cancel_id_ = 0;
};

// True on an event loop's thread (an asynchronous callback, a reactor, a
// handler of a service that never blocks), where a blocking operation that
// would wait is refused with BlockingOnLoopThread(): it would wait for what
// only that loop can deliver (docs/DESIGN.md, "The threading model").
bool OnLoopThread();
absl::Status BlockingOnLoopThread();

// Unary calls on serialised messages.
absl::StatusOr<std::string> RawUnaryCall(Channel* channel, const char* method,
                                         const std::string& request,
                                         const CallOptions& options);
// `done` runs exactly once, on the thread reading the connection.
void RawAsyncUnaryCall(Channel* channel, const char* method,
                       const std::string& request, const CallOptions& options,
                       std::function<void(absl::StatusOr<std::string>)> done);

// Wraps an asynchronous call's event callback so that it runs on `loop`
// only: fired on another thread (a caller blocked in Read or Write on the
// same channel that read this call's frames), it is posted to the loop, so
// user callbacks never run on a borrowed thread.
std::function<void()> EventOnLoop(transport::EventLoop* loop,
                                  std::function<void()> event);

}  // namespace netstructer::internal

#endif  // NETSTRUCTER_CLIENT_CLIENT_CALL_H_
