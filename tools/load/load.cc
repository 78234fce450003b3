#include "netstructer/tools/load/load.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/client/channel.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/tools/bench/measure.h"
#include "netstructer/tools/bench/server_process.h"
#include "netstructer/tools/load/load_server.h"
#include "netstructer/tools/load/process_stats.h"
#include "netstructer/tools/load/report.h"
#include "netstructer/tools/load/workers.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::load {

namespace {

using bench::ServerProcess;

// The run's key for the server child: a chmod-600 file in a private (0700)
// temporary directory, both removed on destruction. Resource type.
class ChildKeyFile {
 public:
  static absl::StatusOr<std::unique_ptr<ChildKeyFile>> Write(
      const transport::FernetKey& key) {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                     "/netstructer-load-XXXXXX");
    if (mkdtemp(dir.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp ", dir, ": ", strerror(errno)));
    }
    std::unique_ptr<ChildKeyFile> file(new ChildKeyFile(dir));
    const int fd = open(file->path_.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    const std::string line = key.Encode() + "\n";
    const bool written = fd >= 0 && write(fd, line.data(), line.size()) ==
                                        static_cast<ssize_t>(line.size());
    if (fd >= 0) close(fd);
    if (!written) {
      return absl::InternalError(absl::StrCat("cannot write ", file->path_));
    }
    return file;
  }
  ~ChildKeyFile() {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  ChildKeyFile(const ChildKeyFile&) = delete;
  ChildKeyFile& operator=(const ChildKeyFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  explicit ChildKeyFile(std::string dir)
      : dir_(std::move(dir)), path_(dir_ + "/key") {}
  const std::string dir_;
  const std::string path_;
};

// One connection of the run: a Channel (RPC kinds) or a Bridge.
struct Connection {
  std::shared_ptr<Channel> channel;
  std::shared_ptr<Bridge> bridge;
};

// Links every connection, `threads` at a time: Bridges from
// kBridgeClientIp, Channels from 127.0.0.1. The first failure, if any.
absl::Status LinkAll(const std::string& address, const LinkOptions& link,
                     int threads, std::vector<Connection>* connections) {
  Mutex mu;
  absl::Status first;  // Guarded by mu.
  auto link_some = [&](uint32_t start) {
    for (uint32_t i = start; i < connections->size(); i += threads) {
      absl::Status s;
      if (KindOf(i) == Kind::kBridge) {
        LinkOptions from = link;
        from.local_address = absl::StrCat(kBridgeClientIp, ":0");
        absl::StatusOr<std::shared_ptr<Bridge>> b = Bridge::Link(address, from);
        if (b.ok()) (*connections)[i].bridge = *std::move(b);
        s = b.status();
      } else {
        ChannelOptions options;
        options.link = link;
        absl::StatusOr<std::shared_ptr<Channel>> c =
            Channel::Create(address, options);
        if (c.ok()) (*connections)[i].channel = *std::move(c);
        s = c.status();
      }
      if (!s.ok()) {
        MutexLock lock(&mu);
        if (first.ok()) {
          first = absl::Status(s.code(), absl::StrCat("linking connection ", i,
                                                      ": ", s.message()));
        }
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(link_some, t);
  for (std::thread& t : pool) t.join();
  MutexLock lock(&mu);
  return DetachedStatus(first);
}

// Where the run is, for the watchdog's report; the server to kill.
// Thread-safe.
class Progress {
 public:
  void Set(std::string phase, pid_t server_pid) {
    MutexLock lock(&mu_);
    phase_ = std::move(phase);
    server_pid_ = server_pid;
  }
  // Kills the server (if any) and returns the phase.
  std::string KillServer() {
    MutexLock lock(&mu_);
    if (server_pid_ > 0) kill(server_pid_, SIGKILL);
    return phase_;
  }

 private:
  Mutex mu_;
  std::string phase_ ABSL_GUARDED_BY(mu_);
  pid_t server_pid_ ABSL_GUARDED_BY(mu_) = 0;
};

// Calls `expire` (which must not return) if not destroyed by `deadline`.
// Thread-safe.
class Watchdog {
 public:
  Watchdog(absl::Time deadline, std::function<void()> expire)
      : thread_([this, deadline, expire = std::move(expire)] {
          MutexLock lock(&mu_);
          while (!done_) {
            if (cv_.WaitWithDeadline(&mu_, deadline) && !done_) expire();
          }
        }) {}
  ~Watchdog() {
    {
      MutexLock lock(&mu_);
      done_ = true;
      cv_.SignalAll();
    }
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  Mutex mu_;
  CondVar cv_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Last: starts once the rest is built.
};

// Where the client's and the server's counts disagree, or "".
std::string Disagreement(const Tally& t, const ::load::StatsReply& s,
                         int bridges) {
  auto of = [&](Kind k) { return t.kinds[static_cast<int>(k)]; };
  std::vector<std::string> d;
  auto check = [&](const char* what, uint64_t client, uint64_t server) {
    if (client != server) {
      d.push_back(absl::StrCat(what, ": client ", client, ", server ", server));
    }
  };
  check("echo calls", of(Kind::kUnary).calls, s.echo_calls());
  check("fetch streams", of(Kind::kServerStream).calls, s.fetch_streams());
  check("fetch chunks", of(Kind::kServerStream).messages, s.fetch_chunks());
  check("upload streams", of(Kind::kClientStream).calls, s.upload_streams());
  check("upload chunks", of(Kind::kClientStream).messages, s.upload_chunks());
  check("chat streams", of(Kind::kBidi).calls, s.chat_streams());
  check("chat chunks", of(Kind::kBidi).messages / 2, s.chat_chunks());
  check("bridge messages", of(Kind::kBridge).calls, s.bridge_messages());
  check("bridge sessions", bridges, s.bridge_sessions());
  std::string out;
  for (const std::string& x : d)
    absl::StrAppend(&out, out.empty() ? "" : "; ", x);
  return out;
}

absl::StatusOr<::load::StatsReply> Stats(std::shared_ptr<Channel> channel,
                                         absl::Duration timeout) {
  CallOptions options;
  options.timeout = timeout;
  return ::load::Load::Stub(std::move(channel))
      .Stats(::load::StatsRequest(), options);
}

}  // namespace

bool RunLoad(const LoadOptions& options, std::ostream& out) {
  LoadReport r;
  r.security = options.insecure ? "insecure" : "fernet";
  r.connections = options.connections;
  for (int i = 0; i < options.connections; ++i) {
    ++r.mix[static_cast<int>(KindOf(i))];
  }
  r.threads = options.threads;
  r.unary_in_flight = options.unary_in_flight;
  r.seconds = options.seconds;
  r.warmup_seconds = options.warmup_seconds;
  r.rss_tolerance = options.rss_tolerance;
  // Set once the server runs; reset before anything is written to `out`.
  std::unique_ptr<Watchdog> watchdog;
  auto fail = [&](const absl::Status& s) {
    watchdog.reset();
    r.run_error = s.ToString();
    out << ToJsonLine(r) << "\n" << std::flush;
    return false;
  };

  // A server that dies must not kill us through its stdin pipe.
  signal(SIGPIPE, SIG_IGN);
  if (absl::Status s = RaiseOpenFileLimit(); !s.ok()) return fail(s);
  // Each connection: a socket, its loop's epoll and eventfd; 64 to spare.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  const rlim_t needed = 3 * static_cast<rlim_t>(options.connections) + 64;
  if (files.rlim_cur < needed) {
    return fail(absl::ResourceExhaustedError(absl::StrCat(
        options.connections, " connections need ", needed,
        " descriptors; the hard limit (ulimit -Hn) is ", files.rlim_cur)));
  }

  // The key, and the server child.
  LinkOptions link;
  std::vector<std::string> argv = options.server_command;
  argv.insert(argv.end(), {"--connections", absl::StrCat(options.connections),
                           "--security", r.security});
  std::unique_ptr<ChildKeyFile> key_file;
  if (options.insecure) {
    link.insecure = true;
  } else {
    absl::StatusOr<transport::FernetKey> key = transport::FernetKey::Generate();
    if (!key.ok()) return fail(key.status());
    absl::StatusOr<std::unique_ptr<ChildKeyFile>> file =
        ChildKeyFile::Write(*key);
    if (!file.ok()) return fail(file.status());
    key_file = *std::move(file);
    link.key = *key;
    argv.insert(argv.end(), {"--key-file", key_file->path()});
  }
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start(argv, absl::Seconds(10));
  if (!server.ok()) return fail(server.status());
  const pid_t server_pid = (*server)->pid();
  const std::string address = absl::StrCat("127.0.0.1:", (*server)->port());

  RunContext run;
  run.call_timeout = options.call_timeout;
  Progress progress;
  progress.Set("linking", server_pid);
  // From here on the run ends within seconds + grace, one way or another.
  watchdog = std::make_unique<Watchdog>(
      absl::Now() + absl::Seconds(options.seconds) + options.grace,
      [&, partial = r] {
        const std::string phase = progress.KillServer();
        LoadReport t = partial;
        t.timed_out = true;
        t.run_error = absl::StrCat("the hard limit (", options.seconds, " s + ",
                                   absl::FormatDuration(options.grace),
                                   ") passed while ", phase);
        t.total = run.counters.Snapshot();
        t.failures = run.counters.failures();
        out << ToJsonLine(t) << "\n" << std::flush;
        _exit(1);
      });

  // Every connection linked, and the server holding them all.
  std::vector<Connection> connections(options.connections);
  const absl::Time setup_start = absl::Now();
  if (absl::Status s = LinkAll(address, link, options.threads, &connections);
      !s.ok()) {
    return fail(s);
  }
  const std::shared_ptr<Channel> control = connections[0].channel;  // Unary.
  for (const absl::Time give_up = absl::Now() + absl::Seconds(10);;) {
    absl::StatusOr<::load::StatsReply> stats =
        Stats(control, options.call_timeout);
    if (!stats.ok()) return fail(stats.status());
    r.server_sessions_at_start = stats->sessions();
    if (stats->sessions() == static_cast<uint64_t>(options.connections)) break;
    if (absl::Now() > give_up) {
      return fail(absl::InternalError(
          absl::StrCat("the server holds ", stats->sessions(), " sessions of ",
                       options.connections, " linked")));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  r.setup_s = absl::ToDoubleSeconds(absl::Now() - setup_start);

  // The traffic: unary loops on their own, the rest spread over drivers.
  std::vector<std::shared_ptr<UnaryLoop>> loops;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::vector<Worker*>> slices(options.threads);
  for (uint32_t i = 0; i < connections.size(); ++i) {
    if (KindOf(i) == Kind::kUnary) {
      loops.push_back(
          std::make_shared<UnaryLoop>(connections[i].channel, i, &run));
    } else {
      workers.push_back(
          MakeWorker(i, connections[i].channel, connections[i].bridge, &run));
      slices[workers.size() % slices.size()].push_back(workers.back().get());
    }
  }
  progress.Set("running", server_pid);
  const double client_cpu0 = bench::SelfCpuSeconds();
  absl::StatusOr<double> server_cpu0 = bench::ProcessCpuSeconds(server_pid);
  const absl::Time t0 = absl::Now();
  for (const std::shared_ptr<UnaryLoop>& loop : loops) {
    loop->Start(options.unary_in_flight);
  }
  std::vector<std::thread> drivers;
  for (const std::vector<Worker*>& slice : slices) {
    drivers.emplace_back([&slice, &run] { DriveWorkers(slice, &run); });
  }

  // The window: a sample now and every second.
  absl::Status sampled;
  uint64_t calls_before = 0;
  for (int k = 0; k <= options.seconds && sampled.ok(); ++k) {
    absl::SleepFor(t0 + absl::Seconds(k) - absl::Now());
    absl::StatusOr<ProcessSample> s = ReadProcessSample(server_pid);
    absl::StatusOr<ProcessSample> c = ReadProcessSample(getpid());
    absl::StatusOr<::load::StatsReply> heap =
        Stats(control, options.call_timeout);
    const HeapSample own = ReadOwnHeap();
    for (const absl::Status& status : {s.status(), c.status(), heap.status()}) {
      if (!status.ok() && sampled.ok()) {
        sampled = absl::UnavailableError(
            absl::StrCat("sampling at ", k, " s: ", status.ToString()));
      }
    }
    if (!sampled.ok()) break;
    r.server.rss_kib.push_back(s->rss_kib);
    r.client.rss_kib.push_back(c->rss_kib);
    r.server.heap_in_use_kib.push_back(heap->heap_in_use_kib());
    r.server.heap_free_kib.push_back(heap->heap_free_kib());
    r.client.heap_in_use_kib.push_back(own.in_use_kib);
    r.client.heap_free_kib.push_back(own.free_kib);
    r.server.threads_max = std::max(r.server.threads_max, s->threads);
    r.client.threads_max = std::max(r.client.threads_max, c->threads);
    const uint64_t calls = run.counters.Snapshot().calls();
    if (k > 0) r.calls_per_second.push_back(calls - calls_before);
    calls_before = calls;
  }
  r.window = run.counters.Snapshot();
  r.client.cpu_s = bench::SelfCpuSeconds() - client_cpu0;
  absl::StatusOr<double> server_cpu1 = bench::ProcessCpuSeconds(server_pid);
  if (server_cpu0.ok() && server_cpu1.ok()) {
    r.server.cpu_s = *server_cpu1 - *server_cpu0;
  }

  // The drain: no new calls; what is in flight completes and is checked.
  progress.Set("draining", server_pid);
  const absl::Time drain_start = absl::Now();
  run.stopping = true;
  for (std::thread& t : drivers) t.join();
  const absl::Time drain_deadline =
      absl::Now() + options.call_timeout + absl::Seconds(5);
  for (size_t i = 0; i < loops.size(); ++i) {
    if (!loops[i]->WaitIdle(drain_deadline)) {
      run.counters.Error(Kind::kUnary, 0,
                         absl::DeadlineExceededError(
                             "calls still outstanding after the drain"));
    }
  }
  r.drain_s = absl::ToDoubleSeconds(absl::Now() - drain_start);
  r.total = run.counters.Snapshot();
  r.failures = run.counters.failures();
  if (!sampled.ok()) r.run_error = sampled.ToString();

  // The server's view, then the end of everything.
  progress.Set("comparing counts with the server", server_pid);
  absl::StatusOr<::load::StatsReply> stats =
      Stats(control, options.call_timeout);
  if (stats.ok()) {
    r.server_stats = *std::move(stats);
    r.disagreement = Disagreement(r.total, r.server_stats,
                                  r.mix[static_cast<int>(Kind::kBridge)]);
  } else {
    r.disagreement = absl::StrCat("no Stats: ", stats.status().ToString());
  }
  progress.Set("closing connections", server_pid);
  loops.clear();
  workers.clear();
  connections.clear();
  progress.Set("stopping the server", server_pid);
  const absl::Status stopped = (*server)->Stop(absl::Seconds(20));
  progress.Set("reporting", 0);
  watchdog.reset();
  r.server_exit = stopped.ok() ? "ok" : stopped.ToString();

  const size_t warmup = static_cast<size_t>(options.warmup_seconds);
  if (!r.server.rss_kib.empty()) {
    for (ProcessReport* p : {&r.server, &r.client}) {
      p->rss = JudgeRss(p->rss_kib, warmup, options.rss_tolerance);
      p->heap = JudgeRss(p->heap_in_use_kib, warmup, options.rss_tolerance);
    }
  }
  out << ToJsonLine(r) << "\n" << std::flush;
  return r.Passed();
}

}  // namespace netstructer::load
