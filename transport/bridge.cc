#include "netstructer/transport/bridge.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

namespace {

// GOAWAY payload: u8 status code | reason (docs/PROTOCOL.md 8.3).
std::string EncodeStatusPayload(absl::StatusCode code, absl::string_view reason) {
  // The REFUSAL's reason rules (transport/handshake_messages.h): valid
  // UTF-8, cut at a character boundary.
  return std::string(1, static_cast<char>(code)) +
         transport::SanitizeUtf8(reason, bridge_internal::kMaxStatusReasonBytes);
}

}  // namespace

absl::StatusOr<std::string> ReceivedMessage::Read(uint64_t offset,
                                                  size_t length) const {
  if (file_.has_value()) return file_->Read(offset, length);
  if (offset > memory_.size() || length > memory_.size() - offset) {
    return absl::OutOfRangeError("read past the end of a message");
  }
  return memory_.substr(offset, length);
}

std::shared_ptr<Bridge> Bridge::Adopt(
    transport::Socket socket, std::shared_ptr<transport::EventLoop> loop,
    Role role, std::optional<transport::FernetKey> send_key,
    std::optional<transport::FernetKey> recv_key,
    const BridgeOptions& options,
    std::shared_ptr<StreamHandler> stream_handler) {
  std::shared_ptr<Bridge> bridge(new Bridge(std::move(socket), std::move(loop),
                                            role, std::move(send_key),
                                            std::move(recv_key), options));
  if (stream_handler != nullptr) bridge->SetStreamHandler(std::move(stream_handler));
  bridge->Start();
  return bridge;
}

namespace {
transport::FrameSealer MakeSealer(const std::optional<transport::FernetKey>& key,
                                  const BridgeOptions& options) {
  transport::SealerOptions o;
  return key.has_value() ? transport::FrameSealer::Secure(*key, o)
                         : transport::FrameSealer::Insecure(o);
}
transport::FrameOpener MakeOpener(const std::optional<transport::FernetKey>& key,
                                  const BridgeOptions& options) {
  transport::OpenerOptions o;
  o.max_decompressed_bytes = options.max_frame_bytes;
  return key.has_value() ? transport::FrameOpener::Secure(*key, o)
                         : transport::FrameOpener::Insecure(o);
}
transport::AssemblerOptions BridgeAssemblerOptions(const BridgeOptions& options) {
  transport::AssemblerOptions a;
  a.kind_mask = (uint32_t{1} << static_cast<int>(MessageKind::kValue)) |
                (uint32_t{1} << static_cast<int>(MessageKind::kTyped));
  a.max_message_bytes = options.max_message_bytes;
  a.memory_threshold_bytes = options.memory_threshold_bytes;
  a.spill_directory = options.spill_directory;
  a.discard_oversized = true;  // The stream goes on; the receiver is told.
  return a;
}
}  // namespace

Bridge::Bridge(transport::Socket socket,
               std::shared_ptr<transport::EventLoop> loop, Role role,
               std::optional<transport::FernetKey> send_key,
               std::optional<transport::FernetKey> recv_key,
               const BridgeOptions& options)
    : role_(role),
      secure_(send_key.has_value()),
      options_(options),
      socket_(std::move(socket)),
      loop_(std::move(loop)),
      decoder_(transport::FrameDecoderOptions{options.max_frame_bytes}),
      opener_(MakeOpener(recv_key, options)),
      assembler_(BridgeAssemblerOptions(options)),
      sealer_(MakeSealer(send_key, options)),
      window_(transport::kInitialWindowBytes, options.max_inbox_bytes) {
  if (absl::StatusOr<transport::SocketAddress> peer =
          transport::PeerAddress(socket_.fd());
      peer.ok()) {
    peer_ip_ = peer->HostString();
    peer_address_ = peer->ToString();
  }
  const absl::Time now = LoopNow();
  last_received_ = now;
  last_activity_ = now;
}

Bridge::~Bridge() {
  // The loop is an EventLoopGroup's assignment: releasing it, even here
  // on the loop's own thread, is the group's business.
  Abort(absl::CancelledError("the Bridge was destroyed"));
}

void Bridge::Start() {
  // Blocking descriptor, MSG_DONTWAIT on every call that must not block: a
  // caller waiting for a message can then sleep in recv itself.
  const int flags = fcntl(socket_.fd(), F_GETFL);
  if (flags >= 0) fcntl(socket_.fd(), F_SETFL, flags & ~O_NONBLOCK);
  std::weak_ptr<Bridge> weak = weak_from_this();
  absl::Status s = loop_->Watch(
      socket_.fd(), EPOLLIN | EPOLLRDHUP, [weak](uint32_t events) {
        if (std::shared_ptr<Bridge> self = weak.lock()) self->OnLoopEvent(events);
      });
  if (!s.ok()) {
    Fail(s);
    return;
  }
  // The peer may have sent frames already (before we watched the socket).
  input_pending_.store(true);
  loop_->Post([weak] {
    if (std::shared_ptr<Bridge> self = weak.lock()) self->OnLoopEvent(EPOLLIN);
  });
  const absl::Duration tick = std::clamp(
      std::min({options_.keepalive_interval, options_.idle_timeout,
                options_.max_lifetime}) / 4,
      absl::Milliseconds(5), absl::Seconds(1));
  MutexLock lock(&state_mu_);
  keepalive_timer_ = loop_->AddTimer(LoopNow() + tick, [weak] {
    if (std::shared_ptr<Bridge> self = weak.lock()) self->OnKeepaliveTimer();
  });
}

void Bridge::OnKeepaliveTimer() {
  const absl::Time now = LoopNow();
  bool send_ping = false;
  absl::Status fail;
  bool idle = false;
  {
    MutexLock state(&state_mu_);
    if (closed_) return;
    const absl::Duration silent = now - last_received_;
    if (silent > options_.keepalive_interval + options_.keepalive_timeout) {
      fail = absl::UnavailableError(absl::StrCat(
          "the connection was lost: nothing from the peer for ",
          absl::FormatDuration(silent), " (keepalive)"));
    } else if (silent > options_.keepalive_interval && !ping_outstanding_) {
      ping_outstanding_ = true;
      send_ping = true;
    }
    idle = now - last_activity_ > options_.idle_timeout;
  }
  if (!fail.ok()) {
    Fail(fail);
    return;
  }
  if (idle) {
    CloseWithError(absl::UnavailableError(absl::StrCat(
        "closed after ", absl::FormatDuration(options_.idle_timeout),
        " without messages (idle_timeout)")));
    return;
  }
  if (now - created_ > options_.max_lifetime) {
    CloseWithError(absl::UnavailableError(
        absl::StrCat("closed after ", absl::FormatDuration(options_.max_lifetime),
                     " (max_lifetime); reconnect")));
    return;
  }
  if (send_ping) {
    (void)SendFrame(transport::kConnectionStreamId, FrameType::kPing, 0,
                    "netstruc", false);
  }
  const absl::Duration tick = std::clamp(
      std::min({options_.keepalive_interval, options_.idle_timeout,
                options_.max_lifetime}) / 4,
      absl::Milliseconds(5), absl::Seconds(1));
  std::weak_ptr<Bridge> weak = weak_from_this();
  MutexLock state(&state_mu_);
  if (closed_) return;
  keepalive_timer_ = loop_->AddTimer(now + tick, [weak] {
    if (std::shared_ptr<Bridge> self = weak.lock()) self->OnKeepaliveTimer();
  });
}

absl::Status Bridge::Close(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  SendGoAway(absl::StatusCode::kOk, "");
  // Wait for the peer's GOAWAY (or the end of the connection), reading on
  // this thread when no one else is.
  for (;;) {
    {
      MutexLock state(&state_mu_);
      if (peer_goaway_seen_ || closed_) break;
    }
    if (absl::Now() >= deadline) break;
    if (read_mu_.TryLock()) {
      input_pending_.store(false);
      ProcessInput(ReadMode::kUntilEagain);
      read_mu_.Unlock();
      bool done;
      {
        MutexLock state(&state_mu_);
        done = peer_goaway_seen_ || closed_;
      }
      if (!done) transport::WaitReadable(socket_.fd(), deadline);
    } else {
      MutexLock state(&state_mu_);
      if (!peer_goaway_seen_ && !closed_) {
        state_cv_.WaitWithDeadline(
            &state_mu_, std::min(deadline, absl::Now() + absl::Milliseconds(50)));
      }
    }
  }
  absl::Status result;
  {
    MutexLock state(&state_mu_);
    if (peer_goaway_seen_ && peer_goaway_answers_ours_) {
      result = absl::OkStatus();  // The peer had every message before ours.
    } else if (peer_goaway_seen_ && !peer_goaway_.ok() &&
               peer_goaway_.code() != absl::StatusCode::kOutOfRange) {
      result = DetachedStatus(peer_goaway_);  // It closed on its own: why.
    } else if (peer_goaway_seen_) {
      // Its GOAWAY crossed ours: it says nothing of what the peer read.
      result = absl::UnavailableError(
          "the peer closed the connection on its own (its GOAWAY did not "
          "answer ours): delivery of the last messages is not confirmed");
    } else if (closed_ && closed_status_.code() != absl::StatusCode::kFailedPrecondition) {
      result = closed_status_;
    } else {
      result = absl::DeadlineExceededError(
          "the peer did not confirm the close in time");
    }
  }
  Fail(absl::FailedPreconditionError("this Bridge was closed"));
  return result;
}

void Bridge::SendGoAway(absl::StatusCode code, absl::string_view reason,
                        bool answer) {
  MutexLock lock(&write_mu_);
  if (goaway_sent_) return;
  goaway_sent_ = true;
  goaway_out_.store(true);
  {
    // Nothing more will be answered: read again (the peer's GOAWAY, its end).
    MutexLock state(&state_mu_);
    if (input_paused_) {
      input_paused_ = false;
      SetInterest(kInputPaused, false);
    }
  }
  // Closing with an error (the idle timeout): a send racing with the close
  // reports it, as it will once the close is complete.
  if (code != absl::StatusCode::kOk) goaway_error_ = absl::Status(code, reason);
  {
    MutexLock state(&state_mu_);
    if (closed_) return;
  }
  // Queued behind everything before it. The writer shuts down our sending
  // side once it is all on the wire: now, the thread writing the queue, or
  // whoever takes the role on when a full socket becomes writable. Never
  // waits for the socket: this also runs on the loop thread (idle timeout,
  // the peer's GOAWAY), where waiting for a peer that does not read would
  // stall every session of the loop; at most for another writer's round
  // of non-blocking sends (below).
  (void)sealer_.Seal(transport::kConnectionStreamId, FrameType::kGoAway,
                     answer ? transport::kFlagAck : 0,
                     EncodeStatusPayload(code, reason), false, NowSeconds(),
                     &queue_);
  // Another thread writing the queue writes the GOAWAY with it, but the
  // caller may end the connection next (CloseWithError, the reader at the
  // peer's EOF), which would cut that write short: wait for its round (a
  // few non-blocking sends; nothing is queued after a GOAWAY), so that the
  // GOAWAY has left, as far as the socket takes it, when this returns.
  while (writer_ == Writer::kWriting) {
    // (Test hook, arg: this Bridge: a GOAWAY waits for another writer.)
    transport::SyncPoint("Bridge::SendGoAway:waits_for_writer", this);
    write_cv_.Wait(&write_mu_);
  }
  // A write that fails from here on never ends the connection with the
  // socket's error (our GOAWAY has gone): a closer Fails with its own
  // status next, a graceful Close waits for the peer's word or its end.
  (void)FlushLocked();
}

void Bridge::Abort(absl::Status status) { Fail(std::move(status)); }

std::optional<int> Bridge::key_index() const {
  const int index = key_index_.load();
  return index < 0 ? std::nullopt : std::optional<int>(index);
}

void Bridge::SetKeyIndex(int index) { key_index_.store(index); }

absl::Status Bridge::LocalStorageFailure(absl::Status status) {
  // Our own failure, not the peer's: it learns that the connection ends,
  // not our paths or errno (the GOAWAY goes first, so CloseWithError's one
  // is not sent).
  SendGoAway(absl::StatusCode::kInternal,
             "the receiver could not store a message");
  return status;
}

void Bridge::CloseWithError(absl::Status status) {
  // The peer learns why (docs/PROTOCOL.md 8.3): the GOAWAY is queued behind
  // what was sent before it and written if the socket takes it now; the
  // close does not wait for a peer that does not read.
  SendGoAway(status.code(), status.message());
  Fail(std::move(status));
}

void Bridge::Fail(absl::Status status) {
  std::function<void(Bridge*)> callback;
  transport::EventLoop::TimerId timer = 0;
  std::shared_ptr<StreamHandler> handler;
  {
    MutexLock state(&state_mu_);
    if (closed_) return;
    closed_ = true;
    closed_status_ = MarkConnectionEnd(
        status.ok() ? absl::UnavailableError("closed") : status);
    callback = std::move(close_callback_);
    close_callback_ = nullptr;
    timer = keepalive_timer_;
    keepalive_timer_ = 0;
    handler = stream_handler_;
    state_cv_.SignalAll();
  }
  // Wakes any thread polling the socket; the descriptor itself is closed by
  // the destructor, so it cannot be reused under a concurrent reader.
  shutdown(socket_.fd(), SHUT_RDWR);
  if (loop_ != nullptr) {
    loop_->Unwatch(socket_.fd());
    if (timer != 0) loop_->CancelTimer(timer);
  }
  if (handler != nullptr) {
    // Not here: Fail may run with the write lock held, and the handler
    // completes calls (user callbacks may send).
    if (loop_ != nullptr) {
      loop_->Post([handler, status = DetachedStatus(status)] {
        handler->OnConnectionClosed(status);
      });
    } else {
      handler->OnConnectionClosed(status);
    }
  }
  ScheduleDelivery();  // The end, after what is queued.
  if (callback) callback(this);
}

bool Bridge::closed() const {
  MutexLock state(&state_mu_);
  return closed_;
}

absl::Status Bridge::status() const {
  MutexLock state(&state_mu_);
  return closed_ ? closed_status_ : absl::OkStatus();
}

void Bridge::SetCloseCallback(std::function<void(Bridge*)> callback) {
  bool run_now = false;
  {
    MutexLock state(&state_mu_);
    if (closed_) {
      run_now = true;
    } else {
      close_callback_ = std::move(callback);
    }
  }
  if (run_now && callback) callback(this);
}

}  // namespace netstructer
