#include "netstructer/service/reactor_call.h"

#include <utility>

#include "netstructer/proto/status_macros.h"
#include "netstructer/transport/buffer_pool.h"

namespace netstructer::internal {

namespace {
thread_local ReactorCall* binding = nullptr;
}  // namespace

// ---- ReactorBase -----------------------------------------------------------

ReactorBase::ReactorBase() : call_(ReactorCall::Binding()) {}

void ReactorBase::RequestRead(google::protobuf::MessageLite* target) {
  if (call_ != nullptr) call_->StartRead(target);
}

void ReactorBase::RequestWrite(absl::StatusOr<std::string> bytes) {
  if (call_ != nullptr) call_->StartWrite(std::move(bytes));
}

void ReactorBase::RequestFinish(absl::Status status) {
  if (call_ != nullptr) call_->Finish(std::move(status));
}

// ---- ReactorCall -----------------------------------------------------------

ReactorCall* ReactorCall::Binding() { return binding; }

ReactorCall::ScopedBinding::ScopedBinding(ReactorCall* call)
    : previous_(std::exchange(binding, call)) {}

ReactorCall::ScopedBinding::~ScopedBinding() { binding = previous_; }

ReactorCall::ReactorCall(std::shared_ptr<ServerCall> call, End end)
    : call_(std::move(call)),
      session_(call_->context()->session()),
      end_(std::move(end)) {}

void ReactorCall::Start(std::unique_ptr<ReactorBase> reactor,
                        std::shared_ptr<const void> keep) {
  reactor_ = std::move(reactor);
  keep_ = std::move(keep);
  // A reactor made outside its factory was bound to nothing: it is now
  // (requests it made before are lost; docs/RPC_API.md says where to make
  // it). One made inside is left alone: a thread it started may already
  // be making requests through call_.
  if (reactor_->call_ != this) reactor_->call_ = this;
  {
    MutexLock lock(&mu_);
    started_ = true;
  }
  Deliver();
}

void ReactorCall::StartRead(google::protobuf::MessageLite* target) {
  {
    MutexLock lock(&mu_);
    if (done_) return;
    if (read_wanted_) {
      // The read in progress keeps its target: this one is misuse.
      if (misuse_.ok()) {
        misuse_ = absl::InternalError(
            "the reactor called StartRead while a read was in progress");
      }
    } else {
      read_wanted_ = true;
      read_target_ = target;
    }
  }
  Kick(/*from_request=*/true);
}

void ReactorCall::StartWrite(absl::StatusOr<std::string> bytes) {
  {
    MutexLock lock(&mu_);
    if (done_) return;
    if (write_.has_value()) {
      if (misuse_.ok()) {
        misuse_ = absl::InternalError(
            "the reactor called StartWrite while a write was in progress");
      }
    } else {
      if (!bytes.ok()) bytes = DetachedStatus(bytes.status());
      write_ = std::move(bytes);
      write_refused_ = finish_.has_value();
    }
  }
  Kick(/*from_request=*/true);
}

void ReactorCall::Finish(absl::Status status) {
  {
    MutexLock lock(&mu_);
    if (done_ || finish_.has_value()) return;  // The first Finish counts.
    finish_ = DetachedStatus(status);
  }
  Kick(/*from_request=*/true);
}

void ReactorCall::Kick(bool from_request) {
  {
    MutexLock lock(&mu_);
    if (!started_ || done_) return;
    if (delivering_) {  // This engine's round looks again before it ends.
      again_ = true;
      return;
    }
  }
  std::shared_ptr<Bridge> session = session_.lock();
  if (session == nullptr) return;  // Gone: the call ended with it.
  transport::EventLoop* const loop = session->event_loop();
  if (!from_request && loop->InLoopThread()) {
    Deliver();
    return;
  }
  loop->Post([self = shared_from_this()] { self->Deliver(); });
}

void ReactorCall::Deliver() {
  {
    MutexLock lock(&mu_);
    if (!started_) return;
    if (delivering_) {  // A request from inside a callback: this round's.
      again_ = true;
      return;
    }
    delivering_ = true;
  }
  for (;;) {
    while (Step()) {
    }
    MutexLock lock(&mu_);
    if (!again_) {
      delivering_ = false;
      return;
    }
    again_ = false;
  }
}

bool ReactorCall::Step() {
  bool read_wanted = false;
  google::protobuf::MessageLite* read_target = nullptr;
  bool has_write = false;
  bool write_refused = false;
  bool ending = false;
  bool has_finish = false;
  absl::Status finish;
  absl::Status misuse;
  std::optional<absl::Status> ended;
  {
    MutexLock lock(&mu_);
    if (done_) return false;
    read_wanted = read_wanted_;
    read_target = read_target_;
    has_write = write_.has_value();
    write_refused = write_refused_;
    ending = ending_;
    has_finish = finish_.has_value();
    if (has_finish) finish = DetachedStatus(*finish_);
    misuse = std::exchange(misuse_, absl::OkStatus());
    if (ended_.has_value()) ended = DetachedStatus(*ended_);
  }
  rpc::CallStream* const stream = call_->stream();
  auto clear_read = [this] {
    MutexLock lock(&mu_);
    read_wanted_ = false;
    read_target_ = nullptr;
  };
  auto clear_write = [this] {
    MutexLock lock(&mu_);
    write_.reset();
    write_refused_ = false;
    progress_ = rpc::SendProgress();
  };
  if (!misuse.ok()) {
    if (!ending) call_->Cancel(misuse);
    return true;
  }
  // Once the end began, what is in progress is reported false, then OnDone.
  if (ending) {
    if (read_wanted) {
      clear_read();
      reactor_->ReadDone(false);
      return true;
    }
    if (has_write) {
      clear_write();
      reactor_->WriteDone(false);
      return true;
    }
    if (!ended.has_value()) return false;  // End's `then` kicks again.
    {
      MutexLock lock(&mu_);
      done_ = true;
    }
    reactor_->Done(*ended);
    reactor_.reset();
    keep_.reset();
    call_.reset();  // Breaks the stream -> hook -> engine -> call cycle.
    return false;
  }
  if (has_write) {
    // Only this thread clears write_, and a request never replaces it:
    // its bytes are read here without the lock.
    const absl::StatusOr<std::string>* bytes = nullptr;
    {
      MutexLock lock(&mu_);
      bytes = &*write_;
    }
    if (write_refused || !bytes->ok()) {
      if (!bytes->ok()) call_->Cancel(bytes->status());
      clear_write();
      reactor_->WriteDone(false);
      return true;
    }
    bool done = false;
    absl::Status s = call_->WriteWithoutWaiting(**bytes, &progress_, &done);
    if (!s.ok() || done) {
      if (!s.ok() && !stream->finished()) call_->Cancel(s);
      clear_write();
      reactor_->WriteDone(s.ok());
      return true;
    }
    // Stopped for credit: the stream's event comes back when it arrives.
  }
  if (read_wanted) {
    if (std::optional<std::string> message = stream->TryRead();
        message.has_value()) {
      // Still a read in progress while the message is parsed into its
      // target: a StartRead meanwhile is misuse, not a new read.
      absl::Status s = ParseRequest(*message, read_target);
      transport::ReturnBuffer(*std::move(message));
      if (!s.ok()) call_->Cancel(s);
      clear_read();
      reactor_->ReadDone(s.ok());
      return true;
    }
    if (stream->input_ended() || stream->finished()) {
      clear_read();
      reactor_->ReadDone(false);
      return true;
    }
  }
  if (stream->finished()) {
    BeginEnd(stream->final_status());
    return true;
  }
  if (has_finish && !has_write) {
    BeginEnd(std::move(finish));
    return true;
  }
  return false;
}

void ReactorCall::BeginEnd(absl::Status status) {
  {
    MutexLock lock(&mu_);
    ending_ = true;
  }
  if (status.ok() && reactor_->response_) {
    absl::StatusOr<std::string> response = reactor_->response_();
    if (response.ok()) {
      call_->SetResponse(*std::move(response));
    } else {
      status = response.status();
    }
  }
  end_(call_, call_->context()->FinalStatus(status),
       [self = shared_from_this()](absl::Status final_status) {
         {
           MutexLock lock(&self->mu_);
           self->ended_ = DetachedStatus(final_status);
         }
         self->Kick(/*from_request=*/true);
       });
}

}  // namespace netstructer::internal
