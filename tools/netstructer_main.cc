// The `netstructer` command: see `netstructer help`.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "netstructer/client/rpc_runtime.h"
#include "netstructer/proto/terminal_text.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/transport/handshake_format.h"
#include "tools/commands.h"

namespace netstructer::tools {
namespace {

constexpr char kUsage[] =
    "usage: netstructer COMMAND [ARGS]\n"
    "       netstructer COMMAND --help    a command's flags and defaults\n"
    "       netstructer --version\n"
    "commands:\n"
    "  demo                      a server and clients on loopback: values, errors, RPC\n"
    "  serve                     run a server that prints what it receives\n"
    "  send                      send Python literals to a server\n"
    "  list                      list a server's RPC methods (or a service's)\n"
    "  describe                  a service, method, message or enum as .proto text\n"
    "  call                      make an RPC call of any kind with JSON requests\n"
    "  bench                     RPC benchmark W1-W4 on loopback\n"
    "  keygen                    print a new Fernet key\n"
    "  fernet encrypt|decrypt    seal or open a Fernet token (stdin to stdout)\n"
    "  help                      this message\n"
    "  version                   the version (as --version)\n"
    "Exit status: 0 success, 2 a usage error, 64 + the status code for an\n"
    "error (UNAVAILABLE 78, DEADLINE_EXCEEDED 68, UNAUTHENTICATED 80, ...),\n"
    "printed as one line 'CODE: message' on stderr.\n";

struct Command {
  const char* name;
  const char* usage;
  int (*run)(const Args& args, Io io);
};

int RunBenchCommand(const Args& args, Io io) { return RunBench("bench", args, io); }
int RunBenchServerCommand(const Args& args, Io io) {
  return RunBench("bench-server", args, io);
}

constexpr Command kCommands[] = {
    {"demo", kDemoUsage, RunDemo},
    {"serve", kServeUsage, RunServe},
    {"send", kSendUsage, RunSend},
    {"list", kListUsage, RunList},
    {"call", kCallUsage, RunCall},
    {"describe", kDescribeUsage, RunDescribe},
    {"bench", kBenchUsage, RunBenchCommand},
    {"bench-server", kBenchServerUsage, RunBenchServerCommand},
    {"keygen", kKeygenUsage, RunKeygen},
    {"fernet", kFernetUsage, RunFernet},
};

}  // namespace

int UsageError(Io io, const char* /*command*/, const char* usage,
               const std::string& problem) {
  if (!problem.empty()) {
    io.err << StatusForTerminal(absl::InvalidArgumentError(problem)) << "\n";
  }
  io.err << usage;
  return kExitUsage;
}

std::string VersionLine() {
  return absl::StrCat("netstructer 0.3.0 (handshake ", transport::kHandshakeMagic,
                      ", RPC runtime ", NETSTRUCTER_RPC_RUNTIME_VERSION, ")\n");
}

int StatusError(Io io, const absl::Status& status) {
  io.err << StatusForTerminal(status) << "\n";
  if (status.ok()) return kExitFailure;
  return kExitStatusBase + static_cast<int>(status.code());
}

}  // namespace netstructer::tools

int main(int argc, char** argv) {
  using netstructer::tools::Io;
  namespace tools = netstructer::tools;
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  Io io{std::cin, std::cout, std::cerr};
  if (args.empty()) return tools::UsageError(io, "", tools::kUsage, "give a command");
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << tools::kUsage;
    return tools::kExitOk;
  }
  if (command == "version" || command == "--version") {
    std::cout << tools::VersionLine();
    return tools::kExitOk;
  }
  for (const tools::Command& c : tools::kCommands) {
    if (command != c.name) continue;
    if (tools::WantsHelp(args)) {
      std::cout << c.usage;
      return tools::kExitOk;
    }
    if (tools::WantsVersion(args)) {
      std::cout << tools::VersionLine();
      return tools::kExitOk;
    }
    return c.run(args, io);
  }
  return tools::UsageError(io, "", tools::kUsage,
                           "unknown command '" + command + "'");
}
