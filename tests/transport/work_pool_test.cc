#include "netstructer/transport/work_pool.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace netstructer::transport {
namespace {

// Every item is worked once, on lanes in range with one thread per lane at
// a time, and consumed in order, only after its work returned.
void CheckRun(size_t n, int max_lanes) {
  std::vector<std::atomic<int>> worked(n);
  std::vector<std::atomic<int>> lane_busy(kMaxWorkPoolHelpers + 1);
  std::atomic<bool> lane_shared{false};
  std::atomic<int> bad_lane{0};
  std::vector<size_t> consumed;
  RunInOrder(
      n, max_lanes,
      [&](size_t i, int lane) {
        if (lane < 0 || lane >= std::min(max_lanes, WorkPoolLanes())) {
          ++bad_lane;
          return;
        }
        if (lane_busy[lane].fetch_add(1) != 0) lane_shared = true;
        // Some work, so that lanes overlap.
        volatile uint64_t x = i;
        for (int k = 0; k < 20000; ++k) x = x * 6364136223846793005ULL + 1;
        lane_busy[lane].fetch_sub(1);
        worked[i].fetch_add(1);
      },
      [&](size_t i) {
        EXPECT_EQ(worked[i].load(), 1) << i;
        consumed.push_back(i);
        return true;
      });
  EXPECT_EQ(bad_lane.load(), 0);
  EXPECT_FALSE(lane_shared.load());
  ASSERT_EQ(consumed.size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(consumed[i], i);
    EXPECT_EQ(worked[i].load(), 1);
  }
}

TEST(WorkPoolTest, EveryItemOnceConsumedInOrder) {
  EXPECT_GE(WorkPoolLanes(), 1);
  EXPECT_LE(WorkPoolLanes(), 1 + kMaxWorkPoolHelpers);
  CheckRun(0, 4);
  CheckRun(1, 4);
  CheckRun(16, 4);
  CheckRun(100, 2);
}

TEST(WorkPoolTest, OneLaneRunsEverythingOnTheCaller) {
  const std::thread::id me = std::this_thread::get_id();
  int elsewhere = 0;
  RunInOrder(
      50, 1,
      [&](size_t, int lane) {
        if (std::this_thread::get_id() != me || lane != 0) ++elsewhere;
      },
      [](size_t) { return true; });
  EXPECT_EQ(elsewhere, 0);
}

TEST(WorkPoolTest, ConsumeReturningFalseStopsAndWorkEndsBeforeReturn) {
  std::atomic<int> running{0};
  std::atomic<int> worked{0};
  std::vector<size_t> consumed;
  RunInOrder(
      1000, 4,
      [&](size_t, int) {
        ++running;
        volatile uint64_t x = 1;
        for (int k = 0; k < 20000; ++k) x = x * 3 + 1;
        ++worked;
        --running;
      },
      [&](size_t i) {
        consumed.push_back(i);
        return i < 4;  // Stop at item 4.
      });
  EXPECT_EQ(running.load(), 0);  // No work runs after RunInOrder returned.
  ASSERT_EQ(consumed.size(), 5u);
  EXPECT_EQ(consumed.back(), 4u);
  EXPECT_LT(worked.load(), 1000);  // The rest was skipped.
}

TEST(WorkPoolTest, ConcurrentJobsFromManyThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([] {
      for (int round = 0; round < 30; ++round) CheckRun(8, 4);
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace netstructer::transport
