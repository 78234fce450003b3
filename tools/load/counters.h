// The client's tally of a load run: per kind of traffic, calls, payload
// messages and bytes; errors and mismatches with the first few messages.
#ifndef NETSTRUCTER_TOOLS_LOAD_COUNTERS_H_
#define NETSTRUCTER_TOOLS_LOAD_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::load {

// The traffic a connection carries, for its whole life.
enum class Kind { kUnary, kServerStream, kClientStream, kBidi, kBridge };
inline constexpr int kKinds = 5;

// "unary", "server_stream", "client_stream", "bidi", "bridge".
const char* KindName(Kind kind);

// The mix: connection i's kind by i % 10: 4 unary, 1 server-streaming,
// 1 client-streaming, 2 bidi, 2 Bridge (so any 10 consecutive connections
// carry every kind).
Kind KindOf(uint32_t connection);

// A kind's numbers at one instant. Value type.
struct KindTally {
  uint64_t calls = 0;     // Unary calls, streams, Bridge round trips.
  uint64_t messages = 0;  // Payloads that crossed, both ways, each checked.
  uint64_t bytes = 0;     // Their bytes.
};

struct Tally {
  std::array<KindTally, kKinds> kinds;
  uint64_t errors = 0;
  uint64_t mismatches = 0;
  // Driver rounds (workers.h) and their durations.
  uint64_t rounds = 0;
  double round_s_total = 0;
  double round_s_max = 0;
  uint64_t calls() const;
  uint64_t bytes() const;
};

// Thread-safe.
class ClientCounters {
 public:
  void Add(Kind kind, uint64_t calls, uint64_t messages, uint64_t bytes);
  // A call, stream or Bridge operation that failed.
  void Error(Kind kind, uint32_t connection, const absl::Status& status);
  // A response that is not what was sent or asked for.
  void Mismatch(Kind kind, uint32_t connection, const absl::Status& status);
  // One driver round took `duration`.
  void Round(absl::Duration duration);

  Tally Snapshot() const;
  // The first kMaxKept failures, "kind #connection: status".
  std::vector<std::string> failures() const;
  static constexpr size_t kMaxKept = 8;

 private:
  struct Atomics {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> messages{0};
    std::atomic<uint64_t> bytes{0};
  };
  void Keep(Kind kind, uint32_t connection, const absl::Status& status);

  std::array<Atomics, kKinds> kinds_;
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> mismatches_{0};
  std::atomic<uint64_t> rounds_{0};
  std::atomic<int64_t> round_ns_total_{0};
  std::atomic<int64_t> round_ns_max_{0};
  mutable Mutex mu_;
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_COUNTERS_H_
