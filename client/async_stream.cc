#include "netstructer/client/async_stream.h"

#include <optional>
#include <utility>

#include "netstructer/proto/status_macros.h"
#include "netstructer/transport/sync_point.h"

namespace netstructer::internal {

namespace {

// How many stream callbacks this thread is inside: Write refuses to wait
// for credit on a thread that may be the only one to read it.
thread_local int callbacks_running = 0;

struct InCallback {
  InCallback() { ++callbacks_running; }
  ~InCallback() { --callbacks_running; }
};

}  // namespace

std::shared_ptr<AsyncStream> AsyncStream::Start(
    Channel* channel, const char* method, const CallOptions& options,
    const std::string* request, bool half_close, Callbacks callbacks) {
  std::shared_ptr<AsyncStream> s(new AsyncStream());
  s->callbacks_ = std::move(callbacks);
  s->loop_ = channel->bridge().event_loop();
  std::weak_ptr<AsyncStream> weak = s;
  // Events before `started_` is set are ignored; the Post below catches up.
  // Callbacks run on the channel's loop only: an event fired on another
  // thread (a call blocked in Read or Write on this channel that read this
  // stream's frames) is posted there.
  s->call_ = ClientCall::Start(
      channel, method, options, request, half_close,
      EventOnLoop(s->loop_, [weak] {
        if (std::shared_ptr<AsyncStream> p = weak.lock()) p->OnEvent();
      }));
  // Only the delivering thread reports the end, just before on_done: a
  // Write that meets the end on the caller's thread must not fill the
  // context while on_done may already read it.
  s->call_->DeferReportToFinish();
  // (Test hook, arg: the ClientCall: what arrives now waits for the Post.)
  transport::SyncPoint("AsyncStream::Start:before_started", s->call_.get());
  const bool running = !s->call_->finished();
  if (running) s->call_->connection()->AsyncStarted();
  {
    MutexLock lock(&s->mu_);
    s->started_ = true;
    s->counted_ = running;
    s->self_ = s;
    const absl::Time deadline = s->call_->deadline();
    if (running && deadline != absl::InfiniteFuture()) {
      s->timer_ = s->loop_->AddRealTimeTimer(deadline, [weak] {
        if (std::shared_ptr<AsyncStream> p = weak.lock()) {
          p->call_->ExpireIfDue();
          p->OnEvent();
        }
      });
    }
  }
  // On the I/O thread, as every callback (never the caller's, which may
  // hold a lock the callbacks take).
  s->loop_->Post([s] { s->OnEvent(); });
  return s;
}

std::shared_ptr<AsyncStream> AsyncStream::Failed(Channel* channel,
                                                 const char* method,
                                                 absl::Status status,
                                                 Callbacks callbacks) {
  std::shared_ptr<AsyncStream> s(new AsyncStream());
  s->callbacks_ = std::move(callbacks);
  s->loop_ = channel->bridge().event_loop();
  s->call_ =
      ClientCall::Failed(channel, method, CallOptions(), std::move(status));
  {
    MutexLock lock(&s->mu_);
    s->started_ = true;
    s->self_ = s;
  }
  s->loop_->Post([s] { s->OnEvent(); });
  return s;
}

absl::Status AsyncStream::Write(absl::string_view message) {
  if (callbacks_running > 0 || transport::EventLoop::Current() != nullptr) {
    return absl::FailedPreconditionError(
        "Write was called from a stream callback or an event loop's thread: "
        "callbacks run on the I/O thread, where a full flow-control window "
        "could never open; write from another thread");
  }
  return call_->Write(message);
}

absl::Status AsyncStream::WritesDone() { return call_->WritesDone(); }

void AsyncStream::Cancel() {
  call_->Cancel();
  // The end is reported on the loop, never on the cancelling thread.
  loop_->Post([s = shared_from_this()] { s->OnEvent(); });
}

void AsyncStream::OnEvent() {
  {
    MutexLock lock(&mu_);
    if (!started_ || done_) return;
    if (delivering_) {
      again_ = true;  // The thread delivering now looks again.
      return;
    }
    delivering_ = true;
  }
  for (;;) {
    absl::Status stop;
    while (stop.ok()) {
      std::optional<std::string> message = call_->TryRead();
      if (!message.has_value()) break;
      InCallback in_callback;
      if (callbacks_.on_message) {
        stop = callbacks_.on_message(*std::move(message));
      }
    }
    if (!stop.ok()) {
      // Ends the call with the callback's error (if the server had not
      // ended it already) and drops what is queued: no later message.
      error_ = std::move(stop);
      call_->CancelWith(error_);
      while (call_->TryRead().has_value()) {
      }
    }
    const bool ended = !error_.ok() ||
                       (call_->finished() && !call_->has_messages());
    transport::EventLoop::TimerId timer = 0;
    bool counted = false;
    std::shared_ptr<AsyncStream> keep;
    {
      MutexLock lock(&mu_);
      if (!ended) {
        if (again_) {
          again_ = false;
          continue;
        }
        delivering_ = false;
        return;
      }
      done_ = true;
      delivering_ = false;
      timer = timer_;
      counted = counted_;
      keep = std::move(self_);
    }
    if (timer != 0) loop_->CancelTimer(timer);
    if (counted) call_->connection()->AsyncFinished();
    // Reports to interceptors. Detached and moved: the callback's copy is
    // the only one, so no count is shared with this thread (TSan cannot see
    // the count's order in Debian's Abseil).
    absl::Status status = DetachedStatus(
        error_.ok() ? call_->Finish() : call_->FinishWith(error_));
    {
      InCallback in_callback;
      if (callbacks_.on_done) callbacks_.on_done(std::move(status));
    }
    // This may run inside the connection's own frame handling, and the
    // stream may hold the last reference to the connection: let go later.
    loop_->Post([keep = std::move(keep)] {});
    return;
  }
}

}  // namespace netstructer::internal
