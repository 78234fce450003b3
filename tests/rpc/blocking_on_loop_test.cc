// A blocking call made on an event loop's thread (here: inside a client's
// asynchronous callback, which runs on the channel's loop) is refused at
// once with FAILED_PRECONDITION saying why, instead of waiting for what
// only that loop could deliver. Before the refusal, the blocking unary call
// below hung until its 5 s deadline (forever without one).
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/transport/event_loop.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using rpc::EchoReply;
using rpc::EchoRequest;

EchoRequest Request(const std::string& text) {
  EchoRequest r;
  r.set_text(text);
  return r;
}

CallOptions FiveSeconds() {
  CallOptions o;
  o.deadline = absl::Now() + absl::Seconds(5);
  return o;
}

bool SaysBlockingOnLoop(const absl::Status& s) {
  return s.code() == absl::StatusCode::kFailedPrecondition &&
         absl::StrContains(s.message(), "blocking call was made on an event loop's thread");
}

TEST(BlockingOnLoop, AUnaryCallInsideAnAsyncCallbackIsRefusedAtOnceAndNeverSent) {
  EchoFixture f;
  testing::Notification done;
  bool on_loop = false;
  absl::Status inner;
  absl::Duration took;
  int finished_before = 0;
  f.stub().UnaryAsync(Request("outer"), [&](absl::StatusOr<EchoReply> reply) {
    EXPECT_TRUE(reply.ok()) << reply.status();
    on_loop = transport::EventLoop::Current() != nullptr;
    finished_before = f.service().finished.load();
    const absl::Time start = absl::Now();
    inner = f.stub().Unary(Request("inner"), FiveSeconds()).status();
    took = absl::Now() - start;
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE(on_loop);  // The premise: callbacks run on the channel's loop.
  EXPECT_TRUE(SaysBlockingOnLoop(inner)) << inner;
  EXPECT_LT(took, absl::Seconds(1));  // Not its deadline.
  // The refused call never reached the server; the channel still works.
  EXPECT_EQ(f.service().finished.load(), finished_before);
  absl::StatusOr<EchoReply> after = f.stub().Unary(Request("after"), FiveSeconds());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->text(), "after");
}

// A blocking stream opened elsewhere and read inside a callback when no
// message is there: the Read is refused and the call ends on both sides
// with the reason; a Write there is refused too (it may wait for credit).
TEST(BlockingOnLoop, ABlockingStreamThatWouldWaitInsideACallbackEndsWithTheReason) {
  EchoFixture f;
  CallOptions options = FiveSeconds();
  std::unique_ptr<ClientReaderWriter<EchoRequest, EchoReply>> chat =
      f.stub().Chat(options);
  testing::Notification done;
  absl::Status write_status;
  absl::Status read_status;
  f.stub().UnaryAsync(Request("outer"), [&](absl::StatusOr<EchoReply>) {
    write_status = chat->Write(Request("from the loop"));
    EchoReply reply;
    absl::StatusOr<bool> read = chat->Read(&reply);
    read_status = read.ok() ? absl::OkStatus() : read.status();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE(SaysBlockingOnLoop(write_status)) << write_status;
  EXPECT_TRUE(SaysBlockingOnLoop(read_status)) << read_status;
  // Off the loop, the call reports the same end.
  absl::Status final_status = chat->Finish();
  EXPECT_TRUE(SaysBlockingOnLoop(final_status)) << final_status;
}

// A future waited for inside a callback before its result is there: refused
// at once; the call it stands for goes on and ends well.
TEST(BlockingOnLoop, WaitingForAFutureInsideACallbackIsRefusedAndTheCallGoesOn) {
  EchoFixture f;
  testing::Notification done;
  std::optional<Future<EchoReply>> future;
  absl::Status got;
  absl::Status waited;
  f.stub().UnaryAsync(Request("outer"), [&](absl::StatusOr<EchoReply>) {
    future = f.stub().UnaryAsync(Request("inner"), FiveSeconds());
    if (!future->Ready()) {
      got = future->Get().status();
      waited = future->WaitUntil(absl::Now() + absl::Seconds(5)).status();
    } else {
      got = waited = absl::UnknownError("the result came first; no wait to refuse");
    }
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE(SaysBlockingOnLoop(got)) << got;
  EXPECT_TRUE(SaysBlockingOnLoop(waited)) << waited;
  absl::StatusOr<EchoReply> reply = future->Get();  // Off the loop: waits.
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "inner");
}

// An asynchronous call started inside a callback whose request is larger
// than a call's window (2 MiB) would wait in its first send for credit only
// this loop could read: refused through its callback, at once. One that
// fits the window goes.
TEST(BlockingOnLoop, AnAsyncCallFromACallbackWithARequestPastTheWindowIsRefused) {
  EchoFixture f;
  testing::Notification done;
  absl::StatusOr<EchoReply> large = absl::UnknownError("not called");
  absl::StatusOr<EchoReply> fits = absl::UnknownError("not called");
  std::atomic<int> answered{0};
  f.stub().UnaryAsync(Request("outer"), [&](absl::StatusOr<EchoReply>) {
    f.stub().UnaryAsync(Request(std::string(3 << 20, 'x')), FiveSeconds(),
                        [&](absl::StatusOr<EchoReply> reply) {
                          large = std::move(reply);
                          if (++answered == 2) done.Notify();
                        });
    f.stub().UnaryAsync(Request(std::string(1 << 20, 'y')), FiveSeconds(),
                        [&](absl::StatusOr<EchoReply> reply) {
                          fits = std::move(reply);
                          if (++answered == 2) done.Notify();
                        });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(large.status().code(), absl::StatusCode::kFailedPrecondition)
      << large.status();
  EXPECT_TRUE(absl::StrContains(large.status().message(),
                                "more than a call's flow-control window"))
      << large.status();
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->text().size(), size_t{1} << 20);
}

// What a callback may do instead: an asynchronous follow-up call.
TEST(BlockingOnLoop, AnAsyncFollowUpCallFromACallbackWorks) {
  EchoFixture f;
  testing::Notification done;
  absl::StatusOr<EchoReply> second = absl::UnknownError("not called");
  f.stub().UnaryAsync(Request("first"), [&](absl::StatusOr<EchoReply> first) {
    ASSERT_TRUE(first.ok()) << first.status();
    f.stub().UnaryAsync(Request("second"), FiveSeconds(),
                        [&](absl::StatusOr<EchoReply> reply) {
                          second = std::move(reply);
                          done.Notify();
                        });
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->text(), "second");
}

}  // namespace
}  // namespace netstructer::test
