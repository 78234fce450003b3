// A client socket that sends exactly what a test says and reads only when
// told to: the Fernet handshake by hand, then sealed frames, raw bytes or
// nothing at all. For hostile-peer tests against a real server (in the test
// process or a child such as `netstructer serve`).
#ifndef NETSTRUCTER_TESTS_TESTING_RAW_PEER_H_
#define NETSTRUCTER_TESTS_TESTING_RAW_PEER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/frame_header.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/socket.h"

namespace netstructer::testing {

// Thread-compatible. Resource type.
class RawPeer {
 public:
  // Connects to `address` ("127.0.0.1:PORT" or "[::1]:PORT") from
  // `local_ip` (port chosen by the kernel). A `rcvbuf` > 0 is set before
  // connecting, so that the window the server sees stays small.
  static std::unique_ptr<RawPeer> Connect(const std::string& address,
                                          const std::string& local_ip,
                                          int rcvbuf = 0);

  int fd() const { return socket_.fd(); }

  // The ClientHello frame of a Fernet handshake with `key`, as it goes on
  // the wire (to dribble it).
  static std::string ClientHelloFrame(const transport::FernetKey& key);

  // Runs the client side of the Fernet handshake (docs/PROTOCOL.md 7).
  absl::Status Handshake(const transport::FernetKey& key, absl::Time deadline);

  // Seals one frame under the session key and writes it. REQUIRES: Handshake.
  absl::Status SendFrame(uint32_t stream, transport::FrameType type,
                         uint8_t flags, absl::string_view payload,
                         absl::Time deadline);
  // Seals one frame whose payload is given as already compressed (the
  // COMPRESSED flag set, `payload` = u32 size | lz4 block, unchecked).
  absl::Status SendPrecompressedFrame(uint32_t stream,
                                      transport::FrameType type, uint8_t flags,
                                      absl::string_view payload,
                                      absl::Time deadline);
  // Writes `bytes` as they are (a forged length prefix, garbage).
  absl::Status SendRaw(absl::string_view bytes, absl::Time deadline);

  // Sends one byte without waiting. False once the connection is gone.
  bool SendByte(char c);

  // Reads what has arrived without waiting (kept for ReceivedGoAway). True
  // once the server has closed the connection (EOF or reset).
  bool ReadAvailable();
  // Reads until the server closes the connection; false at the deadline.
  bool ReadUntilClosed(absl::Time deadline);

  // The GOAWAY among the frames received so far, as the status it carries
  // (docs/PROTOCOL.md 8.3); NOT_FOUND if none. REQUIRES: Handshake.
  absl::Status ReceivedGoAway();

  // The REFUSAL a server sends a peer it does not admit, as its status
  // (PERMISSION_DENIED and the reason); UNAVAILABLE when the server closed
  // without one, DEADLINE_EXCEEDED when it did neither before `deadline`.
  absl::Status ReadRefusal(absl::Time deadline);

 private:
  explicit RawPeer(transport::Socket socket) : socket_(std::move(socket)) {}

  transport::Socket socket_;
  std::optional<transport::FrameSealer> sealer_;
  std::optional<transport::FrameOpener> opener_;
  // The sealer's key, for frames it will not seal (SendPrecompressedFrame).
  std::unique_ptr<transport::Fernet> session_fernet_;
  std::string received_;
};

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_RAW_PEER_H_
