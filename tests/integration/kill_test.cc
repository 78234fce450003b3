// Peers killed with SIGKILL (no GOAWAY, no goodbye of any kind):
//   - a server process killed while a client is in the middle of a server
//     stream and waiting in RecvBuffer: every wait ends promptly with
//     UNAVAILABLE, and a server restarted on the same port is usable;
//   - a client process killed in the middle of a large message, or of three
//     streaming calls: the server (in this process) frees everything it held
//     for it: the session, the calls (their handlers see the cancellation
//     and return) and every descriptor.
// Every wait has a deadline (PollUntil, receive and call timeouts, and a
// watchdog for the joins); times are printed, never asserted.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/proto/status_macros.h"
#include "netstructer/proto/value.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/child_process.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/tests/testing/subprocess.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/mutex.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer {
namespace {

namespace echo = ::netstructer::test::rpc;
using ::netstructer::testing::ChildProcess;
using ::netstructer::testing::OpenFdCount;
using ::netstructer::testing::PollUntil;
using ::netstructer::testing::RunfilePath;
using ::netstructer::testing::Watchdog;

// The bound on every wait (a kill is noticed in milliseconds; sanitizer
// builds and a busy machine are far slower, never this slow).
constexpr absl::Duration kWaitLimit = absl::Seconds(30);
constexpr absl::Duration kTestLimit = absl::Seconds(120);

RecvOptions Within(absl::Duration timeout) {
  RecvOptions options;
  options.timeout = timeout;
  return options;
}

std::string Ms(absl::Duration d) {
  return absl::StrCat(absl::ToDoubleMilliseconds(d), " ms");
}

class KillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_path_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/kill_test.key");
    std::ofstream(key_path_) << key_.Encode() << "\n";
    chmod(key_path_.c_str(), 0600);
  }

  // Starts kill_test_server on `address`; retries while the port is still
  // taken (the killed server's connections may hold it a moment). Sets
  // *bound to the address it listens on.
  std::unique_ptr<ChildProcess> StartServerProcess(const std::string& address,
                                                   std::string* bound) {
    const absl::Time deadline = absl::Now() + kWaitLimit;
    for (;;) {
      absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(
          {RunfilePath("tests/integration/kill_test_server"), address,
           key_path_});
      EXPECT_TRUE(child.ok()) << child.status();
      if (!child.ok()) return nullptr;
      // Its first line: "listening on ADDRESS" or "server: ERROR".
      absl::StatusOr<std::string> line =
          (*child)->WaitForStderr("", kWaitLimit);
      EXPECT_TRUE(line.ok()) << line.status();
      if (!line.ok()) return nullptr;
      constexpr absl::string_view kListening = "listening on ";
      if (absl::StartsWith(*line, kListening)) {
        *bound = line->substr(kListening.size());
        return *std::move(child);
      }
      if (!absl::StrContains(*line, "already in use") ||
          absl::Now() >= deadline) {
        ADD_FAILURE() << "kill_test_server " << address << ": " << *line;
        return nullptr;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  LinkOptions LinkWithKey() const {
    LinkOptions options;
    options.key = key_;
    return options;
  }

  ChannelOptions ChannelWithKey() const {
    ChannelOptions options;
    options.link = LinkWithKey();
    return options;
  }

  CallOptions Timed() const {
    CallOptions options;
    options.timeout = kWaitLimit;
    return options;
  }

  const transport::FernetKey key_ = transport::FernetKey::Generate().value();
  std::string key_path_;
};

// What ended a blocking wait on another thread, and when.
struct Ended {
  absl::Status status;
  absl::Time at;
  void Set(const absl::Status& s) {
    status = DetachedStatus(s);
    at = absl::Now();
  }
};

TEST_F(KillTest, ServerKilledMidStreamIsUnavailableAtOnceAndARestartWorks) {
  Watchdog watchdog("ServerKilledMidStream", kTestLimit);
  std::string address;
  std::unique_ptr<ChildProcess> server =
      StartServerProcess("127.0.0.1:0", &address);
  ASSERT_NE(server, nullptr);

  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel =
      Channel::Create(address, ChannelWithKey());
  ASSERT_TRUE(channel.ok()) << channel.status();
  echo::Echo::Stub stub(*channel);
  // A server stream, one reply a millisecond, read on its own thread.
  echo::EchoRequest request;
  request.set_count(1000000);
  request.set_sleep_ms(1);
  std::unique_ptr<ClientReader<echo::EchoReply>> range =
      stub.Range(request, Timed());
  std::atomic<int> replies{0};
  Ended range_end;
  std::thread range_reader([&] {
    echo::EchoReply reply;
    absl::StatusOr<bool> more;
    while ((more = range->Read(&reply)).ok() && *more) ++replies;
    range_end.Set(more.ok() ? range->Finish() : more.status());
  });
  // Two RecvBuffer waits for buffers that will never come: on the channel's
  // own connection (beside the stream) and on a Bridge of its own, after one
  // echoed buffer proves it works.
  absl::StatusOr<std::shared_ptr<Bridge>> bridge =
      Bridge::Link(address, LinkWithKey());
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  ASSERT_TRUE((*bridge)->SendBuffer(MakeStr("ping")).ok());
  absl::StatusOr<Value> echoed = (*bridge)->RecvBuffer(Within(kWaitLimit));
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(echoed->str_value(), "ping");
  std::atomic<int> waiting{0};
  Ended bridge_end;
  Ended channel_bridge_end;
  std::thread bridge_reader([&] {
    ++waiting;
    bridge_end.Set((*bridge)->RecvBuffer(Within(kWaitLimit)).status());
  });
  std::thread channel_bridge_reader([&] {
    ++waiting;
    channel_bridge_end.Set(
        (*channel)->bridge().RecvBuffer(Within(kWaitLimit)).status());
  });
  ASSERT_TRUE(PollUntil(
      [&] { return replies.load() >= 5 && waiting.load() == 2; }, kWaitLimit))
      << replies.load() << " replies";

  const absl::Time killed = absl::Now();
  EXPECT_EQ(server->Stop(SIGKILL), 128 + SIGKILL);
  range_reader.join();
  bridge_reader.join();
  channel_bridge_reader.join();
  std::printf(
      "server killed after %d replies; UNAVAILABLE after: server stream %s, "
      "RecvBuffer on its own Bridge %s, RecvBuffer beside the stream %s\n",
      replies.load(), Ms(range_end.at - killed).c_str(),
      Ms(bridge_end.at - killed).c_str(),
      Ms(channel_bridge_end.at - killed).c_str());
  for (const Ended* end : {&range_end, &bridge_end, &channel_bridge_end}) {
    EXPECT_EQ(end->status.code(), absl::StatusCode::kUnavailable)
        << end->status;
  }
  // New calls and sends on the dead connections fail at once, too.
  EXPECT_EQ(stub.Unary(echo::EchoRequest(), Timed()).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ((*bridge)->SendBuffer(MakeInt(1)).code(),
            absl::StatusCode::kUnavailable);
  range.reset();
  bridge->reset();
  channel->reset();

  // The same port again, and fresh connections work.
  std::string again;
  server = StartServerProcess(address, &again);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(again, address);
  absl::StatusOr<std::shared_ptr<netstructer::Channel>> channel2 =
      Channel::Create(address, ChannelWithKey());
  ASSERT_TRUE(channel2.ok()) << channel2.status();
  echo::Echo::Stub stub2(*channel2);
  request.set_text("after the restart");
  absl::StatusOr<echo::EchoReply> reply = stub2.Unary(request, Timed());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "after the restart");
  absl::StatusOr<std::shared_ptr<Bridge>> bridge2 =
      Bridge::Link(address, LinkWithKey());
  ASSERT_TRUE(bridge2.ok()) << bridge2.status();
  ASSERT_TRUE((*bridge2)->SendBuffer(MakeInt(42)).ok());
  echoed = (*bridge2)->RecvBuffer(Within(kWaitLimit));
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(echoed->int_value(), 42);
}

TEST_F(KillTest, ClientKilledMidMessageFreesItsSessionAndDescriptors) {
  Watchdog watchdog("ClientKilledMidMessage", kTestLimit);
  ServerOptions options;
  options.keys = {key_};
  // The first message (600 KB, in memory) fills the inbox past its limit,
  // so no credit comes back: the second (25 MB, reassembled in a temporary
  // file) stops for good in the middle, at the 16 MiB window.
  options.bridge.memory_threshold_bytes = uint64_t{1} << 20;
  options.bridge.max_inbox_bytes = uint64_t{512} << 10;
  Server server("127.0.0.1:0", options);
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  const int baseline = OpenFdCount();

  absl::StatusOr<std::unique_ptr<ChildProcess>> sender =
      ChildProcess::Start({RunfilePath("tests/integration/bulk_sender"),
                           server.address(), key_path_, "600000", "25000000"});
  ASSERT_TRUE(sender.ok()) << sender.status();
  // The session's socket and the second message's temporary file, plus the
  // child's two pipes.
  ASSERT_TRUE(PollUntil(
      [&] { return server.Count() == 1 && OpenFdCount() >= baseline + 4; },
      kWaitLimit))
      << server.Count() << " sessions, " << OpenFdCount() << " descriptors, "
      << baseline << " before; sender: " << (*sender)->err();
  std::shared_ptr<Bridge> session = server.Get("127.0.0.1");
  ASSERT_NE(session, nullptr);
  const absl::Time killed = absl::Now();
  EXPECT_EQ((*sender)->Stop(SIGKILL), 128 + SIGKILL);
  sender->reset();

  // The whole first message is delivered, then the loss (the second one
  // was cut in the middle: nothing of it).
  absl::StatusOr<ReceivedMessage> first = session->RecvRaw(Within(kWaitLimit));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GE(first->size(), 600000u);
  absl::StatusOr<ReceivedMessage> second = session->RecvRaw(Within(kWaitLimit));
  ASSERT_FALSE(second.ok()) << second->size() << " bytes";
  EXPECT_TRUE(second.status().code() == absl::StatusCode::kUnavailable ||
              second.status().code() == absl::StatusCode::kDataLoss)
      << second.status();
  EXPECT_TRUE(PollUntil([&] { return server.Count() == 0; }, kWaitLimit));
  const absl::Duration noticed = absl::Now() - killed;
  session.reset();
  EXPECT_TRUE(PollUntil([&] { return OpenFdCount() == baseline; }, kWaitLimit))
      << OpenFdCount() << " descriptors, " << baseline << " before";
  std::printf(
      "client killed mid-message: the session ended with %s, gone %s "
      "after the kill; descriptors back to %d\n",
      second.status().ToString().c_str(), Ms(noticed).c_str(), OpenFdCount());
}

// Counts calls and keeps their final statuses.
class RecordingInterceptor : public ServerInterceptor {
 public:
  absl::Status OnCall(ServerContext*) override {
    ++calls;
    return absl::OkStatus();
  }
  void OnFinish(ServerContext* context, const absl::Status& status) override {
    MutexLock lock(&mu_);
    finished_.push_back(
        absl::StrCat(context->method(), " ", status.ToString()));
    all_unavailable_ &= status.code() == absl::StatusCode::kUnavailable ||
                        status.code() == absl::StatusCode::kDataLoss;
  }
  std::vector<std::string> finished() {
    MutexLock lock(&mu_);
    return finished_;
  }
  bool all_lost() {
    MutexLock lock(&mu_);
    return all_unavailable_;
  }

  std::atomic<int> calls{0};

 private:
  Mutex mu_;
  std::vector<std::string> finished_ ABSL_GUARDED_BY(mu_);
  bool all_unavailable_ ABSL_GUARDED_BY(mu_) = true;
};

TEST_F(KillTest, ClientKilledMidStreamEndsItsCallsAndFreesEverything) {
  Watchdog watchdog("ClientKilledMidStream", kTestLimit);
  auto interceptor = std::make_shared<RecordingInterceptor>();
  test::EchoService service;
  ServerOptions options;
  options.keys = {key_};
  options.rpc.interceptors = {interceptor};
  Server server("127.0.0.1:0", options);
  ASSERT_TRUE(server.RegisterService(&service).ok());
  ASSERT_TRUE(server.Init().ok());
  ASSERT_TRUE(server.Listen().ok());
  const int baseline = OpenFdCount();

  absl::StatusOr<std::unique_ptr<ChildProcess>> client =
      ChildProcess::Start({RunfilePath("tests/integration/kill_test_client"),
                           server.address(), key_path_});
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->WaitForStderr("streaming", kWaitLimit).ok())
      << (*client)->err();
  // Chat and Sum wait in Read; Range writes until the unread replies fill
  // its window, then waits for credit in Write.
  const auto range_blocked = [&] {
    const int64_t before = service.range_written.load();
    absl::SleepFor(absl::Milliseconds(50));
    return before > 0 && service.range_written.load() == before;
  };
  ASSERT_TRUE(PollUntil(
      [&] { return interceptor->calls.load() == 3 && range_blocked(); },
      kWaitLimit))
      << interceptor->calls.load() << " calls, Range wrote "
      << service.range_written.load();
  EXPECT_EQ(server.Count(), 1u);
  EXPECT_EQ(service.finished.load(), 0);

  const absl::Time killed = absl::Now();
  EXPECT_EQ((*client)->Stop(SIGKILL), 128 + SIGKILL);
  client->reset();
  EXPECT_TRUE(PollUntil([&] { return server.Count() == 0; }, kWaitLimit));
  EXPECT_TRUE(PollUntil(
      [&] {
        return service.finished.load() == 3 &&
               interceptor->finished().size() == 3;
      },
      kWaitLimit))
      << service.finished.load() << " handlers returned";
  const absl::Duration ended = absl::Now() - killed;
  EXPECT_EQ(service.cancelled_seen.load(), 3)
      << "handlers that saw the cancellation";
  EXPECT_TRUE(interceptor->all_lost());
  EXPECT_TRUE(PollUntil([&] { return OpenFdCount() == baseline; }, kWaitLimit))
      << OpenFdCount() << " descriptors, " << baseline << " before";
  std::printf(
      "client killed mid-stream (Range blocked after %lld replies): "
      "session and 3 handlers ended %s after the kill: %s\n",
      static_cast<long long>(service.range_written.load()), Ms(ended).c_str(),
      absl::StrJoin(interceptor->finished(), "; ").c_str());
}

}  // namespace
}  // namespace netstructer
