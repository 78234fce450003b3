// `netstructer bench`: workloads W1-W6 of shared/bench/WORKLOADS.md against
// a server in a second process on 127.0.0.1, one JSON line per (workload,
// security mode, and for W5 and W6 connection or opener count). The CLI (tools/cmd_bench.cc) parses flags into
// BenchOptions; this runs them.
#ifndef NETSTRUCTER_TOOLS_BENCH_BENCH_H_
#define NETSTRUCTER_TOOLS_BENCH_BENCH_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "netstructer/tools/bench/payload.h"

namespace netstructer::bench {

enum class Security { kInsecure, kFernet };

// "insecure" / "fernet", as the `security` JSON field and --security.
const char* SecurityName(Security security);

// Value type; `{}` is the benchmark as WORKLOADS.md defines it, minus the
// server command.
struct BenchOptions {
  // The measured window of W1, W2 and W4.
  double seconds = 3.0;
  // Unmeasured warm-up of W1, W2 and W4 (W4: a separate stream).
  double warmup_seconds = 0.5;
  // W3's measured and warm-up calls.
  int w3_calls = 200;
  int w3_warmup_calls = 20;
  // W2's calls outstanding.
  int w2_in_flight = 32;
  // Modes in the order run.
  std::vector<Security> securities = {Security::kInsecure, Security::kFernet};
  Content content = Content::kRandom;
  // A subset of W1, W1flood, W2..W4, W5, W6, W6idle; run in that order
  // whatever the order here. W1flood (ours, not in WORKLOADS.md) and the
  // connection workloads run on request only, as WORKLOADS.md says.
  std::vector<std::string> workloads = {"W1", "W2", "W3", "W4"};
  // W5: one point per connection count; the threads issuing first calls.
  std::vector<int> w5_connections = {1, 16, 64, 256};
  int w5_driver_threads = 2;
  // W6: one point per number of opener threads.
  std::vector<int> w6_openers = {1, 8};
  // W6idle: connections kept open.
  int w6idle_connections = 1000;
  // W1flood (fernet mode only): W1 while a handshake flood of this many
  // ClientHellos per second (forged binders under the server's key id)
  // runs beside it.
  int flood_hellos_per_second = 2000;
  // How to start the server: a program (and arguments) that behaves as
  // `netstructer bench-server`; this appends `--security insecure` or
  // `--security fernet --key-file PATH`. E.g. {"/proc/self/exe",
  // "bench-server"}.
  std::vector<std::string> server_command;
};

// Runs every (security, workload) pair: for each, a fresh server process
// (so its peak RSS belongs to that workload) and one fresh connection, set
// up before timing. Writes each JSON line (and nothing else) to `out` as
// soon as it is measured. The Fernet key goes to the server through a chmod-600
// temporary key file, removed before returning. Any failed call fails the run.
absl::Status RunBench(const BenchOptions& options, std::ostream& out);

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_BENCH_H_
