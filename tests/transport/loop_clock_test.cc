// A loop's two kinds of timers on a clock a test moves (transport/clock.h):
// AddTimer's are on the loop's clock and fire when it jumps past them;
// AddRealTimeTimer's (deadlines, waits) are on real time and a jump leaves
// them alone. A deadline that fired early on a jump would cancel a call
// that still had its time.
#include <atomic>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/tests/testing/jumping_clock.h"
#include "netstructer/transport/event_loop.h"

namespace netstructer::transport {
namespace {

using netstructer::testing::JumpingClock;
using netstructer::testing::Notification;

// Returns once `loop` has run everything due now (a task posted after a
// jump runs after the timers the jump made due).
void Settle(EventLoop& loop) {
  Notification done;
  loop.Post([&done] { done.Notify(); });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST(LoopClock, ATimerOnTheLoopsClockFiresWhenTheClockJumpsPastIt) {
  JumpingClock clock;
  std::unique_ptr<EventLoop> loop = EventLoop::Create(&clock).value();
  EXPECT_EQ(loop->clock(), &clock);
  Notification fired;
  loop->AddTimer(clock.Now() + absl::Hours(1), [&fired] { fired.Notify(); });
  clock.Jump(absl::Minutes(59));
  Settle(*loop);
  EXPECT_FALSE(fired.HasBeenNotified());
  clock.Jump(absl::Minutes(2));
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST(LoopClock, ARealTimeTimerIgnoresJumpsAndFiresInRealTime) {
  JumpingClock clock;
  std::unique_ptr<EventLoop> loop = EventLoop::Create(&clock).value();
  Notification far_fired;
  Notification near_fired;
  loop->AddRealTimeTimer(absl::Now() + absl::Hours(1),
                         [&far_fired] { far_fired.Notify(); });
  clock.Jump(absl::Hours(2));
  Settle(*loop);
  EXPECT_FALSE(far_fired.HasBeenNotified());
  // One due soon in real time fires with no jump at all.
  loop->AddRealTimeTimer(absl::Now() + absl::Milliseconds(20),
                         [&near_fired] { near_fired.Notify(); });
  EXPECT_TRUE(near_fired.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_FALSE(far_fired.HasBeenNotified());
}

TEST(LoopClock, EitherKindCanBeCancelled) {
  JumpingClock clock;
  std::unique_ptr<EventLoop> loop = EventLoop::Create(&clock).value();
  std::atomic<int> fired{0};
  const EventLoop::TimerId on_clock =
      loop->AddTimer(clock.Now() + absl::Minutes(1), [&fired] { ++fired; });
  const EventLoop::TimerId real =
      loop->AddRealTimeTimer(absl::Now() + absl::Milliseconds(50), [&fired] { ++fired; });
  loop->CancelTimer(on_clock);
  loop->CancelTimer(real);
  clock.Jump(absl::Minutes(2));
  // One more real-time timer, later than the cancelled one: once it ran,
  // the cancelled one would have run too.
  Notification after;
  loop->AddRealTimeTimer(absl::Now() + absl::Milliseconds(100),
                         [&after] { after.Notify(); });
  ASSERT_TRUE(after.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(fired.load(), 0);
}

// With the real clock (the default) both kinds are one queue.
TEST(LoopClock, TheDefaultIsRealTime) {
  std::unique_ptr<EventLoop> loop = EventLoop::Create().value();
  EXPECT_EQ(loop->clock(), Clock::Real());
  Notification fired;
  loop->AddTimer(absl::Now() + absl::Milliseconds(10), [&fired] { fired.Notify(); });
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

}  // namespace
}  // namespace netstructer::transport
