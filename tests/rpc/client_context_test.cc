// ClientContext (client/client_context.h) on the real runtime, through the
// generated stubs: what it sends (deadline, metadata), what it keeps (the
// server's metadata, the peer), TryCancel before and during a call, one call
// per context, and every call kind; NewStub and the callback overload with
// default options.
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "netstructer/client/client_context.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using rpc::EchoReply;
using rpc::EchoRequest;

EchoRequest Request(const std::string& text, int64_t n = 0) {
  EchoRequest r;
  r.set_text(text);
  r.set_n(n);
  return r;
}

Metadata Pair(const std::string& key, const std::string& value) {
  return Metadata{{key, value}};
}

// Asks the Echo handlers to send metadata back.
void AskForMetadata(ClientContext* context) {
  context->AddMetadata("echo-initial", "first");
  context->AddMetadata("echo-trailing", "last");
}

TEST(ClientContext, AUnaryCallSendsItsSettingsAndKeepsWhatCameBack) {
  EchoFixture f;
  ClientContext context;
  context.set_timeout(absl::Seconds(30));
  AskForMetadata(&context);
  EXPECT_TRUE(context.peer().empty());
  const absl::Time before = absl::Now();
  absl::StatusOr<EchoReply> reply = f.stub().Unary(&context, Request("hi"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "hi");
  // The handler saw the deadline the context set.
  const int64_t deadline_ms = f.service().last_deadline_unix_ms.load();
  EXPECT_GE(deadline_ms, absl::ToUnixMillis(before + absl::Seconds(29)));
  EXPECT_LE(deadline_ms, absl::ToUnixMillis(absl::Now() + absl::Seconds(31)));
  EXPECT_EQ(context.GetServerInitialMetadata(), Pair("initial", "first"));
  EXPECT_EQ(context.GetServerTrailingMetadata(), Pair("trailing", "last"));
  EXPECT_EQ(context.peer(), f.server().address());
}

TEST(ClientContext, AContextServesOneCallAndASecondIsRefusedUnsent) {
  EchoFixture f;
  ClientContext context;
  ASSERT_TRUE(f.stub().Unary(&context, Request("one")).ok());
  EXPECT_EQ(f.service().finished.load(), 1);
  absl::StatusOr<EchoReply> again = f.stub().Unary(&context, Request("two"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition)
      << again.status();
  EXPECT_TRUE(absl::StrContains(again.status().message(), "one call"))
      << again.status();
  // Streams report it from every operation.
  std::unique_ptr<ClientReaderWriter<EchoRequest, EchoReply>> chat =
      f.stub().Chat(&context);
  EXPECT_EQ(chat->Write(Request("x")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(chat->Finish().code(), absl::StatusCode::kFailedPrecondition);
  // Nothing reached the server, and the channel is fine.
  ClientContext fresh;
  ASSERT_TRUE(f.stub().Unary(&fresh, Request("three")).ok());
  EXPECT_EQ(f.service().finished.load(), 2);
}

TEST(ClientContext, TryCancelBeforeTheCallFailsItUnsent) {
  EchoFixture f;
  ClientContext context;
  context.TryCancel();
  absl::StatusOr<EchoReply> reply = f.stub().Unary(&context, Request("no"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kCancelled)
      << reply.status();
  EXPECT_EQ(f.service().finished.load(), 0);
  EXPECT_TRUE(f.stub().Unary(Request("yes")).ok());
}

TEST(ClientContext, TryCancelFromAnotherThreadEndsABlockingCall) {
  EchoFixtureOptions options;
  options.server.rpc.handler_threads = 2;  // The handler sleeps.
  EchoFixture f(options);
  ClientContext context;
  EchoRequest slow = Request("slow");
  slow.set_sleep_ms(20000);
  absl::Status status;
  std::thread caller(
      [&] { status = f.stub().Unary(&context, slow).status(); });
  ASSERT_TRUE(testing::PollUntil(
      [&] { return f.service().last_deadline_unix_ms.load() != 0; },
      absl::Seconds(10)));
  context.TryCancel();
  caller.join();  // Without TryCancel: OK after 20 s.
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "cancelled by the client"))
      << status;
  EXPECT_TRUE(testing::PollUntil(
      [&] { return f.service().cancelled_seen.load() == 1; },
      absl::Seconds(10)));
}

TEST(ClientContext, ABadMetadataKeyFailsTheCallUnsent) {
  EchoFixture f;
  ClientContext context;
  context.AddMetadata("Not A Key", "x");
  absl::StatusOr<EchoReply> reply = f.stub().Unary(&context, Request("no"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument)
      << reply.status();
  EXPECT_EQ(f.service().finished.load(), 0);
}

TEST(ClientContext, StreamsKeepTheServersMetadataOnceFinished) {
  EchoFixture f;
  {
    ClientContext context;
    AskForMetadata(&context);
    EchoRequest request = Request("r");
    request.set_count(3);
    std::unique_ptr<ClientReader<EchoReply>> reader =
        f.stub().Range(&context, request);
    EchoReply reply;
    int read = 0;
    for (;;) {
      absl::StatusOr<bool> more = reader->Read(&reply);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
      EXPECT_EQ(reply.n(), read++);
    }
    EXPECT_EQ(read, 3);
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(context.GetServerInitialMetadata(), Pair("initial", "first"));
    EXPECT_EQ(context.GetServerTrailingMetadata(), Pair("trailing", "last"));
    EXPECT_EQ(context.peer(), f.server().address());
  }
  {
    ClientContext context;
    std::unique_ptr<ClientWriter<EchoRequest, EchoReply>> writer =
        f.stub().Sum(&context);
    ASSERT_TRUE(writer->Write(Request("a", 2)).ok());
    ASSERT_TRUE(writer->Write(Request("b", 5)).ok());
    absl::StatusOr<EchoReply> sum = writer->Finish();
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ(sum->n(), 7);
  }
  {
    ClientContext context;
    context.set_deadline(absl::Now() + absl::Seconds(30));
    EXPECT_NE(context.deadline(), absl::InfiniteFuture());
    std::unique_ptr<ClientReaderWriter<EchoRequest, EchoReply>> chat =
        f.stub().Chat(&context);
    ASSERT_TRUE(chat->Write(Request("ping")).ok());
    EchoReply reply;
    absl::StatusOr<bool> more = chat->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << more.status();
    EXPECT_EQ(reply.text(), "ping");
    ASSERT_TRUE(chat->WritesDone().ok());
    EXPECT_TRUE(chat->Finish().ok());
  }
}

TEST(ClientContext, ACancelledStreamReportsIt) {
  EchoFixture f;
  ClientContext context;
  std::unique_ptr<ClientReaderWriter<EchoRequest, EchoReply>> chat =
      f.stub().Chat(&context);
  ASSERT_TRUE(chat->Write(Request("ping")).ok());
  EchoReply reply;
  ASSERT_TRUE(chat->Read(&reply).ok());
  context.TryCancel();
  EXPECT_EQ(chat->Finish().code(), absl::StatusCode::kCancelled);
}

TEST(ClientContext, AsynchronousCallsFillTheContextBeforeTheyComplete) {
  EchoFixture f;
  ClientContext context;
  AskForMetadata(&context);
  testing::Notification done;
  absl::StatusOr<EchoReply> result;
  Metadata trailing_seen;
  f.stub().UnaryAsync(&context, Request("async"),
                      [&](absl::StatusOr<EchoReply> r) {
                        result = std::move(r);
                        trailing_seen = context.GetServerTrailingMetadata();
                        done.Notify();
                      });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->text(), "async");
  EXPECT_EQ(trailing_seen, Pair("trailing", "last"));

  ClientContext future_context;
  AskForMetadata(&future_context);
  Future<EchoReply> future =
      f.stub().UnaryAsync(&future_context, Request("future"));
  absl::StatusOr<EchoReply> got = future.Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->text(), "future");
  EXPECT_EQ(future_context.GetServerInitialMetadata(),
            Pair("initial", "first"));

  // A reused context completes the callback with the error, on the loop.
  testing::Notification refused;
  absl::Status refused_status;
  f.stub().UnaryAsync(&context, Request("again"),
                      [&](absl::StatusOr<EchoReply> r) {
                        refused_status = r.status();
                        refused.Notify();
                      });
  ASSERT_TRUE(refused.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(refused_status.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ClientContext, NewStubAndTheCallbackWithDefaultOptions) {
  EchoFixture f;
  std::unique_ptr<rpc::Echo::Stub> stub = rpc::Echo::NewStub(f.channel());
  ASSERT_NE(stub, nullptr);
  testing::Notification done;
  std::string text;
  stub->UnaryAsync(Request("defaults"),
                   [&](const absl::StatusOr<EchoReply>& r) {
                     text = r.ok() ? r->text() : r.status().ToString();
                     done.Notify();
                   });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(text, "defaults");
}

}  // namespace
}  // namespace netstructer::test
