// `netstructer bench`: the RPC benchmark of issue 5 (tools/bench/), and its
// hidden server half `netstructer bench-server`, which `bench` runs as a
// child process (/proc/self/exe) so that client and server are two
// processes, as shared/bench/WORKLOADS.md requires.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "netstructer/tools/bench/bench.h"
#include "netstructer/tools/bench/bench_server.h"
#include "netstructer/tools/cli_args.h"
#include "tools/commands.h"

namespace netstructer::tools {

const char kBenchUsage[] =
    "usage: netstructer bench [--seconds DURATION] [--security fernet|insecure|both]\n"
    "                         [--content random|protobuf_like]\n"
    "                         [--workloads W1,W1flood,W2,W3,W4,W5,W6,W6idle]\n"
    "                         [--w5-conns 1,16,64,256] [--w6-openers 1,8]\n"
    "                         [--w6-idle-conns 1000] [--flood-rate 2000]\n"
    "Runs the RPC workloads of ../shared/bench/WORKLOADS.md against a server\n"
    "child process on 127.0.0.1 and prints one JSON line per (workload,\n"
    "security, and W5's connections or W6's openers) on stdout. Defaults:\n"
    "--seconds 3 (window of W1, W2, W4, W5, W6), --security both, --content\n"
    "random, W1-W4; the connection workloads (W5 many connections, W6\n"
    "connection setup, W6idle idle connection memory) run when named, against\n"
    "a server without per-IP limits (all connections come from 127.0.0.1).\n"
    "W1flood (fernet only) is W1 while --flood-rate ClientHellos/s with\n"
    "forged binders reach the same server (per-IP limits off too).\n"
    "protobuf_like (W1-W4 only) reads\n"
    "${BENCH_BUILD:-/tmp/netstructer-bench}/limits/corpus_pb.bin, written by\n"
    "../shared/bench/limits/run.sh, or makes the same kind of corpus itself\n"
    "when that file is missing. Exit 64 + the code if any call fails.\n"
    "DURATION: 500ms, 2s, 1m, or a number of seconds.\n"
    "For quick tests only: --warmup DURATION (W1, W2, W4; default 0.5),\n"
    "--w3-calls N (default 200), --w3-warmup-calls N (default 20).\n";

const char kBenchServerUsage[] =
    "usage: netstructer bench-server --security insecure\n"
    "       netstructer bench-server --security fernet --key-file PATH\n"
    "       (either may add --no-ip-limits: no per-IP session cap or rate)\n"
    "(internal, run by `netstructer bench`) Serves the benchmark's Echo on\n"
    "127.0.0.1:0, prints the port, serves until stdin ends or says \"stop\".\n";

namespace {

bool ParseCount(const std::optional<std::string>& v, int min, int* out) {
  if (!v.has_value()) return true;
  return absl::SimpleAtoi(*v, out) && *out >= min;
}

// "1,16,64": counts >= 1, at least one.
bool ParseCounts(const std::optional<std::string>& v, std::vector<int>* out) {
  if (!v.has_value()) return true;
  std::vector<int> counts;
  for (absl::string_view part : absl::StrSplit(*v, ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1) return false;
    counts.push_back(n);
  }
  *out = std::move(counts);
  return true;
}

int RunBenchClient(const Args& args, Io io) {
  auto usage = [&](const std::string& problem) {
    return UsageError(io, "bench", kBenchUsage, problem);
  };
  FlagSpec spec;
  spec.with_value = {"seconds",        "security",  "content",
                     "workloads",      "warmup",    "w3-calls",
                     "w3-warmup-calls", "w5-conns", "w6-openers",
                     "w6-idle-conns", "flood-rate"};
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, spec);
  if (!parsed.ok()) return usage(std::string(parsed.status().message()));
  if (!parsed->positional().empty()) {
    return usage(absl::StrCat("unexpected argument '",
                              parsed->positional().front(), "'"));
  }
  bench::BenchOptions options;
  if (std::optional<std::string> v = parsed->Get("seconds"); v.has_value()) {
    absl::StatusOr<absl::Duration> d = ParseCliDuration("seconds", *v);
    if (!d.ok()) return usage(std::string(d.status().message()));
    options.seconds = absl::ToDoubleSeconds(*d);
  }
  if (std::optional<std::string> v = parsed->Get("warmup"); v.has_value()) {
    absl::StatusOr<absl::Duration> d =
        ParseCliDuration("warmup", *v, /*allow_zero=*/true);
    if (!d.ok()) return usage(std::string(d.status().message()));
    options.warmup_seconds = absl::ToDoubleSeconds(*d);
  }
  if (!ParseCount(parsed->Get("w3-calls"), 1, &options.w3_calls)) {
    return usage("--w3-calls takes a count >= 1");
  }
  if (!ParseCount(parsed->Get("w3-warmup-calls"), 0,
                  &options.w3_warmup_calls)) {
    return usage("--w3-warmup-calls takes a count >= 0");
  }
  if (!ParseCounts(parsed->Get("w5-conns"), &options.w5_connections)) {
    return usage("--w5-conns takes counts >= 1, comma-separated");
  }
  if (!ParseCounts(parsed->Get("w6-openers"), &options.w6_openers)) {
    return usage("--w6-openers takes counts >= 1, comma-separated");
  }
  if (!ParseCount(parsed->Get("w6-idle-conns"), 1,
                  &options.w6idle_connections)) {
    return usage("--w6-idle-conns takes a count >= 1");
  }
  if (!ParseCount(parsed->Get("flood-rate"), 1,
                  &options.flood_hellos_per_second)) {
    return usage("--flood-rate takes a count >= 1 (hellos per second)");
  }
  const std::string security = parsed->Get("security").value_or("both");
  if (security == "both") {
    options.securities = {bench::Security::kInsecure, bench::Security::kFernet};
  } else if (security == "insecure") {
    options.securities = {bench::Security::kInsecure};
  } else if (security == "fernet") {
    options.securities = {bench::Security::kFernet};
  } else {
    return usage("--security takes fernet, insecure or both");
  }
  const std::string content = parsed->Get("content").value_or("random");
  if (content == "random") {
    options.content = bench::Content::kRandom;
  } else if (content == "protobuf_like") {
    options.content = bench::Content::kProtobufLike;
  } else {
    return usage("--content takes random or protobuf_like");
  }
  if (std::optional<std::string> v = parsed->Get("workloads"); v.has_value()) {
    options.workloads.clear();
    for (absl::string_view w : absl::StrSplit(*v, ',', absl::SkipEmpty())) {
      if (w != "W1" && w != "W1flood" && w != "W2" && w != "W3" &&
          w != "W4" && w != "W5" && w != "W6" && w != "W6idle") {
        return usage(absl::StrCat(
            "unknown workload '", w,
            "' (W1, W1flood, W2, W3, W4, W5, W6, W6idle)"));
      }
      options.workloads.emplace_back(w);
    }
    if (options.workloads.empty()) return usage("--workloads names none");
  }
  options.server_command = {"/proc/self/exe", "bench-server"};
  if (absl::Status s = bench::RunBench(options, io.out); !s.ok()) {
    return StatusError(io, s);
  }
  return kExitOk;
}

int RunBenchServer(const Args& args, Io io) {
  auto usage = [&](const std::string& problem) {
    return UsageError(io, "bench-server", kBenchServerUsage, problem);
  };
  FlagSpec spec;
  spec.with_value = {"security", "key-file"};
  spec.boolean = {"no-ip-limits"};
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, spec);
  if (!parsed.ok()) return usage(std::string(parsed.status().message()));
  bench::BenchServerOptions options;
  options.ip_limits = !parsed->Has("no-ip-limits");
  const std::string security = parsed->Get("security").value_or("");
  if (security == "insecure" && !parsed->Has("key-file")) {
    options.insecure = true;
  } else if (security == "fernet" && parsed->Has("key-file")) {
    options.key_file = *parsed->Get("key-file");
  } else {
    return usage("give --security insecure, or --security fernet --key-file");
  }
  if (absl::Status s = bench::RunBenchServer(options, io.in, io.out); !s.ok()) {
    return StatusError(io, s);
  }
  return kExitOk;
}

}  // namespace

int RunBench(const std::string& command, const Args& args, Io io) {
  return command == "bench-server" ? RunBenchServer(args, io)
                                   : RunBenchClient(args, io);
}

}  // namespace netstructer::tools
