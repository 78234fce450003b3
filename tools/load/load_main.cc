// `load`: the soak test (load.h); `load --serve`, its server child
// (load_server.h). Exit 0: the run passed; 1: it did not (the JSON line
// says why); 2: usage.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "netstructer/tools/cli_args.h"
#include "netstructer/tools/load/load.h"
#include "netstructer/tools/load/load_server.h"
#include "netstructer/transport/key_file.h"

namespace {

using netstructer::tools::CliArgs;
using netstructer::tools::FlagSpec;

constexpr char kUsage[] =
    "usage: load [--connections N] [--seconds S] [--security fernet|insecure]\n"
    "            [--threads N] [--unary-in-flight N] [--warmup S]\n"
    "            [--rss-tolerance F] [--call-timeout S] [--grace S]\n"
    "Runs a server child process and N connections to it on 127.0.0.1 for S\n"
    "seconds: unary calls, server/client/bidi streams and Bridge buffers,\n"
    "every payload checked byte for byte, both processes' RSS sampled every\n"
    "second. Prints one JSON line; exit 0 only with zero errors, zero\n"
    "mismatches, counts that agree with the server's and RSS flat after\n"
    "warm-up (no sample in the second half above the one at --warmup by more\n"
    "than --rss-tolerance; not judged when S < 2 x warm-up).\n"
    "Defaults: 500 connections (N >= 10), 60 s, fernet, 8 driver threads,\n"
    "2 unary calls in flight per unary connection, 10 s warm-up, tolerance\n"
    "0.10, 30 s call deadline; the run gives up (exit 1) after S + 90 s.\n"
    "(internal) load --serve --connections N --security insecure\n"
    "           load --serve --connections N --security fernet --key-file "
    "PATH\n";

int Usage(const std::string& problem) {
  std::cerr << "load: " << problem << "\n" << kUsage;
  return 2;
}

// `--name` as an int in [min, max] into `out` (unchanged when absent).
bool IntFlag(const CliArgs& args, const std::string& name, int min, int max,
             int* out) {
  std::optional<std::string> v = args.Get(name);
  if (!v.has_value()) return true;
  return absl::SimpleAtoi(*v, out) && *out >= min && *out <= max;
}

bool SecondsFlag(const CliArgs& args, const std::string& name,
                 absl::Duration* out) {
  std::optional<std::string> v = args.Get(name);
  if (!v.has_value()) return true;
  double s = 0;
  if (!absl::SimpleAtod(*v, &s) || !(s > 0)) return false;
  *out = absl::Seconds(s);
  return true;
}

int Serve(const CliArgs& args) {
  netstructer::load::LoadServerOptions options;
  const std::string security = args.Get("security").value_or("");
  options.insecure = security == "insecure";
  if (options.insecure == args.Has("key-file") ||
      (!options.insecure && security != "fernet")) {
    return Usage("--serve takes --security insecure, or fernet and --key-file");
  }
  if (!args.Has("connections") ||
      !IntFlag(args, "connections", 1, 1 << 20, &options.connections)) {
    return Usage("--serve takes --connections N");
  }
  absl::Status s;
  if (!options.insecure) {
    absl::StatusOr<std::vector<netstructer::transport::FernetKey>> keys =
        netstructer::transport::LoadKeyFile(*args.Get("key-file"));
    s = keys.status();
    if (keys.ok()) options.keys = *std::move(keys);
  }
  if (s.ok())
    s = netstructer::load::RunLoadServer(options, std::cin, std::cout);
  if (!s.ok()) {
    std::cerr << "load --serve: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  FlagSpec spec;
  spec.with_value = {"connections",   "seconds",         "security",
                     "threads",       "unary-in-flight", "warmup",
                     "rss-tolerance", "call-timeout",    "grace",
                     "key-file"};
  spec.boolean = {"serve"};
  absl::StatusOr<CliArgs> args =
      CliArgs::Parse(std::vector<std::string>(argv + 1, argv + argc), spec);
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (!args->positional().empty()) {
    return Usage(
        absl::StrCat("unexpected argument '", args->positional().front(), "'"));
  }
  if (args->Has("serve")) return Serve(*args);

  netstructer::load::LoadOptions options;
  if (!IntFlag(*args, "connections", 10, 100000, &options.connections)) {
    return Usage("--connections takes a count from 10 to 100000");
  }
  if (!IntFlag(*args, "seconds", 1, 86400, &options.seconds)) {
    return Usage("--seconds takes whole seconds from 1 to 86400");
  }
  if (!IntFlag(*args, "threads", 1, 1024, &options.threads)) {
    return Usage("--threads takes a count from 1 to 1024");
  }
  // 64: well under RpcServerOptions' 100 concurrent streams per connection.
  if (!IntFlag(*args, "unary-in-flight", 1, 64, &options.unary_in_flight)) {
    return Usage("--unary-in-flight takes a count from 1 to 64");
  }
  if (!IntFlag(*args, "warmup", 0, 86400, &options.warmup_seconds)) {
    return Usage("--warmup takes whole seconds >= 0");
  }
  if (std::optional<std::string> v = args->Get("rss-tolerance");
      v.has_value() && (!absl::SimpleAtod(*v, &options.rss_tolerance) ||
                        !(options.rss_tolerance >= 0))) {
    return Usage("--rss-tolerance takes a fraction >= 0 (0.10 = 10%)");
  }
  if (!SecondsFlag(*args, "call-timeout", &options.call_timeout)) {
    return Usage("--call-timeout takes seconds > 0");
  }
  if (!SecondsFlag(*args, "grace", &options.grace)) {
    return Usage("--grace takes seconds > 0");
  }
  const std::string security = args->Get("security").value_or("fernet");
  if (security != "fernet" && security != "insecure") {
    return Usage("--security takes fernet or insecure");
  }
  if (args->Has("key-file")) return Usage("--key-file goes with --serve");
  options.insecure = security == "insecure";
  options.server_command = {"/proc/self/exe", "--serve"};
  return netstructer::load::RunLoad(options, std::cout) ? 0 : 1;
}
