#include "netstructer/transport/event_loop_group.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::transport {
namespace {

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

// Whether the thread `tid` of this process still exists.
bool ThreadAlive(pid_t tid) {
  return access(absl::StrCat("/proc/self/task/", tid).c_str(), F_OK) == 0;
}

TEST(EventLoopGroup, TheLastHolderMayLetGoOnOneOfItsThreads) {
  std::shared_ptr<EventLoopGroup> group = EventLoopGroup::Create(2).value();
  std::vector<pid_t> tids;
  for (int i = 0; i < 2; ++i) {
    RunOn(group->loop(i), [&] { tids.push_back(static_cast<pid_t>(syscall(SYS_gettid))); });
  }
  for (pid_t tid : tids) EXPECT_TRUE(ThreadAlive(tid)) << tid;
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
  EXPECT_TRUE(weak.expired());
  // Both loop threads end without anyone joining them here.
  EXPECT_TRUE(::netstructer::testing::PollUntil(
      [&] { return !ThreadAlive(tids[0]) && !ThreadAlive(tids[1]); },
      absl::Seconds(10)));
}

TEST(EventLoopGroup, AwaitReleasedLeavesTheWaiterAsTheLastHolder) {
  std::shared_ptr<EventLoopGroup> group = EventLoopGroup::Create(1).value();
  EXPECT_TRUE(group->AwaitReleased(absl::Now()));  // Nothing assigned.
  std::shared_ptr<EventLoop> loop = group->Assign();
  EventLoop* raw = loop.get();
  // Held: the deadline passes.
  EXPECT_FALSE(group->AwaitReleased(absl::Now() + absl::Milliseconds(20)));
  Mutex mu;
  CondVar cv;
  bool may_release = false;
  // The last assignment is let go on the loop's own thread, as a session's
  // last task does after a server's shutdown.
  raw->Post([&, loop = std::move(loop)]() mutable {
    {
      MutexLock lock(&mu);
      while (!may_release) cv.Wait(&mu);
    }
    loop.reset();
  });
  {
    MutexLock lock(&mu);
    may_release = true;
    cv.SignalAll();
  }
  ASSERT_TRUE(group->AwaitReleased(absl::Now() + absl::Seconds(10)));
  // The assignment let the group go before it counted itself out: this
  // thread's reference is the last, so resetting it joins the loop here.
  EXPECT_EQ(group.use_count(), 1);
  EXPECT_EQ(group->assigned(0), 0);
}

TEST(EventLoopGroup, SharedIsOneGroupForTheProcess) {
  std::shared_ptr<EventLoopGroup> a = EventLoopGroup::Shared().value();
  EXPECT_EQ(a->size(), EventLoopGroup::DefaultLoopCount());
  std::weak_ptr<EventLoopGroup> weak = a;
  a.reset();
  // Kept while no one holds it: the next connection finds its threads.
  EXPECT_FALSE(weak.expired());
  std::shared_ptr<EventLoopGroup> b = EventLoopGroup::Shared().value();
  EXPECT_EQ(b, weak.lock());
}

}  // namespace
}  // namespace netstructer::transport
