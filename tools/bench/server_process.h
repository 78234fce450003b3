// The client's handle on a `bench-server` child process: started with its
// stdin and stdout on pipes, it writes its port on stdout and serves until
// its stdin closes.
#ifndef NETSTRUCTER_TOOLS_BENCH_SERVER_PROCESS_H_
#define NETSTRUCTER_TOOLS_BENCH_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace netstructer::bench {

// Resource type. Thread-compatible.
class ServerProcess {
 public:
  // Runs `argv` (argv[0] is the program's path; /proc/self/exe re-executes
  // this binary) and reads its first stdout line, the port. UNAVAILABLE if
  // it exits first, DEADLINE_EXCEEDED after `ready_timeout`. The child
  // inherits stderr.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& argv, absl::Duration ready_timeout);
  // Stop() if not yet, then kills the child if it is still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }

  // Closes the child's stdin and waits for it to exit (SIGKILL after
  // `timeout`). INTERNAL unless it exited with status 0. Idempotent.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(5));

 private:
  ServerProcess() = default;

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  bool stopped_ = false;
  absl::Status stop_status_;
};

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_SERVER_PROCESS_H_
