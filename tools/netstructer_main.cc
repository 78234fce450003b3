// The `netstructer` command: see `netstructer help`.
#include <iostream>
#include <string>
#include <vector>

#include "tools/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: netstructer COMMAND [ARGS]\n"
    "commands:\n"
    "  demo                      a server and clients on loopback: values, errors, RPC\n"
    "  serve                     run a server that prints what it receives\n"
    "  send                      send Python literals to a server\n"
    "  list                      list a server's RPC methods (reflection)\n"
    "  call                      make a unary RPC call with a JSON request\n"
    "  bench                     RPC benchmark W1-W4 on loopback\n"
    "  keygen                    print a new Fernet key\n"
    "  fernet encrypt|decrypt    seal or open a Fernet token (stdin to stdout)\n"
    "  help                      this message\n"
    "Run a command with no arguments (or bad ones) for its own usage.\n";

}  // namespace

namespace netstructer::tools {

int UsageError(Io io, const char* command, const char* usage,
               const std::string& problem) {
  if (!problem.empty()) io.err << "netstructer " << command << ": " << problem << "\n";
  io.err << usage;
  return kExitUsage;
}

}  // namespace netstructer::tools

int main(int argc, char** argv) {
  using netstructer::tools::Io;
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  Io io{std::cin, std::cout, std::cerr};
  if (args.empty()) {
    std::cerr << kUsage;
    return netstructer::tools::kExitUsage;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return netstructer::tools::kExitOk;
  }
  if (command == "keygen") return netstructer::tools::RunKeygen(args, io);
  if (command == "fernet") return netstructer::tools::RunFernet(args, io);
  if (command == "demo") return netstructer::tools::RunDemo(args, io);
  if (command == "serve") return netstructer::tools::RunServe(args, io);
  if (command == "send") return netstructer::tools::RunSend(args, io);
  if (command == "list") return netstructer::tools::RunList(args, io);
  if (command == "call") return netstructer::tools::RunCall(args, io);
  if (command == "bench" || command == "bench-server")
    return netstructer::tools::RunBench(command, args, io);
  std::cerr << "netstructer: unknown command '" << command << "'\n" << kUsage;
  return netstructer::tools::kExitUsage;
}
