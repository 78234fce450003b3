#include "netstructer/rpc/call_stream.h"

#include <algorithm>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/rpc/connection.h"
#include "netstructer/transport/buffer_pool.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/outgoing_message.h"

namespace netstructer::rpc {

using transport::FrameType;
namespace big_endian = transport::big_endian;

namespace {
transport::AssemblerOptions CallAssemblerOptions(uint64_t max_message_bytes) {
  transport::AssemblerOptions a;
  a.kind_mask = uint32_t{1} << kMethodMessageKind;
  a.max_message_bytes = max_message_bytes;
  a.discard_oversized = false;  // The call fails; the connection goes on.
  a.stream_name = " on a call stream";
  return a;
}
}  // namespace

CallStream::CallStream(RpcConnection* connection, bool compression)
    : connection_(connection),
      compression_(compression),
      assembler_(CallAssemblerOptions(connection->max_message_bytes())) {}

absl::Status CallStream::Send(absl::string_view headers,
                              const absl::string_view* message,
                              absl::string_view trailers, bool end_stream,
                              absl::Time deadline,
                              const std::function<void()>& after_first_frame) {
  return SendFrames(headers, message, trailers, end_stream, deadline,
                    after_first_frame, nullptr, nullptr);
}

absl::Status CallStream::SendWithoutWaiting(absl::string_view message,
                                            SendProgress* progress,
                                            bool* done) {
  *done = false;
  return SendFrames("", &message, "", false, absl::InfinitePast(), nullptr,
                    progress, done);
}

absl::Status CallStream::SendFrames(
    absl::string_view headers, const absl::string_view* message,
    absl::string_view trailers, bool end_stream, absl::Time deadline,
    const std::function<void()>& after_first_frame, SendProgress* progress,
    bool* done) {
  bool first_done = false;
  auto first_frame_done = [&] {
    if (!first_done && after_first_frame) after_first_frame();
    first_done = true;
  };
  const uint64_t limit = connection_->max_message_bytes();
  if (message != nullptr && message->size() > limit) {
    first_frame_done();
    return absl::ResourceExhaustedError(absl::StrCat(
        "message of ", message->size(), " bytes exceeds max_message_bytes ",
        limit));
  }
  const size_t chunk = std::max<size_t>(
      connection_->bridge()->options().fragment_bytes, 1024);
  // The message's bytes on the wire: 9-byte header, then the body.
  transport::OutgoingMessage out;
  if (message != nullptr) {
    out = transport::OutgoingMessage(kMethodMessageKind, "", *message);
  }
  if (progress != nullptr) {  // Going on where it stopped for credit.
    out.ResumeAt(progress->message_pos);
  }
  // Frames go out in batches (up to a window's worth of one message), so
  // that a large message's fragments are sealed side by side on the cores
  // (Bridge::SendStreamFrames). A batch is sent before waiting for credit.
  constexpr size_t kMaxBatchFrames = 16;
  absl::InlinedVector<transport::FrameToSeal, kMaxBatchFrames> batch;
  // Payloads that are not a body slice, at most one per batched frame: the
  // vector never outgrows its inline capacity, so views into it stay valid
  // (and a Send allocates nothing for it).
  absl::InlinedVector<std::string, kMaxBatchFrames> assembled;
  // Headers and trailers (metadata: tokens, cookies) are never compressed
  // together with message bytes, which the other side of a call may choose
  // (CRIME): a frame with a CallHeaders or CallTrailers prefix goes
  // uncompressed. A message that lz4 may shrink therefore travels in DATA
  // frames of its own, after a HEADERS frame with the headers alone and
  // before a TRAILERS frame with the trailers alone (docs/PROTOCOL.md 9.2).
  const bool message_alone =
      compression_ && message != nullptr &&
      out.size() >= transport::kDefaultCompressionThresholdBytes;
  bool first = progress == nullptr || !progress->started;
  auto send_batch = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    absl::Status s = connection_->SendFrames(batch);
    bool cancel_owed = false;
    if (first && s.ok()) cancel_owed = MarkOnWire();
    first = false;
    first_frame_done();
    batch.clear();
    assembled.clear();
    if (cancel_owed) {  // Cancelled while its first frames went out.
      (void)connection_->SendFrame(id(), FrameType::kCancel, 0,
                                   EncodeCancel(final_status()), false);
    }
    return s;
  };
  for (;;) {
    // This frame's message bytes: as many as fit in a fragment.
    const bool headers_alone =
        message_alone && first && batch.empty() && !headers.empty();
    const size_t message_bytes = headers_alone ? 0 : out.NextSize(chunk);
    const bool last =
        !headers_alone && message_bytes == out.size() - out.sent();
    // Stream flow control.
    if (message_bytes > 0) {
      auto ready = [&]() {
        MutexLock lock(&mu_);
        return finished_ || send_window_.Allows(message_bytes);
      };
      if (progress != nullptr) {
        bool wait = false;
        {
          // Checked and marked at once: credit arriving after the check
          // fires the event (OnCredit).
          MutexLock lock(&mu_);
          wait = !finished_ && !send_window_.Allows(message_bytes);
          if (wait) credit_wanted_ = true;
        }
        if (wait) {
          absl::Status s = send_batch();
          progress->message_pos = out.sent();
          progress->started = !first;
          return s;
        }
      } else if (!ready()) {
        // What is batched goes first: the peer's credit may wait for it.
        if (absl::Status s = send_batch(); !s.ok()) return s;
        if (!connection_->Wait(ready, deadline)) {
          first_frame_done();
          return absl::DeadlineExceededError(
              "deadline exceeded while waiting for flow-control credit");
        }
      }
    }
    {
      MutexLock lock(&mu_);
      if (finished_) {
        first_frame_done();
        return status_.ok() ? absl::FailedPreconditionError(
                                  "the call has already finished")
                            : DetachedStatus(status_);
      }
      if (output_ended_) {
        first_frame_done();
        return absl::FailedPreconditionError(
            "this side of the call was already closed for sending");
      }
      send_window_.Take(message_bytes);
      if (last && end_stream) output_ended_ = true;
    }
    transport::FrameToSeal frame;
    frame.stream_id = id();
    absl::string_view prefix;
    if (first && batch.empty() && !headers.empty()) {
      frame.type = FrameType::kHeaders;
      prefix = headers;
    } else if (last && !trailers.empty() && !message_alone) {
      frame.type = FrameType::kTrailers;
      prefix = trailers;
    }
    frame.allow_compression = compression_ && prefix.empty();
    std::string scratch;
    if (!prefix.empty()) {  // One allocation for the prefix and the bytes.
      scratch.reserve(prefix.size() + message_bytes);
      scratch.append(prefix.data(), prefix.size());
    }
    const absl::string_view bytes = out.Take(message_bytes, &scratch);
    if (scratch.empty()) {
      frame.payload = bytes;  // A slice of the caller's message: no copy.
    } else {
      frame.payload = assembled.emplace_back(std::move(scratch));
    }
    if (message != nullptr && last) frame.flags |= transport::kFlagEndMessage;
    if (last && end_stream) frame.flags |= transport::kFlagEndStream;
    if (last && !trailers.empty() && frame.type != FrameType::kTrailers) {
      // HEADERS and TRAILERS never share a frame: the trailers follow.
      frame.flags &= ~transport::kFlagEndStream;
    }
    batch.push_back(frame);
    if (last || batch.size() == kMaxBatchFrames) {
      const FrameType last_type = frame.type;
      if (absl::Status s = send_batch(); !s.ok()) return s;
      if (last) {
        if (done != nullptr) *done = true;
        if (last_type != FrameType::kTrailers && !trailers.empty()) {
          return connection_->SendFrame(
              id(), FrameType::kTrailers,
              end_stream ? transport::kFlagEndStream : 0, trailers, false);
        }
        return absl::OkStatus();
      }
    }
  }
}

void CallStream::FireEvent() {
  std::function<void()> hook;
  {
    MutexLock lock(&mu_);
    hook = on_event_;
  }
  if (hook) hook();
}

bool CallStream::ReadyToRead() const {
  return !inbox_.empty() || finished_ || input_ended_;
}

std::optional<std::string> CallStream::TryRead() {
  uint32_t credit = 0;
  std::optional<std::string> out;
  {
    MutexLock lock(&mu_);
    if (inbox_.empty()) return std::nullopt;
    out = std::move(inbox_.front());
    inbox_.pop_front();
    window_.Dequeued(out->size());
    if (!finished_ && !input_ended_) credit = window_.TakeCredit(/*force=*/false);
  }
  if (credit > 0) {
    char p[4];
    big_endian::Store32(credit, p);
    (void)connection_->SendFrame(id(), FrameType::kWindowUpdate, 0,
                                 absl::string_view(p, 4), false);
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> CallStream::Read(absl::Time deadline) {
  for (;;) {
    if (std::optional<std::string> m = TryRead(); m.has_value()) return m;
    {
      MutexLock lock(&mu_);
      if (inbox_.empty()) {
        if (finished_ && !status_.ok()) return DetachedStatus(status_);
        if (input_ended_ || finished_) return std::optional<std::string>();
      }
    }
    auto ready = [this]() {
      MutexLock lock(&mu_);
      return ReadyToRead();
    };
    if (!connection_->Wait(ready, deadline)) {
      return absl::DeadlineExceededError("deadline exceeded while reading");
    }
  }
}

bool CallStream::Finish(absl::Status status, bool drop_queued) {
  {
    MutexLock lock(&mu_);
    if (finished_) return false;
    finished_ = true;
    status_ = DetachedStatus(status);
    if (drop_queued) {
      inbox_.clear();
      window_.ClearQueue();
    }
  }
  connection_->Notify();
  return true;
}

bool CallStream::finished() const {
  MutexLock lock(&mu_);
  return finished_;
}

absl::Status CallStream::final_status() const {
  MutexLock lock(&mu_);
  return DetachedStatus(status_);
}

bool CallStream::input_ended() const {
  MutexLock lock(&mu_);
  return input_ended_;
}

bool CallStream::has_messages() const {
  MutexLock lock(&mu_);
  return !inbox_.empty();
}

bool CallStream::output_ended() const {
  MutexLock lock(&mu_);
  return output_ended_;
}

absl::Status CallStream::OnMessageBytes(absl::string_view bytes,
                                        bool end_message) {
  bool completed = false;
  {
    MutexLock lock(&mu_);
    if (input_ended_) {
      return absl::DataLossError("a message after the end of a call stream");
    }
    if (!window_.Receive(bytes.size())) {
      return absl::DataLossError(
          "the peer sent more than a call stream's flow-control window");
    }
    if (!assembler_.active() && bytes.empty()) {
      // A HEADERS or TRAILERS frame without message bytes.
      if (end_message) return absl::DataLossError("an empty message frame");
      return absl::OkStatus();
    }
    using Outcome = transport::MessageAssembler::Outcome;
    transport::MessageAssembler::Result fed =
        assembler_.Feed(bytes, end_message);
    switch (fed.outcome) {
      case Outcome::kIncomplete:
      case Outcome::kComplete:
        break;
      case Outcome::kTooLarge:  // The call fails, the connection goes on.
      case Outcome::kPeerError:
      case Outcome::kStorageError:  // Calls never spill.
        return fed.status;
    }
    window_.Stored(bytes.size());
    if (fed.outcome == Outcome::kComplete) {
      transport::AssembledMessage whole = assembler_.Take();
      window_.Queued(whole.size);
      inbox_.push_back(std::move(whole.memory));
      completed = true;
    }
  }
  if (completed) connection_->Notify();
  return absl::OkStatus();
}

uint32_t CallStream::TakeCredit(bool force) {
  MutexLock lock(&mu_);
  if (finished_ || input_ended_) return 0;
  return window_.TakeCredit(force);
}

void CallStream::AddReceivedMetadata(bool trailing, Metadata metadata) {
  MutexLock lock(&mu_);
  Metadata& to = trailing ? trailing_metadata_ : initial_metadata_;
  to.insert(to.end(), std::make_move_iterator(metadata.begin()),
            std::make_move_iterator(metadata.end()));
}

Metadata CallStream::received_metadata(bool trailing) const {
  MutexLock lock(&mu_);
  return trailing ? trailing_metadata_ : initial_metadata_;
}

void CallStream::OnInputEnd() {
  {
    MutexLock lock(&mu_);
    input_ended_ = true;
  }
  connection_->Notify();
}

absl::Status CallStream::OnCredit(uint32_t increment) {
  bool fire = false;
  {
    MutexLock lock(&mu_);
    if (!send_window_.Grant(increment)) {
      return absl::DataLossError("bad WINDOW_UPDATE increment on a call stream");
    }
    fire = std::exchange(credit_wanted_, false);
  }
  connection_->Notify();
  if (fire) FireEvent();  // A sender that does not wait goes on.
  return absl::OkStatus();
}

bool CallStream::MarkOnWire() {
  MutexLock lock(&mu_);
  on_wire_.store(true, std::memory_order_release);
  return std::exchange(cancel_owed_, false);
}


}  // namespace netstructer::rpc
