// The client side of the connection workloads W5 (many connections), W6
// (connection setup) and W6idle (idle connection memory) of
// shared/bench/WORKLOADS.md, through the public API: a `Channel` per
// connection (channels share the process's event loops). They measure, and
// read the server process's memory and descriptors; the caller reports.
#ifndef NETSTRUCTER_TOOLS_BENCH_CONNECTION_WORKLOADS_H_
#define NETSTRUCTER_TOOLS_BENCH_CONNECTION_WORKLOADS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "netstructer/tools/bench/workloads.h"
#include "netstructer/transport/fernet.h"

namespace netstructer::bench {

// Where the connections go. Value type.
struct ConnectionTarget {
  std::string address;                      // host:port
  std::optional<transport::FernetKey> key;  // Unset: insecure.
  pid_t server_pid = -1;                    // For CPU, memory, descriptors.
};

// What a connection workload measured: the common part, and its own JSON
// fields (name, literal value) in the order WORKLOADS.md lists them.
struct ConnectionMeasurement {
  Measurement m;
  std::string client_api;
  std::vector<std::pair<std::string, std::string>> fields;
};

// W5: `connections` Channels, one 64 B call outstanding on each (closed
// loop: a completion callback issues that connection's next call), the
// first calls issued by `driver_threads` threads (connection i by thread
// i mod T). Setup (every connection open and one checked call on each) is
// not timed; the window is the `seconds` that start `warmup_seconds` after
// the first timed call; calls in flight at its end are drained, not counted.
absl::StatusOr<ConnectionMeasurement> RunManyConnections(
    const ConnectionTarget& target, const std::string& payload,
    int connections, int driver_threads, double warmup_seconds,
    double seconds);

// W6: `openers` threads, each opening a Channel, making one 64 B call and
// releasing the Channel, back to back. Iterations whose close returned
// inside the window (after `warmup_seconds`, for `seconds`) count; latency
// is open+call, the close is reported apart (close_p50_us).
absl::StatusOr<ConnectionMeasurement> RunConnectionSetup(
    const ConnectionTarget& target, const std::string& payload, int openers,
    double warmup_seconds, double seconds);

// W6idle: 10 warm-up iterations of W6, then `connections` Channels opened
// one after another with one call each and kept open; the server's RSS
// 1 s after the last, against before, per connection.
absl::StatusOr<ConnectionMeasurement> RunIdleConnections(
    const ConnectionTarget& target, const std::string& payload,
    int connections);

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_CONNECTION_WORKLOADS_H_
