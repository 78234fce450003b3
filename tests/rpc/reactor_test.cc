// Reactors (service/server_reactor.h, docs/RPC_API.md "Reactors"):
// streaming calls served with callbacks on the session's loop, no thread
// each. Every callback here checks that it runs on its session's loop.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_call.h"
#include "netstructer/client/client_context.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/tests/testing/thread_count.h"
#include "netstructer/transport/mutex.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using rpc::EchoReply;
using rpc::EchoRequest;

// Callbacks on this thread's stack: a callback that finds another under
// it ran nested (inside a request made by another callback).
thread_local int callback_depth = 0;
std::atomic<bool> nested_callback{false};
struct InCallback {
  InCallback() {
    if (callback_depth++ > 0) nested_callback = true;
  }
  ~InCallback() { --callback_depth; }
};

std::string MetadataValue(const ServerContext* context, const std::string& key) {
  for (const auto& [k, v] : context->client_metadata()) {
    if (k == key) return v;
  }
  return "";
}

// What one call's reactor saw, in order.
struct Trace {
  Mutex mu;
  std::vector<std::string> events ABSL_GUARDED_BY(mu);
  std::weak_ptr<Bridge> session ABSL_GUARDED_BY(mu);
  bool off_loop ABSL_GUARDED_BY(mu) = false;  // A callback ran elsewhere.
  testing::Notification done;

  void Add(ServerContext* context, std::string event) {
    MutexLock lock(&mu);
    if (!context->session()->event_loop()->InLoopThread()) off_loop = true;
    session = context->session();
    events.push_back(std::move(event));
  }
  std::vector<std::string> Events() {
    MutexLock lock(&mu);
    return events;
  }
  bool OffLoop() {
    MutexLock lock(&mu);
    return off_loop;
  }
  bool SessionReleased() {
    MutexLock lock(&mu);
    return session.expired();
  }
};

EchoReply ReplyTo(const EchoRequest& request) {
  EchoReply reply;
  reply.set_text(request.text());
  reply.set_n(request.n());
  reply.set_payload(request.payload());
  return reply;
}

// Chat: echoes each request; text "twice" starts two writes at once (a
// misuse); fail_code ends the call with that code; the client's half-close
// ends it OK.
class ChatEcho;
// The listener a speaker writes to (metadata "role": "listener").
struct Relay {
  Mutex mu;
  ChatEcho* listener ABSL_GUARDED_BY(mu) = nullptr;
};

class ChatEcho final : public ServerBidiReactor<EchoRequest, EchoReply> {
 public:
  ChatEcho(ServerContext* context, std::shared_ptr<Trace> trace,
           std::atomic<int>* alive, Relay* relay)
      : context_(context),
        trace_(std::move(trace)),
        alive_(alive),
        relay_(relay),
        role_(MetadataValue(context, "role")) {
    ++*alive_;
    trace_->Add(context_, "start");
    if (role_ == "listener") {
      MutexLock lock(&relay_->mu);
      relay_->listener = this;
    }
    StartRead(&request_);  // In the constructor, as gRPC allows.
  }
  ~ChatEcho() override { --*alive_; }

  void OnReadDone(bool ok) override {
    InCallback in_callback;
    trace_->Add(context_, ok ? "read" : "read:false");
    if (!ok) {
      Finish(absl::OkStatus());
      return;
    }
    if (role_ == "speaker") {
      // Writes to the listener's call from inside this callback: the
      // listener's OnWriteDone must come later, on its own.
      {
        MutexLock lock(&relay_->mu);
        if (relay_->listener != nullptr) {
          relay_->listener->StartWrite(ReplyTo(request_));
        }
      }
      StartRead(&request_);
      return;
    }
    if (request_.text() == "read-twice") {
      StartRead(&request_);
      StartRead(&spare_);
      return;
    }
    if (request_.fail_code() != 0) {
      Finish(absl::Status(static_cast<absl::StatusCode>(request_.fail_code()),
                          request_.text()));
      return;
    }
    reply_ = ReplyTo(request_);
    StartWrite(reply_);
    if (request_.text() == "twice") StartWrite(reply_);
  }
  void OnWriteDone(bool ok) override {
    InCallback in_callback;
    trace_->Add(context_, ok ? "write" : "write:false");
    if (ok && role_ != "listener") StartRead(&request_);
  }
  void OnDone(const absl::Status& status) override {
    InCallback in_callback;
    if (role_ == "listener") {
      MutexLock lock(&relay_->mu);
      relay_->listener = nullptr;
    }
    trace_->Add(context_, absl::StrCat("done:", absl::StatusCodeToString(status.code())));
    trace_->done.Notify();
  }

 private:
  ServerContext* const context_;
  const std::shared_ptr<Trace> trace_;
  std::atomic<int>* const alive_;
  Relay* const relay_;
  const std::string role_;
  EchoRequest request_;
  EchoRequest spare_;
  EchoReply reply_;
};

// Range: `count` replies n = 0, 1, ... with the request's payload, written
// from the loop (OnWriteDone) or, with text "thread", from a thread of the
// reactor's own that waits for each OnWriteDone.
class RangeWriter final : public ServerWriteReactor<EchoReply> {
 public:
  RangeWriter(ServerContext* context, const EchoRequest* request,
              std::shared_ptr<Trace> trace, std::atomic<int64_t>* written)
      : context_(context),
        request_(*request),
        trace_(std::move(trace)),
        written_(written) {
    if (request_.text() == "thread") {
      thread_ = std::thread([this] { WriteFromThread(); });
    } else if (request_.text() == "finish-at-once") {
      // The trailers must wait for the write: 3 MiB, over a window.
      EchoReply reply = Reply(0);
      reply.set_payload(std::string(3 << 20, 'f'));
      StartWrite(reply);
      Finish(absl::OkStatus());
    } else if (request_.text() == "big") {
      EchoReply reply = Reply(0);
      reply.set_payload(std::string(2 << 20, 'b'));
      StartWrite(reply);
    } else {
      Next();
    }
  }
  ~RangeWriter() override {
    if (thread_.joinable()) thread_.join();
  }

  void OnWriteDone(bool ok) override {
    trace_->Add(context_, ok ? "write" : "write:false");
    if (ok) ++*written_;
    if (thread_.joinable()) {
      MutexLock lock(&mu_);
      write_result_ = ok ? 1 : 0;
      cv_.SignalAll();
      return;
    }
    if (ok) Next();
  }
  void OnDone(const absl::Status& status) override {
    trace_->Add(context_, absl::StrCat("done:", absl::StatusCodeToString(status.code())));
    trace_->done.Notify();
  }

 private:
  EchoReply Reply(int64_t i) const {
    EchoReply reply;
    reply.set_n(i);
    reply.set_payload(request_.payload());
    return reply;
  }
  void Next() {
    if (next_ == request_.count()) {
      Finish(absl::OkStatus());
      return;
    }
    StartWrite(Reply(next_++));
  }
  void WriteFromThread() {
    for (int64_t i = 0; i < request_.count(); ++i) {
      {
        MutexLock lock(&mu_);
        write_result_ = -1;
      }
      StartWrite(Reply(i));
      MutexLock lock(&mu_);
      while (write_result_ < 0) cv_.Wait(&mu_);
      if (write_result_ == 0) return;  // The call ended.
    }
    Finish(absl::OkStatus());
  }

  ServerContext* const context_;
  const EchoRequest request_;
  const std::shared_ptr<Trace> trace_;
  std::atomic<int64_t>* const written_;
  int64_t next_ = 0;
  Mutex mu_;
  CondVar cv_;
  int write_result_ ABSL_GUARDED_BY(mu_) = -1;
  std::thread thread_;
};

// Sum: adds n over the requests.
class SumReader final : public ServerReadReactor<EchoRequest> {
 public:
  SumReader(ServerContext* context, EchoReply* reply,
            std::shared_ptr<Trace> trace)
      : context_(context), reply_(reply), trace_(std::move(trace)) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    trace_->Add(context_, ok ? "read" : "read:false");
    if (!ok) {
      reply_->set_n(sum_);
      reply_->set_text(absl::StrCat(count_));
      Finish(absl::OkStatus());
      return;
    }
    sum_ += request_.n();
    ++count_;
    StartRead(&request_);
  }
  void OnDone(const absl::Status& status) override {
    trace_->Add(context_, absl::StrCat("done:", absl::StatusCodeToString(status.code())));
    trace_->done.Notify();
  }

 private:
  ServerContext* const context_;
  EchoReply* const reply_;
  const std::shared_ptr<Trace> trace_;
  EchoRequest request_;
  int64_t sum_ = 0;
  int64_t count_ = 0;
};

class ReactorEchoService final : public rpc::Echo::Service {
 public:
  std::unique_ptr<ServerBidiReactor<EchoRequest, EchoReply>> ChatReactor(
      ServerContext* context) override {
    if (MetadataValue(context, "role") == "blocking") return nullptr;
    return std::make_unique<ChatEcho>(context, NewTrace(), &chats_alive,
                                      &relay_);
  }
  // The blocking form, for calls whose factory says null: echoes.
  absl::Status Chat(ServerContext* context,
                    ServerReaderWriter<EchoReply, EchoRequest>* stream) override {
    EchoRequest request;
    for (;;) {
      absl::StatusOr<bool> more = stream->Read(&request);
      if (!more.ok()) return more.status();
      if (!*more) return absl::OkStatus();
      if (absl::Status s = stream->Write(ReplyTo(request)); !s.ok()) return s;
    }
  }
  std::unique_ptr<ServerWriteReactor<EchoReply>> RangeReactor(
      ServerContext* context, const EchoRequest* request) override {
    return std::make_unique<RangeWriter>(context, request, NewTrace(),
                                         &range_written);
  }
  std::unique_ptr<ServerReadReactor<EchoRequest>> SumReactor(
      ServerContext* context, EchoReply* reply) override {
    return std::make_unique<SumReader>(context, reply, NewTrace());
  }

  std::shared_ptr<Trace> LastTrace() {
    MutexLock lock(&mu_);
    return traces_.empty() ? nullptr : traces_.back();
  }
  std::vector<std::shared_ptr<Trace>> Traces() {
    MutexLock lock(&mu_);
    return traces_;
  }

  std::atomic<int> chats_alive{0};
  std::atomic<int64_t> range_written{0};

 private:
  Relay relay_;
  std::shared_ptr<Trace> NewTrace() {
    auto trace = std::make_shared<Trace>();
    MutexLock lock(&mu_);
    traces_.push_back(trace);
    return trace;
  }
  Mutex mu_;
  std::vector<std::shared_ptr<Trace>> traces_ ABSL_GUARDED_BY(mu_);
};

class ReactorTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ServerOptions()); }

  void Start(ServerOptions options) {
    options.insecure = true;
    // Reactors do not count: a server of blocking handlers could not hold
    // the streams these tests open.
    options.rpc.max_streaming_handlers = 4;
    server_ = std::make_unique<Server>("127.0.0.1:0", options);
    ASSERT_TRUE(server_->RegisterService(&service_).ok());
    ASSERT_TRUE(server_->Init().ok());
    ASSERT_TRUE(server_->Listen().ok());
    channel_ = Connect();
    stub_ = std::make_unique<rpc::Echo::Stub>(channel_);
  }
  void Restart(ServerOptions options) {
    stub_.reset();
    channel_.reset();
    server_.reset();
    Start(std::move(options));
  }
  std::shared_ptr<Channel> Connect() {
    ChannelOptions options;
    options.link.insecure = true;
    absl::StatusOr<std::shared_ptr<Channel>> channel =
        Channel::Create(server_->address(), options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  ReactorEchoService service_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<Channel> channel_;
  std::unique_ptr<rpc::Echo::Stub> stub_;
};

EchoRequest Request(int64_t n, std::string text = "") {
  EchoRequest r;
  r.set_n(n);
  r.set_text(std::move(text));
  return r;
}

TEST_F(ReactorTest, ABidiReactorEchoesInOrderAndEndsWhenTheClientHalfCloses) {
  auto chat = stub_->Chat();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(chat->Write(Request(i, "hi")).ok());
    EchoReply reply;
    absl::StatusOr<bool> more = chat->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << more.status();
    EXPECT_EQ(reply.n(), i);
    EXPECT_EQ(reply.text(), "hi");
  }
  ASSERT_TRUE(chat->WritesDone().ok());
  EXPECT_TRUE(chat->Finish().ok());
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events(),
            (std::vector<std::string>{"start", "read", "write", "read", "write",
                                      "read", "write", "read:false", "done:OK"}));
  EXPECT_FALSE(trace->OffLoop());
  EXPECT_TRUE(testing::PollUntil([&] { return service_.chats_alive == 0; },
                                 absl::Seconds(10)));
  // Nothing the call left behind holds its session: once the client goes,
  // the server lets it go.
  chat.reset();
  stub_.reset();
  channel_.reset();
  EXPECT_TRUE(testing::PollUntil([&] { return trace->SessionReleased(); },
                                 absl::Seconds(10)));
}

TEST_F(ReactorTest, ManyOpenStreamsTakeNoThreadEachNorAHandlerPlace) {
  // 400 bidi streams open at once over 4 connections, each answered once
  // and still open: blocking handlers would need 400 threads, and the
  // server allows 4 (max_streaming_handlers).
  const int before = ThreadCount();
  std::vector<std::shared_ptr<Channel>> channels;
  std::vector<std::unique_ptr<rpc::Echo::Stub>> stubs;
  for (int c = 0; c < 4; ++c) {
    channels.push_back(Connect());
    stubs.push_back(std::make_unique<rpc::Echo::Stub>(channels.back()));
  }
  std::vector<std::unique_ptr<ClientReaderWriter<EchoRequest, EchoReply>>> chats;
  for (int i = 0; i < 400; ++i) {
    chats.push_back(stubs[i % 4]->Chat());
    ASSERT_TRUE(chats.back()->Write(Request(i)).ok()) << i;
    EchoReply reply;
    absl::StatusOr<bool> more = chats.back()->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << i << ": " << more.status();
    ASSERT_EQ(reply.n(), i);
  }
  EXPECT_EQ(service_.chats_alive.load(), 400);
  EXPECT_LT(ThreadCount() - before, 20)
      << "threads before " << before << ", with 400 open streams "
      << ThreadCount();
  for (auto& chat : chats) {
    ASSERT_TRUE(chat->WritesDone().ok());
    EXPECT_TRUE(chat->Finish().ok());
  }
  EXPECT_TRUE(testing::PollUntil([&] { return service_.chats_alive == 0; },
                                 absl::Seconds(20)));
  for (const auto& trace : service_.Traces()) EXPECT_FALSE(trace->OffLoop());
}

TEST_F(ReactorTest, AServerStreamingReactorWaitsForCreditWithoutAThread) {
  // 40 replies of 256 KiB (10 MiB, five windows) and the client reads none:
  // the writes stop at the window, with no thread waiting for it.
  EchoRequest request = Request(0);
  request.set_count(40);
  request.set_payload(std::string(256 << 10, 'x'));
  {
    // Once through first: threads started on first use (the sealing
    // helpers that large compressible frames call on) are there before
    // the count.
    auto warm_up = stub_->Range(request);
    EchoReply reply;
    for (;;) {
      absl::StatusOr<bool> more = warm_up->Read(&reply);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
    }
  }
  ASSERT_TRUE(testing::PollUntil(
      [&] { return service_.LastTrace()->done.HasBeenNotified(); },
      absl::Seconds(10)));
  service_.range_written = 0;
  const int before = ThreadCount();
  auto reader = stub_->Range(request);
  ASSERT_TRUE(testing::PollUntil([&] { return service_.range_written > 0; },
                                 absl::Seconds(10)));
  int64_t stalled = -1;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        const int64_t now = service_.range_written.load();
        absl::SleepFor(absl::Milliseconds(200));
        if (service_.range_written.load() != now) return false;
        stalled = now;
        return true;
      },
      absl::Seconds(20)));
  EXPECT_LT(stalled, 40);
  EXPECT_LE(ThreadCount(), before);  // Nobody waits for credit on a thread.
  for (int64_t i = 0; i < 40; ++i) {
    EchoReply reply;
    absl::StatusOr<bool> more = reader->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << i << ": " << more.status();
    ASSERT_EQ(reply.n(), i);
    ASSERT_EQ(reply.payload().size(), size_t{256} << 10);
  }
  EchoReply extra;
  absl::StatusOr<bool> end = reader->Read(&extra);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_FALSE(*end);
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events().back(), "done:OK");
  EXPECT_FALSE(trace->OffLoop());
}

TEST_F(ReactorTest, AMessageLargerThanTheWindowGoesOutAsCreditComes) {
  // 3 MiB replies: more than a stream's whole window (2 MiB), so each waits
  // for credit between its own fragments.
  EchoRequest request = Request(0);
  request.set_count(3);
  request.set_payload(std::string(3 << 20, 'y'));
  auto reader = stub_->Range(request);
  for (int64_t i = 0; i < 3; ++i) {
    EchoReply reply;
    absl::StatusOr<bool> more = reader->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << i << ": " << more.status();
    EXPECT_EQ(reply.n(), i);
    EXPECT_EQ(reply.payload(), request.payload());
  }
  EchoReply extra;
  absl::StatusOr<bool> end = reader->Read(&extra);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_FALSE(*end);
}

TEST_F(ReactorTest, WritesMayComeFromAThreadOfTheReactorsOwn) {
  EchoRequest request = Request(0, "thread");
  request.set_count(50);
  auto reader = stub_->Range(request);
  for (int64_t i = 0; i < 50; ++i) {
    EchoReply reply;
    absl::StatusOr<bool> more = reader->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << i << ": " << more.status();
    ASSERT_EQ(reply.n(), i);
  }
  EchoReply extra;
  absl::StatusOr<bool> end = reader->Read(&extra);
  ASSERT_TRUE(end.ok() && !*end) << end.status();
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events().size(), 51u);
  EXPECT_EQ(trace->Events().back(), "done:OK");
  EXPECT_FALSE(trace->OffLoop());  // OnWriteDone ran on the loop.
}

TEST_F(ReactorTest, AClientStreamingReactorAnswersOnceWithItsResponse) {
  auto sum = stub_->Sum();
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(sum->Write(Request(i)).ok());
  absl::StatusOr<EchoReply> reply = sum->Finish();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->n(), 10);
  EXPECT_EQ(reply->text(), "4");
}

TEST_F(ReactorTest, TheHandlersStatusReachesTheClient) {
  auto chat = stub_->Chat();
  EchoRequest failing = Request(0, "no such thing");
  failing.set_fail_code(static_cast<int>(absl::StatusCode::kNotFound));
  ASSERT_TRUE(chat->Write(failing).ok());
  absl::Status status = chat->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(status.message(), "no such thing");
}

TEST_F(ReactorTest, AClientCancelReportsTheReadInProgressThenOnDone) {
  ClientContext context;
  auto chat = stub_->Chat(&context);
  ASSERT_TRUE(chat->Write(Request(1)).ok());
  EchoReply reply;
  ASSERT_TRUE(chat->Read(&reply).ok());  // Its next read is now waiting.
  context.TryCancel();
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events(),
            (std::vector<std::string>{"start", "read", "write", "read:false",
                                      "done:CANCELLED"}));
  EXPECT_EQ(chat->Finish().code(), absl::StatusCode::kCancelled);
}

TEST_F(ReactorTest, ADeadlineEndsAReactorThatNeverFinishes) {
  ClientContext context;
  context.set_timeout(absl::Milliseconds(200));
  auto chat = stub_->Chat(&context);  // Sends nothing: the read waits.
  std::shared_ptr<Trace> trace;
  ASSERT_TRUE(testing::PollUntil(
      [&] { return (trace = service_.LastTrace()) != nullptr; },
      absl::Seconds(10)));
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events().back(), "done:DEADLINE_EXCEEDED");
  EXPECT_EQ(chat->Finish().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ReactorTest, TwoWritesAtOnceEndTheCallWithInternalNamingTheMisuse) {
  auto chat = stub_->Chat();
  ASSERT_TRUE(chat->Write(Request(1, "twice")).ok());
  EchoReply reply;
  while (true) {
    absl::StatusOr<bool> more = chat->Read(&reply);
    if (!more.ok() || !*more) break;
  }
  absl::Status status = chat->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "StartWrite")) << status;
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events().back(), "done:INTERNAL");
}

TEST_F(ReactorTest, FinishWaitsForTheWriteInProgress) {
  auto reader = stub_->Range(Request(0, "finish-at-once"));
  EchoReply reply;
  absl::StatusOr<bool> more = reader->Read(&reply);
  ASSERT_TRUE(more.ok() && *more) << more.status();
  EXPECT_EQ(reply.payload().size(), size_t{3} << 20);
  absl::StatusOr<bool> end = reader->Read(&reply);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_FALSE(*end);
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events(), (std::vector<std::string>{"write", "done:OK"}));
}

TEST_F(ReactorTest, AResponseOverTheLimitEndsTheCallWithResourceExhausted) {
  ServerOptions options;
  options.bridge.max_message_bytes = 1 << 20;
  Restart(options);
  auto reader = stub_->Range(Request(0, "big"));  // A 2 MiB reply.
  EchoReply reply;
  absl::StatusOr<bool> more = reader->Read(&reply);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kResourceExhausted)
      << more.status();
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events(), (std::vector<std::string>{
                                 "write:false", "done:RESOURCE_EXHAUSTED"}));
}

TEST_F(ReactorTest, ARequestThatDoesNotParseEndsTheCallWithInvalidArgument) {
  const std::string garbage = "\xff\xff\xff";
  std::unique_ptr<internal::ClientCall> call = internal::ClientCall::Start(
      channel_.get(), "/netstructer.test.rpc.Echo/Chat", CallOptions(),
      &garbage, /*half_close=*/false);
  absl::Status status = call->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "does not parse")) << status;
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events(), (std::vector<std::string>{
                                 "start", "read:false", "done:INVALID_ARGUMENT"}));
}

TEST_F(ReactorTest, ShutdownEndsOpenReactors) {
  auto chat = stub_->Chat();
  ASSERT_TRUE(chat->Write(Request(1)).ok());
  EchoReply reply;
  ASSERT_TRUE(chat->Read(&reply).ok());
  server_->Shutdown(absl::Milliseconds(100));
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const std::vector<std::string> events = trace->Events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2], "read:false");
  EXPECT_TRUE(absl::StartsWith(events.back(), "done:")) << events.back();
  EXPECT_NE(events.back(), "done:OK");
  EXPECT_FALSE(chat->Finish().ok());
  EXPECT_TRUE(testing::PollUntil([&] { return service_.chats_alive == 0; },
                                 absl::Seconds(10)));
}

TEST_F(ReactorTest, TwoReadsAtOnceEndTheCallWithInternalNamingTheMisuse) {
  auto chat = stub_->Chat();
  ASSERT_TRUE(chat->Write(Request(1, "read-twice")).ok());
  absl::Status status = chat->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "StartRead")) << status;
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(trace->Events(), (std::vector<std::string>{
                                 "start", "read", "read:false", "done:INTERNAL"}));
}

TEST_F(ReactorTest, AServerStreamingRequestThatDoesNotParseNeverReachesAFactory) {
  const std::string garbage = "\xff\xff\xff";
  std::unique_ptr<internal::ClientCall> call = internal::ClientCall::Start(
      channel_.get(), "/netstructer.test.rpc.Echo/Range", CallOptions(),
      &garbage, /*half_close=*/true);
  absl::Status status = call->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(service_.LastTrace(), nullptr);
}

TEST_F(ReactorTest, ARequestOfAnotherReactorRunsNoCallbackInsideTheCaller) {
  // The speaker's OnReadDone starts a write on the listener's call, on the
  // same loop (one connection): the listener's OnWriteDone must come after
  // the speaker's callback returned, not inside its StartWrite.
  nested_callback = false;
  ClientContext listener_context;
  listener_context.AddMetadata("role", "listener");
  auto listener = stub_->Chat(&listener_context);
  std::shared_ptr<Trace> listener_trace;
  ASSERT_TRUE(testing::PollUntil(
      [&] { return (listener_trace = service_.LastTrace()) != nullptr; },
      absl::Seconds(10)));
  ClientContext speaker_context;
  speaker_context.AddMetadata("role", "speaker");
  auto speaker = stub_->Chat(&speaker_context);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(speaker->Write(Request(i, "relayed")).ok());
    EchoReply reply;
    absl::StatusOr<bool> more = listener->Read(&reply);
    ASSERT_TRUE(more.ok() && *more) << more.status();
    EXPECT_EQ(reply.n(), i);
  }
  EXPECT_FALSE(nested_callback.load());
  ASSERT_TRUE(speaker->WritesDone().ok());
  EXPECT_TRUE(speaker->Finish().ok());
  ASSERT_TRUE(listener->WritesDone().ok());
  EXPECT_TRUE(listener->Finish().ok());
  EXPECT_FALSE(listener_trace->OffLoop());
}

TEST_F(ReactorTest, AReactorStartsOnTheLoopWhileABlockingHandlerReadsTheSession) {
  // A blocking handler waiting in Read reads the session itself, so the
  // next call's HEADERS may arrive on its thread; the reactor still starts
  // and runs on the session's loop.
  ClientContext blocking_context;
  blocking_context.AddMetadata("role", "blocking");
  auto blocking = stub_->Chat(&blocking_context);
  ASSERT_TRUE(blocking->Write(Request(1)).ok());
  EchoReply reply;
  ASSERT_TRUE(blocking->Read(&reply).ok());
  EXPECT_EQ(service_.LastTrace(), nullptr);  // No reactor for that one.
  auto chat = stub_->Chat();
  ASSERT_TRUE(chat->Write(Request(2)).ok());
  absl::StatusOr<bool> more = chat->Read(&reply);
  ASSERT_TRUE(more.ok() && *more) << more.status();
  EXPECT_EQ(reply.n(), 2);
  ASSERT_TRUE(chat->WritesDone().ok());
  EXPECT_TRUE(chat->Finish().ok());
  std::shared_ptr<Trace> trace = service_.LastTrace();
  ASSERT_TRUE(trace->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(trace->OffLoop());
  ASSERT_TRUE(blocking->WritesDone().ok());
  EXPECT_TRUE(blocking->Finish().ok());
}

}  // namespace
}  // namespace netstructer::test
