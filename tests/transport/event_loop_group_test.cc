#include "transport/event_loop_group.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "transport/mutex.h"
#include "tests/testing/thread_count.h"
#include "gtest/gtest.h"

namespace netstructer::transport {
namespace {

using ::netstructer::test::ThreadCount;

// Runs `task` on `loop` and waits for it.
void RunOn(EventLoop* loop, std::function<void()> task) {
  Mutex mu;
  CondVar cv;
  bool done = false;
  loop->Post([&] {
    task();
    MutexLock lock(&mu);
    done = true;
    cv.SignalAll();
  });
  MutexLock lock(&mu);
  while (!done) cv.Wait(&mu);
}

TEST(EventLoopGroup, NeedsALoop) {
  EXPECT_EQ(EventLoopGroup::Create(0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_GE(EventLoopGroup::DefaultLoopCount(), 1);
}

TEST(EventLoopGroup, AssignsToTheLoopWithFewestConnections) {
  std::shared_ptr<EventLoopGroup> group = EventLoopGroup::Create(3).value();
  ASSERT_EQ(group->size(), 3);
  std::vector<std::shared_ptr<EventLoop>> assigned;
  for (int i = 0; i < 6; ++i) assigned.push_back(group->Assign());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(group->assigned(i), 2) << i;
  // Round robin among equals: 0, 1, 2, 0, 1, 2.
  for (int i = 0; i < 6; ++i) EXPECT_EQ(assigned[i].get(), group->loop(i % 3));
  // Releasing frees a place on that loop, which the next takes.
  assigned[4].reset();
  EXPECT_EQ(group->assigned(1), 1);
  std::shared_ptr<EventLoop> next = group->Assign();
  EXPECT_EQ(next.get(), group->loop(1));
  EXPECT_EQ(group->assigned(1), 2);
}

TEST(EventLoopGroup, AnAssignmentKeepsTheGroup) {
  std::shared_ptr<EventLoopGroup> group = EventLoopGroup::Create(2).value();
  std::weak_ptr<EventLoopGroup> weak = group;
  std::shared_ptr<EventLoop> loop = group->Assign();
  group.reset();
  ASSERT_FALSE(weak.expired());
  bool ran = false;
  RunOn(loop.get(), [&] { ran = EventLoop::Current() == loop.get(); });
  EXPECT_TRUE(ran);
  EXPECT_TRUE(weak.lock()->OwnsCurrentThread() == false);
  loop.reset();
  EXPECT_TRUE(weak.expired());
}

TEST(EventLoopGroup, TheLastHolderMayLetGoOnOneOfItsThreads) {
  const int before = ThreadCount();
  std::shared_ptr<EventLoopGroup> group = EventLoopGroup::Create(2).value();
  EXPECT_EQ(ThreadCount(), before + 2);
  std::weak_ptr<EventLoopGroup> weak = group;
  std::shared_ptr<EventLoop> loop = group->Assign();
  EventLoop* raw = loop.get();
  group.reset();
  Mutex mu;
  CondVar cv;
  bool inside = false;
  // The task holds the last reference; it is dropped on the loop's thread.
  raw->Post([&, loop = std::move(loop)]() mutable {
    MutexLock lock(&mu);
    inside = weak.lock()->OwnsCurrentThread();
    loop.reset();
    cv.SignalAll();
  });
  {
    MutexLock lock(&mu);
    while (!weak.expired()) {
      if (cv.WaitWithDeadline(&mu, absl::Now() + absl::Seconds(10))) break;
    }
    EXPECT_TRUE(inside);
  }
  // Both loop threads (and the joiner) end without anyone joining here.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (ThreadCount() > before && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(ThreadCount(), before);
}

TEST(EventLoopGroup, SharedIsOneGroupWhileHeld) {
  std::shared_ptr<EventLoopGroup> a = EventLoopGroup::Shared().value();
  std::shared_ptr<EventLoopGroup> b = EventLoopGroup::Shared().value();
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->size(), EventLoopGroup::DefaultLoopCount());
  std::weak_ptr<EventLoopGroup> weak = a;
  a.reset();
  b.reset();
  EXPECT_TRUE(weak.expired());  // No connection: no threads.
  std::shared_ptr<EventLoopGroup> c = EventLoopGroup::Shared().value();
  EXPECT_NE(c, nullptr);
}

}  // namespace
}  // namespace netstructer::transport
