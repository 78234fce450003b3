#include "netstructer/transport/sync_point.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "gtest/gtest.h"

namespace netstructer::transport {
namespace {

TEST(SyncPoint, RunsItsHookWithTheArgumentOnlyWhileInstalled) {
  int seen = 0;
  int value = 7;
  SyncPoint("SyncPointTest:a", &value);  // No hook: nothing runs.
  {
    ScopedSyncPoint point("SyncPointTest:a", [&](void* arg) {
      seen += *static_cast<int*>(arg);
    });
    SyncPoint("SyncPointTest:a", &value);
    SyncPoint("SyncPointTest:other", &value);  // Another name.
    SyncPoint("SyncPointTest:a", &value);
  }
  SyncPoint("SyncPointTest:a", &value);
  EXPECT_EQ(seen, 14);
}

TEST(SyncPoint, RemovingAHookWaitsForItsRunInProgress) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> hook_returned{false};
  auto point = std::make_unique<ScopedSyncPoint>("SyncPointTest:b", [&](void*) {
    entered.set_value();
    released.wait();
    hook_returned = true;
  });
  std::thread reacher([] { SyncPoint("SyncPointTest:b"); });
  entered.get_future().wait();
  std::atomic<bool> hook_done_at_removal{false};
  std::promise<void> removed;
  std::thread remover([&] {
    point.reset();
    hook_done_at_removal = hook_returned.load();
    removed.set_value();
  });
  // A removal that did not wait would be done long before this gives up;
  // one that waits is still blocked then (the hook has not been released).
  (void)removed.get_future().wait_for(std::chrono::milliseconds(100));
  release.set_value();
  remover.join();
  EXPECT_TRUE(hook_done_at_removal.load());
  reacher.join();
}

}  // namespace
}  // namespace netstructer::transport
