// What the benchmark measures besides time: nearest-rank percentiles and
// the CPU and memory of the client and server processes
// (shared/bench/WORKLOADS.md, "Latency" and "CPU").
#ifndef NETSTRUCTER_TOOLS_BENCH_MEASURE_H_
#define NETSTRUCTER_TOOLS_BENCH_MEASURE_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace netstructer::bench {

// Every interval of the benchmark is taken on this monotonic clock.
using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
inline double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}
inline Clock::time_point After(Clock::time_point t, double seconds) {
  return t + std::chrono::duration_cast<Clock::duration>(
                 std::chrono::duration<double>(seconds));
}

// Nearest rank: sorted[ceil(q * n) - 1] (at least the first). REQUIRES:
// `sorted` is sorted ascending and not empty; 0 < q <= 1.
double NearestRank(const std::vector<double>& sorted, double q);

// User + system CPU seconds of this whole process (all threads), from
// getrusage(RUSAGE_SELF): microsecond resolution.
double SelfCpuSeconds();

// User + system CPU seconds of process `pid` (all its threads, exited ones
// included), from /proc/PID/stat: clock-tick resolution (10 ms here), as the
// gRPC peer reads its server. NOT_FOUND once the process is gone.
absl::StatusOr<double> ProcessCpuSeconds(pid_t pid);

// VmHWM of process `pid` (peak resident set, KiB) from /proc/PID/status.
absl::StatusOr<int64_t> PeakRssKib(pid_t pid);

// CPU of both processes at one instant; the difference of two is a window.
struct CpuMark {
  double client_s = 0;
  double server_s = 0;
};

// Thread-compatible value type.
class CpuProbe {
 public:
  explicit CpuProbe(pid_t server_pid) : server_pid_(server_pid) {}
  absl::StatusOr<CpuMark> Mark() const;

 private:
  pid_t server_pid_;
};

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_MEASURE_H_
