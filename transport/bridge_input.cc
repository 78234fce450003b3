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
#include "netstructer/transport/work_pool.h"
#include "transport/bridge_internal.h"

namespace netstructer {

using transport::FrameType;
using transport::MessageKind;
namespace big_endian = transport::big_endian;
using bridge_internal::NowSeconds;

namespace bridge_internal {
thread_local const Bridge* tls_batching_bridge = nullptr;
thread_local const Bridge* tls_reading_bridge = nullptr;
}  // namespace bridge_internal

namespace {

// How long the loop stays disarmed after a caller's last receive before it
// takes over reading again (answering pings, absorbing messages). A server
// session hands reading back sooner: its RPC stream handlers read as callers,
// and frames for its other calls (new calls above all) must not wait long
// while a handler is busy between two reads.
constexpr absl::Duration kCallerModeLinger = absl::Milliseconds(50);
constexpr absl::Duration kServerCallerModeLinger = absl::Milliseconds(2);

// WINDOW_UPDATEs are batched (transport::ReceiveWindow): one per quarter
// window absorbed, so small messages never cost an extra frame.
constexpr size_t kReadChunkBytes = 64 * 1024;

absl::Status DecodeGoAway(absl::string_view payload) {
  if (payload.empty() || payload.size() > 1 + bridge_internal::kMaxStatusReasonBytes ||
      static_cast<uint8_t>(payload[0]) > 16) {
    return absl::DataLossError("malformed GOAWAY frame");
  }
  const auto code = static_cast<absl::StatusCode>(payload[0]);
  const std::string reason(payload.substr(1));
  if (code == absl::StatusCode::kOk) {
    return absl::OutOfRangeError(absl::StrCat(
        "end of stream: the peer closed the connection",
        reason.empty() ? "" : absl::StrCat(" (", reason, ")")));
  }
  return absl::Status(code, reason);
}

}  // namespace

// ---- Receiving ----

void Bridge::OnLoopEvent(uint32_t events) {
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    peer_hangup_seen_.store(true);
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    input_pending_.store(true);
    ReadPendingInput();
    state_cv_.SignalAll();  // A waiting receiver may now read itself.
  }
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
    (void)ContinueWriting();
  }
}

absl::Duration Bridge::CallerModeLinger() const {
  return role_ == Role::kServer ? kServerCallerModeLinger : kCallerModeLinger;
}

void Bridge::ScheduleRearmCheck() {
  // One check at a time: a caller that leaves Await schedules one unless one
  // is pending; the check reschedules itself while callers keep coming back
  // within the linger. A caller blocked in Await for long costs no timer.
  if (rearm_check_pending_.exchange(true)) return;
  const absl::Time last = absl::FromUnixNanos(last_caller_read_.load());
  std::weak_ptr<Bridge> weak = weak_from_this();
  loop_->AddRealTimeTimer(last + CallerModeLinger(), [weak] {
    if (std::shared_ptr<Bridge> self = weak.lock()) self->RearmCheck();
  });
}

void Bridge::RearmCheck() {
  // Cleared before read_mu_ is tried: a caller that unlocks it after our
  // TryLock failed finds no check pending and schedules the next.
  rearm_check_pending_.store(false);
  if (closed() || !caller_mode_.load()) return;
  if (!read_mu_.TryLock()) return;  // A caller reads; it schedules the next.
  const absl::Time last = absl::FromUnixNanos(last_caller_read_.load());
  if (absl::Now() - last < CallerModeLinger()) {
    read_mu_.Unlock();
    ScheduleRearmCheck();  // A caller read recently and may come back.
    return;
  }
  HandReadingToLoop();
}

void Bridge::HandReadingToLoop() {
  caller_mode_.store(false);
  SetInterest(kCallerReading, false);
  input_pending_.store(false);
  ProcessInput(ReadMode::kUntilEagain);  // What arrived while no one read.
  read_mu_.Unlock();
  // Input that the loop saw while we held read_mu_ (its TryLock failed and
  // left input_pending_): the edge-triggered loop will not report it again.
  ReadPendingInput();
  state_cv_.SignalAll();  // A waiting receiver may now read itself.
}

void Bridge::ReadPendingInput() {
  while (input_pending_.load() && read_mu_.TryLock()) {
    input_pending_.store(false);
    ProcessInput(ReadMode::kUntilShortRead);
    read_mu_.Unlock();
  }
}

void Bridge::ProcessInput(ReadMode mode) {
  struct ReadingScope {
    explicit ReadingScope(const Bridge* b) : previous(bridge_internal::tls_reading_bridge) {
      bridge_internal::tls_reading_bridge = b;
    }
    ~ReadingScope() { bridge_internal::tls_reading_bridge = previous; }
    const Bridge* const previous;
  } reading(this);
  char buf[kReadChunkBytes];
  bool first = true;
  for (;;) {
    {
      MutexLock state(&state_mu_);
      if (closed_ && eof_seen_) return;
      // Backpressure on a peer that sends but does not read: every request
      // it sends makes us queue an answer (a reply, a PING ACK, credit), so
      // a server-side session whose unread output is over the limit stops
      // reading until the peer has taken half of it (UpdateQueuedLocked),
      // whoever reads: the loop, or a caller in Await (a stream handler), which
      // then waits for the flush instead. A peer that never reads then never
      // answers our PINGs, and the keepalive closes it. Not on the client
      // side: if both sides paused, each would wait for the other. Not after
      // our GOAWAY, which ends our output.
      if (role_ == Role::kServer &&
          queued_bytes_ > options_.max_queued_send_bytes &&
          !goaway_out_.load()) {
        input_paused_ = true;
        SetInterest(kInputPaused, true);
        return;
      }
    }
    // The descriptor is blocking (see Start); every read but a caller's
    // first in kBlockFirst mode says MSG_DONTWAIT.
    const bool block = first && mode == ReadMode::kBlockFirst;
    first = false;
    const ssize_t n =
        recv(socket_.fd(), buf, sizeof(buf), block ? 0 : MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      eof_seen_ = true;
      Fail(transport::ErrnoStatus(absl::StatusCode::kUnavailable, errno,
                                  "the connection was lost"));
      return;
    }
    if (n == 0) {
      eof_seen_ = true;
      // Frames already complete are handled before the end is reported.
      for (;;) {
        absl::StatusOr<std::optional<std::string>> body = decoder_.Next();
        if (!body.ok() || !body->has_value()) break;
        absl::StatusOr<transport::OpenedFrame> frame = opener_.Open(**body);
        if (!frame.ok()) {
          CloseWithError(frame.status());
          return;
        }
        if (absl::Status s = HandleFrame(*std::move(frame)); !s.ok()) {
          CloseWithError(s);
          return;
        }
      }
      absl::Status end = decoder_.Finish();
      if (!end.ok()) {  // A truncated frame: the peer's error (8.4).
        CloseWithError(end);
        return;
      }
      {
        MutexLock state(&state_mu_);
        end = peer_goaway_.ok()
                  ? absl::UnavailableError(
                        "the connection was lost (closed without GOAWAY)")
                  : peer_goaway_;
      }
      Fail(end);
      return;
    }
    decoder_.Feed(absl::string_view(buf, static_cast<size_t>(n)));
    // A short read emptied the socket of data: no recv to prove it with
    // EAGAIN, for the loop on an event too. What arrives after the event
    // raises a new edge (epoll reports every arrival on an edge-triggered
    // descriptor). Not the peer's FIN or reset queued before the event:
    // recv returns the data before it and the end only on the next call,
    // and no edge comes for it; the event then carried EPOLLRDHUP/HUP/ERR
    // (peer_hangup_seen_), so read on. Without that exception a session
    // whose peer sent its last bytes and FIN together stayed open
    // (connection_fuzzer, CI 2026-12-05). Reading on until EAGAIN always
    // cost a system call per event and was W5's unfairness: the extra recv
    // often caught the peer's next request, so a few connections got two
    // calls a round (docs/BENCHMARKS.md, W5 fairness 0.41-0.63 -> 0.96).
    const bool drained = mode != ReadMode::kUntilEagain &&
                         !peer_hangup_seen_.load() &&
                         static_cast<size_t>(n) < sizeof(buf);
    OutputBatch batch(this);
    // The keepalive counts authenticated frames, not bytes: bytes that
    // never complete a frame (a corrupt length prefix, a cut stream) are
    // no sign of life, however many PINGs vanish into them.
    bool framed = false;
    for (;;) {
      absl::StatusOr<std::optional<std::string>> body = decoder_.Next();
      if (!body.ok()) {
        CloseWithError(body.status());
        return;
      }
      if (!body->has_value()) break;
      if (absl::Status refused = CheckLateRefusal(**body); !refused.ok()) {
        Fail(refused);
        return;
      }
      absl::StatusOr<transport::OpenedFrame> frame = opener_.Open(**body);
      if (!frame.ok()) {
        CloseWithError(frame.status());
        return;
      }
      if (absl::Status s = HandleFrame(*std::move(frame)); !s.ok()) {
        CloseWithError(s);
        return;
      }
      framed = true;
    }
    if (framed) {
      MutexLock state(&state_mu_);
      last_received_ = LoopNow();
      ping_outstanding_ = false;
    }
    if (drained) break;
  }
  SendPendingCredit(/*force=*/false);
}

absl::Status Bridge::CheckLateRefusal(absl::string_view body) {
  // A server that rejects our ClientFinished answers with a plaintext
  // REFUSAL (server sequence 1) where its first sealed frame would be
  // (docs/PROTOCOL.md 7): a Fernet token starts with 0x80, an inner frame's
  // sequence number with 0x00.
  if (role_ != Role::kClient || !secure_ || opener_.next_sequence() != 0 ||
      body.empty() || body[0] != 0) {
    return absl::OkStatus();
  }
  absl::StatusOr<transport::FrameHeader> header =
      transport::DecodeFrameHeader(body);
  if (!header.ok() || header->type != FrameType::kRefusal) {
    return absl::OkStatus();  // Not a refusal: the opener will reject it.
  }
  absl::Status refused =
      transport::RefusalToStatus(body.substr(transport::kPayloadOffset));
  return refused.ok() ? absl::DataLossError("malformed REFUSAL") : refused;
}

absl::Status Bridge::HandleFrame(transport::OpenedFrame frame) {
  const transport::FrameHeader& h = frame.header;
  if (h.stream_id == transport::kConnectionStreamId) {
    switch (h.type) {
      case FrameType::kPing:
        if (frame.payload.size() != transport::kPingBytes) {
          return absl::DataLossError("malformed PING frame");
        }
        if (!h.has_flag(transport::kFlagAck)) {
          absl::Status s =
              SendFrame(transport::kConnectionStreamId, FrameType::kPing,
                        transport::kFlagAck, frame.payload, false);
          // After our GOAWAY we send nothing, answers included: a PING that
          // crossed it (a keepalive) must not fail the connection, which
          // would cut a graceful close short (found by the connection fuzz
          // target, corpus/connection/ping_crossing_goaway).
          return goaway_out_.load() ? absl::OkStatus() : s;
        }
        return absl::OkStatus();
      case FrameType::kWindowUpdate: {
        if (frame.payload.size() != transport::kWindowUpdateBytes) {
          return absl::DataLossError("malformed WINDOW_UPDATE frame");
        }
        const uint32_t increment = big_endian::Load32(frame.payload.data());
        MutexLock state(&state_mu_);
        if (!send_window_.Grant(increment)) {
          return absl::DataLossError("bad WINDOW_UPDATE increment");
        }
        state_cv_.SignalAll();
        return absl::OkStatus();
      }
      case FrameType::kGoAway: {
        absl::Status carried = DecodeGoAway(frame.payload);
        if (carried.code() == absl::StatusCode::kDataLoss) return carried;
        {
          MutexLock state(&state_mu_);
          peer_goaway_ = carried;
          peer_goaway_seen_ = true;
          // An answer only if ours went out first (an unsolicited ACK
          // confirms nothing).
          peer_goaway_answers_ours_ =
              h.has_flag(transport::kFlagAck) && goaway_out_.load();
        }
        // The peer has sent its last frame: confirm we have everything up
        // to here by answering with our own GOAWAY (ACK: an answer, not a
        // close of our own; none if we sent ours already), and stop sending.
        SendGoAway(absl::StatusCode::kOk, "", /*answer=*/true);
        return absl::OkStatus();
      }
      default:
        break;
    }
  } else if (h.stream_id == transport::kBridgeStreamId) {
    if (h.type == FrameType::kData) return HandleData(std::move(frame));
  } else if (StreamHandler* handler =
                 stream_handler_raw_.load(std::memory_order_acquire);
             handler != nullptr) {
    {
      MutexLock state(&state_mu_);
      last_activity_ = LoopNow();
    }
    return handler->OnStreamFrame(std::move(frame));
  }
  return absl::DataLossError(absl::StrCat(
      "unexpected ", transport::FrameTypeName(h.type), " frame on stream ",
      h.stream_id));
}

absl::Status Bridge::HandleData(transport::OpenedFrame frame) {
  const uint64_t frame_bytes = frame.payload.size();
  {
    MutexLock state(&state_mu_);
    if (!window_.Receive(frame_bytes)) {
      return absl::DataLossError("the peer sent more than its flow-control window");
    }
  }
  using Outcome = transport::MessageAssembler::Outcome;
  transport::MessageAssembler::Result fed = assembler_.Feed(
      frame.payload, frame.header.has_flag(transport::kFlagEndMessage));
  switch (fed.outcome) {
    case Outcome::kIncomplete:
    case Outcome::kComplete:
      break;
    case Outcome::kStorageError:
      return LocalStorageFailure(std::move(fed.status));
    case Outcome::kPeerError:
    case Outcome::kTooLarge:  // Not with discard_oversized; fatal if it were.
      return fed.status;
  }
  ReturnCredit(frame_bytes);
  if (fed.outcome == Outcome::kIncomplete) return absl::OkStatus();
  transport::AssembledMessage whole = assembler_.Take();
  InboxItem item;
  if (!whole.discarded.ok()) {
    item.status = std::move(whole.discarded);
  } else {
    item.message.kind_ = static_cast<MessageKind>(whole.kind);
    item.message.size_ = whole.size;
    if (whole.file.has_value()) {
      item.message.file_ = std::move(whole.file);
    } else {
      item.message.memory_ = std::move(whole.memory);
    }
  }
  {
    MutexLock state(&state_mu_);
    window_.Queued(item.message.size_);
    last_activity_ = LoopNow();
    inbox_.push_back(std::move(item));
    state_cv_.SignalAll();
  }
  ScheduleDelivery();
  return absl::OkStatus();
}

void Bridge::ReturnCredit(uint64_t bytes) {
  MutexLock state(&state_mu_);
  window_.Stored(bytes);
}

void Bridge::SendPendingCredit(bool force) {
  uint32_t credit = 0;
  {
    MutexLock state(&state_mu_);
    if (closed_) return;
    credit = window_.TakeCredit(force);
    if (credit == 0) return;
  }
  char payload[transport::kWindowUpdateBytes];
  big_endian::Store32(credit, payload);
  (void)SendFrame(transport::kConnectionStreamId, FrameType::kWindowUpdate, 0,
                  absl::string_view(payload, sizeof(payload)), false);
}

bool Bridge::ReadingOnThisThread() const { return bridge_internal::tls_reading_bridge == this; }

}  // namespace netstructer
