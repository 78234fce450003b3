#include "transport/frame_sealer.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace netstructer::transport {

FrameSealer FrameSealer::Insecure(SealerOptions options) {
  return FrameSealer(nullptr, options);
}

FrameSealer FrameSealer::Secure(const FernetKey& key, SealerOptions options) {
  return FrameSealer(std::make_unique<Fernet>(key), options);
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

absl::Status FrameSealer::Seal(uint32_t stream_id, FrameType type,
                               uint8_t flags, absl::string_view payload,
                               bool allow_compression,
                               int64_t now_unix_seconds, std::string* out) {
  if ((flags & ~kKnownFlagsMask) != 0 || (flags & kFlagCompressed) != 0) {
    return absl::InvalidArgumentError(
        "frame flags must be known bits, without COMPRESSED");
  }
  std::optional<std::string> compressed;
  if (allow_compression) compressed = MaybeCompress(payload, options_.compression);
  if (compressed.has_value()) {
    flags |= kFlagCompressed;
    payload = *compressed;
  }
  const size_t inner_bytes = kFrameHeaderBytes + payload.size();
  const size_t body_bytes =
      fernet_ != nullptr ? FernetTokenBytes(inner_bytes) : inner_bytes;
  if (body_bytes > kProtocolMaxFrameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a frame of ", body_bytes, " bytes exceeds the protocol maximum of ",
        kProtocolMaxFrameBytes, "; split the message"));
  }
  if (next_sequence_ == UINT64_MAX) {
    return absl::ResourceExhaustedError("frame sequence numbers exhausted");
  }
  FrameHeader header;
  header.sequence = next_sequence_;
  header.stream_id = stream_id;
  header.type = type;
  header.flags = flags;

  const size_t start = out->size();
  char prefix[kLengthPrefixBytes];
  big_endian::Store32(static_cast<uint32_t>(body_bytes), prefix);
  out->append(prefix, kLengthPrefixBytes);
  if (fernet_ == nullptr) {
    out->resize(start + kLengthPrefixBytes + kFrameHeaderBytes);
    EncodeFrameHeader(header, &(*out)[start + kLengthPrefixBytes]);
    out->append(payload.data(), payload.size());
  } else {
    scratch_.resize(kFrameHeaderBytes);
    EncodeFrameHeader(header, scratch_.data());
    scratch_.append(payload.data(), payload.size());
    if (absl::Status s = fernet_->SealTo(scratch_, now_unix_seconds, out);
        !s.ok()) {
      out->resize(start);
      return s;
    }
  }
  ++next_sequence_;
  return absl::OkStatus();
}

FrameOpener FrameOpener::Insecure(OpenerOptions options) {
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
