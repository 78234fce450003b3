// Mutex and condition variable with Clang thread-safety annotations, over
// std::mutex / std::condition_variable.
//
// Why not absl::Mutex: Debian's Abseil is a shared library built without
// ThreadSanitizer, so TSan cannot see absl::Mutex's synchronization and
// reports false races on everything it guards. std::mutex is built on
// pthreads, which TSan intercepts. The annotations (ABSL_GUARDED_BY, ...) are
// Abseil's header-only macros and work with `clang -Wthread-safety`.
#ifndef NETSTRUCTER_TRANSPORT_MUTEX_H_
#define NETSTRUCTER_TRANSPORT_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace netstructer {

// Thread-safe.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return mu_.try_lock();
  }
  // For the analysis only: asserts (statically) that the caller holds it.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Scoped lock. Thread-compatible.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Thread-safe. Waits always re-check their condition in a loop (spurious
// wake-ups happen).
class CondVar {
 public:
  // REQUIRES: `mu` held. Releases it while waiting.
  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns true if the deadline passed (the caller re-checks its condition
  // either way). REQUIRES: `mu` held.
  bool WaitWithDeadline(Mutex* mu, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (deadline == absl::InfiniteFuture()) {
      Wait(mu);
      return false;
    }
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const absl::Duration left = deadline - absl::Now();
    bool timed_out = true;
    if (left > absl::ZeroDuration()) {
      timed_out = cv_.wait_for(lock, absl::ToChronoNanoseconds(left)) ==
                  std::cv_status::timeout;
    }
    lock.release();
    return timed_out;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_TRANSPORT_MUTEX_H_
