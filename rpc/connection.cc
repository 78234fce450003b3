#include "netstructer/rpc/connection.h"

#include <algorithm>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/transport/buffer_pool.h"
#include "netstructer/transport/compression.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/sync_point.h"

namespace netstructer::rpc {

using transport::FrameType;
namespace big_endian = transport::big_endian;

namespace {

absl::Status ConnectionEnded(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kOutOfRange ||
      status.code() == absl::StatusCode::kFailedPrecondition ||
      status.code() == absl::StatusCode::kOk ||
      status.code() == absl::StatusCode::kCancelled) {
    return absl::UnavailableError(absl::StrCat(
        "the connection is closed (", status.message(),
        ")"));
  }
  return status;
}
}  // namespace

RpcConnection::RpcConnection(Role role, std::shared_ptr<CallAcceptor> acceptor,
                             uint32_t max_concurrent_streams)
    : role_(role),
      acceptor_(std::move(acceptor)),
      max_concurrent_streams_(max_concurrent_streams) {}

RpcConnection::~RpcConnection() = default;

void RpcConnection::Attach(Bridge* bridge) {
  bridge_ = bridge;
  weak_bridge_ = bridge->weak_from_this();
  max_message_bytes_ = bridge->options().max_message_bytes;
}

absl::Status RpcConnection::status() const {
  MutexLock lock(&mu_);
  return closed_ ? DetachedStatus(closed_status_) : absl::OkStatus();
}

absl::Status RpcConnection::Open(const std::shared_ptr<CallStream>& stream,
                                 const CallHeaders& headers,
                                 const absl::string_view* message,
                                 bool end_stream, absl::Time deadline) {
  const std::string prefix = EncodePrefixed(headers);
  if (prefix.size() > kMaxCallPrefixBytes) {
    return absl::InvalidArgumentError("call headers too large");
  }
  if (message != nullptr && message->size() > max_message_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "message of ", message->size(), " bytes exceeds max_message_bytes ",
        max_message_bytes_));
  }
  // Ids go on the wire in increasing order: allocating one and writing its
  // first frame happen under open_mu_.
  open_mu_.Lock();
  bool open_locked = true;
  auto unlock = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (open_locked) open_mu_.Unlock();
    open_locked = false;
  };
  {
    MutexLock lock(&mu_);
    if (closed_) {
      unlock();
      return ConnectionEnded(DetachedStatus(closed_status_));
    }
    if (next_id_ > 0x7ffffffd) {
      unlock();
      return absl::ResourceExhaustedError(
          "this connection has used all its call stream ids; open a new one");
    }
    const uint32_t id = next_id_;
    next_id_ += 2;
    highest_id_ = id;
    stream->id_.store(id, std::memory_order_release);
    streams_[id] = stream;
  }
  absl::Status s = stream->Send(prefix, message, "", end_stream, deadline, unlock);
  unlock();
  return s;
}

void RpcConnection::Cancel(CallStream* stream, const absl::Status& status) {
  if (!stream->Finish(status, /*drop_queued=*/true)) return;
  const uint32_t id = stream->id();
  if (id == 0) return;
  Remove(id);
  // A client stream whose HEADERS never left is unknown to the server: a
  // CANCEL for it would be a protocol error there (9.1). If its first frames
  // are being sent right now, the sender sends the CANCEL once they are
  // out (CallStream::MarkOnWire).
  if (role_ == Role::kClient) {
    MutexLock lock(&stream->mu_);
    if (!stream->on_wire()) {
      stream->cancel_owed_ = true;
      return;
    }
  }
  (void)SendFrame(id, FrameType::kCancel, 0, EncodeCancel(status), false);
}

void RpcConnection::Remove(uint32_t id) {
  MutexLock lock(&mu_);
  streams_.erase(id);
}

void RpcConnection::CallDone() {
  if (role_ == Role::kServer && waiters_.load() == 0) {
    bridge_->ResumeLoopReading();
  }
}

absl::Status RpcConnection::SendFrame(uint32_t id, FrameType type,
                                      uint8_t flags, absl::string_view payload,
                                      bool compression) {
  absl::Status s = bridge_->SendStreamFrame(id, type, flags, payload, compression);
  return s.ok() ? s : SendFailed(s);
}

absl::Status RpcConnection::SendFrames(
    absl::Span<const transport::FrameToSeal> frames) {
  absl::Status s = bridge_->SendStreamFrames(frames);
  return s.ok() ? s : SendFailed(s);
}

absl::Status RpcConnection::SendFailed(const absl::Status& s) {
  // A connection that ended finishes its calls before a caller learns of it
  // (as in Wait): a handler whose Write failed then sees IsCancelled(). Not
  // on the thread reading the connection (a WINDOW_UPDATE it sends may
  // fail): it still has frames to dispatch that end calls with their own
  // results, and the end it reads last finishes the rest.
  if (bridge_->closed() && !bridge_->ReadingOnThisThread()) {
    FinishCalls(bridge_->status());
  }
  // GOAWAY sent or received, or the connection ended: for a call, the
  // connection is unavailable (a client may retry elsewhere).
  return ConnectionEnded(s);
}

bool RpcConnection::Wait(const std::function<bool()>& ready,
                         absl::Time deadline) {
  // Both sides wait in the Bridge, which lets a waiting thread read the
  // socket itself: a message for it then costs no hand-off from the event
  // loop's thread (a cross-core wake-up per message; docs/BENCHMARKS.md, W4).
  waiters_.fetch_add(1);
  const bool ok = bridge_->Await(ready, deadline);
  // A client's calls that no thread waits for need the loop to read for
  // them now. A server's session gets the loop back after a short linger
  // (Bridge::CallerModeLinger), or at once when a call ends (CallDone): a
  // stream handler between two reads comes back within microseconds.
  if (waiters_.fetch_sub(1) == 1 && role_ == Role::kClient &&
      async_calls_.load() > 0) {
    bridge_->ResumeLoopReading();
  }
  if (ok) return true;
  if (bridge_->closed()) {
    // The Bridge may not have told us yet (it posts OnConnectionClosed to
    // its loop): the calls are finished now, their hooks run there.
    FinishCalls(bridge_->status());
  }
  return ready();
}

void RpcConnection::Notify() {
  if (std::shared_ptr<Bridge> bridge = weak_bridge_.lock()) bridge->Notify();
}

void RpcConnection::AsyncStarted() {
  async_calls_.fetch_add(1);
  // By the loop: reading here could complete other calls, whose callbacks
  // would run inside this thread's call start.
  if (waiters_.load() == 0) bridge_->ResumeLoopReadingSoon();
}

void RpcConnection::AsyncFinished() { async_calls_.fetch_sub(1); }

size_t RpcConnection::open_streams() const {
  MutexLock lock(&mu_);
  return streams_.size();
}

std::vector<std::shared_ptr<CallStream>> RpcConnection::Streams() const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<CallStream>> out;
  out.reserve(streams_.size());
  for (const auto& [id, s] : streams_) out.push_back(s);
  return out;
}

void RpcConnection::StopAccepting(absl::string_view reason) {
  MutexLock lock(&mu_);
  accepting_ = false;
  refusal_ = std::string(reason);
}

void RpcConnection::AnswerAtOnce(uint32_t id, const absl::Status& status) {
  const std::string trailers = EncodePrefixed(TrailersFor(status, {}));
  (void)SendFrame(id, FrameType::kTrailers, transport::kFlagEndStream,
                  trailers, false);
}

absl::Status RpcConnection::OnStreamFrame(transport::OpenedFrame frame) {
  const transport::FrameHeader& h = frame.header;
  const uint32_t id = h.stream_id;
  if (id < kFirstCallStreamId || id % 2 == 0) {
    return absl::DataLossError(absl::StrCat("a frame on invalid stream id ", id));
  }
  std::shared_ptr<CallStream> stream;
  {
    MutexLock lock(&mu_);
    if (auto it = streams_.find(id); it != streams_.end()) {
      stream = it->second;
    } else if (id > highest_id_) {
      if (role_ == Role::kServer && h.type == FrameType::kHeaders) {
        highest_id_ = id;
      } else {
        return absl::DataLossError(absl::StrCat(
            "a ", transport::FrameTypeName(h.type),
            " frame for stream ", id, ", which was never opened"));
      }
    } else {
      return absl::OkStatus();  // A call that ended here; the peer may lag.
    }
  }
  if (stream == nullptr) return OnNewStream(std::move(frame));

  switch (h.type) {
    case FrameType::kWindowUpdate:
      if (frame.payload.size() != transport::kWindowUpdateBytes) {
        return absl::DataLossError("malformed WINDOW_UPDATE frame");
      }
      return stream->OnCredit(big_endian::Load32(frame.payload.data()));
    case FrameType::kCancel: {
      absl::Status carried;
      if (absl::Status s = DecodeCancel(frame.payload, &carried); !s.ok()) {
        return s;
      }
      // Finished before it leaves streams_: a thread that learns of the
      // connection's end meanwhile must find it finished (FinishCalls).
      const bool finished =
          stream->Finish(carried, /*drop_queued=*/role_ == Role::kServer);
      Remove(id);
      if (finished) stream->FireEvent();
      return absl::OkStatus();
    }
    case FrameType::kData:
      return FeedMessageBytes(stream.get(), frame.payload, h.flags);
    case FrameType::kHeaders: {
      if (role_ == Role::kServer) {
        return absl::DataLossError("a second HEADERS frame on a call stream");
      }
      // The server's initial metadata: kept by the client call (on_event).
      CallHeaders headers;
      absl::StatusOr<absl::string_view> rest =
          ParsePrefixed(frame.payload, &headers);
      if (!rest.ok()) return rest.status();
      absl::StatusOr<Metadata> md = FromWire(headers.metadata());
      if (!md.ok()) return md.status();
      stream->AddReceivedMetadata(false, *std::move(md));
      return FeedMessageBytes(stream.get(), *rest, h.flags);
    }
    case FrameType::kTrailers: {
      if (role_ == Role::kServer) {
        return absl::DataLossError("a TRAILERS frame from a client");
      }
      CallTrailers trailers;
      absl::StatusOr<absl::string_view> rest =
          ParsePrefixed(frame.payload, &trailers);
      if (!rest.ok()) return rest.status();
      if (!h.has_flag(transport::kFlagEndStream)) {
        return absl::DataLossError("TRAILERS without END_STREAM");
      }
      absl::StatusOr<Metadata> md = FromWire(trailers.metadata());
      if (!md.ok()) return md.status();
      absl::Status status = StatusFrom(trailers);
      if (status.code() == absl::StatusCode::kDataLoss &&
          trailers.code() > 16) {
        return status;
      }
      if (absl::Status s = FeedMessageBytes(stream.get(), *rest,
                                            h.flags & ~transport::kFlagEndStream);
          !s.ok()) {
        return s;
      }
      stream->AddReceivedMetadata(true, *std::move(md));
      // Finished first: a Read woken by the input's end must find the
      // trailers' status, and a thread that learns of the connection's end
      // must find the call finished once it has left streams_.
      stream->Finish(std::move(status));
      // (Test hook, arg: the CallStream: where a woken Read would look.)
      transport::SyncPoint("RpcConnection::OnTrailers:between_steps",
                           stream.get());
      stream->OnInputEnd();
      Remove(id);
      stream->FireEvent();
      return absl::OkStatus();
    }
    default:
      return absl::DataLossError(absl::StrCat(
          "unexpected ", transport::FrameTypeName(h.type),
          " frame on call stream ", id));
  }
}

absl::Status RpcConnection::FeedMessageBytes(CallStream* stream,
                                             absl::string_view bytes,
                                             uint8_t flags) {
  absl::Status s =
      stream->OnMessageBytes(bytes, (flags & transport::kFlagEndMessage) != 0);
  if (s.code() == absl::StatusCode::kResourceExhausted) {
    // Over the message limit: this call fails, the connection goes on.
    Cancel(stream, s);
    stream->FireEvent();
    return absl::OkStatus();
  }
  if (!s.ok()) return s;
  if ((flags & transport::kFlagEndStream) != 0) stream->OnInputEnd();
  SendCredit(stream, /*force=*/false);
  if ((flags & (transport::kFlagEndMessage | transport::kFlagEndStream)) != 0) {
    stream->FireEvent();
  }
  return absl::OkStatus();
}

void RpcConnection::SendCredit(CallStream* stream, bool force) {
  const uint32_t credit = stream->TakeCredit(force);
  if (credit == 0) return;
  char p[4];
  big_endian::Store32(credit, p);
  (void)SendFrame(stream->id(), FrameType::kWindowUpdate, 0,
                  absl::string_view(p, 4), false);
}

absl::Status RpcConnection::OnNewStream(transport::OpenedFrame frame) {
  const uint32_t id = frame.header.stream_id;
  CallHeaders headers;
  absl::StatusOr<absl::string_view> rest = ParsePrefixed(frame.payload, &headers);
  if (!rest.ok()) return rest.status();
  absl::Status refusal;
  {
    MutexLock lock(&mu_);
    if (!accepting_) {
      refusal = absl::UnavailableError(refusal_);
    } else if (streams_.size() >= max_concurrent_streams_) {
      refusal = absl::ResourceExhaustedError(absl::StrCat(
          "too many concurrent calls on this connection (max_concurrent_streams ",
          max_concurrent_streams_, ")"));
    }
  }
  if (!refusal.ok()) {
    AnswerAtOnce(id, refusal);
    return absl::OkStatus();
  }
  if (absl::StatusOr<Metadata> md = FromWire(headers.metadata()); !md.ok()) {
    return md.status();
  }
  auto stream = std::make_shared<CallStream>(this, !headers.no_compression());
  stream->id_.store(id, std::memory_order_release);
  stream->on_wire_.store(true, std::memory_order_release);
  // (Test hook, arg: this connection: where its end may come in.)
  transport::SyncPoint("RpcConnection::OnNewStream:before_register", this);
  {
    // Registered before the acceptor sees it: a handler it starts may end
    // the call (and Remove it) at once.
    MutexLock lock(&mu_);
    // The reader may still dispatch frames it read before the connection
    // ended: a call opened now would never be finished.
    if (closed_) return absl::OkStatus();
    streams_[id] = stream;
  }
  if (absl::Status s = acceptor_->OnNewCall(this, stream, std::move(headers));
      !s.ok()) {
    Remove(id);
    AnswerAtOnce(id, s);
    return absl::OkStatus();
  }
  return FeedMessageBytes(stream.get(), *rest, frame.header.flags);
}

void RpcConnection::FinishCalls(const absl::Status& status) {
  absl::flat_hash_map<uint32_t, std::shared_ptr<CallStream>> streams;
  {
    MutexLock lock(&mu_);
    if (closed_) {
      // Several threads learn of the end at once: the reader, the loop (the
      // Bridge posts OnConnectionClosed there), callers in Wait or
      // SendFrame. The first finishes the calls; the others return only once
      // it has, so a caller that learnt of the end finds its call finished.
      while (!calls_finished_) closed_cv_.Wait(&mu_);
      return;
    }
    closed_ = true;
    closed_status_ = DetachedStatus(status);
    streams.swap(streams_);
  }
  const absl::Status ended = ConnectionEnded(status);
  std::vector<std::shared_ptr<CallStream>> finished;
  for (auto& [id, stream] : streams) {
    if (stream->Finish(ended)) finished.push_back(stream);
  }
  MutexLock lock(&mu_);
  calls_finished_ = true;
  for (auto& stream : finished) unfired_.push_back(std::move(stream));
  closed_cv_.SignalAll();
}

void RpcConnection::OnConnectionClosed(const absl::Status& status) {
  // (Test hook, arg: this connection: the notice comes later than a
  // caller's own discovery of the end.)
  transport::SyncPoint("RpcConnection::OnConnectionClosed:start", this);
  FinishCalls(status);
  std::vector<std::shared_ptr<CallStream>> unfired;
  {
    MutexLock lock(&mu_);
    unfired.swap(unfired_);
  }
  // The hooks of the calls the connection's end finished (async
  // completions, the dispatcher's starts) run here, on the Bridge's notice
  // (the loop), never on a thread that noticed the end in Wait or
  // SendFrame, which may hold its own locks.
  for (const std::shared_ptr<CallStream>& stream : unfired) stream->FireEvent();
  Notify();
}

}  // namespace netstructer::rpc
