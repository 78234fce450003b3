// A handshake flood beside a workload (issue 13: "a handshake flood of
// 2,000 ClientHellos/s does not raise an established session's W1 p99 by
// more than 2x"): threads of this process open connections at a fixed rate
// and send each a ClientHello an attacker who saw one real hello can send
// (the real key id, a binder forged under another key: the server's most
// expensive refusal, one HMAC, docs/SECURITY.md), then read the REFUSAL and
// close. The W1flood line of `netstructer bench` is W1 measured meanwhile.
#ifndef NETSTRUCTER_TOOLS_BENCH_HANDSHAKE_FLOOD_H_
#define NETSTRUCTER_TOOLS_BENCH_HANDSHAKE_FLOOD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "netstructer/tools/bench/measure.h"
#include "netstructer/transport/fernet.h"

namespace netstructer::bench {

// Resource type. Start, then Stop once, from one thread.
class HandshakeFlood {
 public:
  struct Counts {
    uint64_t sent = 0;     // Hellos sent.
    uint64_t refused = 0;  // Refused UNAUTHENTICATED (the forged binder).
    uint64_t other = 0;    // Any other answer or failure.
    double seconds = 0;    // From Start to Stop.
  };

  // Floods `address` (host:port) at `hellos_per_second` with hellos under
  // `key`'s id from `threads` threads. The errors of building the hello.
  static absl::StatusOr<std::unique_ptr<HandshakeFlood>> Start(
      const std::string& address, const transport::FernetKey& key,
      int hellos_per_second, int threads = 2);
  ~HandshakeFlood();
  HandshakeFlood(const HandshakeFlood&) = delete;
  HandshakeFlood& operator=(const HandshakeFlood&) = delete;

  // Stops the threads and returns what they did.
  Counts Stop();

 private:
  HandshakeFlood() = default;
  void Run(int thread, int threads, int hellos_per_second);

  std::string address_;
  std::string frame_;  // The forged hello, framed: the same for every one.
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0}, refused_{0}, other_{0};
  std::vector<std::thread> threads_;
  Clock::time_point started_;
  bool stopped_ = false;
  Counts counts_;
};

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_HANDSHAKE_FLOOD_H_
