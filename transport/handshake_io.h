// Reading handshake frames from a socket without reading past them: a peer
// may send its first sealed frames right behind its last handshake message,
// and those bytes belong to the connection that follows, not to us.
#ifndef NETSTRUCTER_TRANSPORT_HANDSHAKE_IO_H_
#define NETSTRUCTER_TRANSPORT_HANDSHAKE_IO_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/handshake_format.h"

namespace netstructer::transport {

// Accumulates exactly one frame from a non-blocking socket. Thread-compatible.
class ExactFrameReader {
 public:
  // Reads what is available, never beyond the end of the current frame.
  // Returns the frame's body once complete (then the reader is ready for the
  // next frame), std::nullopt when the socket has nothing more for now.
  //   UNAVAILABLE  the peer closed or the connection failed
  //   DATA_LOSS    a length of 0 or over kMaxHandshakeFrameBytes (the
  //                longest handshake frame, transport/handshake_format.h)
  absl::StatusOr<std::optional<std::string>> ReadSome(int fd);

 private:
  char prefix_[kLengthPrefixBytes] = {};
  size_t prefix_bytes_ = 0;
  std::string body_;
  size_t body_bytes_ = 0;
};

// Blocking: one whole frame body before `deadline` (DEADLINE_EXCEEDED).
absl::StatusOr<std::string> ReadOneFrame(int fd, absl::Time deadline);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_HANDSHAKE_IO_H_
