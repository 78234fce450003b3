// The client side of workloads W1-W4 (shared/bench/WORKLOADS.md), each on
// one connected Echo stub. They measure; the caller reports.
#ifndef NETSTRUCTER_TOOLS_BENCH_WORKLOADS_H_
#define NETSTRUCTER_TOOLS_BENCH_WORKLOADS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/tools/bench/measure.h"
#include "tools/bench/echo.ns.h"

namespace netstructer::bench {

// How each workload drives its calls, for the `client_api` field.
inline constexpr char kBlockingClientApi[] =
    "blocking stub (the calling thread reads the socket), 1 channel";
inline constexpr char kAsyncClientApi[] =
    "async stub with callbacks, 1 channel: 32 issued from the main thread, "
    "then each completion callback (on the channel's I/O thread) issues the "
    "next";
inline constexpr char kStreamClientApi[] =
    "blocking bidi stream used one-way (Write per message, then WritesDone), "
    "1 channel";

// What one workload measured. Value type.
struct Measurement {
  uint64_t calls = 0;  // W4: messages.
  double seconds = 0;
  std::vector<double> latencies_us;  // Empty for W4.
  double client_cpu_s = 0;
  double server_cpu_s = 0;
};

// The errors every workload reports: `what` failed with `status`; a
// response of the wrong length; a checked response that is not the request.
absl::Status CallFailed(absl::string_view what, const absl::Status& status);
absl::Status WrongLength(size_t got, size_t want);
absl::Status CheckFirstEcho(const ::bench::Payload& response,
                            const std::string& want);

// Every failure below fails the run (WORKLOADS.md: "a run with any failed
// call is invalid"): a call's error, a response of the wrong length, a first
// response whose bytes differ from the request, wrong W4 totals.

// W1 and W3: one call outstanding, blocking stub. One verified call, then
// warm-up (`warmup_calls` calls if > 0, else `warmup_seconds`), then the
// measured part: `calls` calls if > 0, else calls until `seconds` passed;
// `seconds` reported = from the first issue to the last completion.
absl::StatusOr<Measurement> RunPingPong(::bench::Echo::Stub& stub,
                                        const std::string& payload,
                                        double warmup_seconds, int warmup_calls,
                                        double seconds, int calls,
                                        const CpuProbe& probe);

// W2: `in_flight` calls outstanding at all times on one channel (closed
// loop). The window is the `seconds` that start `warmup_seconds` after the
// first call; completions inside it count; calls in flight at its end are
// drained and not counted.
absl::StatusOr<Measurement> RunInFlight(::bench::Echo::Stub& stub,
                                        const std::string& payload,
                                        double warmup_seconds, double seconds,
                                        int in_flight, const CpuProbe& probe);

// W4: one bidi stream written one-way with `payload`-sized messages for
// `seconds`, then half-closed; the server's 16-byte totals must match.
// Warm-up: a separate stream of `warmup_seconds` on the same channel.
// `seconds` reported = first write to the totals' arrival.
absl::StatusOr<Measurement> RunStreamOneWay(::bench::Echo::Stub& stub,
                                            const std::string& payload,
                                            double warmup_seconds,
                                            double seconds,
                                            const CpuProbe& probe);

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_WORKLOADS_H_
