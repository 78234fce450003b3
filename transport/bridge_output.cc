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
#include "netstructer/transport/outgoing_message.h"
#include "netstructer/transport/sync_point.h"
#include "netstructer/transport/work_pool.h"
#include "transport/bridge_internal.h"

namespace netstructer {

using transport::FrameType;
using transport::MessageKind;
namespace big_endian = transport::big_endian;
using bridge_internal::NowSeconds;

namespace {
// Batched output larger than this is written at once (see SendFrames).
constexpr size_t kBatchFlushBytes = size_t{128} << 10;
}  // namespace

// ---- Sending ----

absl::Status Bridge::SendBuffer(const Value& value) {
  ValueLimits limits = options_.value_limits;
  limits.max_input_bytes = options_.max_message_bytes;
  if (absl::Status s = Validate(value, limits); !s.ok()) return s;
  return SendMessage(MessageKind::kValue, "", EncodeValue(value));
}

absl::Status Bridge::SendBuffer(const google::protobuf::Message& message) {
  const std::string& name = message.GetDescriptor()->full_name();
  if (name.size() > 0xffff) {
    return absl::InvalidArgumentError("message type name too long");
  }
  std::string prefix(2, '\0');
  big_endian::Store16(static_cast<uint16_t>(name.size()), prefix.data());
  prefix += name;
  std::string bytes;
  if (!message.SerializeToString(&bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot serialize a ", name, " (missing required fields?)"));
  }
  return SendMessage(MessageKind::kTyped, prefix, bytes);
}

absl::Status Bridge::SendMessage(MessageKind kind, absl::string_view prefix,
                                 absl::string_view body) {
  const uint64_t body_size = prefix.size() + body.size();
  if (body_size > options_.max_message_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "message of ", body_size, " bytes exceeds max_message_bytes ",
        options_.max_message_bytes));
  }
  // On an event loop's thread (a message callback, a reactor) a send never
  // waits: the credit and room it would wait for come through a loop,
  // perhaps this very one, and a peer that does not read would stall every
  // connection on it for good. So it does not wait for another sender's
  // message either (that sender may be waiting for the credit this loop
  // would read); the whole message fits now, or none of it goes; once
  // admitted it is queued whole (one message past the queue's soft limit
  // at most, as a blocking sender's last fragment may be).
  const bool on_loop = transport::EventLoop::Current() != nullptr;
  if (!on_loop) {
    send_mu_.Lock();
  } else if (!send_mu_.TryLock()) {
    return absl::ResourceExhaustedError(
        "another thread is sending a message on this Bridge (it may be "
        "waiting for the peer's credit), and a send on an event loop's "
        "thread (a message callback) never waits; nothing of this one was "
        "sent: send from another thread, or drop it, or close the session");
  }
  absl::Status status = SendMessageLocked(kind, prefix, body, on_loop);
  send_mu_.Unlock();
  return status;
}

absl::Status Bridge::SendMessageLocked(MessageKind kind,
                                       absl::string_view prefix,
                                       absl::string_view body, bool on_loop) {
  {
    MutexLock lock(&write_mu_);
    if (goaway_sent_) return ClosedForSendingLocked();
  }
  transport::OutgoingMessage message(static_cast<uint8_t>(kind), prefix, body);
  if (on_loop) {
    MutexLock lock(&state_mu_);
    if (closed_) return closed_status_;
    if (!send_window_.Allows(message.size()) ||
        queued_bytes_ > options_.max_queued_send_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the peer is not taking messages: sending this one (",
          message.size(), " bytes) would wait for its credit (",
          std::max<int64_t>(send_window_.credit(), 0),
          " bytes left) or for room in the send queue (", queued_bytes_,
          " bytes queued; a message larger than the peer's window, 16 MiB "
          "with our peers, never fits), and a send on an event loop's thread "
          "(a message callback) never waits; nothing of it was sent: send "
          "from another thread, or drop it, or close the session"));
    }
  }
  const size_t chunk = std::max<size_t>(options_.fragment_bytes, 64);
  std::string assembled;  // A fragment that is not one slice of the body.
  while (!message.done()) {
    const size_t bytes = message.NextSize(chunk);
    // Flow control: wait for credit for this fragment, and for room in the
    // send queue.
    {
      MutexLock lock(&state_mu_);
      while (!closed_ &&
             (!send_window_.Allows(bytes) ||
              (!on_loop && queued_bytes_ > options_.max_queued_send_bytes))) {
        // (Test hook, arg: this Bridge: a sender holding send_mu_ waits.)
        transport::SyncPoint("Bridge::SendMessage:waits", this);
        state_cv_.Wait(&state_mu_);
      }
      if (closed_) return closed_status_;
      send_window_.Take(bytes);
      last_activity_ = LoopNow();
    }
    assembled.clear();
    const absl::string_view payload = message.Take(bytes, &assembled);
    absl::Status s = SendFrame(
        transport::kBridgeStreamId, FrameType::kData,
        message.done() ? transport::kFlagEndMessage : 0, payload,
        options_.compression);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Bridge::SendStreamFrame(uint32_t stream, FrameType type,
                                     uint8_t flags, absl::string_view payload,
                                     bool allow_compression) {
  return SendFrame(stream, type, flags, payload,
                   allow_compression && options_.compression);
}

absl::Status Bridge::SendStreamFrames(
    absl::Span<const transport::FrameToSeal> frames) {
  absl::InlinedVector<transport::FrameToSeal, 16> checked(frames.begin(),
                                                          frames.end());
  // Side by side only where it pays (measured, W3 of docs/BENCHMARKS.md):
  // two or more frames of 16 KiB and up whose payloads compress, where lz4
  // costs more than Fernet and the peer's opening is cheap. Fernet alone is
  // not worth it on two cores: the peer's opening needs the other core.
  constexpr size_t kParallelMinPayloadBytes = 16 << 10;
  int large = 0;
  for (transport::FrameToSeal& f : checked) {
    f.allow_compression = f.allow_compression && options_.compression;
    if (f.allow_compression && f.payload.size() >= kParallelMinPayloadBytes) {
      ++large;
    }
  }
  return SendFrames(checked, large >= 2);
}

absl::Status Bridge::ClosedForSendingLocked() const {
  // Closing with an error (the idle timeout): a send racing with the close
  // reports it, as it will once the close is complete. Our GOAWAY answered
  // the peer's, which carried an error (its lifetime limit, a revoked key):
  // that error says why.
  if (!goaway_error_.ok()) return MarkConnectionEnd(DetachedStatus(goaway_error_));
  {
    MutexLock state(&state_mu_);
    if (peer_goaway_seen_ && !peer_goaway_.ok() &&
        peer_goaway_.code() != absl::StatusCode::kOutOfRange) {
      return MarkConnectionEnd(DetachedStatus(peer_goaway_));
    }
  }
  return MarkConnectionEnd(absl::FailedPreconditionError(
      "this Bridge was closed for sending (GOAWAY sent)"));
}

absl::Status Bridge::SendFrame(uint32_t stream, FrameType type, uint8_t flags,
                               absl::string_view payload,
                               bool allow_compression) {
  const transport::FrameToSeal frame{stream, type, flags, payload,
                                     allow_compression};
  return SendFrames(absl::MakeConstSpan(&frame, 1), false);
}

absl::Status Bridge::SendFrames(
    absl::Span<const transport::FrameToSeal> frames, bool side_by_side) {
  bool write = false;
  absl::Status sealed;
  {
    MutexLock lock(&write_mu_);
    const int lanes = side_by_side && sealer_.last_compressed()
                          ? transport::WorkPoolLanes()
                          : 1;
    // On an error in frame k the frames before it are queued: they go out.
    sealed = SealFramesLocked(frames, lanes);
    if (bridge_internal::tls_batching_bridge == this &&
        queue_.size() < kBatchFlushBytes) {
      if (!queue_.empty()) batched_output_.store(true);  // At the batch's end.
    } else {
      write = TakeWriterRoleLocked();
    }
    // The count of queued bytes: at the end of our round if we write, else
    // now (senders waiting for room, the input pause read it).
    if (!write) UpdateQueuedLocked();
  }
  // Written here, without the lock, unless another thread holds the role:
  // then it writes these frames with its own, and this sender goes on.
  absl::Status written = write ? WriteAsWriter() : absl::OkStatus();
  return sealed.ok() ? written : sealed;
}

absl::Status Bridge::SealFramesLocked(
    absl::Span<const transport::FrameToSeal> frames, int lanes) {
  if (goaway_sent_) return ClosedForSendingLocked();
  {
    MutexLock state(&state_mu_);
    if (closed_) return closed_status_;
  }
  // Between the frames of a batch, the queue is written at once (if no one
  // else is writing), so the peer opens these frames while we seal the next
  // (a 1 MiB response is 16 frames); batched output waits for the end of
  // the reading thread's batch unless it holds a large message's worth.
  // The last frame is written by SendFrames, without the lock.
  absl::Status flushed;
  size_t sealed = 0;
  auto appended = [&] {
    write_mu_.AssertHeld();
    if (++sealed == frames.size()) return;
    if (bridge_internal::tls_batching_bridge == this &&
        queue_.size() < kBatchFlushBytes) {
      return;
    }
    if (absl::Status f = FlushLocked(); !f.ok() && flushed.ok()) flushed = f;
  };
  if (lanes == 1) {  // In turn, straight into the queue.
    for (const transport::FrameToSeal& f : frames) {
      if (absl::Status s =
              sealer_.Seal(f.stream_id, f.type, f.flags, f.payload,
                           f.allow_compression, NowSeconds(), &queue_);
          !s.ok()) {
        return s;
      }
      appended();
    }
    return flushed;
  }
  absl::Status s =
      sealer_.SealBatch(frames, lanes, NowSeconds(), &queue_, appended);
  return s.ok() ? flushed : s;
}

bool Bridge::TakeWriterRoleLocked() {
  switch (writer_) {
    case Writer::kWriting:
      return false;  // Its holder takes what we queued.
    case Writer::kAwaitingWritable:
      // Tried again now rather than only when the loop hears the socket is
      // writable: a sender that keeps the socket fed saves the loop a wake-up
      // and a hand-off per burst (W3 and W4 lost 10-17% without this).
      writer_ = Writer::kWriting;
      writable_seen_ = false;  // Our first send sees the socket as it is.
      return true;
    case Writer::kIdle:
      if (queue_.empty()) return false;
      // taken_ is empty when the role is idle, and keeps its capacity.
      writer_ = Writer::kWriting;
      writable_seen_ = false;
      taken_.swap(queue_);
      taken_pos_ = 0;
      taken_unsent_ = taken_.size();
      return true;
  }
  return false;
}

bool Bridge::WriteTaken(absl::Status* status) {
  while (taken_pos_ < taken_.size()) {
    const ssize_t n = send(socket_.fd(), taken_.data() + taken_pos_,
                           taken_.size() - taken_pos_,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      taken_pos_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    *status = MarkConnectionEnd(transport::ErrnoStatus(
        absl::StatusCode::kUnavailable, n < 0 ? errno : EPIPE,
        "the connection was lost while sending"));
    return false;
  }
  taken_.clear();
  taken_pos_ = 0;
  return true;
}

absl::Status Bridge::WriteAsWriter(bool fail_on_error) {
  absl::Status status;
  bool goaway = false;
  for (;;) {
    const bool all = WriteTaken(&status);
    // (Test hook, arg: this Bridge: a round written, the role still held.)
    transport::SyncPoint("Bridge::WriteAsWriter:round_written", this);
    MutexLock lock(&write_mu_);
    if (all && !queue_.empty()) {  // Queued by others meanwhile: ours now.
      taken_.swap(queue_);
      taken_unsent_ = taken_.size();
      UpdateQueuedLocked();
      continue;
    }
    if (!all && status.ok() && writable_seen_) {
      // The socket became writable after our send found it full, and the
      // loop's (edge-triggered) event for that came to us while we held
      // the role (ContinueWriting): no other event will come. Send again.
      writable_seen_ = false;
      continue;
    }
    goaway = goaway_sent_;
    EndWriteRoundLocked(status);
    break;
  }
  if (!status.ok() && fail_on_error && !goaway && !PeerSentGoAway()) {
    Fail(status);
  }
  return status;
}

bool Bridge::ContinueWriting() {
  {
    MutexLock lock(&write_mu_);
    if (writer_ == Writer::kWriting) {
      // (Test hook, arg: this Bridge: writability seen while another
      // thread holds the role, which sends again before it lets go.)
      transport::SyncPoint("Bridge::ContinueWriting:role_busy", this);
      writable_seen_ = true;
      return false;
    }
    if (writer_ != Writer::kAwaitingWritable) return true;
    writer_ = Writer::kWriting;
    writable_seen_ = false;
  }
  (void)WriteAsWriter();
  return true;
}

absl::Status Bridge::FlushLocked(bool fail_on_error) {
  if (!TakeWriterRoleLocked()) return absl::OkStatus();
  absl::Status status;
  // Nothing is queued meanwhile (we hold the lock): what was taken, then
  // what the queue held if the role had been awaiting writability.
  while (WriteTaken(&status) && !queue_.empty()) {
    taken_.swap(queue_);
    taken_unsent_ = taken_.size();
  }
  const bool goaway = goaway_sent_;
  EndWriteRoundLocked(status);
  if (!status.ok() && fail_on_error && !goaway && !PeerSentGoAway()) {
    Fail(status);
  }
  return status;
}

bool Bridge::PeerSentGoAway() const {
  // Then a write that fails (the peer closed before reading our answer)
  // does not end the connection with the socket's error: the reader reads
  // on to the peer's end and reports its GOAWAY (docs/PROTOCOL.md 8.3).
  // Nor after our own GOAWAY: whoever sent it ends the connection with its
  // status (CloseWithError), or waits for the peer's word (Close).
  MutexLock state(&state_mu_);
  return peer_goaway_seen_;
}

void Bridge::EndWriteRoundLocked(const absl::Status& status) {
  if (!status.ok()) {  // Lost: the connection ends with it.
    taken_.clear();
    taken_pos_ = 0;
    queue_.clear();
  }
  if (taken_pos_ < taken_.size()) {
    writer_ = Writer::kAwaitingWritable;
  } else {
    writer_ = Writer::kIdle;
    // Our GOAWAY is on the wire: shut down our sending side (SendGoAway).
    if (goaway_sent_ && queue_.empty()) shutdown(socket_.fd(), SHUT_WR);
  }
  taken_unsent_ = taken_.size() - taken_pos_;
  write_cv_.SignalAll();  // A GOAWAY waiting for this round (SendGoAway).
  UpdateQueuedLocked();
  const bool pending = writer_ == Writer::kAwaitingWritable;
  if (pending != output_pending_.load()) SetInterest(kOutputPending, pending);
}

void Bridge::UpdateQueuedLocked() {
  MutexLock state(&state_mu_);
  const size_t before = queued_bytes_;
  queued_bytes_ = queue_.size() + taken_unsent_;
  if (queued_bytes_ < before) state_cv_.SignalAll();
  // Reading resumes once the peer has taken half of what paused it (see
  // ProcessInput); the re-armed EPOLLIN reports input that waited.
  if (input_paused_ && queued_bytes_ <= options_.max_queued_send_bytes / 2) {
    input_paused_ = false;
    SetInterest(kInputPaused, false);
  }
}

void Bridge::SetInterest(int bit, bool on) {
  MutexLock lock(&interest_mu_);
  if (bit == kOutputPending) output_pending_.store(on);
  interest_flags_ = on ? (interest_flags_ | bit) : (interest_flags_ & ~bit);
  // The loop reads only when no caller does; it writes only when a full
  // socket left output behind. Fewer armed events, fewer loop wake-ups: on
  // two cores a needless wake-up costs more than the crypto of a message.
  uint32_t events = 0;
  if ((interest_flags_ & (kCallerReading | kInputPaused)) == 0) {
    events |= EPOLLIN | EPOLLRDHUP;
  }
  if ((interest_flags_ & kOutputPending) != 0) events |= EPOLLOUT;
  if (events != armed_events_) {
    armed_events_ = events;
    (void)loop_->Modify(socket_.fd(), events);
  }
}

}  // namespace netstructer
