#include "netstructer/tools/bench/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace netstructer::bench {

namespace {

std::string ExitDescription(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return absl::StrCat("exited with status ", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("was killed by signal ", WTERMSIG(wait_status));
  }
  return "ended";
}

// waitpid with a deadline (polling: the child is ours alone). True and the
// status once it exited.
bool WaitUntil(pid_t pid, absl::Time deadline, int* wait_status) {
  for (;;) {
    const pid_t r = waitpid(pid, wait_status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // Not our child any more.
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& argv, absl::Duration ready_timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("no server command");
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the copies; the originals close at exec.
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::unique_ptr<ServerProcess> process(new ServerProcess());
  const int err = posix_spawn(&process->pid_, argv[0].c_str(), &actions,
                              nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  process->stdin_fd_ = in_pipe[1];
  process->stdout_fd_ = out_pipe[0];
  if (err != 0) {
    process->pid_ = -1;
    return absl::InternalError(
        absl::StrCat("cannot start ", argv[0], ": ", strerror(err)));
  }

  // The first line on its stdout is the port.
  const absl::Time deadline = absl::Now() + ready_timeout;
  std::string line;
  for (;;) {
    const size_t newline = line.find('\n');
    if (newline != std::string::npos) {
      line.resize(newline);
      break;
    }
    const int64_t wait_ms =
        std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    pollfd p{process->stdout_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(wait_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      return absl::DeadlineExceededError(
          "the bench server did not report its port in time");
    }
    char buf[64];
    const ssize_t n = read(process->stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int wait_status = 0;
      WaitUntil(process->pid_, absl::Now() + absl::Seconds(2), &wait_status);
      process->pid_ = -1;
      return absl::UnavailableError(
          absl::StrCat("the bench server ", ExitDescription(wait_status),
                       " before reporting its port (its error is above)"));
    }
    line.append(buf, static_cast<size_t>(n));
  }
  if (!absl::SimpleAtoi(line, &process->port_) || process->port_ <= 0 ||
      process->port_ > 65535) {
    return absl::InternalError(
        absl::StrCat("the bench server reported '", line, "', not a port"));
  }
  return process;
}

absl::Status ServerProcess::Stop(absl::Duration timeout) {
  if (stopped_) return stop_status_;
  stopped_ = true;
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
  if (pid_ <= 0) return stop_status_;
  int wait_status = 0;
  if (!WaitUntil(pid_, absl::Now() + timeout, &wait_status)) {
    kill(pid_, SIGKILL);
    WaitUntil(pid_, absl::InfiniteFuture(), &wait_status);
    stop_status_ = absl::InternalError(absl::StrCat(
        "the bench server did not exit within ", absl::FormatDuration(timeout),
        " of its stdin closing; killed"));
  } else if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    stop_status_ = absl::InternalError(
        absl::StrCat("the bench server ", ExitDescription(wait_status)));
  }
  pid_ = -1;
  return stop_status_;
}

ServerProcess::~ServerProcess() {
  if (!stopped_ && pid_ > 0) kill(pid_, SIGTERM);
  (void)Stop(absl::Seconds(2));
}

}  // namespace netstructer::bench
