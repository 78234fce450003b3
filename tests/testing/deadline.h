// Waiting in tests without hanging: polling a condition up to a deadline,
// a notification TSan understands,
// a watchdog that turns a hang into a failure, and the process's open
// descriptor count (leak checks).
#ifndef NETSTRUCTER_TESTS_TESTING_DEADLINE_H_
#define NETSTRUCTER_TESTS_TESTING_DEADLINE_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::testing {

// Calls `condition` every few milliseconds until it is true (then true) or
// `timeout` has passed (then one last call decides).
bool PollUntil(const std::function<bool()>& condition, absl::Duration timeout);

// Aborts the process, naming `what`, unless destroyed within `limit`: for
// code paths whose blocking calls take no deadline (a hang must fail the
// test, not wait for Bazel's timeout). Thread-safe; runs a thread.
class Watchdog {
 public:
  Watchdog(std::string what, absl::Duration limit);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  Mutex mu_;
  CondVar cv_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// absl::Notification over the project's annotated mutex: Debian's Abseil
// is not TSan-instrumented, so absl::Notification shows TSan no order.
class Notification {
 public:
  void Notify() {
    MutexLock lock(&mu_);
    done_ = true;
    cv_.SignalAll();
  }
  bool HasBeenNotified() {
    MutexLock lock(&mu_);
    return done_;
  }
  bool WaitForNotificationWithTimeout(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock lock(&mu_);
    while (!done_) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) return done_;
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// Entries of /proc/self/fd (the descriptor listing it counts is excluded).
int OpenFdCount();

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_DEADLINE_H_
