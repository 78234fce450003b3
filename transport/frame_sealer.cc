#include "netstructer/transport/frame_sealer.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "netstructer/transport/buffer_pool.h"
#include "netstructer/transport/work_pool.h"

namespace netstructer::transport {

FrameSealer FrameSealer::Insecure(SealerOptions options) {
  return FrameSealer(std::nullopt, options);
}

FrameSealer FrameSealer::Secure(const FernetKey& key, SealerOptions options) {
  return FrameSealer(key, options);
}

FrameSealer::FrameSealer(std::optional<FernetKey> key, SealerOptions options)
    : key_(std::move(key)), options_(options) {
  lanes_.push_back(std::make_unique<Lane>());
  if (key_.has_value()) lanes_[0]->fernet = std::make_unique<Fernet>(*key_);
}

size_t FrameSealer::MaxPayloadBytes(bool secure, size_t max_frame_bytes) {
  // A compressed payload is only used when strictly smaller than the
  // original, so the uncompressed size bounds both cases.
  size_t inner = max_frame_bytes;
  if (secure) {
    if (max_frame_bytes < kFernetMinTokenBytes) return 0;
    // Largest n with FernetTokenBytes(n) <= max_frame_bytes.
    const size_t blocks =
        (max_frame_bytes - kFernetHeaderBytes - kFernetHmacBytes) /
        kFernetBlockBytes;
    inner = blocks * kFernetBlockBytes - 1;
  }
  return inner > kFrameHeaderBytes ? inner - kFrameHeaderBytes : 0;
}

namespace {

absl::Status CheckFlags(uint8_t flags) {
  if ((flags & ~kKnownFlagsMask) != 0 || (flags & kFlagCompressed) != 0) {
    return absl::InvalidArgumentError(
        "frame flags must be known bits, without COMPRESSED");
  }
  return absl::OkStatus();
}

absl::Status CheckBodyBytes(size_t body_bytes) {
  if (body_bytes > kProtocolMaxFrameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a frame of ", body_bytes, " bytes exceeds the protocol maximum of ",
        kProtocolMaxFrameBytes, "; split the message"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FrameSealer::Seal(uint32_t stream_id, FrameType type,
                               uint8_t flags, absl::string_view payload,
                               bool allow_compression,
                               int64_t now_unix_seconds, std::string* out) {
  if (absl::Status s = CheckFlags(flags); !s.ok()) return s;
  if (next_sequence_ == UINT64_MAX) {
    return absl::ResourceExhaustedError("frame sequence numbers exhausted");
  }
  FrameToSeal frame{stream_id, type, flags, payload, allow_compression};
  frame.allow_compression = TakeCompressionTurn(frame);
  if (absl::Status s =
          SealWith(*lanes_[0], next_sequence_, frame, now_unix_seconds, out);
      !s.ok()) {
    return s;
  }
  ++next_sequence_;
  if (lanes_[0]->offered) RecordCompression(lanes_[0]->compressed);
  return absl::OkStatus();
}

bool FrameSealer::TakeCompressionTurn(const FrameToSeal& frame) {
  if (!frame.allow_compression) return false;
  if (frame.payload.size() < options_.compression.threshold_bytes) return true;
  if (skip_left_ == 0) return true;
  --skip_left_;
  return false;
}

void FrameSealer::RecordCompression(bool compressed) {
  ++compression_attempts_;
  last_compressed_ = compressed;
  if (compressed) {
    failures_in_a_row_ = 0;
    skip_next_ = 0;
    skip_left_ = 0;
    return;
  }
  // Already skipping: only a batch's frames, offered before the outcome of
  // the others was known, get here; they do not lengthen the skipping.
  if (++failures_in_a_row_ < kFailuresBeforeSkipping || skip_left_ > 0) return;
  skip_next_ = std::min(skip_next_ == 0 ? 1 : 2 * skip_next_, kMaxSkippedFrames);
  skip_left_ = skip_next_;
}

absl::Status FrameSealer::SealWith(Lane& lane, uint64_t sequence,
                                   const FrameToSeal& frame,
                                   int64_t now_unix_seconds,
                                   std::string* out) const {
  absl::string_view payload = frame.payload;
  uint8_t flags = frame.flags;
  std::optional<std::string> compressed;
  lane.offered = frame.allow_compression &&
                 payload.size() >= options_.compression.threshold_bytes;
  if (lane.offered) compressed = MaybeCompress(payload, options_.compression);
  lane.compressed = compressed.has_value();
  if (compressed.has_value()) {
    flags |= kFlagCompressed;
    payload = *compressed;
  }
  const size_t inner_bytes = kFrameHeaderBytes + payload.size();
  const size_t body_bytes =
      lane.fernet != nullptr ? FernetTokenBytes(inner_bytes) : inner_bytes;
  if (absl::Status s = CheckBodyBytes(body_bytes); !s.ok()) return s;
  FrameHeader header;
  header.sequence = sequence;
  header.stream_id = frame.stream_id;
  header.type = frame.type;
  header.flags = flags;

  const size_t start = out->size();
  char prefix[kLengthPrefixBytes];
  big_endian::Store32(static_cast<uint32_t>(body_bytes), prefix);
  out->append(prefix, kLengthPrefixBytes);
  if (lane.fernet == nullptr) {
    out->resize(start + kLengthPrefixBytes + kFrameHeaderBytes);
    EncodeFrameHeader(header, &(*out)[start + kLengthPrefixBytes]);
    out->append(payload.data(), payload.size());
  } else {
    lane.scratch.resize(kFrameHeaderBytes);
    EncodeFrameHeader(header, lane.scratch.data());
    lane.scratch.append(payload.data(), payload.size());
    if (absl::Status s = lane.fernet->SealTo(lane.scratch, now_unix_seconds, out);
        !s.ok()) {
      out->resize(start);
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status FrameSealer::SealBatch(absl::Span<const FrameToSeal> frames,
                                    int max_lanes, int64_t now_unix_seconds,
                                    std::string* out,
                                    absl::FunctionRef<void()> appended) {
  for (const FrameToSeal& frame : frames) {
    if (absl::Status s = CheckFlags(frame.flags); !s.ok()) return s;
  }
  if (frames.size() >= UINT64_MAX - next_sequence_) {
    return absl::ResourceExhaustedError("frame sequence numbers exhausted");
  }
  // Compression turns are decided up front, in order, as Seal would.
  absl::InlinedVector<FrameToSeal, 16> turns(frames.begin(), frames.end());
  for (FrameToSeal& frame : turns) {
    frame.allow_compression = TakeCompressionTurn(frame);
  }
  frames = turns;
  const int lanes = std::max(1, std::min(max_lanes, WorkPoolLanes()));
  while (lanes_.size() < static_cast<size_t>(lanes)) {
    auto lane = std::make_unique<Lane>();
    if (key_.has_value()) lane->fernet = std::make_unique<Fernet>(*key_);
    lanes_.push_back(std::move(lane));
  }
  // Each frame is sealed into a buffer of its own (pooled: a session that
  // sent one large message keeps no memory for it), then appended.
  std::vector<std::string> sealed(frames.size());
  std::vector<absl::Status> errors(frames.size());
  // Per frame: 1 offered to lz4 and not compressed, 2 compressed.
  std::vector<char> compressed(frames.size(), 0);
  const uint64_t first = next_sequence_;
  absl::Status status;
  RunInOrder(
      frames.size(), lanes,
      [&](size_t i, int lane) {
        const size_t inner = kFrameHeaderBytes + frames[i].payload.size();
        sealed[i] = TakeBuffer(kLengthPrefixBytes +
                               (key_.has_value() ? FernetTokenBytes(inner) : inner));
        errors[i] = SealWith(*lanes_[lane], first + i, frames[i],
                             now_unix_seconds, &sealed[i]);
        const Lane& l = *lanes_[lane];
        compressed[i] = l.offered ? (l.compressed ? 2 : 1) : 0;
      },
      [&](size_t i) {
        if (!errors[i].ok()) {
          status = errors[i];
          return false;
        }
        out->append(sealed[i]);
        ReturnBuffer(std::move(sealed[i]));
        ++next_sequence_;
        if (compressed[i] != 0) RecordCompression(compressed[i] == 2);
        appended();
        return true;
      });
  for (std::string& b : sealed) ReturnBuffer(std::move(b));  // After an error.
  return status;
}

FrameOpener FrameOpener::Insecure(OpenerOptions options) {
  return FrameOpener(nullptr, options);
}

FrameOpener FrameOpener::Handshake() {
  OpenerOptions options;
  options.allow_compressed = false;
  return FrameOpener(nullptr, options);
}

FrameOpener FrameOpener::Secure(const FernetKey& key, OpenerOptions options) {
  return FrameOpener(std::make_unique<Fernet>(key), options);
}

absl::StatusOr<OpenedFrame> FrameOpener::Open(absl::string_view body) {
  if (!status_.ok()) return status_;
  absl::StatusOr<OpenedFrame> frame;
  if (fernet_ == nullptr) {
    frame = OpenInner(body);
  } else {
    scratch_.clear();
    // No TTL: within a connection, sequence numbers reject replays, and a
    // TTL would tie frame validity to the two hosts' clocks.
    FernetOpenOptions fernet_options;
    if (absl::Status s = fernet_->OpenTo(body, fernet_options, &scratch_);
        !s.ok()) {
      frame = s;
    } else {
      frame = OpenInner(scratch_);
    }
  }
  if (!frame.ok()) {
    status_ = frame.status();
    return frame;
  }
  ++next_sequence_;
  return frame;
}

absl::StatusOr<OpenedFrame> FrameOpener::OpenInner(absl::string_view inner) {
  absl::StatusOr<FrameHeader> header = DecodeFrameHeader(inner);
  if (!header.ok()) return header.status();
  if (header->sequence != next_sequence_) {
    return absl::DataLossError(absl::StrCat(
        "frame out of sequence: expected ", next_sequence_, ", got ",
        header->sequence, " (a replayed, reordered or dropped frame)"));
  }
  OpenedFrame frame;
  frame.header = *header;
  const absl::string_view payload = inner.substr(kPayloadOffset);
  if (header->has_flag(kFlagCompressed)) {
    if (!options_.allow_compressed) {
      return absl::DataLossError(
          "a compressed frame where compression is not allowed (handshake)");
    }
    absl::StatusOr<std::string> plain =
        Decompress(payload, options_.max_decompressed_bytes);
    if (!plain.ok()) return plain.status();
    frame.payload = *std::move(plain);
    frame.header.flags &= static_cast<uint8_t>(~kFlagCompressed);
  } else {
    frame.payload.assign(payload.data(), payload.size());
  }
  return frame;
}

}  // namespace netstructer::transport
