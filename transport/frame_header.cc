#include "netstructer/transport/frame_header.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace netstructer::transport {

absl::string_view FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kHeaders:
      return "HEADERS";
    case FrameType::kData:
      return "DATA";
    case FrameType::kTrailers:
      return "TRAILERS";
    case FrameType::kCancel:
      return "CANCEL";
    case FrameType::kWindowUpdate:
      return "WINDOW_UPDATE";
    case FrameType::kPing:
      return "PING";
    case FrameType::kGoAway:
      return "GOAWAY";
    case FrameType::kRefusal:
      return "REFUSAL";
    case FrameType::kHandshake:
      return "HANDSHAKE";
  }
  return "UNKNOWN";
}

void EncodeFrameHeader(const FrameHeader& header, char out[kFrameHeaderBytes]) {
  big_endian::Store64(header.sequence, out + kSequenceOffset);
  big_endian::Store32(header.stream_id, out + kStreamIdOffset);
  out[kTypeOffset] = static_cast<char>(header.type);
  out[kFlagsOffset] = static_cast<char>(header.flags);
  big_endian::Store16(0, out + kReservedOffset);
}

std::string EncodeFrameHeader(const FrameHeader& header) {
  std::string out(kFrameHeaderBytes, '\0');
  EncodeFrameHeader(header, out.data());
  return out;
}

absl::StatusOr<FrameHeader> DecodeFrameHeader(absl::string_view plaintext) {
  if (plaintext.size() < kFrameHeaderBytes) {
    return absl::DataLossError(absl::StrFormat(
        "frame of %d bytes is shorter than the %d-byte frame header",
        plaintext.size(), kFrameHeaderBytes));
  }
  const char* p = plaintext.data();
  const uint8_t type = static_cast<uint8_t>(p[kTypeOffset]);
  if (type < kMinFrameType || type > kMaxFrameType) {
    return absl::DataLossError(
        absl::StrFormat("unknown frame type 0x%02x", type));
  }
  const uint8_t flags = static_cast<uint8_t>(p[kFlagsOffset]);
  if ((flags & ~kKnownFlagsMask) != 0) {
    return absl::DataLossError(
        absl::StrFormat("reserved flag bits set: 0x%02x", flags));
  }
  const uint16_t reserved = big_endian::Load16(p + kReservedOffset);
  if (reserved != 0) {
    return absl::DataLossError(absl::StrFormat(
        "reserved header field is 0x%04x, must be 0", reserved));
  }
  FrameHeader header;
  header.sequence = big_endian::Load64(p + kSequenceOffset);
  header.stream_id = big_endian::Load32(p + kStreamIdOffset);
  header.type = static_cast<FrameType>(type);
  header.flags = flags;
  return header;
}

}  // namespace netstructer::transport
