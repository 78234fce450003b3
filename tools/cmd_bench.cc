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
#include "tools/bench/bench.h"
#include "tools/bench/bench_server.h"
#include "tools/cli_args.h"
#include "tools/commands.h"

namespace netstructer::tools {
namespace {

constexpr char kBenchUsage[] =
    "usage: netstructer bench [--seconds S] [--security fernet|insecure|both]\n"
    "                         [--content random|protobuf_like]\n"
    "                         [--workloads W1,W2,W3,W4]\n"
    "Runs the RPC workloads of ../shared/bench/WORKLOADS.md against a server\n"
    "child process on 127.0.0.1 and prints one JSON line per (workload,\n"
    "security) on stdout. Defaults: --seconds 3 (window of W1, W2, W4),\n"
    "--security both, --content random, all workloads. protobuf_like reads\n"
    "${BENCH_BUILD:-/tmp/netstructer-bench}/limits/corpus_pb.bin, written by\n"
    "../shared/bench/limits/run.sh. Exit 1 if any call fails.\n"
    "For quick tests only: --warmup S (W1, W2, W4; default 0.5),\n"
    "--w3-calls N (default 200), --w3-warmup-calls N (default 20).\n";

constexpr char kBenchServerUsage[] =
    "usage: netstructer bench-server --security insecure\n"
    "       netstructer bench-server --security fernet --key-file PATH\n"
    "(internal, run by `netstructer bench`) Serves the benchmark's Echo on\n"
    "127.0.0.1:0, prints the port, serves until stdin ends or says \"stop\".\n";

bool ParsePositive(const std::optional<std::string>& v, double* out) {
  if (!v.has_value()) return true;
  return absl::SimpleAtod(*v, out) && *out > 0;
}

bool ParseCount(const std::optional<std::string>& v, int min, int* out) {
  if (!v.has_value()) return true;
  return absl::SimpleAtoi(*v, out) && *out >= min;
}

int RunBenchClient(const Args& args, Io io) {
  auto usage = [&](const std::string& problem) {
    return UsageError(io, "bench", kBenchUsage, problem);
  };
  FlagSpec spec;
  spec.with_value = {"seconds", "security", "content",        "workloads",
                     "warmup",  "w3-calls", "w3-warmup-calls"};
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, spec);
  if (!parsed.ok()) return usage(std::string(parsed.status().message()));
  if (!parsed->positional().empty()) {
    return usage(absl::StrCat("unexpected argument '",
                              parsed->positional().front(), "'"));
  }
  bench::BenchOptions options;
  if (!ParsePositive(parsed->Get("seconds"), &options.seconds)) {
    return usage("--seconds takes a number > 0");
  }
  if (std::optional<std::string> v = parsed->Get("warmup"); v.has_value()) {
    if (!absl::SimpleAtod(*v, &options.warmup_seconds) ||
        options.warmup_seconds < 0) {
      return usage("--warmup takes a number >= 0");
    }
  }
  if (!ParseCount(parsed->Get("w3-calls"), 1, &options.w3_calls)) {
    return usage("--w3-calls takes a count >= 1");
  }
  if (!ParseCount(parsed->Get("w3-warmup-calls"), 0,
                  &options.w3_warmup_calls)) {
    return usage("--w3-warmup-calls takes a count >= 0");
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
      if (w != "W1" && w != "W2" && w != "W3" && w != "W4") {
        return usage(
            absl::StrCat("unknown workload '", w, "' (W1, W2, W3, W4)"));
      }
      options.workloads.emplace_back(w);
    }
    if (options.workloads.empty()) return usage("--workloads names none");
  }
  options.server_command = {"/proc/self/exe", "bench-server"};
  if (absl::Status s = bench::RunBench(options, io.out); !s.ok()) {
    io.err << "netstructer bench: " << s.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

int RunBenchServer(const Args& args, Io io) {
  auto usage = [&](const std::string& problem) {
    return UsageError(io, "bench-server", kBenchServerUsage, problem);
  };
  FlagSpec spec;
  spec.with_value = {"security", "key-file"};
  absl::StatusOr<CliArgs> parsed = CliArgs::Parse(args, spec);
  if (!parsed.ok()) return usage(std::string(parsed.status().message()));
  bench::BenchServerOptions options;
  const std::string security = parsed->Get("security").value_or("");
  if (security == "insecure" && !parsed->Has("key-file")) {
    options.insecure = true;
  } else if (security == "fernet" && parsed->Has("key-file")) {
    options.key_file = *parsed->Get("key-file");
  } else {
    return usage("give --security insecure, or --security fernet --key-file");
  }
  if (absl::Status s = bench::RunBenchServer(options, io.in, io.out); !s.ok()) {
    io.err << "netstructer bench-server: " << s.message() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int RunBench(const std::string& command, const Args& args, Io io) {
  return command == "bench-server" ? RunBenchServer(args, io)
                                   : RunBenchClient(args, io);
}

}  // namespace netstructer::tools
