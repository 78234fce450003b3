// The netstructer CLI's subcommands. Each takes its arguments (after the
// subcommand's name) and the process's streams, and returns the exit code:
// 0 success; 2 a usage error; 64 + the status code for an error that has
// one (grpcurl's convention: UNAVAILABLE is 78, INVALID_ARGUMENT 67), with
// one line "CODE: message" on stderr; 1 for a failure without a status.
// `--help`/`-h` and `--version` are answered before a command runs
// (netstructer_main.cc).
#ifndef NETSTRUCTER_TOOLS_COMMANDS_H_
#define NETSTRUCTER_TOOLS_COMMANDS_H_

#include <iosfwd>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace netstructer::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitStatusBase = 64;

// `netstructer --version`: the release, then the wire versions it speaks
// (transport::kHandshakeMagic, NETSTRUCTER_RPC_RUNTIME_VERSION).
std::string VersionLine();

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

using Args = std::vector<std::string>;

// Prints "INVALID_ARGUMENT: PROBLEM" (when there is one) and the
// command's usage text to stderr; returns kExitUsage. `command` is unused
// (kept for the callers' readability).
int UsageError(Io io, const char* command, const char* usage,
               const std::string& problem);
// Prints "CODE: message" (the message escaped for a terminal) on stderr;
// returns kExitStatusBase + the code (kExitFailure for an OK status, which
// is a caller's bug).
int StatusError(Io io, const absl::Status& status);

// Each command's usage, printed by `--help` (stdout, exit 0) and after a
// usage error (stderr, exit 2).
extern const char kServeUsage[];
extern const char kSendUsage[];
extern const char kListUsage[];
extern const char kCallUsage[];
extern const char kDescribeUsage[];
extern const char kBenchUsage[];
extern const char kBenchServerUsage[];
extern const char kKeygenUsage[];
extern const char kFernetUsage[];
extern const char kDemoUsage[];

int RunKeygen(const Args& args, Io io);
int RunFernet(const Args& args, Io io);
int RunDemo(const Args& args, Io io);
int RunServe(const Args& args, Io io);
int RunSend(const Args& args, Io io);
int RunList(const Args& args, Io io);
int RunCall(const Args& args, Io io);
int RunDescribe(const Args& args, Io io);
// `bench` and its hidden server half `bench-server` (tools/cmd_bench.cc).
int RunBench(const std::string& command, const Args& args, Io io);

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_COMMANDS_H_
