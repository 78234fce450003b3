// A man in the middle for tests: forwards one TCP connection between a
// client and a server and lets the test rewrite the client-to-server byte
// stream frame by frame (tamper, replay, reorder, drop, truncate).
#ifndef NETSTRUCTER_TESTS_TESTING_TCP_PROXY_H_
#define NETSTRUCTER_TESTS_TESTING_TCP_PROXY_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "transport/socket.h"

namespace netstructer::testing {

// Thread-compatible; runs its own thread. Resource type.
class TcpProxy {
 public:
  // Called with each whole frame (length prefix included) going from the
  // client to the server, in order, with its index (0 = the first frame).
  // Returns the bytes to forward instead (empty = drop it). A return value of
  // "\xff" alone ends the connection after forwarding half of the frame
  // (truncation).
  using FrameRewriter =
      std::function<std::string(int index, const std::string& frame)>;

  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(
      const std::string& server_address, FrameRewriter rewriter);
  ~TcpProxy();

  // Where clients connect.
  const std::string& address() const { return address_; }

 private:
  TcpProxy() = default;
  void Run();

  std::string server_address_;
  std::string address_;
  FrameRewriter rewriter_;
  transport::Socket listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_TCP_PROXY_H_
