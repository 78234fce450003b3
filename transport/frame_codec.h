// Outer framing of the TCP byte stream: `u32 length, big-endian | body`.
// Layout and limits: transport/frame_format.h and docs/PROTOCOL.md, section
// "Frames". The body is opaque here (a Fernet token or, in insecure mode, an
// inner frame; see transport/frame_header.h).
#ifndef NETSTRUCTER_TRANSPORT_FRAME_CODEC_H_
#define NETSTRUCTER_TRANSPORT_FRAME_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {

// Appends `body` to `*out` as one frame: its length as a big-endian u32, then
// the bytes. INVALID_ARGUMENT, and nothing appended, when `body` is empty or
// longer than kProtocolMaxFrameBytes (the peer's own limit may be lower: the
// sender must respect it).
absl::Status AppendFrame(absl::string_view body, std::string* out);

struct FrameDecoderOptions {
  // Largest body accepted; a longer frame is RESOURCE_EXHAUSTED before any of
  // its body is buffered. Clamped to [kMinFrameBytes, kProtocolMaxFrameBytes].
  // Default kDefaultMaxFrameBytes (1 MiB + 1024): bounds what a peer can make
  // us buffer before authentication.
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
};

// Splits a byte stream, delivered in arbitrary pieces, back into frame
// bodies:
//
//   FrameDecoder decoder;
//   while (read some bytes) {
//     decoder.Feed(bytes);
//     for (;;) {
//       NS_ASSIGN_OR_RETURN(std::optional<std::string> body, decoder.Next());
//       if (!body.has_value()) break;  // Needs more bytes.
//       Handle(*body);
//     }
//   }
//   NS_RETURN_IF_ERROR(decoder.Finish());  // At EOF.
//
// Each length prefix is checked the moment its 4th byte arrives, before a
// byte of its body is buffered: 0 is DATA_LOSS, more than max_frame_bytes is
// RESOURCE_EXHAUSTED. Errors are sticky. Frames completed before the error
// are still returned by Next(), in order, so the results never depend on how
// the stream was split into pieces.
//
// Cost: every byte is copied once, from Feed()'s argument into the string
// that Next() then hands over (moved, not copied), however the stream is
// split. Memory: the complete frames not yet returned by Next() plus one
// partial frame (at most 4 + max_frame_bytes).
//
// Thread-compatible: confine each decoder to the connection's reading thread.
class FrameDecoder {
 public:
  explicit FrameDecoder(FrameDecoderOptions options = {});

  // Appends the next bytes of the stream. Ignored once an error is known.
  void Feed(absl::string_view bytes);

  // The next complete body, std::nullopt when more bytes are needed, or the
  // stream's error (the same one on every later call).
  absl::StatusOr<std::optional<std::string>> Next();

  // Call at EOF. OK when the stream ended exactly between frames (complete
  // frames not yet returned by Next() stay available); DATA_LOSS "truncated
  // length prefix" or "truncated frame: got N of M bytes" otherwise; the
  // stream's error if there was one. Does not change the decoder.
  absl::Status Finish() const;

  // Stream bytes fed and not yet returned by Next(), length prefixes
  // included; the bytes of an invalid frame are dropped, not counted.
  size_t buffered_bytes() const {
    return complete_bytes_ + prefix_bytes_ + body_.size();
  }

  // The effective limit, after clamping.
  size_t max_frame_bytes() const { return max_frame_bytes_; }

 private:
  size_t max_frame_bytes_;
  // Complete bodies not yet returned, oldest first, and their stream bytes
  // (each body plus its prefix).
  std::deque<std::string> complete_;
  size_t complete_bytes_ = 0;
  // The partial frame: its prefix bytes so far; once all 4 are in (and
  // valid), its body length and the body bytes so far.
  char prefix_[kLengthPrefixBytes] = {};
  size_t prefix_bytes_ = 0;
  uint32_t body_length_ = 0;
  std::string body_;
  // The first error found by Feed(); Next() reports it once the complete
  // frames before it are returned.
  absl::Status status_;
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_FRAME_CODEC_H_
