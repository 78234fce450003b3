// `load`: the soak test of the hardening issue. A server child process
// (load_server.h) and, in this process, `connections` connections on
// 127.0.0.1 carrying unary calls, server-, client- and bidi streams and
// Bridge buffers (workers.h) for `seconds`; every payload checked byte for
// byte, RSS of both processes sampled every second (rss_verdict.h), one
// JSON line at the end (report.h).
#ifndef NETSTRUCTER_TOOLS_LOAD_LOAD_H_
#define NETSTRUCTER_TOOLS_LOAD_LOAD_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace netstructer::load {

// Value type; `{}` is the run minus the server command.
struct LoadOptions {
  int connections = 500;
  int seconds = 60;
  bool insecure = false;  // Else Fernet, with a key made for the run.
  // Driver threads of the streaming and Bridge connections (unary calls
  // run on the connections' own I/O threads).
  int threads = 8;
  // Echo calls outstanding per unary connection. 2: with 4, the unary
  // closed loops (800 calls outstanding at 500 connections) took 97% of the
  // server's one I/O thread and starved the streams' rounds.
  int unary_in_flight = 2;
  // RSS at this second is the baseline of the verdict.
  int warmup_seconds = 10;
  // Allowed growth over the baseline in the second half of the run.
  double rss_tolerance = 0.10;
  // Each call's (and stream's) deadline; each Bridge receive's timeout.
  absl::Duration call_timeout = absl::Seconds(30);
  // The hard limit is `seconds` + `grace` from the start: past it the run
  // reports what it has, kills the server and exits 1 instead of hanging.
  absl::Duration grace = absl::Seconds(90);
  // How to start the server: a program (and arguments) that behaves as
  // `load --serve`; this appends --connections and the security flags.
  std::vector<std::string> server_command;
};

// Runs the test and writes the JSON line to `out` (also when the run
// could not start: the line says why). True iff the run passed
// (LoadReport::Passed).
bool RunLoad(const LoadOptions& options, std::ostream& out);

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_LOAD_H_
