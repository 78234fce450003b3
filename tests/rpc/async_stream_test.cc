// Asynchronous streams (the streaming methods' MAsync, client/async_stream.h)
// on the real runtime: messages in order then one end, flow control past
// the window, writes from the caller's thread, half-close on destruction,
// deadline, cancellation (the writer's Cancel and ClientContext::TryCancel),
// a mid-stream server error, a call that cannot start, and the refusal of a
// Write from inside a callback.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_call.h"
#include "netstructer/client/client_context.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/sync_point.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using rpc::EchoReply;
using rpc::EchoRequest;

// Collects what a stream reports; the callbacks run on the I/O thread.
class Collector {
 public:
  StreamCallbacks<EchoReply> Callbacks() {
    StreamCallbacks<EchoReply> callbacks;
    callbacks.on_message = [this](EchoReply reply) {
      std::lock_guard<std::mutex> lock(mu_);
      EXPECT_FALSE(ended_.HasBeenNotified()) << "a message after the end";
      replies_.push_back(std::move(reply));
    };
    callbacks.on_done = [this](absl::Status status) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        status_ = std::move(status);
        ++ends_;
      }
      ended_.Notify();
    };
    return callbacks;
  }
  // Waits for the end (at most 30 s) and returns its status.
  absl::Status End() {
    if (!ended_.WaitForNotificationWithTimeout(absl::Seconds(30))) {
      return absl::InternalError("the stream never reported its end");
    }
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(ends_, 1);
    return status_;
  }
  std::vector<EchoReply> replies() {
    std::lock_guard<std::mutex> lock(mu_);
    return replies_;
  }

 private:
  std::mutex mu_;
  std::vector<EchoReply> replies_;
  absl::Status status_;
  int ends_ = 0;
  testing::Notification ended_;
};

EchoRequest Request(const std::string& text, int64_t n = 0) {
  EchoRequest r;
  r.set_text(text);
  r.set_n(n);
  return r;
}

TEST(AsyncStream, ServerStreamingDeliversEveryMessageInOrderThenTheEnd) {
  EchoFixture f;
  Collector c;
  EchoRequest request = Request("r");
  request.set_count(200);
  f.stub().RangeAsync(request, {}, c.Callbacks());
  ASSERT_TRUE(c.End().ok());
  std::vector<EchoReply> replies = c.replies();
  ASSERT_EQ(replies.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(replies[i].n(), i);
}

TEST(AsyncStream, CreditGoesBackAsCallbacksReturnSoAStreamPastTheWindowEnds) {
  EchoFixture f;
  Collector c;
  EchoRequest request = Request("big");
  request.set_payload(std::string(256 << 10, 'x'));
  request.set_count(40);  // 10 MiB: many times the stream's window.
  ClientContext context;
  context.set_compression(false);
  f.stub().RangeAsync(&context, request, c.Callbacks());
  ASSERT_TRUE(c.End().ok());
  std::vector<EchoReply> replies = c.replies();
  ASSERT_EQ(replies.size(), 40u);
  EXPECT_EQ(replies.back().payload().size(), 256u << 10);
}

TEST(AsyncStream, BidiWritesFromTheCallersThreadAndReadsByCallback) {
  EchoFixture f;
  Collector c;
  ClientContext context;
  context.AddMetadata("echo-trailing", "t");  // Chat ignores it: no metadata.
  std::unique_ptr<ClientAsyncWriter<EchoRequest>> writer =
      f.stub().ChatAsync(&context, c.Callbacks());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(writer->Write(Request("m", i)).ok());
  }
  ASSERT_TRUE(writer->WritesDone().ok());
  ASSERT_TRUE(c.End().ok());
  std::vector<EchoReply> replies = c.replies();
  ASSERT_EQ(replies.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(replies[i].n(), i);
  EXPECT_EQ(context.peer(), f.server().address());
}

TEST(AsyncStream, DestroyingTheWriterHalfClosesTheCall) {
  EchoFixture f;
  Collector c;
  {
    std::unique_ptr<ClientAsyncWriter<EchoRequest>> writer =
        f.stub().ChatAsync(CallOptions(), c.Callbacks());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer->Write(Request("m", i)).ok());
  }
  ASSERT_TRUE(c.End().ok());  // Without the half-close: no end.
  EXPECT_EQ(c.replies().size(), 3u);
}

TEST(AsyncStream, ClientStreamingGivesTheOneResponseToItsCallback) {
  EchoFixture f;
  testing::Notification done;
  absl::StatusOr<EchoReply> result;
  std::unique_ptr<ClientAsyncWriter<EchoRequest>> writer =
      f.stub().SumAsync(CallOptions(), [&](absl::StatusOr<EchoReply> r) {
        result = std::move(r);
        done.Notify();
      });
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(writer->Write(Request("n", i)).ok());
  ASSERT_TRUE(writer->WritesDone().ok());
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->n(), 55);
  EXPECT_EQ(result->text(), "10");
}

TEST(AsyncStream, TheDeadlineEndsAStreamThatGoesOnTooLong) {
  EchoFixture f;
  Collector c;
  EchoRequest request = Request("slow");
  request.set_count(1000);
  request.set_sleep_ms(20);  // 20 s in all.
  CallOptions options;
  options.timeout = absl::Milliseconds(300);
  f.stub().RangeAsync(request, options, c.Callbacks());
  absl::Status end = c.End();
  EXPECT_EQ(end.code(), absl::StatusCode::kDeadlineExceeded) << end;
  EXPECT_LT(c.replies().size(), 1000u);
  EXPECT_TRUE(testing::PollUntil(
      [&] { return f.service().cancelled_seen.load() == 1; },
      absl::Seconds(10)));
}

TEST(AsyncStream, CancelAndTryCancelEndTheCallOnBothSides) {
  EchoFixture f;
  {
    Collector c;
    std::unique_ptr<ClientAsyncWriter<EchoRequest>> writer =
        f.stub().ChatAsync(CallOptions(), c.Callbacks());
    ASSERT_TRUE(writer->Write(Request("a")).ok());
    ASSERT_TRUE(testing::PollUntil([&] { return c.replies().size() == 1; },
                                   absl::Seconds(10)));
    writer->Cancel();
    absl::Status end = c.End();
    EXPECT_EQ(end.code(), absl::StatusCode::kCancelled) << end;
    EXPECT_FALSE(writer->Write(Request("b")).ok());
  }
  {
    Collector c;
    ClientContext context;
    EchoRequest request = Request("long");
    request.set_count(100000);
    request.set_sleep_ms(5);
    f.stub().RangeAsync(&context, request, c.Callbacks());
    ASSERT_TRUE(testing::PollUntil([&] { return !c.replies().empty(); },
                                   absl::Seconds(10)));
    context.TryCancel();
    absl::Status end = c.End();
    EXPECT_EQ(end.code(), absl::StatusCode::kCancelled) << end;
    EXPECT_TRUE(absl::StrContains(end.message(), "cancelled by the client"))
        << end;
  }
  EXPECT_TRUE(testing::PollUntil(
      [&] { return f.service().cancelled_seen.load() == 2; },
      absl::Seconds(10)));
}

TEST(AsyncStream, AMidStreamServerErrorComesAfterTheMessagesBeforeIt) {
  EchoFixture f;
  Collector c;
  EchoRequest request = Request("gone");
  request.set_count(5);
  request.set_fail_code(static_cast<int>(absl::StatusCode::kNotFound));
  f.stub().RangeAsync(request, {}, c.Callbacks());
  absl::Status end = c.End();
  EXPECT_EQ(end.code(), absl::StatusCode::kNotFound) << end;
  EXPECT_EQ(end.message(), "gone");
  EXPECT_EQ(c.replies().size(), 5u);
}

TEST(AsyncStream, ACallThatCannotStartReportsItsErrorToTheCallback) {
  EchoFixture f;
  ClientContext used;
  ASSERT_TRUE(f.stub().Unary(&used, Request("x")).ok());
  // on_done runs on the I/O thread, never inside the caller's ChatAsync.
  std::atomic<bool> on_caller_thread{true};
  const std::thread::id caller = std::this_thread::get_id();
  Collector c;
  StreamCallbacks<EchoReply> callbacks = c.Callbacks();
  callbacks.on_done = [&, inner = callbacks.on_done](absl::Status s) {
    on_caller_thread = std::this_thread::get_id() == caller;
    inner(std::move(s));
  };
  std::unique_ptr<ClientAsyncWriter<EchoRequest>> writer =
      f.stub().ChatAsync(&used, std::move(callbacks));
  EXPECT_EQ(c.End().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(on_caller_thread.load());
  EXPECT_EQ(writer->Write(Request("y")).code(),
            absl::StatusCode::kFailedPrecondition);

  Collector bad_metadata;
  CallOptions options;
  options.metadata = {{"Bad Key", "v"}};
  f.stub().RangeAsync(Request("z"), options, bad_metadata.Callbacks());
  EXPECT_EQ(bad_metadata.End().code(), absl::StatusCode::kInvalidArgument);
}

// The end is reported (interceptors' OnFinish, the context's metadata)
// on the thread that runs on_done, just before it, even when the caller's
// thread ends the call: with the channel's loop held, the caller cancels,
// and only once the loop is free does on_done run there.
TEST(AsyncStream, TheEndIsReportedOnTheThreadThatRunsOnDone) {
  class Recorder : public ClientInterceptor {
   public:
    void OnFinish(absl::string_view, const absl::Status&) override {
      MutexLock lock(&mu);
      finish_thread = std::this_thread::get_id();
      ++finishes;
    }
    Mutex mu;
    std::thread::id finish_thread ABSL_GUARDED_BY(mu);
    int finishes ABSL_GUARDED_BY(mu) = 0;
  };
  auto recorder = std::make_shared<Recorder>();
  EchoFixtureOptions o;
  o.channel.interceptors = {recorder};
  EchoFixture f(o);
  std::thread::id done_thread;
  int finishes_before_done = -1;
  Collector c;
  StreamCallbacks<EchoReply> callbacks = c.Callbacks();
  callbacks.on_done = [&, inner = callbacks.on_done](absl::Status s) {
    {
      MutexLock lock(&recorder->mu);
      finishes_before_done = recorder->finishes;
    }
    done_thread = std::this_thread::get_id();
    inner(std::move(s));
  };
  std::unique_ptr<ClientAsyncWriter<EchoRequest>> writer =
      f.stub().ChatAsync(CallOptions(), std::move(callbacks));
  ASSERT_TRUE(writer->Write(Request("a")).ok());
  ASSERT_TRUE(testing::PollUntil([&] { return c.replies().size() == 1; },
                                 absl::Seconds(10)));
  testing::Notification loop_held, release;
  f.channel()->bridge().event_loop()->Post([&] {
    loop_held.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(30));
  });
  ASSERT_TRUE(loop_held.WaitForNotificationWithTimeout(absl::Seconds(10)));
  writer->Cancel();  // Ends the call on this thread.
  {
    MutexLock lock(&recorder->mu);
    EXPECT_EQ(recorder->finishes, 0) << "reported on the cancelling thread";
  }
  release.Notify();
  EXPECT_EQ(c.End().code(), absl::StatusCode::kCancelled);
  MutexLock lock(&recorder->mu);
  EXPECT_EQ(recorder->finishes, 1);
  EXPECT_EQ(finishes_before_done, 1);
  EXPECT_EQ(recorder->finish_thread, done_thread);
  EXPECT_NE(done_thread, std::this_thread::get_id());
}

// Writes one good reply, then replies whose text is not UTF-8 (proto3
// strings must be: the client cannot parse them), then ends OK at once, so
// the trailers usually arrive before the first reply is delivered.
class BadRepliesService : public rpc::Echo::Service {
 public:
  absl::Status Range(ServerContext*, const EchoRequest*,
                     ServerWriter<EchoReply>* writer) override {
    EchoReply reply;
    reply.set_text("good");
    if (absl::Status s = writer->Write(reply); !s.ok()) return s;
    reply.set_text(std::string("\xff\xfe", 2));
    for (int i = 0; i < 2; ++i) {
      if (absl::Status s = writer->Write(reply); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
};

TEST(AsyncStream, AResponseThatDoesNotParseEndsTheCallWithInternalOnce) {
  BadRepliesService service;
  ServerOptions options;
  options.insecure = true;
  Server server("127.0.0.1:0", options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  ChannelOptions channel_options;
  channel_options.link.insecure = true;
  absl::StatusOr<std::shared_ptr<Channel>> channel =
      Channel::Create(server.address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  rpc::Echo::Stub stub(*channel);
  for (int round = 0; round < 5; ++round) {
    Collector c;
    // Every reply and the server's OK end arrive before delivery starts:
    // the bad replies are met after the call has finished on the wire.
    transport::ScopedSyncPoint all_arrived(
        "AsyncStream::Start:before_started", [](void* arg) {
          auto* call = static_cast<internal::ClientCall*>(arg);
          EXPECT_TRUE(testing::PollUntil([call] { return call->finished(); },
                                         absl::Seconds(10)));
        });
    stub.RangeAsync(Request("r"), {}, c.Callbacks());
    absl::Status end = c.End();
    EXPECT_EQ(end.code(), absl::StatusCode::kInternal) << end;
    std::vector<EchoReply> replies = c.replies();
    ASSERT_EQ(replies.size(), 1u);  // The good one; nothing after the error.
    EXPECT_EQ(replies[0].text(), "good");
  }
  server.Shutdown(absl::Seconds(1));
}

TEST(AsyncStream, CallbacksRunOnTheChannelsLoopWhenABlockedCallReadsForThem) {
  // A blocking Read on the same channel holds the connection's read token:
  // it reads the asynchronous calls' responses on its thread. Their
  // callbacks must still run on the channel's loop, not inside that Read.
  EchoFixture f;
  auto blocked = f.stub().Chat();
  testing::Notification caller_reads;
  Bridge* const bridge = &f.channel()->bridge();
  transport::ScopedSyncPoint point("Bridge::Await:caller_reads",
                                   [&](void* arg) {
                                     if (arg == bridge) caller_reads.Notify();
                                   });
  std::atomic<int> handed_to_loop{0};
  transport::ScopedSyncPoint handed("AsyncCall:event_posted_to_loop",
                                    [&](void*) { ++handed_to_loop; });
  std::thread reader([&] {
    EchoReply reply;
    absl::StatusOr<bool> more = blocked->Read(&reply);
    EXPECT_TRUE(more.ok() && *more) << more.status();
  });
  // Whatever fails below, the reader is freed and joined first (a joinable
  // thread destroyed would end the process instead of failing the test).
  struct FreeReader {
    std::thread* reader;
    ClientReaderWriter<EchoRequest, EchoReply>* blocked;
    ~FreeReader() {
      if (!reader->joinable()) return;
      (void)blocked->Write(Request("free the reader"));
      reader->join();
    }
  } free_reader{&reader, blocked.get()};
  ASSERT_TRUE(caller_reads.WaitForNotificationWithTimeout(absl::Seconds(30)));
  transport::EventLoop* const loop = bridge->event_loop();
  std::atomic<int> off_loop{0};
  testing::Notification unary_done;
  f.stub().UnaryAsync(Request("u"), [&](absl::StatusOr<EchoReply> reply) {
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!loop->InLoopThread()) ++off_loop;
    unary_done.Notify();
  });
  ASSERT_TRUE(unary_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  Collector c;
  StreamCallbacks<EchoReply> callbacks = c.Callbacks();
  StreamCallbacks<EchoReply> checked;
  checked.on_message = [&, inner = callbacks.on_message](EchoReply reply) {
    if (!loop->InLoopThread()) ++off_loop;
    inner(std::move(reply));
  };
  checked.on_done = [&, inner = callbacks.on_done](absl::Status status) {
    if (!loop->InLoopThread()) ++off_loop;
    inner(std::move(status));
  };
  EchoRequest range = Request("r");
  range.set_count(20);
  f.stub().RangeAsync(range, {}, checked);
  ASSERT_TRUE(c.End().ok());
  EXPECT_EQ(c.replies().size(), 20u);
  EXPECT_EQ(off_loop.load(), 0);
  // The case at hand did happen: the blocked caller read for them.
  EXPECT_GT(handed_to_loop.load(), 0);
  ASSERT_TRUE(blocked->Write(Request("free the reader")).ok());
  reader.join();
  ASSERT_TRUE(blocked->WritesDone().ok());
  EXPECT_TRUE(blocked->Finish().ok());
}

TEST(AsyncStream, AWriteFromInsideACallbackIsRefused) {
  EchoFixture f;
  std::atomic<ClientAsyncWriter<EchoRequest>*> writer_for_callback{nullptr};
  std::atomic<int> refused{0};
  testing::Notification ended;
  StreamCallbacks<EchoReply> callbacks;
  callbacks.on_message = [&](EchoReply) {
    ClientAsyncWriter<EchoRequest>* writer = writer_for_callback.load();
    absl::Status s = writer->Write(Request("from the callback"));
    if (s.code() == absl::StatusCode::kFailedPrecondition &&
        absl::StrContains(s.message(), "from a stream callback")) {
      ++refused;
    }
  };
  callbacks.on_done = [&](absl::Status) { ended.Notify(); };
  std::unique_ptr<ClientAsyncWriter<EchoRequest>> writer =
      f.stub().ChatAsync(CallOptions(), std::move(callbacks));
  writer_for_callback.store(writer.get());
  ASSERT_TRUE(writer->Write(Request("first")).ok());
  ASSERT_TRUE(writer->WritesDone().ok());
  ASSERT_TRUE(ended.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(refused.load(), 1);
}

}  // namespace
}  // namespace netstructer::test
