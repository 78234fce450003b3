// The greeter server:
//   server --listen HOST:PORT (--key-file PATH | --insecure)
// Prints "listening on IP:PORT" on stdout once it accepts connections, then
// serves until SIGINT or SIGTERM and shuts down (calls in flight get a
// second to finish). Exit codes: 0 after a clean shutdown, 1 on failure
// (the error is on stderr), 2 for bad arguments (usage on stderr).
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "netstructer/examples/greeter/greeter_service.h"
#include "netstructer/service/server.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/key_file.h"

namespace {

constexpr char kUsage[] =
    "usage: server --listen HOST:PORT (--key-file PATH | --insecure)\n"
    "Serves greeter.Greeter until SIGINT or SIGTERM. Port 0 picks a free\n"
    "port; the bound address is printed as \"listening on IP:PORT\".\n"
    "--insecure (plaintext frames) is for local debugging only.\n";

// How long calls in flight may run on after the signal.
constexpr absl::Duration kShutdownDeadline = absl::Seconds(1);

int Usage(absl::string_view problem) {
  std::cerr << "server: " << problem << "\n" << kUsage;
  return 2;
}

int Fail(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  netstructer::tools::FlagSpec spec;
  spec.with_value = {"listen", "key-file"};
  spec.boolean = {"insecure"};
  absl::StatusOr<netstructer::tools::CliArgs> args =
      netstructer::tools::CliArgs::Parse(
          std::vector<std::string>(argv + 1, argv + argc), spec);
  if (!args.ok()) return Usage(args.status().message());
  if (!args->positional().empty()) {
    return Usage(
        absl::StrCat("unexpected argument '", args->positional().front(), "'"));
  }
  const std::optional<std::string> listen = args->Get("listen");
  if (!listen.has_value()) return Usage("--listen is required");
  if (args->Has("insecure") == args->Has("key-file")) {
    return Usage("give exactly one of --key-file and --insecure");
  }

  netstructer::ServerOptions options;
  if (args->Has("insecure")) {
    options.insecure = true;
  } else {
    absl::StatusOr<std::vector<netstructer::transport::FernetKey>> keys =
        netstructer::transport::LoadKeyFile(*args->Get("key-file"));
    if (!keys.ok()) return Fail(keys.status());
    options.keys = *std::move(keys);
  }

  // Block the stop signals before the server starts its threads, so that
  // they all inherit the mask and only sigwait() below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  greeter::GreeterService service;  // Outlives `server` (declared first).
  netstructer::Server server(*listen, options);
  if (absl::Status s = server.RegisterService(&service); !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = server.Init(); !s.ok()) return Fail(s);
  if (absl::Status s = server.Listen(); !s.ok()) return Fail(s);
  if (options.insecure) {
    std::cerr << "server: INSECURE: plaintext frames, no authentication\n";
  }
  std::cout << "listening on " << server.address() << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server.Shutdown(kShutdownDeadline);
  return 0;
}
