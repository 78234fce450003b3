// CallOptions::cancellation: a call cancelled from another thread ends
// with CANCELLED on the client and is seen cancelled by its handler, for a
// blocking unary call, an asynchronous one and streams; a call started
// after Cancel never reaches the server.
#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "netstructer/service/rpc_service.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using rpc::EchoReply;
using rpc::EchoRequest;

// Counts the calls that reached the server.
class CountingInterceptor : public ServerInterceptor {
 public:
  absl::Status OnCall(ServerContext*) override {
    ++calls;
    return absl::OkStatus();
  }
  std::atomic<int> calls{0};
};

struct Fixture {
  Fixture() : interceptor(std::make_shared<CountingInterceptor>()) {
    EchoFixtureOptions options;
    options.server.rpc.interceptors = {interceptor};
    // The slow handler blocks: off the I/O loop, which reads the CANCEL.
    options.server.rpc.handler_threads = 2;
    echo = std::make_unique<EchoFixture>(options);
  }
  // Waits until `n` calls reached the server.
  bool ServerSaw(int n) {
    return testing::PollUntil([&] { return interceptor->calls.load() >= n; },
                              absl::Seconds(10));
  }
  // Waits until a Unary handler runs (it records the call's deadline, -1
  // for none, first). A call cancelled before then never runs its handler.
  bool HandlerRuns() {
    return testing::PollUntil(
        [&] { return echo->service().last_deadline_unix_ms.load() != 0; },
        absl::Seconds(10));
  }
  std::shared_ptr<CountingInterceptor> interceptor;
  std::unique_ptr<EchoFixture> echo;
};

// A unary request whose handler sleeps 20 s unless cancelled.
EchoRequest Slow() {
  EchoRequest r;
  r.set_text("slow");
  r.set_sleep_ms(20000);
  return r;
}

void ExpectCancelledByClient(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "cancelled by the client"))
      << status;
}

TEST(Cancellation, ABlockingUnaryCallEndsAndItsHandlerSeesIt) {
  Fixture f;
  CallOptions options;
  options.cancellation = std::make_shared<Cancellation>();
  absl::Status status;
  std::thread caller([&] { status = f.echo->stub().Unary(Slow(), options).status(); });
  ASSERT_TRUE(f.HandlerRuns());
  options.cancellation->Cancel();
  caller.join();  // Without the cancellation: OK after 20 s.
  ExpectCancelledByClient(status);
  EXPECT_TRUE(testing::PollUntil(
      [&] { return f.echo->service().cancelled_seen.load() == 1; },
      absl::Seconds(10)));
  // The connection stays usable.
  EchoRequest hi;
  hi.set_text("hi");
  absl::StatusOr<EchoReply> reply = f.echo->stub().Unary(hi);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "hi");
}

TEST(Cancellation, AnAsynchronousCallCompletesWithIt) {
  Fixture f;
  CallOptions options;
  options.cancellation = std::make_shared<Cancellation>();
  Future<EchoReply> future = f.echo->stub().UnaryAsync(Slow(), options);
  ASSERT_TRUE(f.HandlerRuns());
  EXPECT_FALSE(future.Ready());
  options.cancellation->Cancel();
  absl::StatusOr<EchoReply> result =
      future.WaitUntil(absl::Now() + absl::Seconds(15));
  ExpectCancelledByClient(result.status());
  EXPECT_TRUE(testing::PollUntil(
      [&] { return f.echo->service().cancelled_seen.load() == 1; },
      absl::Seconds(10)));
}

TEST(Cancellation, OneCancelEndsEveryCallGivenIt) {
  Fixture f;
  CallOptions options;
  options.cancellation = std::make_shared<Cancellation>();
  auto chat = f.echo->stub().Chat(options);
  EchoRequest ping;
  ping.set_text("ping");
  ASSERT_TRUE(chat->Write(ping).ok());
  EchoReply pong;
  absl::StatusOr<bool> read = chat->Read(&pong);
  ASSERT_TRUE(read.ok() && *read) << read.status();
  Future<EchoReply> unary = f.echo->stub().UnaryAsync(Slow(), options);
  ASSERT_TRUE(f.ServerSaw(2));
  options.cancellation->Cancel();
  ExpectCancelledByClient(
      unary.WaitUntil(absl::Now() + absl::Seconds(15)).status());
  read = chat->Read(&pong);
  ExpectCancelledByClient(read.status());
  ExpectCancelledByClient(chat->Finish());
}

TEST(Cancellation, ACallStartedAfterCancelNeverLeaves) {
  Fixture f;
  CallOptions options;
  options.cancellation = std::make_shared<Cancellation>();
  options.cancellation->Cancel();
  EXPECT_TRUE(options.cancellation->cancelled());
  ExpectCancelledByClient(f.echo->stub().Unary(Slow(), options).status());
  ExpectCancelledByClient(f.echo->stub()
                              .UnaryAsync(Slow(), options)
                              .WaitUntil(absl::Now() + absl::Seconds(15))
                              .status());
  // A call without it goes through, and is the first the server sees.
  EchoRequest hi;
  hi.set_text("hi");
  ASSERT_TRUE(f.echo->stub().Unary(hi).ok());
  EXPECT_EQ(f.interceptor->calls.load(), 1);
}

TEST(Cancellation, OutlivesItsCallsAndChannels) {
  auto cancellation = std::make_shared<Cancellation>();
  {
    Fixture f;
    CallOptions options;
    options.cancellation = cancellation;
    EchoRequest hi;
    hi.set_text("hi");
    ASSERT_TRUE(f.echo->stub().Unary(hi, options).ok());
  }
  cancellation->Cancel();  // Nothing left to cancel: no effect, no crash.
  EXPECT_TRUE(cancellation->cancelled());
}

}  // namespace
}  // namespace netstructer::test
