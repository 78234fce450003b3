#include "netstructer/client/client_call.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/rpc/call_wire.h"
#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/sync_point.h"

namespace netstructer::internal {

namespace {
absl::Status DeadlineError() {
  return absl::DeadlineExceededError("the call's deadline passed");
}
}  // namespace

ClientCall::ClientCall(Channel* channel, const char* method,
                       const CallOptions& options)
    : keep_alive_(channel->bridge_owner()),
      connection_(channel->connection()),
      method_(method),
      options_(options),
      interceptors_(channel->interceptors()) {}

// A blocking operation on an event loop's thread would wait for what only
// that loop can deliver (the channel's loop runs the call's completion, and
// any loop's timers and sessions stop while it waits): it hung until its
// deadline, or forever. Refused instead, saying what to do.
absl::Status BlockingOnLoopThread() {
  return absl::FailedPreconditionError(
      "a blocking call was made on an event loop's thread (an asynchronous "
      "callback, a reactor, or a handler of a service that never blocks), "
      "where it would wait for the loop it holds: use the asynchronous API "
      "there, or call from another thread");
}

bool OnLoopThread() { return transport::EventLoop::Current() != nullptr; }

std::unique_ptr<ClientCall> ClientCall::Start(Channel* channel,
                                              const char* method,
                                              const CallOptions& options,
                                              const std::string* request,
                                              bool half_close,
                                              std::function<void()> on_event) {
  if (on_event == nullptr && OnLoopThread()) {
    // Nothing is sent: the server never sees a call nobody could wait for.
    return Failed(channel, method, options, BlockingOnLoopThread());
  }
  std::unique_ptr<ClientCall> call(new ClientCall(channel, method, options));
  call->start_status_ = call->Open(request, half_close, std::move(on_event));
  return call;
}

std::unique_ptr<ClientCall> ClientCall::Failed(Channel* channel,
                                               const char* method,
                                               const CallOptions& options,
                                               absl::Status status) {
  std::unique_ptr<ClientCall> call(new ClientCall(channel, method, options));
  call->reported_.store(true);
  call->start_status_ = std::move(status);
  return call;
}

absl::Status ClientCall::Open(const std::string* request, bool half_close,
                              std::function<void()> on_event) {
  for (const auto& interceptor : interceptors_) {
    if (absl::Status s = interceptor->OnStart(method_, &options_); !s.ok()) {
      return Report(s);
    }
  }
  if (absl::Status s = rpc::ValidateMetadata(options_.metadata); !s.ok()) {
    return Report(s);
  }
  if (options_.cancellation != nullptr && options_.cancellation->cancelled()) {
    return Report(absl::CancelledError(
        "the call was cancelled by the client before it started"));
  }
  if (request != nullptr && OnLoopThread() &&
      request->size() + transport::kMessageHeaderBytes >
          rpc::kStreamWindowBytes) {
    // Its first send would wait for credit that only this loop could read.
    return Report(absl::FailedPreconditionError(absl::StrCat(
        "a request of ", request->size(),
        " bytes, more than a call's flow-control window (",
        rpc::kStreamWindowBytes,
        " bytes), was started on an event loop's thread, where sending it "
        "would wait for the loop it holds: start it from another thread")));
  }
  const absl::Time now = absl::Now();
  deadline_ = options_.EffectiveDeadline(now);
  if (deadline_ <= now) {
    return Report(absl::DeadlineExceededError(
        "the call's deadline passed before it started"));
  }
  rpc::CallHeaders headers;
  headers.set_method(method_);
  if (deadline_ != absl::InfiniteFuture()) {
    headers.set_timeout_micros(static_cast<uint64_t>(
        std::max<int64_t>(1, absl::ToInt64Microseconds(deadline_ - now))));
  }
  rpc::ToWire(options_.metadata, headers.mutable_metadata());
  headers.set_no_compression(!options_.compression);
  stream_ = connection_->NewStream(options_.compression);
  stream_->set_on_event(std::move(on_event));
  absl::string_view body;
  if (request != nullptr) body = *request;
  absl::Status s = connection_->Open(stream_, headers,
                                     request != nullptr ? &body : nullptr,
                                     half_close, deadline_);
  if (!s.ok()) {
    s = CheckDeadline(s);
    connection_->Cancel(stream_.get(), s);
    return Report(stream_->final_status());
  }
  if (options_.cancellation != nullptr) {
    // Holds neither the stream nor the connection: a Cancellation may
    // outlive both. The connection lives as long as its Bridge.
    std::weak_ptr<rpc::CallStream> weak_stream = stream_;
    std::weak_ptr<Bridge> weak_bridge = keep_alive_;
    rpc::RpcConnection* connection = connection_;
    cancel_id_ = options_.cancellation->OnCancel(
        [weak_stream, weak_bridge, connection] {
          std::shared_ptr<Bridge> bridge = weak_bridge.lock();
          std::shared_ptr<rpc::CallStream> stream = weak_stream.lock();
          if (bridge == nullptr || stream == nullptr) return;
          connection->Cancel(stream.get(),
                             absl::CancelledError("the call was cancelled by the client"));
          // Its hook (an asynchronous call's completion) runs on the I/O
          // loop, never on the thread that cancels (it may hold locks the
          // callback takes).
          bridge->event_loop()->Post([stream] { stream->FireEvent(); });
        });
  }
  return absl::OkStatus();
}

ClientCall::~ClientCall() {
  if (cancel_id_ != 0) options_.cancellation->Forget(cancel_id_);
  if (stream_ != nullptr && !stream_->finished()) {
    connection_->Cancel(stream_.get(), absl::CancelledError(
                                           "the call was abandoned by the client"));
  }
  if (stream_ != nullptr) Report(stream_->final_status());
}

absl::Status ClientCall::CheckDeadline(absl::Status status) {
  if (status.code() == absl::StatusCode::kDeadlineExceeded &&
      absl::Now() >= deadline_) {
    connection_->Cancel(stream_.get(), DeadlineError());
    return stream_->final_status();
  }
  return status;
}

void ClientCall::ExpireIfDue() {
  if (stream_ != nullptr && absl::Now() >= deadline_) {
    connection_->Cancel(stream_.get(), DeadlineError());
  }
}

absl::Status ClientCall::Report(absl::Status status) {
  if (reported_.exchange(true)) return status;
  if (options_.response_metadata != nullptr && stream_ != nullptr) {
    options_.response_metadata->initial = stream_->received_metadata(false);
    options_.response_metadata->trailing = stream_->received_metadata(true);
  }
  for (const auto& interceptor : interceptors_) {
    interceptor->OnFinish(method_, status);
  }
  return status;
}

absl::Status ClientCall::Write(absl::string_view message) {
  if (!start_status_.ok()) return DetachedStatus(start_status_);
  if (OnLoopThread()) return RefuseToWait();  // It may wait for credit.
  absl::Status s = stream_->Send("", &message, "", false, deadline_);
  if (s.ok()) return s;
  s = CheckDeadline(s);
  if (stream_->finished()) return ReportUnlessDeferred(stream_->final_status());
  return s;
}

absl::Status ClientCall::WritesDone() {
  if (!start_status_.ok()) return DetachedStatus(start_status_);
  if (stream_->output_ended()) return absl::OkStatus();
  absl::Status s = stream_->Send("", nullptr, "", true, deadline_);
  if (s.ok()) return s;
  s = CheckDeadline(s);
  if (stream_->finished()) return ReportUnlessDeferred(stream_->final_status());
  return s;
}

absl::StatusOr<std::optional<std::string>> ClientCall::Read() {
  if (!start_status_.ok()) return DetachedStatus(start_status_);
  if (OnLoopThread() && !stream_->finished() && !stream_->has_messages()) {
    return RefuseToWait();
  }
  absl::StatusOr<std::optional<std::string>> r = stream_->Read(deadline_);
  if (!r.ok()) return ReportUnlessDeferred(CheckDeadline(r.status()));
  return r;
}

absl::Status ClientCall::Finish() {
  if (!start_status_.ok()) return DetachedStatus(start_status_);
  for (;;) {
    while (stream_->TryRead().has_value()) {
    }
    if (stream_->finished()) break;
    if (OnLoopThread()) return RefuseToWait();
    rpc::CallStream* s = stream_.get();
    if (!connection_->Wait([s] { return s->finished() || s->has_messages(); },
                           deadline_)) {
      connection_->Cancel(s, DeadlineError());
    }
  }
  return Report(stream_->final_status());
}

absl::StatusOr<std::string> ClientCall::FinishUnary() {
  if (!start_status_.ok()) return DetachedStatus(start_status_);
  rpc::CallStream* s = stream_.get();
  if (!s->finished() && OnLoopThread()) return RefuseToWait();
  if (!s->finished() &&
      !connection_->Wait([s] { return s->finished(); }, deadline_)) {
    connection_->Cancel(s, DeadlineError());
  }
  absl::Status status = stream_->final_status();
  if (!status.ok()) return Report(status);
  std::optional<std::string> response = stream_->TryRead();
  if (!response.has_value()) {
    return Report(absl::InternalError(
        "the server finished a unary call without a response"));
  }
  Report(status);
  return *std::move(response);
}

absl::Status ClientCall::RefuseToWait() {
  // The call cannot go on without a thread to wait: it ends here, on both
  // sides, with the reason, as a deadline would end it.
  const absl::Status refused = BlockingOnLoopThread();
  connection_->Cancel(stream_.get(), refused);
  return ReportUnlessDeferred(stream_->final_status());
}

void ClientCall::Cancel() {
  CancelWith(absl::CancelledError("the call was cancelled by the client"));
}

void ClientCall::CancelWith(const absl::Status& status) {
  if (stream_ == nullptr) return;
  connection_->Cancel(stream_.get(), status);
  ReportUnlessDeferred(stream_->final_status());
}

absl::Status ClientCall::ReportUnlessDeferred(absl::Status status) {
  if (defer_report_) return status;
  return Report(std::move(status));
}

absl::Status ClientCall::FinishWith(absl::Status status) {
  if (stream_ != nullptr) {
    if (!stream_->finished()) connection_->Cancel(stream_.get(), status);
    while (stream_->TryRead().has_value()) {
    }
  }
  return Report(std::move(status));
}

std::optional<std::string> ClientCall::TryRead() {
  if (stream_ == nullptr) return std::nullopt;
  return stream_->TryRead();
}

absl::StatusOr<std::string> RawUnaryCall(Channel* channel, const char* method,
                                         const std::string& request,
                                         const CallOptions& options) {
  return ClientCall::Start(channel, method, options, &request, true)
      ->FinishUnary();
}

namespace {

// An asynchronous unary call: completes once, on the channel's loop (the
// reading thread's event is posted there when another thread read it).
struct AsyncUnary : std::enable_shared_from_this<AsyncUnary> {
  Mutex mu;
  std::unique_ptr<ClientCall> call ABSL_GUARDED_BY(mu);
  bool started ABSL_GUARDED_BY(mu) = false;
  bool completed ABSL_GUARDED_BY(mu) = false;
  transport::EventLoop::TimerId timer ABSL_GUARDED_BY(mu) = 0;
  // Keeps this alive until it completes (the stream's hook is weak).
  std::shared_ptr<AsyncUnary> self ABSL_GUARDED_BY(mu);
  std::function<void(absl::StatusOr<std::string>)> done;

  void OnEvent() {
    std::unique_ptr<ClientCall> c;
    std::shared_ptr<AsyncUnary> keep;
    transport::EventLoop::TimerId t = 0;
    {
      MutexLock lock(&mu);
      if (!started || completed || call == nullptr || !call->finished()) return;
      completed = true;
      c = std::move(call);
      t = timer;
      keep = std::move(self);
    }
    transport::EventLoop* loop = c->bridge()->event_loop();
    if (t != 0) loop->CancelTimer(t);
    c->connection()->AsyncFinished();
    done(c->FinishUnary());
    // The call may hold the last reference to the connection, and this may
    // run inside the connection's own frame handling: release it later.
    loop->Post([c = std::shared_ptr<ClientCall>(std::move(c))] {});
  }
};

}  // namespace

std::function<void()> EventOnLoop(transport::EventLoop* loop,
                                  std::function<void()> event) {
  return [loop, event = std::move(event)] {
    if (!loop->InLoopThread()) {
      // (Test hook: an event handed from a reading caller to the loop.)
      transport::SyncPoint("AsyncCall:event_posted_to_loop");
      loop->Post(event);
      return;
    }
    event();
  };
}

void RawAsyncUnaryCall(Channel* channel, const char* method,
                       const std::string& request, const CallOptions& options,
                       std::function<void(absl::StatusOr<std::string>)> done) {
  auto state = std::make_shared<AsyncUnary>();
  state->done = std::move(done);
  std::weak_ptr<AsyncUnary> weak = state;
  transport::EventLoop* const loop = channel->bridge().event_loop();
  // `done` runs on the channel's loop only (EventOnLoop).
  std::unique_ptr<ClientCall> call = ClientCall::Start(
      channel, method, options, &request, true, EventOnLoop(loop, [weak] {
        if (std::shared_ptr<AsyncUnary> s = weak.lock()) s->OnEvent();
      }));
  if (call->finished()) {
    // Failed to start (or already answered): complete on the I/O thread, as
    // always, never on the caller's (which may hold a lock `done` takes).
    absl::StatusOr<std::string> result = call->FinishUnary();
    loop->Post([done = std::move(state->done), result = std::move(result),
                c = std::shared_ptr<ClientCall>(std::move(call))]() mutable {
      done(std::move(result));
    });
    return;
  }
  rpc::RpcConnection* connection = call->connection();
  const absl::Time deadline = call->deadline();
  connection->AsyncStarted();
  {
    MutexLock lock(&state->mu);
    state->call = std::move(call);
    state->started = true;
    if (deadline != absl::InfiniteFuture()) {
      state->timer = loop->AddRealTimeTimer(deadline, [weak] {
        std::shared_ptr<AsyncUnary> s = weak.lock();
        if (s == nullptr) return;
        {
          MutexLock lock(&s->mu);
          if (s->completed || s->call == nullptr) return;
          s->call->ExpireIfDue();
        }
        s->OnEvent();
      });
    }
  }
  // The response may have arrived before `started` was set.
  loop->Post([state] { state->OnEvent(); });
  // Keeps the state alive until it completes: the stream's event hook holds
  // only a weak reference, so the call holds it instead.
  MutexLock lock(&state->mu);
  if (!state->completed) state->self = state;
}

}  // namespace netstructer::internal
