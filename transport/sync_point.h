// Sync points: named places in the library where a test runs code of its
// own, on the thread that reaches the place, to put another party's step
// exactly there. The close-path races (tests/rpc/close_races_test.cc) are
// forced this way instead of hoped for: a hook at the point between two
// steps of the reading thread does what a second thread would do at the
// worst moment, and the test checks the outcome. After RocksDB's
// TEST_SYNC_POINT, with the test's code run inline instead of a
// happens-before table.
//
// Cost when no test installed a hook: one relaxed atomic load per point.
// Thread-safe.
#ifndef NETSTRUCTER_TRANSPORT_SYNC_POINT_H_
#define NETSTRUCTER_TRANSPORT_SYNC_POINT_H_

#include <atomic>
#include <functional>
#include <string>

namespace netstructer::transport {

namespace sync_point_internal {
extern std::atomic<int> installed;
void Reach(const char* name, void* arg);
}  // namespace sync_point_internal

// Marks point `name` ("Class::Method:place"); `arg` is what its hook gets
// (the object the point is about; documented where the point is).
inline void SyncPoint(const char* name, void* arg = nullptr) {
  if (sync_point_internal::installed.load(std::memory_order_relaxed) > 0) {
    sync_point_internal::Reach(name, arg);
  }
}

// For tests: runs `hook(arg)` each time a thread reaches point `name`, until
// destroyed; the destructor waits for hook runs in progress. One hook per
// name at a time. A hook may not install or remove hooks.
class ScopedSyncPoint {
 public:
  ScopedSyncPoint(std::string name, std::function<void(void*)> hook);
  ~ScopedSyncPoint();
  ScopedSyncPoint(const ScopedSyncPoint&) = delete;
  ScopedSyncPoint& operator=(const ScopedSyncPoint&) = delete;

 private:
  const std::string name_;
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_SYNC_POINT_H_
