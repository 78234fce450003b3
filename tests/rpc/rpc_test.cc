// RPC calls end to end on a real server over loopback: every method kind,
// statuses, metadata, deadlines, cancellation, limits and shutdown.
#include <atomic>
#include <functional>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netstructer/client/client_call.h"
#include "netstructer/proto/value.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/transport/mutex.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using testing::Notification;

using rpc::EchoReply;
using rpc::EchoRequest;

EchoRequest Request(std::string text, int64_t n = 0) {
  EchoRequest r;
  r.set_text(std::move(text));
  r.set_n(n);
  return r;
}

TEST(RpcTest, UnaryEchoes) {
  EchoFixture f;
  absl::StatusOr<EchoReply> reply = f.stub().Unary(Request("hello", 7));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "hello");
  EXPECT_EQ(reply->n(), 7);
}

TEST(RpcTest, ClientStreamingSums) {
  EchoFixture f;
  auto writer = f.stub().Sum();
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(writer->Write(Request("", i)).ok());
  absl::StatusOr<EchoReply> reply = writer->Finish();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->n(), 5050);
  EXPECT_EQ(reply->text(), "100");
}

TEST(RpcTest, ServerStreamingRanges) {
  EchoFixture f;
  EchoRequest request;
  request.set_count(100);
  auto reader = f.stub().Range(request);
  EchoReply reply;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<bool> more = reader->Read(&reply);
    ASSERT_TRUE(more.ok()) << more.status();
    ASSERT_TRUE(*more);
    EXPECT_EQ(reply.n(), i);
  }
  absl::StatusOr<bool> more = reader->Read(&reply);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  EXPECT_TRUE(reader->Finish().ok());
}

// Read's contract after the server fails mid-stream: the messages that
// arrived first are read, then every Read returns the call's error (never
// false, which means a clean end), and Finish returns the same error.
TEST(RpcTest, AfterAMidStreamServerErrorEveryReadAndFinishReturnIt) {
  EchoFixture f;
  EchoRequest request;
  request.set_count(3);
  request.set_fail_code(static_cast<int>(absl::StatusCode::kAborted));
  request.set_text("stopped after three");
  auto reader = f.stub().Range(request);
  EchoReply reply;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<bool> more = reader->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << i << ": " << more.status();
    EXPECT_EQ(reply.n(), i);
  }
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<bool> more = reader->Read(&reply);
    ASSERT_FALSE(more.ok()) << "Read " << i << " after the error said "
                            << (*more ? "a message" : "a clean end");
    EXPECT_EQ(more.status().code(), absl::StatusCode::kAborted);
    EXPECT_EQ(more.status().message(), "stopped after three");
  }
  absl::Status finished = reader->Finish();
  EXPECT_EQ(finished.code(), absl::StatusCode::kAborted) << finished;
}

TEST(RpcTest, BidiChats) {
  EchoFixture f;
  auto stream = f.stub().Chat();
  EchoReply reply;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(stream->Write(Request("x", i)).ok());
    absl::StatusOr<bool> more = stream->Read(&reply);
    ASSERT_TRUE(more.ok()) << more.status();
    ASSERT_TRUE(*more);
    EXPECT_EQ(reply.n(), i);
  }
  ASSERT_TRUE(stream->WritesDone().ok());
  absl::StatusOr<bool> more = stream->Read(&reply);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(*more);
  EXPECT_TRUE(stream->Finish().ok());
}

// Polls `done` until it holds or 5 s pass (then the caller's EXPECT says
// what did not happen).
void WaitUntil(const std::function<bool()>& done) {
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (!done() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
}

// A plaintext Server on 127.0.0.1 serving one service, and a stub to it.
class ServiceUnderTest {
 public:
  explicit ServiceUnderTest(Service* service, ServerOptions options = {}) {
    options.insecure = true;
    server_ = std::make_unique<Server>("127.0.0.1:0", options);
    EXPECT_TRUE(server_->RegisterService(service).ok());
    EXPECT_TRUE(server_->Init().ok());
    EXPECT_TRUE(server_->Listen().ok());
    ChannelOptions channel_options;
    channel_options.link.insecure = true;
    absl::StatusOr<std::shared_ptr<Channel>> channel =
        Channel::Create(server_->address(), channel_options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (channel.ok()) stub_ = std::make_unique<rpc::Echo::Stub>(*channel);
  }
  rpc::Echo::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<Server> server_;
  std::unique_ptr<rpc::Echo::Stub> stub_;
};

EchoFixtureOptions WithWorkers(int threads = 4) {
  EchoFixtureOptions o;
  o.server.rpc.handler_threads = threads;
  return o;
}

TEST(RpcTest, InsecureModeWorks) {
  EchoFixtureOptions o;
  o.secure = false;
  EchoFixture f(o);
  absl::StatusOr<EchoReply> reply = f.stub().Unary(Request("plain", 1));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "plain");
}

TEST(RpcTest, IPv6Works) {
  EchoFixtureOptions o;
  o.address = "[::1]:0";
  EchoFixture f(o);
  absl::StatusOr<EchoReply> reply = f.stub().Unary(Request("six", 6));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->n(), 6);
}

TEST(RpcTest, StatusCodesAndMessagesTravel) {
  EchoFixture f;
  for (int code = 1; code <= 16; ++code) {
    EchoRequest request = Request(absl::StrCat("failure ", code, " \xc3\xa9"));
    request.set_fail_code(code);
    absl::StatusOr<EchoReply> reply = f.stub().Unary(request);
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(static_cast<int>(reply.status().code()), code);
    EXPECT_EQ(reply.status().message(), request.text());
  }
  // The connection is still fine.
  EXPECT_TRUE(f.stub().Unary(Request("after")).ok());
}

TEST(RpcTest, StreamingErrorAfterMessages) {
  EchoFixture f;
  EchoRequest request = Request("out of stock");
  request.set_count(3);
  request.set_fail_code(static_cast<int>(absl::StatusCode::kAborted));
  auto reader = f.stub().Range(request);
  EchoReply reply;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<bool> more = reader->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << more.status();
  }
  absl::StatusOr<bool> more = reader->Read(&reply);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(reader->Finish().code(), absl::StatusCode::kAborted);
}

TEST(RpcTest, UnknownMethodIsUnimplemented) {
  EchoFixture f;
  absl::StatusOr<std::string> r = internal::RawUnaryCall(
      f.channel().get(), "/netstructer.test.rpc.Echo/Nope", "", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("/netstructer.test.rpc.Echo/Nope"),
            std::string::npos)
      << r.status();
  r = internal::RawUnaryCall(f.channel().get(), "/no.Such/Service", "", {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(f.stub().Unary(Request("still fine")).ok());
}

TEST(RpcTest, UnimplementedHandlerDefault) {
  // A service that overrides nothing answers UNIMPLEMENTED.
  class Bare : public rpc::Echo::Service {};
  Bare bare;
  ServiceUnderTest under_test(&bare);
  rpc::Echo::Stub& stub = under_test.stub();
  EXPECT_EQ(stub.Unary(Request("x")).status().code(),
            absl::StatusCode::kUnimplemented);
  auto reader = stub.Range(Request("x"));
  EchoReply reply;
  EXPECT_EQ(reader->Read(&reply).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(RpcTest, DuplicateServiceIsRejected) {
  EchoService a, b;
  ServerOptions options;
  options.insecure = true;
  Server server("127.0.0.1:0", options);
  ASSERT_TRUE(server.RegisterService(&a).ok());
  EXPECT_EQ(server.RegisterService(&b).code(), absl::StatusCode::kAlreadyExists);
}

TEST(RpcTest, AsyncCallbackAndFuture) {
  EchoFixture f;
  Notification done;
  absl::StatusOr<EchoReply> got;
  f.stub().UnaryAsync(Request("cb", 1), {}, [&](absl::StatusOr<EchoReply> r) {
    got = std::move(r);
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->text(), "cb");

  Future<EchoReply> future = f.stub().UnaryAsync(Request("future", 2));
  absl::StatusOr<EchoReply> r = future.WaitUntil(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->n(), 2);
  EXPECT_TRUE(future.Ready());
  EXPECT_EQ(future.Get()->text(), "future");
}

TEST(RpcTest, AsyncErrorIsDeliveredOnce) {
  EchoFixture f;
  std::atomic<int> calls{0};
  Notification done;
  EchoRequest request = Request("nope");
  request.set_fail_code(static_cast<int>(absl::StatusCode::kNotFound));
  f.stub().UnaryAsync(request, {}, [&](absl::StatusOr<EchoReply> r) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
    ++calls;
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(calls.load(), 1);
}

TEST(RpcTest, MetadataBothWays) {
  EchoFixture f;
  CallOptions options;
  ResponseMetadata response;
  options.metadata = {{"echo-initial", "first"}, {"echo-trailing", "last"}};
  options.response_metadata = &response;
  absl::StatusOr<EchoReply> reply = f.stub().Unary(Request("md"), options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(response.initial.size(), 1u);
  EXPECT_EQ(response.initial[0], (std::pair<std::string, std::string>(
                                     "initial", "first")));
  ASSERT_EQ(response.trailing.size(), 1u);
  EXPECT_EQ(response.trailing[0], (std::pair<std::string, std::string>(
                                      "trailing", "last")));

  // Streaming: initial metadata before the first message.
  ResponseMetadata streamed;
  options.response_metadata = &streamed;
  EchoRequest request = Request("md");
  request.set_count(2);
  auto reader = f.stub().Range(request, options);
  EchoReply r;
  while (reader->Read(&r).value_or(false)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_EQ(streamed.initial.size(), 1u);
  EXPECT_EQ(streamed.initial[0].second, "first");
  ASSERT_EQ(streamed.trailing.size(), 1u);
  EXPECT_EQ(streamed.trailing[0].second, "last");
}

TEST(RpcTest, BadMetadataKeyIsInvalidArgument) {
  EchoFixture f;
  CallOptions options;
  options.metadata = {{"Bad Key", "x"}};
  absl::StatusOr<EchoReply> reply = f.stub().Unary(Request("x"), options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(f.stub().Unary(Request("x")).ok());
}

TEST(RpcTest, DeadlineExceededPromptlyAndServerSeesIt) {
  EchoFixture f(WithWorkers());
  EchoRequest request = Request("slow");
  request.set_sleep_ms(5000);
  CallOptions options;
  options.timeout = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  absl::StatusOr<EchoReply> reply = f.stub().Unary(request, options);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded)
      << reply.status();
  EXPECT_GE(took, absl::Milliseconds(100));
  std::cout << "blocking call: DEADLINE_EXCEEDED "
            << absl::FormatDuration(took - absl::Milliseconds(100))
            << " after the deadline\n";
  // "Within a few milliseconds": generous here, shared machines are noisy;
  // the note reports the measured lateness.
  EXPECT_LT(took, absl::Milliseconds(1000)) << took;
  // The handler notices (CANCEL from the client, or its own timer).
  WaitUntil([&] { return f.service().cancelled_seen.load() > 0; });
  EXPECT_EQ(f.service().cancelled_seen.load(), 1);
}

TEST(RpcTest, ServerSeesTheDeadline) {
  EchoFixture f;
  CallOptions options;
  options.deadline = absl::Now() + absl::Seconds(30);
  ASSERT_TRUE(f.stub().Unary(Request("d"), options).ok());
  EXPECT_NEAR(static_cast<double>(f.service().last_deadline_unix_ms.load()),
              static_cast<double>(absl::ToUnixMillis(options.deadline)), 1000);
  ASSERT_TRUE(f.stub().Unary(Request("none")).ok());
  EXPECT_EQ(f.service().last_deadline_unix_ms.load(), -1);
}

TEST(RpcTest, AsyncDeadlineExceeded) {
  EchoFixture f(WithWorkers());
  EchoRequest request = Request("slow");
  request.set_sleep_ms(5000);
  CallOptions options;
  options.timeout = absl::Milliseconds(50);
  const absl::Time start = absl::Now();
  Future<EchoReply> future = f.stub().UnaryAsync(request, options);
  absl::StatusOr<EchoReply> r = future.WaitUntil(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  std::cout << "async call: DEADLINE_EXCEEDED "
            << absl::FormatDuration(absl::Now() - start - absl::Milliseconds(50))
            << " after the deadline\n";
}

TEST(RpcTest, DeadlineOnAStream) {
  EchoFixture f;
  EchoRequest request;
  request.set_count(1000000);
  request.set_sleep_ms(1);
  CallOptions options;
  options.timeout = absl::Milliseconds(150);
  auto reader = f.stub().Range(request, options);
  EchoReply reply;
  absl::StatusOr<bool> more;
  const absl::Time start = absl::Now();
  do {
    more = reader->Read(&reply);
  } while (more.ok() && *more);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(reader->Finish().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(RpcTest, CancelMidStream) {
  EchoFixture f;
  EchoRequest request;
  request.set_count(1000000);
  request.set_sleep_ms(1);
  auto reader = f.stub().Range(request);
  EchoReply reply;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(reader->Read(&reply).value_or(false));
  reader->Cancel();
  EXPECT_EQ(reader->Read(&reply).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(reader->Finish().code(), absl::StatusCode::kCancelled);
  WaitUntil([&] { return f.service().cancelled_seen.load() > 0; });
  EXPECT_EQ(f.service().cancelled_seen.load(), 1);
  // The connection carries on.
  EXPECT_TRUE(f.stub().Unary(Request("after")).ok());
}

// A stream handler waiting for a message reads the session's socket itself
// (RpcConnection::Wait: no hand-off from the event loop per message). The
// session's other calls go on beside it, both while it waits in Read (it
// dispatches them) and while it is busy between two reads (the loop takes
// reading back after a short linger).
TEST(RpcTest, AStreamHandlerThatReadsDoesNotHoldUpTheSessionsOtherCalls) {
  // Unary handlers inline, so that the waiting stream handler's thread
  // runs them when it reads their requests.
  EchoFixtureOptions o;
  o.server.rpc.handler_threads = 0;
  EchoFixture f(o);
  auto writer = f.stub().Sum();
  ASSERT_TRUE(writer->Write(Request("", 1)).ok());
  WaitUntil([&] { return f.service().sums_started.load() == 1; });
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<EchoReply> reply = f.stub().Unary(Request("beside", i));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->n(), i);
  }
  // Now the handler sleeps 10 s after its next message (unless cancelled).
  EchoRequest slow = Request("", 2);
  slow.set_sleep_ms(10000);
  ASSERT_TRUE(writer->Write(slow).ok());
  const absl::Time start = absl::Now();
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<EchoReply> reply = f.stub().Unary(Request("meanwhile", i));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->n(), i);
  }
  // Had they waited for the handler's next read, they would have taken 10 s.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  writer->Cancel();
  WaitUntil([&] { return f.service().cancelled_seen.load() == 1; });
  EXPECT_TRUE(f.stub().Unary(Request("after")).ok());
}

TEST(RpcTest, CancelFromAnotherThreadWakesABlockedRead) {
  EchoFixture f;
  auto stream = f.stub().Chat();
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    stream->Cancel();
  });
  EchoReply reply;
  const absl::Time start = absl::Now();
  absl::StatusOr<bool> more = stream->Read(&reply);  // Nothing will come.
  canceller.join();
  EXPECT_EQ(more.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

// When a connection dies, several threads learn it at once: the one reading
// the socket, the event loop (the Bridge posts its close there), and every
// call waiting in Read. Whichever finishes the calls, none of the others may
// return before its call is finished: a client Read that did returned
// DEADLINE_EXCEEDED at once, and a server handler saw IsCancelled() false
// (both seen in CI, once in ~1,600 runs each).
TEST(RpcTest, EveryCallWaitingOnAConnectionThatDiesEndsWithItsError) {
  constexpr int kRounds = 40;
  constexpr int kCalls = 4;
  for (int round = 0; round < kRounds; ++round) {
    EchoFixture f;
    std::vector<std::unique_ptr<ClientReaderWriter<EchoRequest, EchoReply>>>
        chats;
    for (int i = 0; i < kCalls; ++i) {
      chats.push_back(f.stub().Chat());
      EchoReply reply;
      ASSERT_TRUE(chats.back()->Write(Request("up", i)).ok());
      ASSERT_TRUE(chats.back()->Read(&reply).value_or(false)) << round;
      ASSERT_EQ(reply.n(), i);
    }
    // Each client call and each handler now waits in Read.
    std::vector<absl::Status> ends(kCalls);
    std::vector<std::thread> readers;
    for (int i = 0; i < kCalls; ++i) {
      readers.emplace_back([&, i] {
        EchoReply reply;
        absl::StatusOr<bool> more = chats[i]->Read(&reply);
        ends[i] = more.ok() ? absl::InternalError("Read returned a value")
                            : more.status();
      });
    }
    absl::SleepFor(absl::Milliseconds(round % 4));
    std::vector<std::shared_ptr<Bridge>> sessions = f.server().All();
    ASSERT_EQ(sessions.size(), 1u);
    sessions[0]->Abort(absl::UnavailableError("the test aborts the session"));
    for (std::thread& t : readers) t.join();
    for (int i = 0; i < kCalls; ++i) {
      EXPECT_EQ(ends[i].code(), absl::StatusCode::kUnavailable)
          << "round " << round << ", call " << i << ": " << ends[i];
    }
    WaitUntil([&] { return f.service().finished.load() == kCalls; });
    EXPECT_EQ(f.service().cancelled_seen.load(), kCalls) << "round " << round;
    if (HasFailure()) break;
  }
}

// A thread whose call fails because the connection just ended (here the
// caller's own, in Open, with the channel's id lock held) finishes every
// call but runs none of their callbacks: one that starts a call on the same
// channel ran there and deadlocked on that lock. They run on the loop.
TEST(RpcTest, AnAsyncCallbackMayStartACallOnAChannelThatJustDied) {
  testing::Watchdog watchdog("AnAsyncCallbackMayStartACall", absl::Seconds(60));
  constexpr int kRounds = 20;
  EchoFixture f(WithWorkers());
  for (int round = 0; round < kRounds; ++round) {
    absl::StatusOr<std::shared_ptr<Channel>> channel = f.Connect();
    ASSERT_TRUE(channel.ok()) << channel.status();
    rpc::Echo::Stub stub(*channel);
    Notification retried;
    absl::Status first;
    absl::Status retry;
    EchoRequest slow = Request("slow");
    slow.set_sleep_ms(5000);
    stub.UnaryAsync(slow, {}, [&](absl::StatusOr<EchoReply> r) {
      first = r.status();
      stub.UnaryAsync(Request("retry"), {}, [&](absl::StatusOr<EchoReply> r2) {
        retry = r2.status();
        retried.Notify();
      });
    });
    absl::SleepFor(absl::Milliseconds(round % 3));
    (*channel)->bridge().Abort(absl::UnavailableError("the test aborts"));
    absl::StatusOr<EchoReply> after = stub.Unary(Request("after"));
    EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable)
        << after.status();
    ASSERT_TRUE(retried.WaitForNotificationWithTimeout(absl::Seconds(10)))
        << "round " << round;
    EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
    EXPECT_EQ(retry.code(), absl::StatusCode::kUnavailable) << retry;
  }
}

TEST(RpcTest, DestroyingAnUnfinishedStreamCancelsIt) {
  EchoFixture f;
  {
    auto stream = f.stub().Chat();
    ASSERT_TRUE(stream->Write(Request("x")).ok());
  }
  WaitUntil([&] { return f.service().finished.load() > 0; });
  EXPECT_EQ(f.service().finished.load(), 1);
  EXPECT_EQ(f.service().cancelled_seen.load(), 1);
}

TEST(RpcTest, TenThousandUnaryCalls) {
  EchoFixture f;
  for (int i = 0; i < 10000; ++i) {
    absl::StatusOr<EchoReply> reply = f.stub().Unary(Request("", i));
    ASSERT_TRUE(reply.ok()) << i << ": " << reply.status();
    ASSERT_EQ(reply->n(), i);
  }
}

TEST(RpcTest, TenThousandMessagesEachStreamingKind) {
  EchoFixture f;
  constexpr int kN = 10000;
  {
    auto writer = f.stub().Sum();
    int64_t expected = 0;
    for (int i = 0; i < kN; ++i) {
      ASSERT_TRUE(writer->Write(Request("", i)).ok()) << i;
      expected += i;
    }
    absl::StatusOr<EchoReply> reply = writer->Finish();
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->n(), expected);
    EXPECT_EQ(reply->text(), std::to_string(kN));
  }
  {
    EchoRequest request;
    request.set_count(kN);
    auto reader = f.stub().Range(request);
    EchoReply reply;
    for (int i = 0; i < kN; ++i) {
      ASSERT_TRUE(reader->Read(&reply).value_or(false)) << i;
      ASSERT_EQ(reply.n(), i);
    }
    EXPECT_FALSE(reader->Read(&reply).value_or(true));
    EXPECT_TRUE(reader->Finish().ok());
  }
  {
    // Bidi: a writer thread and a reader thread at once.
    auto stream = f.stub().Chat();
    std::thread writer([&] {
      for (int i = 0; i < kN; ++i) ASSERT_TRUE(stream->Write(Request("", i)).ok());
      ASSERT_TRUE(stream->WritesDone().ok());
    });
    EchoReply reply;
    for (int i = 0; i < kN; ++i) {
      ASSERT_TRUE(stream->Read(&reply).value_or(false)) << i;
      ASSERT_EQ(reply.n(), i);
    }
    writer.join();
    EXPECT_FALSE(stream->Read(&reply).value_or(true));
    EXPECT_TRUE(stream->Finish().ok());
  }
}

TEST(RpcTest, ThousandConcurrentAsyncCallsOnOneConnection) {
  EchoFixtureOptions o;
  o.server.rpc.max_concurrent_streams = 1000;
  EchoFixture f(o);
  std::vector<Future<EchoReply>> futures;
  for (int i = 0; i < 1000; ++i) {
    futures.push_back(f.stub().UnaryAsync(Request("", i)));
  }
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<EchoReply> r =
        futures[i].WaitUntil(absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(r->n(), i);
  }
}

TEST(RpcTest, ThousandConcurrentBlockingCallsFromManyThreads) {
  EchoFixture f;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 50; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const int n = t * 1000 + i;
        absl::StatusOr<EchoReply> r = f.stub().Unary(Request("", n));
        if (r.ok() && r->n() == n) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1000);
}

TEST(RpcTest, MaxConcurrentStreamsIsResourceExhausted) {
  EchoFixtureOptions o;
  o.server.rpc.max_concurrent_streams = 2;
  EchoFixture f(o);
  auto a = f.stub().Chat();
  auto b = f.stub().Chat();
  ASSERT_TRUE(a->Write(Request("a")).ok());
  ASSERT_TRUE(b->Write(Request("b")).ok());
  EchoReply reply;
  ASSERT_TRUE(a->Read(&reply).value_or(false));
  ASSERT_TRUE(b->Read(&reply).value_or(false));
  absl::StatusOr<EchoReply> third = f.stub().Unary(Request("c"));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted)
      << third.status();
  a->Cancel();
  // Once a stream ends, calls are admitted again.
  const absl::Time until = absl::Now() + absl::Seconds(5);
  absl::StatusOr<EchoReply> later;
  do {
    later = f.stub().Unary(Request("d"));
  } while (!later.ok() && absl::Now() < until);
  EXPECT_TRUE(later.ok()) << later.status();
}

TEST(RpcTest, SlowReaderBoundsWhatTheWriterBuffers) {
  EchoFixture f;
  EchoRequest request;
  request.set_count(1000);
  request.set_payload(std::string(64 * 1024, 'p'));
  auto reader = f.stub().Range(request);
  EchoReply reply;
  ASSERT_TRUE(reader->Read(&reply).value_or(false));
  // The client reads nothing.
  const int64_t written = WaitUntilStalled(f.service().range_written);
  // What a stream can hold for a reader that does not read: its queue up to
  // one window (2 MiB), then the window's worth in flight when the queue
  // filled (docs/PROTOCOL.md 9.5): 2 x 32 of these; then the writer blocks.
  std::cout << "slow reader: the server wrote " << written
            << " replies of 64 KiB (" << written * 64 / 1024.0
            << " MiB) while the client read 1 of 1000\n";
  EXPECT_LE(written, 66);
  EXPECT_GE(written, 30);
  int n = 1;
  while (reader->Read(&reply).value_or(false)) ++n;
  EXPECT_EQ(n, 1000);
  EXPECT_TRUE(reader->Finish().ok());
}

// With one pool thread held by a slow call, a second call waits in the
// queue; its deadline ends it there, and its handler never runs.
TEST(RpcTest, AUnaryCallThatEndsWhileQueuedNeverRunsItsHandler) {
  class FinishCounter : public ServerInterceptor {
   public:
    void OnFinish(ServerContext*, const absl::Status&) override { ++finished; }
    std::atomic<int> finished{0};
  };
  auto counter = std::make_shared<FinishCounter>();
  EchoFixtureOptions o;
  o.server.rpc.handler_threads = 1;
  o.server.rpc.interceptors = {counter};
  EchoFixture f(o);
  std::thread slow([&] {
    EchoRequest r = Request("slow");
    r.set_sleep_ms(600);
    EXPECT_TRUE(f.stub().Unary(r).ok());
  });
  // The slow handler has started (it records "no deadline" first).
  WaitUntil([&] { return f.service().last_deadline_unix_ms.load() == -1; });
  CallOptions options;
  options.timeout = absl::Milliseconds(100);
  EXPECT_EQ(f.stub().Unary(Request("queued"), options).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  slow.join();
  EXPECT_TRUE(testing::PollUntil([&] { return counter->finished.load() == 2; },
                                 absl::Seconds(10)));
  EXPECT_EQ(f.service().finished.load(), 1);  // Only the slow call's.
  EXPECT_EQ(f.service().last_deadline_unix_ms.load(), -1);
}

// On the pool (the default) and inline on the reading thread
// (handler_threads = 0), where a response past the window must leave on a
// thread of its own.
TEST(RpcTest, LargeMessagesBothWays) {
  for (int handler_threads : {RpcServerOptions::kAutoHandlerThreads, 0}) {
    EchoFixtureOptions o;
    o.server.rpc.handler_threads = handler_threads;
    EchoFixture f(o);
    for (size_t size : {size_t{0}, size_t{1}, size_t{65536}, size_t{1} << 20,
                        size_t{5} << 20}) {
      EchoRequest request;
      request.set_payload(std::string(size, 'z'));
      absl::StatusOr<EchoReply> reply = f.stub().Unary(request);
      ASSERT_TRUE(reply.ok())
          << handler_threads << ", " << size << ": " << reply.status();
      EXPECT_EQ(reply->payload().size(), size);
    }
  }
}

// Text-like payloads that lz4 shrinks, different in every message: once a
// connection's large frames compress, a message's fragments are compressed
// and sealed side by side on the cores (Bridge::SendStreamFrames) and must
// arrive byte for byte, in order, whichever thread sealed which.
std::string CompressibleText(size_t n, int seed) {
  std::string s;
  s.reserve(n + 64);
  for (int i = 0; s.size() < n; ++i) {
    absl::StrAppend(&s, "field_", (i * 7919 + seed) % 1000, "=value ", i, "; ");
  }
  s.resize(n);
  return s;
}

TEST(RpcTest, LargeCompressibleMessagesSealedSideBySideArriveIntact) {
  for (bool secure : {true, false}) {
    EchoFixtureOptions options;
    options.secure = secure;
    EchoFixture f(options);
    for (int round = 0; round < 4; ++round) {
      const size_t size = (size_t{1} << 20) + 12345 * round;
      EchoRequest request;
      request.set_payload(CompressibleText(size, round));
      absl::StatusOr<EchoReply> reply = f.stub().Unary(request);
      ASSERT_TRUE(reply.ok()) << reply.status();
      EXPECT_TRUE(reply->payload() == request.payload())
          << "secure " << secure << ", round " << round;
    }
    auto chat = f.stub().Chat();
    std::vector<std::string> sent;
    for (int i = 0; i < 3; ++i) {
      sent.push_back(CompressibleText(size_t{3} << 19, 100 + i));
      EchoRequest request;
      request.set_payload(sent.back());
      ASSERT_TRUE(chat->Write(request).ok());
    }
    ASSERT_TRUE(chat->WritesDone().ok());
    EchoReply reply;
    for (const std::string& expected : sent) {
      ASSERT_TRUE(chat->Read(&reply).value_or(false));
      EXPECT_TRUE(reply.payload() == expected);
    }
    EXPECT_FALSE(chat->Read(&reply).value_or(true));
    EXPECT_TRUE(chat->Finish().ok());
  }
}

TEST(RpcTest, MessageOverTheLimitFailsTheCallOnly) {
  EchoFixtureOptions o;
  o.server.bridge.max_message_bytes = 1 << 20;
  EchoFixture f(o);
  EchoRequest request;
  request.set_payload(std::string(2 << 20, 'z'));
  absl::StatusOr<EchoReply> reply = f.stub().Unary(request);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kResourceExhausted)
      << reply.status();
  EXPECT_TRUE(f.stub().Unary(Request("small")).ok());
}

// A response the server may not send (over its max_message_bytes) ends the
// call with RESOURCE_EXHAUSTED at the client too, sent in a CANCEL: the
// client used to wait for trailers that never came.
TEST(RpcTest, AResponseOverTheServersLimitFailsTheCallAtTheClient) {
  class BigReplies : public rpc::Echo::Service {
    absl::Status Unary(ServerContext*, const EchoRequest* request,
                       EchoReply* reply) override {
      reply->set_text(request->text());
      if (request->n() > 0) reply->set_payload(std::string(2 << 20, 'r'));
      return absl::OkStatus();
    }
  };
  BigReplies service;
  ServerOptions options;
  options.bridge.max_message_bytes = 1 << 20;
  ServiceUnderTest under_test(&service, options);
  CallOptions call;
  call.timeout = absl::Seconds(20);
  absl::StatusOr<EchoReply> big = under_test.stub().Unary(Request("big", 1), call);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted)
      << big.status();
  EXPECT_TRUE(absl::StrContains(big.status().message(), "max_message_bytes"))
      << big.status();
  // The connection goes on.
  absl::StatusOr<EchoReply> small = under_test.stub().Unary(Request("small"), call);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->text(), "small");
}

TEST(RpcTest, CompressionOffPerCall) {
  EchoFixture f;
  CallOptions options;
  options.compression = false;
  EchoRequest request;
  request.set_payload(std::string(100000, 'c'));
  absl::StatusOr<EchoReply> reply = f.stub().Unary(request, options);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->payload(), request.payload());
}

class CountingClientInterceptor : public ClientInterceptor {
 public:
  absl::Status OnStart(absl::string_view method, CallOptions* options) override {
    if (absl::EndsWith(method, "/Sum")) {
      return absl::PermissionDeniedError("no sums from this client");
    }
    options->metadata.emplace_back("echo-trailing", "added-by-interceptor");
    return absl::OkStatus();
  }
  void OnFinish(absl::string_view method, const absl::Status& status) override {
    MutexLock lock(&mu);
    finished.emplace_back(std::string(method), status.code());
  }
  Mutex mu;
  std::vector<std::pair<std::string, absl::StatusCode>> finished;
};

class RejectingServerInterceptor : public ServerInterceptor {
 public:
  absl::Status OnCall(ServerContext* context) override {
    if (absl::EndsWith(context->method(), "/Chat")) {
      return absl::PermissionDeniedError("chat is closed");
    }
    return absl::OkStatus();
  }
  void OnFinish(ServerContext* context, const absl::Status& status) override {
    ++finished;
  }
  std::atomic<int> finished{0};
};

TEST(RpcTest, InterceptorsOnBothSides) {
  auto client = std::make_shared<CountingClientInterceptor>();
  auto server = std::make_shared<RejectingServerInterceptor>();
  EchoFixtureOptions o;
  o.channel.interceptors = {client};
  o.server.rpc.interceptors = {server};
  EchoFixture f(o);
  ResponseMetadata md;
  CallOptions options;
  options.response_metadata = &md;
  ASSERT_TRUE(f.stub().Unary(Request("x"), options).ok());
  ASSERT_EQ(md.trailing.size(), 1u);
  EXPECT_EQ(md.trailing[0].second, "added-by-interceptor");
  EXPECT_EQ(f.stub().Sum()->Finish().status().code(),
            absl::StatusCode::kPermissionDenied);
  auto chat = f.stub().Chat();
  EchoReply reply;
  absl::StatusOr<bool> r = chat->Read(&reply);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().message(), "chat is closed");
  chat.reset();
  MutexLock lock(&client->mu);
  ASSERT_EQ(client->finished.size(), 3u);
  EXPECT_EQ(client->finished[0].second, absl::StatusCode::kOk);
  EXPECT_EQ(client->finished[1].second, absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(client->finished[2].second, absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(server->finished.load(), 2);  // Unary, and the refused Chat.
}

TEST(RpcTest, WorkerPoolRunsBlockingHandlersConcurrently) {
  EchoFixture f(WithWorkers(4));
  EchoRequest request = Request("sleepy");
  request.set_sleep_ms(300);
  const absl::Time start = absl::Now();
  std::vector<Future<EchoReply>> futures;
  for (int i = 0; i < 4; ++i) futures.push_back(f.stub().UnaryAsync(request));
  for (auto& fu : futures) ASSERT_TRUE(fu.Get().ok());
  // Four 300 ms handlers on four threads: well under 4 x 300 ms.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1100));
}

TEST(RpcTest, ContextKnowsThePeerAndSession) {
  class Peer : public rpc::Echo::Service {
   public:
    absl::Status Unary(ServerContext* context, const EchoRequest*,
                       EchoReply* reply) override {
      reply->set_text(context->PeerIp());
      reply->set_n(context->session() != nullptr ? 1 : 0);
      return absl::OkStatus();
    }
  };
  Peer peer;
  ServiceUnderTest under_test(&peer);
  rpc::Echo::Stub& stub = under_test.stub();
  absl::StatusOr<EchoReply> reply = stub.Unary(Request("x"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "127.0.0.1");
  EXPECT_EQ(reply->n(), 1);
}

TEST(RpcTest, BridgeStreamWorksBesideCalls) {
  EchoFixture f;
  ASSERT_TRUE(f.channel()->bridge().SendBuffer(MakeStr("beside")).ok());
  ASSERT_TRUE(f.stub().Unary(Request("call")).ok());
  std::shared_ptr<Bridge> session = f.server().Get("127.0.0.1");
  ASSERT_NE(session, nullptr);
  RecvOptions ro;
  ro.timeout = absl::Seconds(5);
  absl::StatusOr<Value> v = session->RecvBuffer(ro);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->str_value(), "beside");
}

TEST(RpcTest, ShutdownLetsCallsInFlightFinish) {
  EchoFixture f(WithWorkers());
  EchoRequest request = Request("finish me");
  request.set_sleep_ms(200);
  Future<EchoReply> in_flight = f.stub().UnaryAsync(request);
  absl::SleepFor(absl::Milliseconds(50));  // Let it reach the handler.
  const absl::Time start = absl::Now();
  f.server().Shutdown(absl::Seconds(3));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3) + absl::Milliseconds(500));
  absl::StatusOr<EchoReply> r = in_flight.WaitUntil(absl::Now() + absl::Seconds(5));
  EXPECT_TRUE(r.ok()) << r.status();
  absl::StatusOr<EchoReply> after = f.stub().Unary(Request("late"));
  EXPECT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable) << after.status();
}

TEST(RpcTest, ShutdownWithOpenStreamsReturnsByItsDeadline) {
  EchoFixture f;
  auto chat = f.stub().Chat();  // Open, idle: the handler waits in Read.
  ASSERT_TRUE(chat->Write(Request("hi")).ok());
  EchoReply reply;
  ASSERT_TRUE(chat->Read(&reply).value_or(false));
  EchoRequest range;
  range.set_count(1000000);
  range.set_sleep_ms(1);
  auto reader = f.stub().Range(range);  // Busy: the handler keeps writing.
  ASSERT_TRUE(reader->Read(&reply).value_or(false));
  const absl::Time start = absl::Now();
  f.server().Shutdown(absl::Milliseconds(500));
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Milliseconds(1500)) << took;
  absl::StatusOr<bool> r = chat->Read(&reply);
  EXPECT_FALSE(r.ok());
  absl::Status s = reader->Finish();
  EXPECT_FALSE(s.ok());
  WaitUntil([&] { return f.service().finished.load() >= 2; });
  EXPECT_EQ(f.service().finished.load(), 2);
}

TEST(RpcTest, ChannelDestroyedMidCallCancelsTheServerSide) {
  EchoFixture f;
  auto channel = f.Connect();
  ASSERT_TRUE(channel.ok());
  {
    rpc::Echo::Stub stub(*channel);
    auto chat = stub.Chat();
    ASSERT_TRUE(chat->Write(Request("x")).ok());
    EchoReply reply;
    ASSERT_TRUE(chat->Read(&reply).value_or(false));
    channel->reset();  // The stream still holds the connection...
    chat.reset();      // ... until it goes.
  }
  WaitUntil([&] { return f.service().finished.load() > 0; });
  EXPECT_EQ(f.service().finished.load(), 1);
}

TEST(RpcTest, RequestOverTheClientsLimitFailsTheCallOnly) {
  EchoFixtureOptions o;
  o.channel.link.bridge.max_message_bytes = 1 << 20;
  EchoFixture f(o);
  EchoRequest request;
  request.set_payload(std::string(2 << 20, 'z'));
  absl::StatusOr<EchoReply> reply = f.stub().Unary(request);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kResourceExhausted)
      << reply.status();
  // Nothing reached the server for it, and the connection is intact.
  EXPECT_TRUE(f.stub().Unary(Request("small")).ok());
  EXPECT_TRUE(f.channel()->status().ok()) << f.channel()->status();
}

TEST(RpcTest, OversizedMetadataIsRefusedNotSent) {
  class Chatty : public rpc::Echo::Service {
   public:
    absl::Status Unary(ServerContext* context, const EchoRequest*,
                       EchoReply* reply) override {
      first = context->AddTrailingMetadata("big", std::string(40 << 10, 'a'));
      second = context->AddTrailingMetadata("bigger", std::string(40 << 10, 'b'));
      bad_key = context->AddInitialMetadata("Bad Key", "x");
      return absl::OkStatus();
    }
    absl::Status first, second, bad_key;
  };
  Chatty chatty;
  ServiceUnderTest under_test(&chatty);
  rpc::Echo::Stub& stub = under_test.stub();
  ResponseMetadata md;
  CallOptions call_options;
  call_options.response_metadata = &md;
  // The handler kept the results, so it has the refusals in hand: the call
  // ends as it says (OK), with what was accepted.
  ASSERT_TRUE(stub.Unary(Request("x"), call_options).ok());
  EXPECT_TRUE(chatty.first.ok());
  EXPECT_EQ(chatty.second.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(chatty.second.message(), "adding 'bigger'"))
      << chatty.second;
  EXPECT_EQ(chatty.bad_key.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(md.trailing.size(), 1u);
  EXPECT_EQ(md.trailing[0].first, "big");
  // Nothing over the limit was sent: the connection stands.
  EXPECT_TRUE(stub.Unary(Request("again")).ok());
}

// The common case needs no check: the results are dropped without a cast.
// A refusal the handler never looked at fails the call with INTERNAL; a
// handler's own error keeps its code and gains the reason; initial
// metadata after the first response message is refused too. A handler
// that looked (ok(), IgnoreError()) ends the call as it says.
TEST(RpcTest, RefusedMetadataFailsTheCallWithoutAnyCheckInTheHandler) {
  class Quiet : public rpc::Echo::Service {
   public:
    absl::Status Unary(ServerContext* context, const EchoRequest* request,
                       EchoReply* reply) override {
      context->AddInitialMetadata("fine", "1");
      context->AddTrailingMetadata("also-fine", "2");
      if (request->text() == "bad") context->AddTrailingMetadata("Bad", "x");
      context->AddTrailingMetadata("old-style", "3").IgnoreError();
      if (request->text() == "looked") {
        context->AddTrailingMetadata("Ignored On Purpose", "x").IgnoreError();
        if (!context->AddTrailingMetadata("Too Long", "x").ok()) {
          context->AddTrailingMetadata("fallback", "4");
        }
      }
      reply->set_text(request->text());
      if (request->fail_code() != 0) {
        return absl::Status(static_cast<absl::StatusCode>(request->fail_code()),
                            "handler error");
      }
      return absl::OkStatus();
    }
    absl::Status Range(ServerContext* context, const EchoRequest*,
                       ServerWriter<EchoReply>* writer) override {
      if (absl::Status s = writer->Write(EchoReply()); !s.ok()) return s;
      context->AddInitialMetadata("late", "x");
      return absl::OkStatus();
    }
  };
  Quiet quiet;
  ServiceUnderTest under_test(&quiet);
  rpc::Echo::Stub& stub = under_test.stub();
  {
    ResponseMetadata md;
    CallOptions options;
    options.response_metadata = &md;
    absl::StatusOr<EchoReply> good = stub.Unary(Request("good"), options);
    ASSERT_TRUE(good.ok()) << good.status();
    EXPECT_EQ(md.initial, (Metadata{{"fine", "1"}}));
    EXPECT_EQ(md.trailing, (Metadata{{"also-fine", "2"}, {"old-style", "3"}}));
  }
  {
    ResponseMetadata md;
    CallOptions options;
    options.response_metadata = &md;
    absl::StatusOr<EchoReply> looked = stub.Unary(Request("looked"), options);
    ASSERT_TRUE(looked.ok()) << looked.status();
    EXPECT_EQ(md.trailing, (Metadata{{"also-fine", "2"},
                                     {"old-style", "3"},
                                     {"fallback", "4"}}));
  }
  absl::StatusOr<EchoReply> bad = stub.Unary(Request("bad"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal) << bad.status();
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "metadata was refused: metadata key \"Bad\""))
      << bad.status().message();
  EchoRequest failing = Request("bad");
  failing.set_fail_code(static_cast<int>(absl::StatusCode::kNotFound));
  absl::StatusOr<EchoReply> both = stub.Unary(failing);
  EXPECT_EQ(both.status().code(), absl::StatusCode::kNotFound) << both.status();
  EXPECT_TRUE(absl::StrContains(both.status().message(), "handler error (the handler's metadata was refused"))
      << both.status().message();

  std::unique_ptr<ClientReader<EchoReply>> range = stub.Range(Request("r"));
  EchoReply reply;
  absl::StatusOr<bool> more = range->Read(&reply);
  ASSERT_TRUE(more.ok() && *more) << more.status();
  absl::Status end = range->Finish();
  EXPECT_EQ(end.code(), absl::StatusCode::kInternal) << end;
  EXPECT_TRUE(absl::StrContains(end.message(), "initial metadata 'late' was added after"))
      << end.message();
}

TEST(RpcTest, StreamingHandlersThatEndAtOnceDoNotLeakStreams) {
  class Bare : public rpc::Echo::Service {};
  Bare bare;
  ServerOptions options;
  options.rpc.max_concurrent_streams = 10;
  ServiceUnderTest under_test(&bare, options);
  rpc::Echo::Stub& stub = under_test.stub();
  // Ten times the limit: each ends at once (UNIMPLEMENTED), none may stay
  // counted against it.
  for (int i = 0; i < 100; ++i) {
    auto chat = stub.Chat();
    EchoReply reply;
    ASSERT_EQ(chat->Read(&reply).status().code(),
              absl::StatusCode::kUnimplemented) << i;
    auto sum = stub.Sum();
    ASSERT_EQ(sum->Finish().status().code(), absl::StatusCode::kUnimplemented)
        << i;
  }
}

TEST(RpcTest, ServerDeadlineTimerCancelsAnIdleCall) {
  // The client holds the stream and does nothing, so it sends no CANCEL:
  // only the server's own timer (from the call's timeout) can end it.
  EchoFixture f;
  CallOptions options;
  options.timeout = absl::Milliseconds(100);
  auto chat = f.stub().Chat(options);
  WaitUntil([&] { return f.service().cancelled_seen.load() > 0; });
  EXPECT_EQ(f.service().cancelled_seen.load(), 1);
  EchoReply reply;
  EXPECT_EQ(chat->Read(&reply).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(RpcTest, SlowServerBoundsWhatTheClientWriterBuffers) {
  // The client writes 64 KiB requests and never reads the echoes: the
  // server's writes block on the client's window, then it stops reading,
  // then the client's writes block on the server's window.
  EchoFixture f;
  auto chat = f.stub().Chat();
  std::atomic<int64_t> written{0};
  std::thread writer([&] {
    EchoRequest request;
    request.set_payload(std::string(64 * 1024, 'w'));
    for (int i = 0; i < 1000; ++i) {
      if (!chat->Write(request).ok()) return;
      ++written;
    }
  });
  const int64_t stalled_at = WaitUntilStalled(written);
  std::cout << "slow server: the client wrote " << stalled_at
            << " requests of 64 KiB (" << stalled_at * 64 / 1024.0
            << " MiB) before blocking\n";
  // About two windows each way (2 x 2 x 32) plus the one in the handler.
  EXPECT_LE(stalled_at, 140);
  EXPECT_GE(stalled_at, 60);
  chat->Cancel();
  writer.join();
}

TEST(RpcTest, AsyncCompletionNeverRunsOnTheCallersThread) {
  EchoFixture f;
  CallOptions bad;
  bad.metadata = {{"Bad Key", "x"}};  // Fails before anything is sent.
  Notification done;
  std::thread::id ran_on;
  f.stub().UnaryAsync(Request("x"), bad, [&](absl::StatusOr<EchoReply> r) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    ran_on = std::this_thread::get_id();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace netstructer::test
