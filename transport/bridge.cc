#include "transport/bridge.h"

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
#include "proto/status_macros.h"
#include "proto/value_codec.h"
#include "proto/value_validate.h"
#include "transport/frame_format.h"
#include "transport/handshake_messages.h"
#include "transport/work_pool.h"

namespace netstructer {

using transport::FrameType;
using transport::MessageKind;
namespace big_endian = transport::big_endian;

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
using transport::kMaxWindowIncrement;
constexpr size_t kMaxStatusReasonBytes = 512;
constexpr size_t kReadChunkBytes = 64 * 1024;

int64_t NowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

// The Bridge whose input this thread is dispatching, if any (OutputBatch).
thread_local const Bridge* tls_batching_bridge = nullptr;
// The Bridge whose input this thread is processing (it holds its read_mu_).
thread_local const Bridge* tls_reading_bridge = nullptr;
// Batched output larger than this is written at once (see SendFrame).
constexpr size_t kBatchFlushBytes = size_t{128} << 10;

// GOAWAY payload: u8 status code | reason (docs/PROTOCOL.md 8.3).
std::string EncodeStatusPayload(absl::StatusCode code, absl::string_view reason) {
  // The REFUSAL's reason rules (transport/handshake_messages.h): valid
  // UTF-8, cut at a character boundary.
  return std::string(1, static_cast<char>(code)) +
         transport::SanitizeUtf8(reason, kMaxStatusReasonBytes);
}

absl::Status DecodeGoAway(absl::string_view payload) {
  if (payload.empty() || payload.size() > 1 + kMaxStatusReasonBytes ||
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
  const absl::Time now = absl::Now();
  last_received_ = now;
  last_activity_ = now;
}

Bridge::~Bridge() {
  Abort(absl::CancelledError("the Bridge was destroyed"));
  if (loop_ != nullptr && loop_.use_count() == 1 && loop_->InLoopThread()) {
    // The last owner of a private loop is being destroyed on that loop's own
    // thread (from one of its callbacks), which cannot join itself: let
    // another thread destroy the loop once this callback returns.
    std::thread([loop = std::move(loop_)]() mutable { loop.reset(); }).detach();
  }
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
  keepalive_timer_ = loop_->AddTimer(absl::Now() + tick, [weak] {
    if (std::shared_ptr<Bridge> self = weak.lock()) self->OnKeepaliveTimer();
  });
}

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
  MutexLock send_lock(&send_mu_);
  {
    MutexLock lock(&write_mu_);
    if (goaway_sent_) return ClosedForSendingLocked();
  }
  // The first fragment carries the 9-byte header and the prefix.
  std::string first(transport::kMessageHeaderBytes, '\0');
  big_endian::Store64(body_size, first.data());
  first[8] = static_cast<char>(kind);
  first.append(prefix.data(), prefix.size());
  const size_t chunk = std::max<size_t>(options_.fragment_bytes, 64);
  size_t taken = std::min(body.size(), chunk > first.size() ? chunk - first.size() : 0);
  first.append(body.data(), taken);
  absl::string_view rest = body.substr(taken);
  absl::string_view payload = first;
  for (;;) {
    const bool last = rest.empty();
    // Flow control: wait for credit for this fragment, and for room in the
    // send queue.
    {
      MutexLock lock(&state_mu_);
      while (!closed_ && (send_credit_ < static_cast<int64_t>(payload.size()) ||
                          queued_bytes_ > options_.max_queued_send_bytes)) {
        state_cv_.Wait(&state_mu_);
      }
      if (closed_) return closed_status_;
      send_credit_ -= static_cast<int64_t>(payload.size());
      last_activity_ = absl::Now();
    }
    absl::Status s = SendFrame(transport::kBridgeStreamId, FrameType::kData,
                               last ? transport::kFlagEndMessage : 0, payload,
                               options_.compression);
    if (!s.ok()) return s;
    if (last) return absl::OkStatus();
    payload = rest.substr(0, chunk);
    rest.remove_prefix(payload.size());
  }
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
  MutexLock lock(&write_mu_);
  const int lanes = large >= 2 && sealer_.last_compressed()
                        ? transport::WorkPoolLanes()
                        : 1;
  return SendFramesLocked(checked, lanes);
}

// While a thread dispatches the frames of one read, what they make it send
// (responses, acknowledgements, credit, calls issued from callbacks) is
// sealed into the output buffer and written with one system call at the
// end: under load one `send` carries many frames.
class Bridge::OutputBatch {
 public:
  explicit OutputBatch(Bridge* bridge)
      : bridge_(bridge), previous_(tls_batching_bridge) {
    tls_batching_bridge = bridge;
  }
  ~OutputBatch() {
    tls_batching_bridge = previous_;
    if (!bridge_->batched_output_.exchange(false)) return;
    MutexLock lock(&bridge_->write_mu_);
    if (bridge_->out_pos_ < bridge_->out_.size()) (void)bridge_->FlushLocked();
  }
  OutputBatch(const OutputBatch&) = delete;
  OutputBatch& operator=(const OutputBatch&) = delete;

 private:
  Bridge* const bridge_;
  const Bridge* const previous_;
};

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
  MutexLock lock(&write_mu_);
  return SendFramesLocked(absl::MakeConstSpan(&frame, 1), 1);
}

absl::Status Bridge::SendFramesLocked(
    absl::Span<const transport::FrameToSeal> frames, int lanes) {
  if (goaway_sent_) return ClosedForSendingLocked();
  {
    MutexLock state(&state_mu_);
    if (closed_) return closed_status_;
  }
  // After each frame: batched output waits for the end of the batch, unless
  // it holds a large message's worth already: then it goes now, so the peer
  // opens these frames while we seal the next ones (a 1 MiB response is 16
  // frames). Anyone else's output goes at once.
  absl::Status flushed;
  auto appended = [&] {
    write_mu_.AssertHeld();
    if (tls_batching_bridge == this &&
        out_.size() - out_pos_ < kBatchFlushBytes) {
      batched_output_.store(true);  // Written when the batch ends.
      return;
    }
    if (absl::Status f = FlushLocked(); !f.ok() && flushed.ok()) flushed = f;
  };
  if (lanes == 1) {  // In turn, straight into the output buffer.
    for (const transport::FrameToSeal& f : frames) {
      if (absl::Status s =
              sealer_.Seal(f.stream_id, f.type, f.flags, f.payload,
                           f.allow_compression, NowSeconds(), &out_);
          !s.ok()) {
        return s;
      }
      appended();
    }
    return flushed;
  }
  absl::Status s =
      sealer_.SealBatch(frames, lanes, NowSeconds(), &out_, appended);
  return s.ok() ? flushed : s;
}

absl::Status Bridge::FlushLocked(bool fail_on_error) {
  absl::Status status;
  while (out_pos_ < out_.size()) {
    const ssize_t n = send(socket_.fd(), out_.data() + out_pos_,
                           out_.size() - out_pos_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    status = MarkConnectionEnd(transport::ErrnoStatus(
        absl::StatusCode::kUnavailable, n < 0 ? errno : EPIPE,
        "the connection was lost while sending"));
    break;
  }
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
    // Our GOAWAY is on the wire: shut down our sending side (SendGoAway).
    if (goaway_sent_) shutdown(socket_.fd(), SHUT_WR);
  } else if (out_pos_ >= (size_t{1} << 20) && out_pos_ * 2 >= out_.size()) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
  {
    MutexLock state(&state_mu_);
    const size_t before = queued_bytes_;
    queued_bytes_ = out_.size() - out_pos_;
    if (queued_bytes_ < before) state_cv_.SignalAll();
    // Reading resumes once the peer has taken half of what paused it (see
    // ProcessInput); the re-armed EPOLLIN reports input that waited.
    if (input_paused_ && queued_bytes_ <= options_.max_queued_send_bytes / 2) {
      input_paused_ = false;
      SetInterest(kInputPaused, false);
    }
  }
  const bool pending = out_pos_ < out_.size();
  if (pending != output_pending_.load()) SetInterest(kOutputPending, pending);

  if (!status.ok() && fail_on_error) Fail(status);
  return status;
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

// ---- Receiving ----

void Bridge::OnLoopEvent(uint32_t events) {
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    input_pending_.store(true);
    ReadPendingInput();
    state_cv_.SignalAll();  // A waiting receiver may now read itself.
  }
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
    MutexLock lock(&write_mu_);
    if (out_pos_ < out_.size()) (void)FlushLocked();
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
  loop_->AddTimer(last + CallerModeLinger(), [weak] {
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
    ProcessInput(ReadMode::kUntilEagain);
    read_mu_.Unlock();
  }
}

void Bridge::ProcessInput(ReadMode mode) {
  struct ReadingScope {
    explicit ReadingScope(const Bridge* b) : previous(tls_reading_bridge) {
      tls_reading_bridge = b;
    }
    ~ReadingScope() { tls_reading_bridge = previous; }
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
      // reading until the peer has taken half of it (FlushLocked), whoever
      // reads: the loop, or a caller in Await (an RPC stream handler), which
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
    // A short read emptied the socket; only an edge-triggered reader (the
    // loop) must prove it with EAGAIN. A caller reads again when it waits.
    const bool drained = mode != ReadMode::kUntilEagain &&
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
      last_received_ = absl::Now();
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
        if (increment == 0 || increment > kMaxWindowIncrement ||
            send_credit_ + increment > int64_t{kMaxWindowIncrement}) {
          return absl::DataLossError("bad WINDOW_UPDATE increment");
        }
        send_credit_ += increment;
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
      last_activity_ = absl::Now();
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
    last_activity_ = absl::Now();
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

absl::StatusOr<ReceivedMessage> Bridge::RecvRaw(const RecvOptions& options) {
  if (has_message_callback_.load()) {
    return absl::FailedPreconditionError(
        "this Bridge hands its messages to its message callback "
        "(SetMessageCallback); RecvBuffer cannot take them");
  }
  MutexLock recv_lock(&recv_mu_);
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
      last_activity_ = absl::Now();
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

bool Bridge::ReadingOnThisThread() const { return tls_reading_bridge == this; }

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
      paused = input_paused_;  // Then wait for FlushLocked to resume it.
    }
    if (!paused && read_mu_.TryLock()) {
      read = true;
      if (!caller_mode_.exchange(true)) SetInterest(kCallerReading, true);
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
      // since we looked (FlushLocked signalled then, before this wait).
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
  for (;;) {
    pollfd p{socket_.fd(), POLLIN, 0};
    if (output_pending_.load()) p.events |= POLLOUT;  // We flush it meanwhile.
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
    if ((p.revents & POLLOUT) != 0) {
      MutexLock lock(&write_mu_);
      if (out_pos_ < out_.size()) (void)FlushLocked();
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP)) != 0) return true;
  }
}

void Bridge::OnKeepaliveTimer() {
  const absl::Time now = absl::Now();
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
                        bool answer, bool closing) {
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
  // Queued behind everything before it. FlushLocked shuts down our sending
  // side once it is all on the wire: now, or when the loop has flushed what
  // a full socket left behind. Never waits here: this also runs on the loop
  // thread (idle timeout, the peer's GOAWAY), where waiting for a peer that
  // does not read would stall every session of the loop.
  (void)sealer_.Seal(transport::kConnectionStreamId, FrameType::kGoAway,
                     answer ? transport::kFlagAck : 0,
                     EncodeStatusPayload(code, reason), false, NowSeconds(),
                     &out_);
  // Closing with an error of our own: a peer that already reset makes the
  // flush fail, which must not replace that error (the caller Fails next).
  (void)FlushLocked(/*fail_on_error=*/!closing);
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
             "the receiver could not store a message", /*answer=*/false,
             /*closing=*/true);
  return status;
}

void Bridge::CloseWithError(absl::Status status) {
  // The peer learns why (docs/PROTOCOL.md 8.3): the GOAWAY is queued behind
  // what was sent before it and written if the socket takes it now; the
  // close does not wait for a peer that does not read.
  SendGoAway(status.code(), status.message(), /*answer=*/false,
             /*closing=*/true);
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
