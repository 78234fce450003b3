#include "netstructer/tools/bench/connection_workloads.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "netstructer/client/channel.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::bench {
namespace {

using ::bench::Payload;

// A field of /proc/PID/status in KiB (VmRSS, VmHWM); -1 if unreadable.
int64_t StatusKib(pid_t pid, absl::string_view field) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/status"));
  const std::string prefix = absl::StrCat(field, ":");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(prefix, 0) == 0) {
      int64_t v = -1;
      std::istringstream(line.substr(prefix.size())) >> v;
      return v;
    }
  }
  return -1;
}

// Open descriptors of `pid`: proves the connections are distinct.
int FdCount(pid_t pid) {
  int n = 0;
  if (DIR* d = opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
  }
  return n;
}

// Busy CPU seconds of the whole host (/proc/stat: user nice system irq
// softirq steal). Minus both processes' CPU, what others took in a window:
// a point measured under foreign load can be told apart.
double HostBusyCpuSeconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  unsigned long long v[8] = {0};
  f >> cpu;
  for (auto& x : v) f >> x;
  return static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string Fixed(double v, int decimals) {
  return absl::StrFormat("%.*f", decimals, v);
}

absl::StatusOr<std::shared_ptr<Channel>> Open(const ConnectionTarget& target) {
  ChannelOptions options;
  if (target.key.has_value()) {
    options.link.key = *target.key;
  } else {
    options.link.insecure = true;
  }
  return Channel::Create(target.address, options);
}

// Connections kept open, each with its stub.
struct OpenConnections {
  std::vector<std::shared_ptr<Channel>> channels;
  std::vector<std::unique_ptr<::bench::Echo::Stub>> stubs;

  // Opens connection `i` (of `n`, for the error) and keeps it.
  absl::Status Add(const ConnectionTarget& target, int i, int n) {
    absl::StatusOr<std::shared_ptr<Channel>> channel = Open(target);
    if (!channel.ok()) {
      return absl::Status(channel.status().code(),
                          absl::StrCat("connection ", i + 1, " of ", n, ": ",
                                       channel.status().message()));
    }
    channels.push_back(*std::move(channel));
    stubs.push_back(std::make_unique<::bench::Echo::Stub>(channels.back()));
    return absl::OkStatus();
  }
};

absl::Status OneCall(::bench::Echo::Stub& stub, const Payload& request,
                     bool check_bytes) {
  absl::StatusOr<Payload> response = stub.Call(request);
  if (!response.ok()) return CallFailed("a call", response.status());
  if (response->data().size() != request.data().size()) {
    return WrongLength(response->data().size(), request.data().size());
  }
  return check_bytes ? CheckFirstEcho(*response, request.data())
                     : absl::OkStatus();
}

// W5's closed loops, one per connection. Owned jointly by the driver and
// every outstanding callback, so it outlives the last one.
struct ClosedLoops : std::enable_shared_from_this<ClosedLoops> {
  struct Connection {
    ::bench::Echo::Stub* stub = nullptr;
    Clock::time_point start;
    uint64_t calls = 0;
    // Touched only by this connection's callbacks, one at a time (one call
    // outstanding: each callback issues the next).
    std::vector<double> latencies_us;
  };

  Payload request;
  Clock::time_point t0, t1;
  std::vector<Connection> connections;
  // Checked on every completion without the lock: a mutex taken by every
  // callback of every loop would serialise the client's loops (it cost W5
  // a quarter of its calls).
  std::atomic<bool> failed{false};
  Mutex mu;
  CondVar cv;
  int outstanding ABSL_GUARDED_BY(mu) = 0;
  absl::Status failure ABSL_GUARDED_BY(mu);

  void Issue(size_t i) {
    connections[i].start = Clock::now();
    connections[i].stub->CallAsync(
        request, {}, [self = shared_from_this(), i](absl::StatusOr<Payload> r) {
          self->OnDone(i, std::move(r));
        });
  }

  void OnDone(size_t i, absl::StatusOr<Payload> response) {
    const Clock::time_point t = Clock::now();
    Connection& c = connections[i];
    absl::Status s = response.ok() ? absl::OkStatus()
                                   : CallFailed("a call", response.status());
    if (s.ok() && response->data().size() != request.data().size()) {
      s = WrongLength(response->data().size(), request.data().size());
    }
    if (!s.ok()) {
      MutexLock lock(&mu);
      if (failure.ok()) failure = s;
      failed.store(true);
    }
    if (s.ok() && t >= t0 && t < t1) {
      c.latencies_us.push_back(Micros(t - c.start));
      ++c.calls;
    }
    if (!failed.load(std::memory_order_relaxed) && t < t1) {
      Issue(i);
      return;
    }
    MutexLock lock(&mu);
    if (--outstanding == 0) cv.SignalAll();
  }
};

}  // namespace

absl::StatusOr<ConnectionMeasurement> RunManyConnections(
    const ConnectionTarget& target, const std::string& payload,
    int connections, int driver_threads, double warmup_seconds,
    double seconds) {
  const pid_t server = target.server_pid;
  auto loops = std::make_shared<ClosedLoops>();
  loops->request.set_data(payload);
  OpenConnections open;
  for (int i = 0; i < connections; ++i) {  // Setup, not timed.
    if (absl::Status s = open.Add(target, i, connections); !s.ok()) return s;
  }
  for (auto& stub : open.stubs) {
    if (absl::Status s = OneCall(*stub, loops->request, true); !s.ok()) return s;
  }
  const int64_t rss_setup = StatusKib(server, "VmRSS");
  const int fds_setup = FdCount(server);

  loops->connections.resize(connections);
  for (int i = 0; i < connections; ++i) {
    loops->connections[i].stub = open.stubs[i].get();
    loops->connections[i].latencies_us.reserve(1 << 12);
  }
  {
    MutexLock lock(&loops->mu);
    loops->outstanding = connections;
  }
  loops->t0 = After(Clock::now(), warmup_seconds);
  loops->t1 = After(loops->t0, seconds);
  std::vector<std::thread> drivers;
  for (int d = 0; d < driver_threads; ++d) {
    drivers.emplace_back([&loops, d, connections, driver_threads] {
      for (int i = d; i < connections; i += driver_threads) loops->Issue(i);
    });
  }
  for (std::thread& d : drivers) d.join();
  const CpuProbe probe(server);
  std::this_thread::sleep_until(loops->t0);
  absl::StatusOr<CpuMark> before = probe.Mark();
  const double host_before = HostBusyCpuSeconds();
  std::this_thread::sleep_until(loops->t1);
  absl::StatusOr<CpuMark> after = probe.Mark();
  const double host_after = HostBusyCpuSeconds();
  {
    MutexLock lock(&loops->mu);
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (loops->outstanding > 0) {
      if (loops->cv.WaitWithDeadline(&loops->mu, give_up) &&
          loops->outstanding > 0) {
        // Callbacks still to come use the stubs: keep them (the run fails).
        (void)new OpenConnections(std::move(open));
        return absl::DeadlineExceededError(absl::StrCat(
            loops->outstanding, " calls still outstanding 30 s after the window"));
      }
    }
    if (!loops->failure.ok()) return loops->failure;
  }
  if (!before.ok()) return before.status();
  if (!after.ok()) return after.status();
  ConnectionMeasurement r;
  r.m.seconds = seconds;
  r.m.client_cpu_s = after->client_s - before->client_s;
  r.m.server_cpu_s = after->server_s - before->server_s;
  uint64_t fewest = std::numeric_limits<uint64_t>::max(), most = 0;
  for (ClosedLoops::Connection& c : loops->connections) {
    r.m.calls += c.calls;
    fewest = std::min(fewest, c.calls);
    most = std::max(most, c.calls);
    r.m.latencies_us.insert(r.m.latencies_us.end(), c.latencies_us.begin(),
                            c.latencies_us.end());
  }
  const double host_busy = host_after - host_before;
  r.client_api = absl::StrCat(
      "async unary, callbacks re-issue; ", driver_threads,
      " driver threads; Channel::Create per connection (channels share the "
      "process's event loops, one per core)");
  r.fields = {
      {"connections", absl::StrCat(connections)},
      {"client_threads", absl::StrCat(driver_threads)},
      // The shared loops that read every connection and run the callbacks.
      {"client_io_threads",
       absl::StrCat(transport::EventLoopGroup::DefaultLoopCount())},
      {"server_cpu_s_per_1k_calls",
       Fixed(r.m.calls > 0 ? r.m.server_cpu_s / r.m.calls * 1000 : 0, 4)},
      {"server_rss_setup_kib", absl::StrCat(rss_setup)},
      {"server_fds_setup", absl::StrCat(fds_setup)},
      {"conn_calls_min", absl::StrCat(fewest)},
      {"conn_calls_max", absl::StrCat(most)},
      {"host_busy_cpu_s", Fixed(host_busy, 2)},
      {"host_other_cpu_s",
       Fixed(host_busy - r.m.client_cpu_s - r.m.server_cpu_s, 2)},
  };
  return r;
}

absl::StatusOr<ConnectionMeasurement> RunConnectionSetup(
    const ConnectionTarget& target, const std::string& payload, int openers,
    double warmup_seconds, double seconds) {
  Payload request;
  request.set_data(payload);
  const Clock::time_point t0 = After(Clock::now(), warmup_seconds);
  const Clock::time_point t1 = After(t0, seconds);
  struct Opener {
    std::vector<double> open_us, close_us;
    uint64_t count = 0;
    absl::Status failure;
  };
  std::vector<Opener> results(openers);
  std::vector<std::thread> threads;
  for (int k = 0; k < openers; ++k) {
    threads.emplace_back([&, k] {
      Opener& o = results[k];
      o.open_us.reserve(1 << 14);
      o.close_us.reserve(1 << 14);
      bool first = true;
      while (Clock::now() < t1) {
        const Clock::time_point start = Clock::now();
        absl::StatusOr<std::shared_ptr<Channel>> channel = Open(target);
        if (!channel.ok()) {
          o.failure = channel.status();
          return;
        }
        auto stub = std::make_unique<::bench::Echo::Stub>(*channel);
        if (absl::Status s = OneCall(*stub, request, first); !s.ok()) {
          o.failure = s;
          return;
        }
        first = false;
        const Clock::time_point answered = Clock::now();
        stub.reset();
        channel->reset();  // Closes the connection.
        const Clock::time_point closed = Clock::now();
        if (closed >= t0 && closed < t1) {
          o.open_us.push_back(Micros(answered - start));
          o.close_us.push_back(Micros(closed - answered));
          ++o.count;
        }
      }
    });
  }
  const CpuProbe probe(target.server_pid);
  std::this_thread::sleep_until(t0);
  absl::StatusOr<CpuMark> before = probe.Mark();
  const double host_before = HostBusyCpuSeconds();
  std::this_thread::sleep_until(t1);
  absl::StatusOr<CpuMark> after = probe.Mark();
  const double host_after = HostBusyCpuSeconds();
  for (std::thread& t : threads) t.join();
  if (!before.ok()) return before.status();
  if (!after.ok()) return after.status();
  ConnectionMeasurement r;
  std::vector<double> close_us;
  for (Opener& o : results) {
    if (!o.failure.ok()) return o.failure;
    r.m.calls += o.count;
    r.m.latencies_us.insert(r.m.latencies_us.end(), o.open_us.begin(),
                            o.open_us.end());
    close_us.insert(close_us.end(), o.close_us.begin(), o.close_us.end());
  }
  if (r.m.calls == 0) return absl::InternalError("no connection closed in the window");
  std::sort(close_us.begin(), close_us.end());
  r.m.seconds = seconds;
  r.m.client_cpu_s = after->client_s - before->client_s;
  r.m.server_cpu_s = after->server_s - before->server_s;
  const double per_conn = 1e6 / static_cast<double>(r.m.calls);
  const double host_busy = host_after - host_before;
  r.client_api = absl::StrCat(
      openers, " thread(s), each: Channel::Create + blocking call + release");
  r.fields = {
      {"connections_per_s", Fixed(r.m.calls / seconds, 1)},
      {"latency_measures", "\"connect+handshake+call\""},
      {"close_p50_us", Fixed(NearestRank(close_us, 0.5), 1)},
      {"server_cpu_us_per_conn", Fixed(r.m.server_cpu_s * per_conn, 1)},
      {"client_cpu_us_per_conn", Fixed(r.m.client_cpu_s * per_conn, 1)},
      {"host_busy_cpu_s", Fixed(host_busy, 2)},
      {"host_other_cpu_s",
       Fixed(host_busy - r.m.client_cpu_s - r.m.server_cpu_s, 2)},
  };
  return r;
}

absl::StatusOr<ConnectionMeasurement> RunIdleConnections(
    const ConnectionTarget& target, const std::string& payload,
    int connections) {
  const pid_t server = target.server_pid;
  Payload request;
  request.set_data(payload);
  for (int i = 0; i < 10; ++i) {  // Warm-up: open, call, close.
    absl::StatusOr<std::shared_ptr<Channel>> channel = Open(target);
    if (!channel.ok()) return channel.status();
    ::bench::Echo::Stub stub(*channel);
    if (absl::Status s = OneCall(stub, request, i == 0); !s.ok()) return s;
  }
  absl::SleepFor(absl::Milliseconds(300));
  const int64_t rss_before = StatusKib(server, "VmRSS");
  const int fds_before = FdCount(server);
  const CpuProbe probe(server);
  absl::StatusOr<CpuMark> before = probe.Mark();
  if (!before.ok()) return before.status();
  OpenConnections open;
  ConnectionMeasurement r;
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < connections; ++i) {
    const Clock::time_point start = Clock::now();
    if (absl::Status s = open.Add(target, i, connections); !s.ok()) return s;
    if (absl::Status s = OneCall(*open.stubs.back(), request, false); !s.ok()) {
      return s;
    }
    r.m.latencies_us.push_back(Micros(Clock::now() - start));
  }
  r.m.seconds = Seconds(Clock::now() - t0);
  absl::StatusOr<CpuMark> after = probe.Mark();
  if (!after.ok()) return after.status();
  absl::SleepFor(absl::Seconds(1));  // Idle.
  const int64_t rss_after = StatusKib(server, "VmRSS");
  const int fds_after = FdCount(server);
  r.m.calls = connections;
  r.m.client_cpu_s = after->client_s - before->client_s;
  r.m.server_cpu_s = after->server_s - before->server_s;
  r.client_api = "1 thread: Channel::Create + blocking call, kept open";
  r.fields = {
      {"connections", absl::StrCat(connections)},
      {"rss_per_conn_kib",
       Fixed(static_cast<double>(rss_after - rss_before) / connections, 2)},
      {"server_rss_before_kib", absl::StrCat(rss_before)},
      {"server_rss_after_kib", absl::StrCat(rss_after)},
      {"server_fds_delta", absl::StrCat(fds_after - fds_before)},
      {"server_cpu_us_per_conn", Fixed(r.m.server_cpu_s / connections * 1e6, 1)},
  };
  return r;
}

}  // namespace netstructer::bench
