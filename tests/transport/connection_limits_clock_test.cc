// A connection's time limits (keepalive, idle_timeout, max_lifetime:
// docs/PROTOCOL.md 8.3, BridgeOptions) checked at their edges on a loop
// whose clock the test moves (tests/testing/jumping_clock.h): limits of an
// hour, each looked at a couple of seconds before and after its edge, in
// milliseconds of real time. The peer is a plain socket that never sends
// (a silent peer), read by the test to see what the Bridge sent.
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/proto/value.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/tests/testing/jumping_clock.h"
#include "netstructer/tests/testing/tcp_pair.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/socket.h"

namespace netstructer {
namespace {

using testing::JumpingClock;
using transport::FrameType;

// One insecure Bridge on a one-loop group on `clock`, and the raw socket
// at the other end.
struct Connection {
  std::shared_ptr<transport::EventLoopGroup> group;
  std::shared_ptr<transport::EventLoop> loop;
  std::shared_ptr<Bridge> bridge;
  transport::Socket peer;
  transport::FrameDecoder decoder;
  transport::FrameOpener opener = transport::FrameOpener::Insecure();

  Connection(JumpingClock* clock, const BridgeOptions& options) {
    testing::SocketPair s = testing::ConnectedSockets("127.0.0.1");
    group = transport::EventLoopGroup::Create(1, clock).value();
    loop = group->Assign();
    peer = std::move(s.a);
    bridge = Bridge::Adopt(std::move(s.b), loop, Bridge::Role::kServer,
                           std::nullopt, std::nullopt, options);
  }
  // The test's thread lets the group go last, so its loop is joined here,
  // before the clock it is on (the test's local) goes.
  ~Connection() {
    bridge.reset();
    loop.reset();
    EXPECT_TRUE(group->AwaitReleased(absl::Now() + absl::Seconds(30)));
  }

  // Returns once the loop has run everything due at the clock's time now:
  // a task posted after a jump runs after the timers that jump made due
  // (EventLoop::Run runs due timers, then posted tasks, from one reading
  // of the clock).
  void Settle() {
    testing::Notification done;
    loop->Post([&done] { done.Notify(); });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  }

  // The types of the frames that arrived since the last call, once at
  // least `expected` have (loopback delivery may lag the send a little);
  // fewer after 30 s. With 0, what has arrived now.
  std::vector<FrameType> Received(size_t expected = 0) {
    std::vector<FrameType> types;
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    for (;;) {
      char buf[4096];
      bool closed = false;
      for (;;) {
        const ssize_t n = recv(peer.fd(), buf, sizeof(buf), MSG_DONTWAIT);
        closed = n == 0;
        if (n <= 0) break;
        decoder.Feed(absl::string_view(buf, static_cast<size_t>(n)));
      }
      for (;;) {
        absl::StatusOr<std::optional<std::string>> body = decoder.Next();
        EXPECT_TRUE(body.ok()) << body.status();
        if (!body.ok() || !body->has_value()) break;
        absl::StatusOr<transport::OpenedFrame> frame = opener.Open(**body);
        EXPECT_TRUE(frame.ok()) << frame.status();
        if (frame.ok()) types.push_back(frame->header.type);
      }
      if (types.size() >= expected || closed ||
          !transport::WaitReadable(peer.fd(), give_up)) {
        return types;
      }
    }
  }
};

BridgeOptions Hours(absl::Duration keepalive_interval,
                    absl::Duration keepalive_timeout) {
  BridgeOptions o;
  o.keepalive_interval = keepalive_interval;
  o.keepalive_timeout = keepalive_timeout;
  return o;
}

// Jumps the clock to `at` after the connection was made (the connection's
// own 1 s ticks run as it goes), then lets the loop run what is due.
void JumpTo(JumpingClock& clock, Connection& c, absl::Duration at) {
  ASSERT_GT(at, clock.jumped());
  clock.Jump(at - clock.jumped());
  c.Settle();
}

void ExpectClosedWith(Connection& c, absl::string_view reason) {
  ASSERT_TRUE(c.bridge->closed());
  const absl::Status end = c.bridge->status();
  EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
  EXPECT_TRUE(absl::StrContains(end.message(), reason)) << end;
}

TEST(ConnectionLimits, ASilentPeerIsPingedAfterTheIntervalAndDroppedAfterTheTimeout) {
  JumpingClock clock;
  Connection c(&clock, Hours(absl::Hours(1), absl::Minutes(30)));
  c.Settle();
  EXPECT_TRUE(c.Received().empty());

  JumpTo(clock, c, absl::Hours(1) - absl::Seconds(2));
  EXPECT_TRUE(c.Received().empty()) << "a PING before the interval";
  EXPECT_FALSE(c.bridge->closed());

  JumpTo(clock, c, absl::Hours(1) + absl::Seconds(2));
  EXPECT_EQ(c.Received(1), std::vector<FrameType>{FrameType::kPing});

  JumpTo(clock, c, absl::Minutes(90) - absl::Seconds(2));
  EXPECT_FALSE(c.bridge->closed()) << c.bridge->status();
  EXPECT_TRUE(c.Received().empty()) << "one PING per silence";

  JumpTo(clock, c, absl::Minutes(90) + absl::Seconds(2));
  ExpectClosedWith(c, "nothing from the peer for");
  ExpectClosedWith(c, "(keepalive)");
}

TEST(ConnectionLimits, AConnectionWithoutMessagesClosesAfterIdleTimeoutWithGoAway) {
  JumpingClock clock;
  BridgeOptions options = Hours(absl::Hours(100), absl::Hours(100));
  options.idle_timeout = absl::Hours(1);
  Connection c(&clock, options);
  c.Settle();

  JumpTo(clock, c, absl::Minutes(40));
  // A message sent is activity: the idle hour starts again from here.
  ASSERT_TRUE(c.bridge->SendBuffer(MakeInt(7)).ok());
  std::vector<FrameType> sent = c.Received(1);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back(), FrameType::kData);

  JumpTo(clock, c, absl::Minutes(100) - absl::Seconds(2));
  EXPECT_FALSE(c.bridge->closed()) << c.bridge->status();

  JumpTo(clock, c, absl::Minutes(100) + absl::Seconds(2));
  ExpectClosedWith(c, "(idle_timeout)");
  // The peer was told why (PROTOCOL.md 8.3): a GOAWAY, and no PING on the
  // way (the interval is 100 hours).
  EXPECT_EQ(c.Received(1), std::vector<FrameType>{FrameType::kGoAway});
}

TEST(ConnectionLimits, AConnectionIsClosedAtItsMaxLifetimeWhateverItsTraffic) {
  JumpingClock clock;
  BridgeOptions options = Hours(absl::Hours(100), absl::Hours(100));
  options.max_lifetime = absl::Hours(2);
  Connection c(&clock, options);
  c.Settle();

  JumpTo(clock, c, absl::Hours(2) - absl::Seconds(2));
  ASSERT_TRUE(c.bridge->SendBuffer(MakeInt(1)).ok());  // Traffic changes nothing.
  c.Received(1);
  EXPECT_FALSE(c.bridge->closed()) << c.bridge->status();

  JumpTo(clock, c, absl::Hours(2) + absl::Seconds(2));
  ExpectClosedWith(c, "(max_lifetime); reconnect");
  EXPECT_EQ(c.Received(1), std::vector<FrameType>{FrameType::kGoAway});
}

}  // namespace
}  // namespace netstructer
