// A man in the middle for tests: forwards one TCP connection between a
// client and a server and either
//   - rewrites the client-to-server byte stream frame by frame (tamper,
//     replay, reorder, drop, truncate: FrameRewriter), or
//   - injects byte-level faults into both directions (ByteFaults): random
//     small writes, delays, a duplicated, dropped or corrupted run of bytes,
//     or a cut after K bytes, all drawn from a seeded PRNG so that a failing
//     plan can be replayed. (The traffic itself is not deterministic: fresh
//     keys, IVs and timing-dependent control frames; the plan is.)
#ifndef NETSTRUCTER_TESTS_TESTING_TCP_PROXY_H_
#define NETSTRUCTER_TESTS_TESTING_TCP_PROXY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "netstructer/transport/socket.h"

namespace netstructer::testing {

// What happens to one direction of the stream. Offsets count the bytes the
// proxy reads from the sender (before any fault). Value type.
struct ByteFaults {
  enum class Kind {
    kNone,
    kDuplicate,  // Bytes [at, at + length) are forwarded twice in a row.
    kDrop,       // Bytes [at, at + length) are not forwarded.
    kFlip,       // Byte `at` is XORed with a non-zero mask from the PRNG.
    kCut,        // After `at` bytes both connections are shut down.
  };
  // Seeds the PRNG that draws chunk sizes, delays and the flip mask.
  uint64_t seed = 0;
  // Writes of 1..max_chunk bytes each (0 = forward each read whole).
  size_t max_chunk = 0;
  // Each write first waits 0..max_delay.
  absl::Duration max_delay = absl::ZeroDuration();
  Kind kind = Kind::kNone;
  uint64_t at = 0;
  uint64_t length = 1;

  // For failure messages: "flip at 1234, chunks <= 7, delay <= 1ms, seed 3".
  std::string ToString() const;
};

// Thread-compatible; runs its own threads. Resource type.
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
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(
      const std::string& server_address, ByteFaults client_to_server,
      ByteFaults server_to_client);
  // Shuts both connections down and joins the threads.
  ~TcpProxy();

  // Where clients connect.
  const std::string& address() const { return address_; }
  // ByteFaults mode: whether a direction's fault happened (its stream
  // reached `at`), and the bytes read from each sender so far.
  bool fault_fired(bool client_to_server) const {
    return directions_[client_to_server ? 0 : 1].fired.load();
  }
  uint64_t bytes_read(bool client_to_server) const {
    return directions_[client_to_server ? 0 : 1].bytes.load();
  }

 private:
  struct Direction {
    ByteFaults faults;
    std::atomic<bool> fired{false};
    std::atomic<uint64_t> bytes{0};
  };

  TcpProxy() = default;
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Listen(
      const std::string& server_address);
  void Run();
  void RunFrames();
  // Forwards one direction with its faults until EOF, an error or a cut.
  void Pump(int from, int to, Direction* direction);
  // Writes all of `data` (false when the peer is gone or we stop).
  bool Send(int fd, absl::string_view data);
  // Shuts both connections down (a cut, or the end).
  void ShutdownBoth();

  std::string server_address_;
  std::string address_;
  FrameRewriter rewriter_;
  Direction directions_[2];  // 0: client to server, 1: server to client.
  transport::Socket listener_;
  // Set by Run before the pumps start; closed by the destructor only.
  transport::Socket client_;
  transport::Socket server_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_TCP_PROXY_H_
