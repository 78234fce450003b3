#include "netstructer/tools/bench/bench.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "netstructer/client/channel.h"
#include "netstructer/tools/bench/bench_server.h"
#include "netstructer/tools/bench/connection_workloads.h"
#include "netstructer/tools/bench/handshake_flood.h"
#include "netstructer/tools/bench/measure.h"
#include "netstructer/tools/bench/report.h"
#include "netstructer/tools/bench/server_process.h"
#include "netstructer/tools/bench/workloads.h"
#include "netstructer/transport/fernet.h"

namespace netstructer::bench {

namespace {

// WORKLOADS.md sizes.
constexpr size_t kSmallBytes = 64;         // W1, W2
constexpr size_t kLargeBytes = 1 << 20;    // W3
constexpr size_t kStreamBytes = 16 << 10;  // W4

// What BridgeOptions{} and CallOptions{} ship with, unchanged here.
constexpr char kCompression[] =
    "lz4 on messages >= 1 KiB when it shrinks them (the default, unchanged)";

// A chmod-600 temporary file holding one key; removed on destruction.
// Resource type.
class TempKeyFile {
 public:
  static absl::StatusOr<std::unique_ptr<TempKeyFile>> Create(
      const transport::FernetKey& key) {
    const char* dir = std::getenv("TMPDIR");
    std::string path =
        absl::StrCat(dir != nullptr && *dir != '\0' ? dir : "/tmp",
                     "/netstructer-bench-key-XXXXXX");
    const int fd = mkstemp(path.data());  // Mode 0600.
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("cannot create ", path, ": ", strerror(errno)));
    }
    std::unique_ptr<TempKeyFile> file(new TempKeyFile(path));
    const std::string text = key.Encode() + "\n";
    const bool ok =
        fchmod(fd, 0600) == 0 && write(fd, text.data(), text.size()) ==
                                     static_cast<ssize_t>(text.size());
    close(fd);
    if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
    return file;
  }
  ~TempKeyFile() { unlink(path_.c_str()); }
  TempKeyFile(const TempKeyFile&) = delete;
  TempKeyFile& operator=(const TempKeyFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  explicit TempKeyFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct Mode {
  Security security;
  std::optional<transport::FernetKey> key;
  std::string key_file;
};

// Raises the soft RLIMIT_NOFILE to `want` (or the hard limit, if lower).
absl::Status RaiseDescriptorLimit(rlim_t want) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit: ", strerror(errno)));
  }
  if (limit.rlim_cur >= want) return absl::OkStatus();
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY
                       ? want
                       : std::min<rlim_t>(want, limit.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("setrlimit: ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool Selected(const BenchOptions& options, absl::string_view workload) {
  return std::find(options.workloads.begin(), options.workloads.end(),
                   workload) != options.workloads.end();
}

bool IsConnectionWorkload(absl::string_view workload) {
  return workload == "W5" || workload == "W6" || workload == "W6idle";
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartServer(
    const BenchOptions& options, const Mode& mode, bool ip_limits) {
  std::vector<std::string> argv = options.server_command;
  argv.push_back("--security");
  argv.push_back(SecurityName(mode.security));
  if (mode.security == Security::kFernet) {
    argv.push_back("--key-file");
    argv.push_back(mode.key_file);
  }
  if (!ip_limits) argv.push_back("--no-ip-limits");
  return ServerProcess::Start(argv, absl::Seconds(10));
}

// W5 with `concurrency` connections, W6 with `concurrency` openers, or
// W6idle, against a fresh server.
absl::StatusOr<WorkloadResult> RunConnectionWorkload(
    const BenchOptions& options, const Mode& mode, absl::string_view workload,
    int concurrency, const std::string& payload) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      StartServer(options, mode, /*ip_limits=*/false);
  if (!server.ok()) return server.status();
  ConnectionTarget target;
  target.address = absl::StrCat("127.0.0.1:", (*server)->port());
  target.key = mode.key;
  target.server_pid = (*server)->pid();
  absl::StatusOr<ConnectionMeasurement> m;
  if (workload == "W5") {
    m = RunManyConnections(target, payload, concurrency,
                           options.w5_driver_threads, options.warmup_seconds,
                           options.seconds);
  } else if (workload == "W6") {
    m = RunConnectionSetup(target, payload, concurrency,
                           options.warmup_seconds, options.seconds);
  } else {
    m = RunIdleConnections(target, payload, options.w6idle_connections);
  }
  WorkloadResult r;
  r.workload = std::string(workload);
  r.security = SecurityName(mode.security);
  if (!m.ok()) {
    return absl::Status(m.status().code(),
                        absl::StrCat(workload, " ", r.security, " (",
                                     concurrency, "): ", m.status().message()));
  }
  absl::StatusOr<int64_t> rss = PeakRssKib((*server)->pid());
  if (!rss.ok()) return rss.status();
  if (absl::Status s = (*server)->Stop(); !s.ok()) return s;
  r.payload_bytes = payload.size();
  r.concurrency = workload == "W6idle" ? 1 : concurrency;
  r.calls = m->m.calls;
  r.seconds = m->m.seconds;
  r.latencies_us = std::move(m->m.latencies_us);
  r.client_cpu_s = m->m.client_cpu_s;
  r.server_cpu_s = m->m.server_cpu_s;
  r.server_peak_rss_kib = *rss;
  r.mib_per_s = 2.0 * payload.size() * r.calls / r.seconds / 1048576.0;
  r.bytes_counted = "request+response payload";
  r.client_api = std::move(m->client_api);
  r.server_api = absl::StrCat(
      kServerApi, "; accept policy: per-IP cap and rate limit off");
  r.compression = kCompression;
  r.content = ContentName(Content::kRandom);
  r.extra_fields = std::move(m->fields);
  return r;
}

absl::StatusOr<WorkloadResult> RunOne(const BenchOptions& options,
                                      const Mode& mode,
                                      absl::string_view workload,
                                      const std::string& payload) {
  const bool flood = workload == "W1flood";
  // The flood's connections all come from 127.0.0.1: without per-IP limits
  // they reach the handshake, which is what W1flood measures.
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      StartServer(options, mode, /*ip_limits=*/!flood);
  if (!server.ok()) return server.status();

  // One connection, linked (and keyed) before anything is timed.
  ChannelOptions channel_options;
  if (mode.key.has_value()) {
    channel_options.link.key = *mode.key;
  } else {
    channel_options.link.insecure = true;
  }
  absl::StatusOr<std::shared_ptr<Channel>> channel = Channel::Create(
      absl::StrCat("127.0.0.1:", (*server)->port()), channel_options);
  if (!channel.ok()) return channel.status();
  auto stub = std::make_unique<::bench::Echo::Stub>(*channel);
  const CpuProbe probe((*server)->pid());

  WorkloadResult r;
  r.workload = std::string(workload);
  r.security = SecurityName(mode.security);
  r.payload_bytes = payload.size();
  r.server_api = kServerApi;
  r.compression = kCompression;
  r.content = ContentName(options.content);
  absl::StatusOr<Measurement> m;
  std::unique_ptr<HandshakeFlood> flooding;
  if (flood) {
    // The attacker saw a hello of the server's key. (Fernet only: RunBench.)
    if (!mode.key.has_value()) {
      return absl::InvalidArgumentError("W1flood needs the fernet mode");
    }
    absl::StatusOr<std::unique_ptr<HandshakeFlood>> started =
        HandshakeFlood::Start(absl::StrCat("127.0.0.1:", (*server)->port()),
                              *mode.key, options.flood_hellos_per_second);
    if (!started.ok()) return started.status();
    flooding = *std::move(started);
  }
  if (workload == "W1" || flood) {
    m = RunPingPong(*stub, payload, options.warmup_seconds, 0, options.seconds,
                    0, probe);
    r.client_api = kBlockingClientApi;
  } else if (workload == "W2") {
    m = RunInFlight(*stub, payload, options.warmup_seconds, options.seconds,
                    options.w2_in_flight, probe);
    r.concurrency = options.w2_in_flight;
    r.client_api = kAsyncClientApi;
  } else if (workload == "W3") {
    m = RunPingPong(*stub, payload, 0, options.w3_warmup_calls, 0,
                    options.w3_calls, probe);
    r.client_api = kBlockingClientApi;
  } else {
    m = RunStreamOneWay(*stub, payload, options.warmup_seconds, options.seconds,
                        probe);
    r.client_api = kStreamClientApi;
  }
  if (!m.ok()) {
    return absl::Status(
        m.status().code(),
        absl::StrCat(workload, " ", r.security, ": ", m.status().message()));
  }
  if (flooding != nullptr) {
    const HandshakeFlood::Counts counts = flooding->Stop();
    if (counts.refused == 0) {
      return absl::InternalError(absl::StrCat(
          "W1flood ", r.security, ": no hello of the flood was refused (",
          counts.other, " failed otherwise): it never reached a handshake"));
    }
    r.extra_fields = {
        {"flood_hellos_per_s_target", absl::StrCat(options.flood_hellos_per_second)},
        {"flood_hellos_sent", absl::StrCat(counts.sent)},
        {"flood_hellos_per_s",
         absl::StrFormat("%.1f", counts.sent / counts.seconds)},
        {"flood_refused", absl::StrCat(counts.refused)},
        {"flood_other", absl::StrCat(counts.other)},
    };
    r.client_api = absl::StrCat(
        kBlockingClientApi, "; meanwhile 2 threads of the client process open "
        "connections and send ClientHellos with the server's key id and a "
        "forged binder, read the REFUSAL and close");
  }
  absl::StatusOr<int64_t> rss = PeakRssKib((*server)->pid());
  if (!rss.ok()) return rss.status();
  stub.reset();
  channel->reset();
  if (absl::Status s = (*server)->Stop(); !s.ok()) return s;

  r.calls = m->calls;
  r.seconds = m->seconds;
  r.latencies_us = std::move(m->latencies_us);
  r.client_cpu_s = m->client_cpu_s;
  r.server_cpu_s = m->server_cpu_s;
  r.server_peak_rss_kib = *rss;
  if (workload == "W4") {
    r.bytes_counted = "client->server payload only";
    r.mib_per_s =
        static_cast<double>(payload.size()) * r.calls / r.seconds / 1048576.0;
  } else {
    r.bytes_counted = "request+response payload";
    r.mib_per_s = 2.0 * payload.size() * r.calls / r.seconds / 1048576.0;
  }
  if (r.calls == 0) {
    return absl::InternalError(
        absl::StrCat(workload, " ", r.security, ": no call completed"));
  }
  return r;
}

}  // namespace

const char* SecurityName(Security security) {
  return security == Security::kFernet ? "fernet" : "insecure";
}

absl::Status RunBench(const BenchOptions& options, std::ostream& out) {
  if (options.server_command.empty()) {
    return absl::InvalidArgumentError("no server command");
  }
  // A server that dies must not kill us through its stdin pipe.
  signal(SIGPIPE, SIG_IGN);

  // Payloads first: a missing corpus fails before anything runs.
  struct Job {
    const char* workload;
    std::string payload;
    int concurrency = 1;  // W5: connections; W6: openers.
  };
  std::vector<Job> jobs;
  for (auto [workload, size] :
       {std::pair<const char*, size_t>{"W1", kSmallBytes},
        {"W1flood", kSmallBytes},
        {"W2", kSmallBytes},
        {"W3", kLargeBytes},
        {"W4", kStreamBytes}}) {
    if (!Selected(options, workload)) continue;
    absl::StatusOr<std::string> payload = MakePayload(options.content, size);
    if (!payload.ok()) return payload.status();
    jobs.push_back({workload, *std::move(payload)});
  }
  // The connection workloads: random 64 B payloads whatever --content says
  // (WORKLOADS.md defines no variant for them).
  absl::StatusOr<std::string> small = MakePayload(Content::kRandom, kSmallBytes);
  if (!small.ok()) return small.status();
  if (Selected(options, "W5")) {
    for (int c : options.w5_connections) jobs.push_back({"W5", *small, c});
  }
  if (Selected(options, "W6")) {
    for (int c : options.w6_openers) jobs.push_back({"W6", *small, c});
  }
  if (Selected(options, "W6idle")) jobs.push_back({"W6idle", *small, 1});
  if (Selected(options, "W5") || Selected(options, "W6") ||
      Selected(options, "W6idle")) {
    // 256 connections (W5) and 1000 (W6idle) need more descriptors than the
    // usual soft limit of 1024, here and in the server child (inherited).
    if (absl::Status s = RaiseDescriptorLimit(8192); !s.ok()) return s;
  }

  // One key for the run, handed to each server through a key file.
  std::optional<transport::FernetKey> key;
  std::unique_ptr<TempKeyFile> key_file;
  if (std::find(options.securities.begin(), options.securities.end(),
                Security::kFernet) != options.securities.end()) {
    absl::StatusOr<transport::FernetKey> generated =
        transport::FernetKey::Generate();
    if (!generated.ok()) return generated.status();
    absl::StatusOr<std::unique_ptr<TempKeyFile>> file =
        TempKeyFile::Create(*generated);
    if (!file.ok()) return file.status();
    key = *generated;
    key_file = *std::move(file);
  }
  std::vector<Mode> modes;
  for (Security security : options.securities) {
    if (security == Security::kFernet) {
      modes.push_back(Mode{security, key, key_file->path()});
    } else {
      modes.push_back(Mode{security, std::nullopt, ""});
    }
  }
  for (const Mode& mode : modes) {
    for (const Job& job : jobs) {
      // A flood of forged binders is a Fernet server's problem: an insecure
      // server takes any insecure hello (and refuses Fernet ones by mode).
      if (std::string(job.workload) == "W1flood" &&
          mode.security != Security::kFernet) {
        continue;
      }
      absl::StatusOr<WorkloadResult> r =
          IsConnectionWorkload(job.workload)
              ? RunConnectionWorkload(options, mode, job.workload,
                                      job.concurrency, job.payload)
              : RunOne(options, mode, job.workload, job.payload);
      if (!r.ok()) return r.status();
      out << ToJsonLine(*r) << "\n" << std::flush;
    }
  }
  return absl::OkStatus();
}

}  // namespace netstructer::bench
