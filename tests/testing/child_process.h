// A program running beside a test (a server): its stdout and stderr are
// read as they come, and it is killed when the object dies.
#ifndef NETSTRUCTER_TESTS_TESTING_CHILD_PROCESS_H_
#define NETSTRUCTER_TESTS_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace netstructer::testing {

// Thread-compatible. Resource type.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv);
  ~ChildProcess();

  // The first stderr line containing `needle` (waiting up to `timeout`).
  absl::StatusOr<std::string> WaitForStderr(absl::string_view needle,
                                            absl::Duration timeout);
  // Waits until `count` complete stderr lines contain `needle`; returns
  // them all (there may be more than `count` by then).
  absl::StatusOr<std::vector<std::string>> WaitForStderrLines(
      absl::string_view needle, size_t count, absl::Duration timeout);
  // The first `count` lines of stdout (waiting up to `timeout`).
  absl::StatusOr<std::vector<std::string>> WaitForStdoutLines(
      size_t count, absl::Duration timeout);
  // Sends `signal` and returns at once (SIGHUP, SIGSTOP ...).
  void Signal(int signal);
  // Sends `signal`, waits for the exit; returns the exit code (128 + signal
  // when killed by one).
  int Stop(int signal);
  // Sends `signal` and waits at most `timeout` for the exit: its exit code
  // as Stop's, or DEADLINE_EXCEEDED (then the child is SIGKILLed).
  absl::StatusOr<int> StopWithin(int signal, absl::Duration timeout);
  // The child's process id (for /proc/PID/...).
  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  ChildProcess(pid_t pid, int out_fd, int err_fd)
      : pid_(pid), out_fd_(out_fd), err_fd_(err_fd) {}
  // Reads what is available (waiting up to `deadline` for something).
  void Pump(absl::Time deadline);

  pid_t pid_;
  int out_fd_;
  int err_fd_;
  std::string out_;
  std::string err_;
  bool exited_ = false;
  int exit_code_ = -1;
};

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_CHILD_PROCESS_H_
