#include "netstructer/tests/testing/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace netstructer::testing {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe failed");
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0], err[0]));
}

ChildProcess::~ChildProcess() {
  if (!exited_) Stop(SIGKILL);
  close(out_fd_);
  close(err_fd_);
}

void ChildProcess::Pump(absl::Time deadline) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  const absl::Duration left = deadline - absl::Now();
  const int ms = left <= absl::ZeroDuration()
                     ? 0
                     : static_cast<int>(absl::ToInt64Milliseconds(left) + 1);
  if (poll(fds, 2, std::min(ms, 50)) <= 0) return;
  char buf[4096];
  ssize_t n;
  while ((n = read(out_fd_, buf, sizeof(buf))) > 0) out_.append(buf, n);
  while ((n = read(err_fd_, buf, sizeof(buf))) > 0) err_.append(buf, n);
}

absl::StatusOr<std::string> ChildProcess::WaitForStderr(absl::string_view needle,
                                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    // Complete lines only: a writer may emit a line in several pieces.
    const size_t complete = err_.rfind('\n');
    if (complete != std::string::npos) {
      for (absl::string_view line :
           absl::StrSplit(absl::string_view(err_).substr(0, complete), '\n')) {
        if (absl::StrContains(line, needle)) return std::string(line);
      }
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no stderr line with '", needle, "'; stderr: ", err_));
    }
    Pump(deadline);
  }
}

absl::StatusOr<std::vector<std::string>> ChildProcess::WaitForStdoutLines(
    size_t count, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    std::vector<std::string> lines = absl::StrSplit(out_, '\n');
    if (!lines.empty()) lines.pop_back();  // The unfinished last line.
    if (lines.size() >= count) {
      lines.resize(count);
      return lines;
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "only ", lines.size(), " of ", count, " stdout lines; stdout: ", out_,
          "; stderr: ", err_));
    }
    Pump(deadline);
  }
}

void ChildProcess::Signal(int signal) {
  if (!exited_) kill(pid_, signal);
}

absl::StatusOr<std::vector<std::string>> ChildProcess::WaitForStderrLines(
    absl::string_view needle, size_t count, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    std::vector<std::string> found;
    const size_t complete = err_.rfind('\n');
    if (complete != std::string::npos) {
      for (absl::string_view line :
           absl::StrSplit(absl::string_view(err_).substr(0, complete), '\n')) {
        if (absl::StrContains(line, needle)) found.emplace_back(line);
      }
    }
    if (found.size() >= count) return found;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(found.size(), " of ", count, " stderr lines with '",
                       needle, "'; stderr: ", err_.substr(0, 4096)));
    }
    Pump(deadline);
  }
}

absl::StatusOr<int> ChildProcess::StopWithin(int signal, absl::Duration timeout) {
  if (exited_) return exit_code_;
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (absl::Now() >= deadline) {
      Stop(SIGKILL);
      return absl::DeadlineExceededError(absl::StrCat(
          "still running ", absl::FormatDuration(timeout), " after signal ",
          signal));
    }
    // Reading its output also keeps a chatty child from blocking on a full
    // pipe; Pump waits at most 50 ms for output.
    Pump(deadline);
  }
  Pump(absl::Now());
  exited_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                 : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return exit_code_;
}

int ChildProcess::Stop(int signal) {
  if (exited_) return exit_code_;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  Pump(absl::Now());
  exited_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                 : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return exit_code_;
}

}  // namespace netstructer::testing
