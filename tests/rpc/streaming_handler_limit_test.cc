// RpcServerOptions::max_streaming_handlers: streaming handlers each take a
// thread, so past the limit a new streaming call is refused at once with
// RESOURCE_EXHAUSTED (unary calls go on), and a place freed is taken again.
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using rpc::EchoReply;
using rpc::EchoRequest;

EchoRequest Request(int64_t n) {
  EchoRequest r;
  r.set_n(n);
  return r;
}

TEST(StreamingHandlerLimit, PastItAStreamingCallIsRefusedAndAFreedPlaceIsTaken) {
  EchoFixtureOptions options;
  options.server.rpc.max_streaming_handlers = 2;
  EchoFixture f(options);
  // Two Sum handlers, each waiting in Read for more.
  std::vector<std::unique_ptr<ClientWriter<EchoRequest, EchoReply>>> sums;
  for (int i = 0; i < 2; ++i) {
    sums.push_back(f.stub().Sum());
    ASSERT_TRUE(sums.back()->Write(Request(1)).ok());
  }
  ASSERT_TRUE(testing::PollUntil(
      [&] { return f.service().sums_started.load() == 2; }, absl::Seconds(10)));
  // A third streaming call of any kind, on this connection or another, is
  // refused; a unary call is not a streaming handler.
  std::shared_ptr<Channel> other = f.Connect().value();
  rpc::Echo::Stub other_stub(other);
  absl::StatusOr<EchoReply> third = other_stub.Sum()->Finish();
  ASSERT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted)
      << third.status();
  EXPECT_TRUE(absl::StrContains(third.status().message(), "max_streaming_handlers"))
      << third.status();
  EchoRequest range = Request(0);
  range.set_count(1);
  auto reader = f.stub().Range(range);
  EchoReply reply;
  absl::StatusOr<bool> read = reader->Read(&reply);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kResourceExhausted)
      << read.status();
  absl::StatusOr<EchoReply> unary = other_stub.Unary(Request(5));
  ASSERT_TRUE(unary.ok()) << unary.status();
  EXPECT_EQ(unary->n(), 5);
  // One Sum ends; its place goes to the next streaming call (once its
  // handler's thread has let go of it, a moment after the reply).
  absl::StatusOr<EchoReply> first = sums[0]->Finish();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->n(), 1);
  absl::Status next;
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        auto sum = other_stub.Sum();
        if (!sum->Write(Request(7)).ok()) return false;
        absl::StatusOr<EchoReply> r = sum->Finish();
        next = r.status();
        return r.ok() && r->n() == 7;
      },
      absl::Seconds(10)))
      << next;
  absl::StatusOr<EchoReply> second = sums[1]->Finish();
  ASSERT_TRUE(second.ok()) << second.status();
}

TEST(StreamingHandlerLimit, ZeroMeansNoLimit) {
  EchoFixtureOptions options;
  options.server.rpc.max_streaming_handlers = 0;
  EchoFixture f(options);
  std::vector<std::unique_ptr<ClientWriter<EchoRequest, EchoReply>>> sums;
  for (int i = 0; i < 8; ++i) {
    sums.push_back(f.stub().Sum());
    ASSERT_TRUE(sums.back()->Write(Request(i)).ok());
  }
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<EchoReply> r = sums[i]->Finish();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->n(), i);
  }
}

}  // namespace
}  // namespace netstructer::test
