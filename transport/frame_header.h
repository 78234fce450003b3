// The 16-byte header of an inner frame (the plaintext inside a Fernet token,
// or the whole body in insecure mode). Layout: transport/frame_format.h and
// docs/PROTOCOL.md, section "Frames".
//
// The decoder checks the syntax only (length, type, flag bits, reserved
// field). Whether a type/flag/stream combination makes sense (ACK on a
// non-PING, DATA on stream 0, the sequence number) is the connection's job.
#ifndef NETSTRUCTER_TRANSPORT_FRAME_HEADER_H_
#define NETSTRUCTER_TRANSPORT_FRAME_HEADER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {

// A decoded inner-frame header. Value type; thread-compatible.
struct FrameHeader {
  uint64_t sequence = 0;
  uint32_t stream_id = kConnectionStreamId;
  FrameType type = FrameType::kHeaders;
  uint8_t flags = 0;  // A combination of kFlag* bits.

  bool has_flag(uint8_t flag) const { return (flags & flag) == flag; }

  friend bool operator==(const FrameHeader& a, const FrameHeader& b) {
    return a.sequence == b.sequence && a.stream_id == b.stream_id &&
           a.type == b.type && a.flags == b.flags;
  }
  friend bool operator!=(const FrameHeader& a, const FrameHeader& b) {
    return !(a == b);
  }
};

// The name of a frame type as docs/PROTOCOL.md spells it ("HEADERS", ...);
// "UNKNOWN" for a value outside the enum.
absl::string_view FrameTypeName(FrameType type);

// Writes the 16-byte header to `out`, the reserved field as 0.
// REQUIRES: `header` is valid (a defined type, only kKnownFlagsMask bits);
// an invalid header is written as is and DecodeFrameHeader rejects it.
void EncodeFrameHeader(const FrameHeader& header, char out[kFrameHeaderBytes]);

// The same, as a 16-byte string.
std::string EncodeFrameHeader(const FrameHeader& header);

// Decodes the header at the start of `plaintext`, a whole inner frame; the
// payload is `plaintext.substr(kPayloadOffset)`. DATA_LOSS when `plaintext`
// is shorter than 16 bytes, the type is unknown (0x00 or above 0x09), a
// reserved flag bit is set, or the reserved field is not 0.
absl::StatusOr<FrameHeader> DecodeFrameHeader(absl::string_view plaintext);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_FRAME_HEADER_H_
