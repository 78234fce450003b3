// The untyped asynchronous streaming call under the generated MAsync of a
// streaming method (docs/RPC_API.md, "Asynchronous streams"): the server's
// messages and the call's end are pushed to callbacks on the I/O thread;
// the caller's threads write.
//
// Ownership: the AsyncStream owns its ClientCall and keeps itself alive
// (through `self_`) until `on_done` has run; the caller's handle holds a
// shared_ptr too. Callbacks run one at a time and in order, with no lock
// held, on the channel's loop only (an event fired on another thread, a
// caller that read this stream's frames, is posted there; the
// `delivering_` flag passes the right to deliver between the loop's
// rounds: the reading, its timers, a cancelling thread's post).
#ifndef NETSTRUCTER_CLIENT_ASYNC_STREAM_H_
#define NETSTRUCTER_CLIENT_ASYNC_STREAM_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "netstructer/client/call_options.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_call.h"
#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::internal {

class AsyncStream : public std::enable_shared_from_this<AsyncStream> {
 public:
  struct Callbacks {
    // Each message, in order. A non-OK return ends the call with that
    // status (a message that does not parse): no later message is given.
    std::function<absl::Status(std::string)> on_message;
    // Once, after the last message: the call's final status.
    std::function<void(absl::Status)> on_done;
  };

  // Starts the call as ClientCall::Start does; a call that cannot start
  // reports its status to `on_done` on the I/O thread (never the caller's).
  static std::shared_ptr<AsyncStream> Start(Channel* channel,
                                            const char* method,
                                            const CallOptions& options,
                                            const std::string* request,
                                            bool half_close,
                                            Callbacks callbacks);
  // A call that failed before it started: `on_done` gets `status` on the
  // I/O thread; Write and WritesDone return it.
  static std::shared_ptr<AsyncStream> Failed(Channel* channel,
                                             const char* method,
                                             absl::Status status,
                                             Callbacks callbacks);
  AsyncStream(const AsyncStream&) = delete;
  AsyncStream& operator=(const AsyncStream&) = delete;

  // From the caller's threads, one at a time: blocks while the server's
  // window is full (and may then read the connection itself, delivering
  // this stream's callbacks on this thread). FAILED_PRECONDITION from
  // inside a stream callback or on an event loop's thread (which could
  // wait there for credit only that thread would read).
  absl::Status Write(absl::string_view message);
  absl::Status WritesDone();
  // Ends the call with CANCELLED; `on_done` reports it.
  void Cancel();

 private:
  AsyncStream() = default;
  // Delivers what arrived, then the end; see the header comment.
  void OnEvent();

  Mutex mu_;
  std::unique_ptr<ClientCall> call_;  // Set once, before any event counts.
  Callbacks callbacks_;
  // A message the callback refused (did not parse): the call's end. Only
  // the delivering thread touches it.
  absl::Status error_;
  transport::EventLoop* loop_ = nullptr;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  // It counts in the connection's asynchronous calls (AsyncStarted).
  bool counted_ ABSL_GUARDED_BY(mu_) = false;
  transport::EventLoop::TimerId timer_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<AsyncStream> self_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netstructer::internal

#endif  // NETSTRUCTER_CLIENT_ASYNC_STREAM_H_
