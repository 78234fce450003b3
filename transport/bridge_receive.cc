#include "netstructer/transport/bridge.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/proto/value_codec.h"
#include "netstructer/proto/value_validate.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/sync_point.h"
#include "netstructer/transport/work_pool.h"
#include "transport/bridge_internal.h"

namespace netstructer {

using transport::FrameType;
using transport::MessageKind;
namespace big_endian = transport::big_endian;
using bridge_internal::NowSeconds;

absl::StatusOr<ReceivedMessage> Bridge::RecvRaw(const RecvOptions& options) {
  if (has_message_callback_.load()) {
    return absl::FailedPreconditionError(
        "this Bridge hands its messages to its message callback "
        "(SetMessageCallback); RecvBuffer cannot take them");
  }
  // On an event loop's thread it does not wait for another receiver either.
  const bool on_loop = transport::EventLoop::Current() != nullptr;
  if (!on_loop) {
    recv_mu_.Lock();
  } else if (!recv_mu_.TryLock()) {
    return absl::FailedPreconditionError(
        "another thread is receiving on this Bridge, and RecvBuffer on an "
        "event loop's thread (a callback) never waits");
  }
  absl::StatusOr<ReceivedMessage> result = RecvRawLocked(options, on_loop);
  recv_mu_.Unlock();
  return result;
}

absl::StatusOr<ReceivedMessage> Bridge::RecvRawLocked(
    const RecvOptions& options, bool on_loop) {
  const absl::Time deadline = options.timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + options.timeout;
  const uint64_t limit =
      options.max_bytes == 0 ? options_.max_message_bytes : options.max_bytes;
  for (;;) {
    if (std::optional<absl::StatusOr<ReceivedMessage>> next = TakeNext(limit)) {
      return *std::move(next);
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no message within ", absl::FormatDuration(options.timeout)));
    }
    if (on_loop) {
      // A loop's thread never waits (the loop serves other connections,
      // and may be the one that would read this message).
      return absl::FailedPreconditionError(
          "RecvBuffer would wait for a message on an event loop's thread (a "
          "callback): take messages with SetMessageCallback there, poll with "
          "a zero timeout, or receive on another thread");
    }
    // Read on this thread when no one else does (see Await).
    Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {  // state_mu_ is held.
      return !inbox_.empty() || closed_;
    }, deadline);
  }
}

std::optional<absl::StatusOr<ReceivedMessage>> Bridge::TakeNext(uint64_t limit) {
  std::optional<absl::StatusOr<ReceivedMessage>> result;
  bool credit_released = false;
  {
    MutexLock state(&state_mu_);
    if (inbox_.empty()) {
      if (closed_) return absl::StatusOr<ReceivedMessage>(closed_status_);
      return std::nullopt;
    }
    InboxItem& front = inbox_.front();
    if (!front.status.ok()) {
      result = front.status;
      inbox_.pop_front();
    } else if (front.message.size() > limit) {
      return absl::StatusOr<ReceivedMessage>(absl::ResourceExhaustedError(absl::StrCat(
          "the next message has ", front.message.size(),
          " bytes, more than max_bytes ", limit,
          "; it stays queued (call again with a larger max_bytes)")));
    } else {
      credit_released = window_.Dequeued(front.message.size());
      result = std::move(front.message);
      inbox_.pop_front();
      last_activity_ = LoopNow();
    }
  }
  if (credit_released) SendPendingCredit(/*force=*/true);
  return result;
}

absl::StatusOr<Value> Bridge::RecvBuffer(const RecvOptions& options) {
  absl::StatusOr<ReceivedMessage> message = RecvRaw(options);
  if (!message.ok()) return message.status();
  if (message->kind() != MessageKind::kValue) {
    return absl::InvalidArgumentError(
        "received a typed protobuf message, not a Value; use "
        "RecvBuffer(google::protobuf::Message*)");
  }
  absl::StatusOr<std::string> body = message->ReadAll();
  if (!body.ok()) return body.status();
  ValueLimits limits = options_.value_limits;
  limits.max_input_bytes = options_.max_message_bytes;
  return DecodeValue(*body, limits);
}

absl::Status Bridge::RecvBuffer(google::protobuf::Message* out,
                                const RecvOptions& options) {
  absl::StatusOr<ReceivedMessage> message = RecvRaw(options);
  if (!message.ok()) return message.status();
  if (message->kind() != MessageKind::kTyped) {
    return absl::InvalidArgumentError(
        "received a Value, not a typed protobuf message; use RecvBuffer()");
  }
  absl::StatusOr<std::string> body = message->ReadAll();
  if (!body.ok()) return body.status();
  if (body->size() < 2) return absl::InvalidArgumentError("malformed typed message");
  const size_t name_size = big_endian::Load16(body->data());
  if (body->size() < 2 + name_size) {
    return absl::InvalidArgumentError("malformed typed message");
  }
  const absl::string_view name = absl::string_view(*body).substr(2, name_size);
  const std::string& expected = out->GetDescriptor()->full_name();
  if (name != expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "received a ", name, ", not a ", expected));
  }
  if (!out->ParseFromArray(body->data() + 2 + name_size,
                           static_cast<int>(body->size() - 2 - name_size))) {
    return absl::InvalidArgumentError(
        absl::StrCat("the received ", name, " does not parse"));
  }
  return absl::OkStatus();
}

void Bridge::SetStreamHandler(std::shared_ptr<StreamHandler> handler) {
  handler->Attach(this);
  bool closed_already;
  {
    MutexLock state(&state_mu_);
    stream_handler_ = handler;
    closed_already = closed_;
  }
  stream_handler_raw_.store(handler.get(), std::memory_order_release);
  // Closed before the handler was in place: Fail did not tell it.
  if (closed_already) handler->OnConnectionClosed(status());
}

void Bridge::Notify() {
  // Only threads in Await wait for what Notify announces; none: no lock,
  // no wake-up (see the counting in Await).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (awaiting_.load() == 0) return;
  MutexLock state(&state_mu_);
  state_cv_.SignalAll();
}

void Bridge::ResumeLoopReading() {
  // Not on a thread that reads this Bridge now (it holds read_mu_, and goes
  // on reading anyway): a callback it dispatches may get here.
  if (ReadingOnThisThread()) return;
  if (closed() || !caller_mode_.load() || !read_mu_.TryLock()) return;
  HandReadingToLoop();
}


void Bridge::ResumeLoopReadingSoon() {
  if (!caller_mode_.load()) return;
  std::weak_ptr<Bridge> weak = weak_from_this();
  loop_->Post([weak] {
    if (std::shared_ptr<Bridge> self = weak.lock()) self->ResumeLoopReading();
  });
}

bool Bridge::Await(const std::function<bool()>& ready, absl::Time deadline) {
  // A reader blocked in recv notices local events (a cancellation, another
  // thread's completion) only when data arrives, so it blocks at most this
  // long at a time. Longer waits keep one constant receive timeout: no
  // setsockopt per call.
  constexpr absl::Duration kSlice = absl::Milliseconds(20);
  // Counted before `ready` is first checked (Notify skips when zero).
  awaiting_.fetch_add(1);
  // On the way out, a caller that read hands reading back to the loop after
  // the linger, unless a caller reads again by then (ScheduleRearmCheck).
  bool read = false;
  struct Leave {
    Bridge* bridge;
    const bool* read;
    ~Leave() {
      bridge->awaiting_.fetch_sub(1);
      if (*read && bridge->caller_mode_.load()) bridge->ScheduleRearmCheck();
    }
  } leave{this, &read};
  for (;;) {
    bool paused;
    {
      MutexLock state(&state_mu_);
      if (ready()) return true;
      if (closed_ || absl::Now() >= deadline) return false;
      paused = input_paused_;  // Then wait for the writer to resume it.
    }
    if (!paused && read_mu_.TryLock()) {
      read = true;
      if (!caller_mode_.exchange(true)) SetInterest(kCallerReading, true);
      // (Test hook, arg: this Bridge: a caller holds the read token, so what
      // arrives now is read on its thread, not the loop's.)
      transport::SyncPoint("Bridge::Await:caller_reads", this);
      for (;;) {
        input_pending_.store(false);
        const absl::Time now = absl::Now();
        const absl::Time until = deadline - now > kSlice ? now + kSlice : deadline;
        if (output_pending_.load()) {
          if (WaitForInput(until)) ProcessInput(ReadMode::kUntilShortRead);
        } else if (deadline - now > kSlice) {
          SetReceiveTimeoutFor(kSlice);
          ProcessInput(ReadMode::kBlockFirst);
        } else if (SetReceiveTimeout(deadline)) {
          ProcessInput(ReadMode::kBlockFirst);
        }
        MutexLock state(&state_mu_);
        if (ready() || closed_ || input_paused_ || absl::Now() >= until) break;
      }
      last_caller_read_.store(absl::ToUnixNanos(absl::Now()));
      read_mu_.Unlock();
      ReadPendingInput();
      Notify();  // Another waiter may take over reading.
    } else {
      MutexLock state(&state_mu_);
      // Paused: wait for the flush that resumes reading, unless it came
      // since we looked (UpdateQueuedLocked signalled then, before this wait).
      if (!ready() && !closed_ && (!paused || input_paused_)) {
        state_cv_.WaitWithDeadline(
            &state_mu_, std::min(deadline, absl::Now() + absl::Milliseconds(50)));
      }
    }
  }
}

// ---- Keepalive, closing ----

bool Bridge::SetReceiveTimeout(absl::Time deadline) {
  absl::Duration timeout = absl::ZeroDuration();  // 0 = block forever.
  if (deadline != absl::InfiniteFuture()) {
    timeout = deadline - absl::Now();
    if (timeout <= absl::ZeroDuration()) return false;
    timeout = std::max(timeout, absl::Milliseconds(1));
  }
  SetReceiveTimeoutFor(timeout);
  return true;
}

void Bridge::SetReceiveTimeoutFor(absl::Duration timeout) {
  if (timeout != receive_timeout_) {
    const timeval tv = absl::ToTimeval(timeout);
    setsockopt(socket_.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    receive_timeout_ = timeout;
  }
}

bool Bridge::WaitForInput(absl::Time deadline) {
  // POLLOUT while output waits for writability, until another thread holds
  // the writer role: it is told, and polling on would spin.
  bool watch_output = true;
  for (;;) {
    pollfd p{socket_.fd(), POLLIN, 0};
    if (watch_output && output_pending_.load()) p.events |= POLLOUT;
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      timeout_ms = static_cast<int>(
          absl::ToInt64Milliseconds(left + absl::Microseconds(999)));
    }
    const int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0;  // Timeout: false; poll error: let read report.
    if ((p.revents & POLLOUT) != 0) watch_output = ContinueWriting();
    if ((p.revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP)) != 0) return true;
  }
}

}  // namespace netstructer
