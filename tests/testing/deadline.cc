#include "netstructer/tests/testing/deadline.h"

#include <dirent.h>

#include <cstdio>
#include <cstdlib>

namespace netstructer::testing {

bool PollUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return condition();
}

Watchdog::Watchdog(std::string what, absl::Duration limit) {
  thread_ = std::thread([this, what = std::move(what), limit] {
    const absl::Time deadline = absl::Now() + limit;
    MutexLock lock(&mu_);
    while (!done_) {
      if (cv_.WaitWithDeadline(&mu_, deadline) && !done_ &&
          absl::Now() >= deadline) {
        std::fprintf(stderr, "HANG: %s did not finish within %s\n",
                     what.c_str(), absl::FormatDuration(limit).c_str());
        std::fflush(stderr);
        std::abort();
      }
    }
  });
}

Watchdog::~Watchdog() {
  {
    MutexLock lock(&mu_);
    done_ = true;
    cv_.SignalAll();
  }
  thread_.join();
}

int OpenFdCount() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // The directory stream's own descriptor.
}

}  // namespace netstructer::testing
