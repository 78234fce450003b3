// The netstructer CLI's subcommands. Each takes its arguments (after the
// subcommand's name) and the process's streams, and returns the exit code:
// 0 success, 1 failure (the error is on stderr), 2 usage error.
#ifndef NETSTRUCTER_TOOLS_COMMANDS_H_
#define NETSTRUCTER_TOOLS_COMMANDS_H_

#include <iosfwd>
#include <ostream>
#include <string>
#include <vector>

namespace netstructer::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

using Args = std::vector<std::string>;

// Prints "netstructer COMMAND: PROBLEM" (when there is one) and the
// command's usage text to stderr; returns kExitUsage.
int UsageError(Io io, const char* command, const char* usage,
               const std::string& problem);

int RunKeygen(const Args& args, Io io);
int RunFernet(const Args& args, Io io);
int RunDemo(const Args& args, Io io);
int RunServe(const Args& args, Io io);
int RunSend(const Args& args, Io io);
int RunList(const Args& args, Io io);
int RunCall(const Args& args, Io io);
// `bench` and its hidden server half `bench-server` (tools/cmd_bench.cc).
int RunBench(const std::string& command, const Args& args, Io io);

}  // namespace netstructer::tools

#endif  // NETSTRUCTER_TOOLS_COMMANDS_H_
