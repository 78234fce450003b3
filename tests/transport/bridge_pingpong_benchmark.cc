// Ping-pong of 64-byte values over Bridge between two processes on
// 127.0.0.1, the shape of shared/bench/limits `tcpbench pp` (raw TCP), for
// comparison in one sitting. Not a test. Usage:
//   bazel run -c opt //tests/transport:bridge_pingpong_benchmark -- [SECONDS] [fernet|insecure]
// Prints one JSON line like tcpbench's.
#include <sys/wait.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "netstructer/proto/value.h"
#include "netstructer/service/server.h"
#include "netstructer/transport/bridge.h"

namespace netstructer {
namespace {

int Serve(int port_pipe, const transport::FernetKey& key, bool secure) {
  ServerOptions options;
  if (secure) {
    options.keys = {key};
  } else {
    options.insecure = true;
  }
  Server server("127.0.0.1:0", options);
  if (!server.Init().ok()) return 1;
  const std::string address = server.address();
  if (write(port_pipe, address.data(), address.size()) < 0) return 1;
  close(port_pipe);
  (void)server.ListenOn([](Server& s) {
    absl::StatusOr<std::shared_ptr<Bridge>> session = s.Accept();
    if (!session.ok()) return;
    for (;;) {
      absl::StatusOr<Value> v = (*session)->RecvBuffer();
      if (!v.ok() || !(*session)->SendBuffer(*v).ok()) return;
    }
  });
  return 0;
}

}  // namespace
}  // namespace netstructer

int main(int argc, char** argv) {
  using namespace netstructer;
  double seconds = 2;
  if (argc > 1) absl::SimpleAtod(argv[1], &seconds);
  const bool secure = !(argc > 2 && std::string(argv[2]) == "insecure");
  const transport::FernetKey key = transport::FernetKey::Generate().value();
  int fds[2];
  if (pipe(fds) != 0) return 1;
  const pid_t child = fork();  // Before any thread exists.
  if (child == 0) {
    close(fds[0]);
    _exit(Serve(fds[1], key, secure));
  }
  close(fds[1]);
  char buf[128] = {};
  const ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  if (n <= 0) return 1;
  LinkOptions options;
  if (secure) {
    options.key = key;
  } else {
    options.insecure = true;
  }
  auto bridge = Bridge::Link(std::string(buf, n), options);
  if (!bridge.ok()) {
    std::fprintf(stderr, "%s\n", bridge.status().ToString().c_str());
    return 1;
  }
  const Value payload = MakeBytes(std::string(64, 'x'));
  std::vector<double> us;
  const absl::Time warm_end = absl::Now() + absl::Milliseconds(300);
  while (absl::Now() < warm_end) {
    (void)(*bridge)->SendBuffer(payload);
    (void)(*bridge)->RecvBuffer();
  }
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  for (absl::Time now = start; now < end;) {
    const absl::Time t0 = absl::Now();
    if (!(*bridge)->SendBuffer(payload).ok()) return 1;
    absl::StatusOr<Value> v = (*bridge)->RecvBuffer();
    if (!v.ok() || v->bytes_value().size() != 64) return 1;
    now = absl::Now();
    us.push_back(absl::ToDoubleMicroseconds(now - t0));
  }
  const double total = absl::ToDoubleSeconds(absl::Now() - start);
  std::sort(us.begin(), us.end());
  auto pct = [&](double q) {
    return us[static_cast<size_t>(std::max(0.0, std::ceil(q * us.size()) - 1))];
  };
  std::printf(
      "{\"metric\":\"bridge_pingpong\",\"security\":\"%s\",\"msg_bytes\":64,"
      "\"seconds\":%.3f,\"round_trips\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f}\n",
      secure ? "fernet" : "insecure", total, us.size(), pct(0.50), pct(0.99));
  (*bridge)->Abort(absl::CancelledError("done"));
  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);
  return 0;
}
