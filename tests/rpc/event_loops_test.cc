// Connections spread over event loops (docs/DESIGN.md, "Threads"): a
// server's sessions over its io_loops, a process's channels over the shared
// client group; handlers of sessions on different loops run side by side;
// a Bridge released on another loop's thread never waits for its own loop.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/tests/testing/thread_count.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/work_pool.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using rpc::EchoReply;
using rpc::EchoRequest;

// Unary handlers that return only once `parties` of them have started (or
// `patience` passed: then FAILED_PRECONDITION "alone").
class RendezvousService : public rpc::Echo::Service {
 public:
  RendezvousService(int parties, absl::Duration patience)
      : parties_(parties), patience_(patience) {}

  absl::Status Unary(ServerContext*, const EchoRequest* request,
                     EchoReply* reply) override {
    const absl::Time give_up = absl::Now() + patience_;
    MutexLock lock(&mu_);
    ++arrived_;
    cv_.SignalAll();
    while (arrived_ < parties_) {
      if (cv_.WaitWithDeadline(&mu_, give_up) && arrived_ < parties_) {
        return absl::FailedPreconditionError("alone");
      }
    }
    reply->set_text(request->text());
    return absl::OkStatus();
  }

 private:
  const int parties_;
  const absl::Duration patience_;
  Mutex mu_;
  CondVar cv_;
  int arrived_ ABSL_GUARDED_BY(mu_) = 0;
};

// A started insecure server with `service` on `io_loops` loops. Unary
// handlers run on the I/O loops (handler_threads = 0) unless told otherwise:
// these tests are about the loops.
std::unique_ptr<Server> StartServer(Service* service, int io_loops,
                                    int handler_threads = 0) {
  ServerOptions options;
  options.insecure = true;
  options.io_loops = io_loops;
  options.rpc.handler_threads = handler_threads;
  options.policy.max_sessions_per_ip = 0;
  options.policy.new_connections_per_ip_per_second = 0;
  auto server = std::make_unique<Server>("127.0.0.1:0", options);
  EXPECT_TRUE(server->RegisterService(service).ok());
  absl::Status s = server->Init();
  EXPECT_TRUE(s.ok()) << s;
  s = server->Listen();
  EXPECT_TRUE(s.ok()) << s;
  return server;
}

std::shared_ptr<Channel> Connect(const Server& server) {
  ChannelOptions options;
  options.link.insecure = true;
  absl::StatusOr<std::shared_ptr<Channel>> channel =
      Channel::Create(server.address(), options);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? *channel : nullptr;
}

// Two calls on two connections, from two threads at once; their statuses.
std::vector<absl::Status> CallTwiceAtOnce(const Server& server) {
  std::vector<std::shared_ptr<Channel>> channels = {Connect(server),
                                                    Connect(server)};
  std::vector<absl::Status> statuses(2);
  std::vector<std::thread> callers;
  for (int i = 0; i < 2; ++i) {
    callers.emplace_back([&, i] {
      if (channels[i] == nullptr) return;
      rpc::Echo::Stub stub(channels[i]);
      EchoRequest request;
      request.set_text(absl::StrCat("caller ", i));
      statuses[i] = stub.Unary(request).status();
    });
  }
  for (std::thread& t : callers) t.join();
  return statuses;
}

TEST(ServerLoops, HandlersOfSessionsOnTwoLoopsRunSideBySide) {
  // Each handler waits for the other: on one loop the first would block the
  // loop, and the second could not start until it gave up.
  RendezvousService service(2, absl::Seconds(20));
  std::unique_ptr<Server> server = StartServer(&service, 2);
  for (const absl::Status& s : CallTwiceAtOnce(*server)) {
    EXPECT_TRUE(s.ok()) << s;
  }
}

TEST(ServerLoops, OnOneLoopAHandlerThatBlocksHoldsTheOtherSessionsBack) {
  // What io_loops = 1 means, and that the test above can fail: the first
  // handler holds the only loop until it gives up; the second runs after.
  RendezvousService service(2, absl::Milliseconds(300));
  std::unique_ptr<Server> server = StartServer(&service, 1);
  std::vector<absl::Status> statuses = CallTwiceAtOnce(*server);
  int alone = 0;
  for (const absl::Status& s : statuses) {
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
      ++alone;
    }
  }
  EXPECT_EQ(alone, 1);
}

TEST(ServerLoops, SessionsAreSpreadEvenlyAndANewOneFillsTheGap) {
  EchoService service;
  std::unique_ptr<Server> server = StartServer(&service, 3);
  std::vector<std::shared_ptr<Channel>> channels;
  for (int i = 0; i < 6; ++i) channels.push_back(Connect(*server));
  auto per_loop = [&] {
    std::map<transport::EventLoop*, int> count;
    for (const auto& session : server->All()) ++count[session->event_loop()];
    return count;
  };
  // Sessions appear in All() once their handshake is done on the server.
  for (absl::Time give_up = absl::Now() + absl::Seconds(10);
       server->Count() < 6 && absl::Now() < give_up;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  std::map<transport::EventLoop*, int> count = per_loop();
  ASSERT_EQ(count.size(), 3u);
  for (const auto& [loop, n] : count) EXPECT_EQ(n, 2);
  // Closing one session frees a place on its loop, which the next takes.
  std::shared_ptr<Bridge> first = server->All().front();
  transport::EventLoop* freed = first->event_loop();
  (void)first->Close(absl::Seconds(2));
  first.reset();
  for (absl::Time give_up = absl::Now() + absl::Seconds(10);
       server->Count() > 5 && absl::Now() < give_up;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  channels.push_back(Connect(*server));
  for (absl::Time give_up = absl::Now() + absl::Seconds(10);
       server->Count() < 6 && absl::Now() < give_up;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  count = per_loop();
  EXPECT_EQ(count[freed], 2);
  for (const auto& [loop, n] : count) EXPECT_EQ(n, 2);
}

// The default: unary handlers on the server's pool, so one that blocks
// holds no loop (the test above, with the pool: both meet).
TEST(HandlerPool, ByDefaultABlockingHandlerHoldsNoSessionsLoop) {
  RendezvousService service(2, absl::Seconds(20));
  std::unique_ptr<Server> server =
      StartServer(&service, 1, RpcServerOptions::kAutoHandlerThreads);
  for (const absl::Status& s : CallTwiceAtOnce(*server)) {
    EXPECT_TRUE(s.ok()) << s;
  }
}

// Records whether its handler ran on the session's loop thread.
class WhereService : public rpc::Echo::Service {
 public:
  absl::Status Unary(ServerContext* context, const EchoRequest*,
                     EchoReply*) override {
    on_loop = context->session()->event_loop()->InLoopThread() ? 1 : 0;
    return absl::OkStatus();
  }
  std::atomic<int> on_loop{-1};
};

int RanOnLoop(bool never_block, int handler_threads) {
  WhereService service;
  service.set_handlers_never_block(never_block);
  std::unique_ptr<Server> server = StartServer(&service, 1, handler_threads);
  std::shared_ptr<Channel> channel = Connect(*server);
  if (channel == nullptr) return -2;
  rpc::Echo::Stub stub(channel);
  absl::Status s = stub.Unary(EchoRequest()).status();
  EXPECT_TRUE(s.ok()) << s;
  return service.on_loop.load();
}

TEST(HandlerPool, UnaryHandlersRunOnThePoolUnlessTheyNeverBlock) {
  EXPECT_EQ(RanOnLoop(false, RpcServerOptions::kAutoHandlerThreads), 0);
  EXPECT_EQ(RanOnLoop(false, 2), 0);
  EXPECT_EQ(RanOnLoop(true, RpcServerOptions::kAutoHandlerThreads), 1);
  EXPECT_EQ(RanOnLoop(false, 0), 1);  // No pool: every handler inline.
}

TEST(SharedClientLoops, ManyChannelsAddNoThreadPerChannel) {
  EchoService service;
  std::unique_ptr<Server> server = StartServer(&service, 1);
  // The first channel makes the process's shared group (if no other has).
  std::shared_ptr<Channel> first = Connect(*server);
  ASSERT_NE(first, nullptr);
  const int before = ThreadCount();
  std::vector<std::shared_ptr<Channel>> channels;
  for (int i = 0; i < 32; ++i) channels.push_back(Connect(*server));
  for (const auto& channel : channels) {
    ASSERT_NE(channel, nullptr);
    rpc::Echo::Stub stub(channel);
    EchoRequest request;
    request.set_text("hi");
    absl::StatusOr<EchoReply> reply = stub.Unary(request);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->text(), "hi");
  }
  // A channel with a loop thread of its own would add 32 (the sealing
  // helpers may start on first use).
  EXPECT_LE(ThreadCount() - before, transport::kMaxWorkPoolHelpers);
  // All on the shared group's loops, spread evenly.
  absl::StatusOr<std::shared_ptr<transport::EventLoopGroup>> group =
      transport::EventLoopGroup::Shared();
  ASSERT_TRUE(group.ok());
  std::set<transport::EventLoop*> loops;
  for (int i = 0; i < (*group)->size(); ++i) loops.insert((*group)->loop(i));
  int assigned = 0;
  for (int i = 0; i < (*group)->size(); ++i) {
    assigned += (*group)->assigned(i);
    EXPECT_GE((*group)->assigned(i), 33 / (*group)->size()) << i;
  }
  EXPECT_EQ(assigned, 33);
  for (const auto& channel : channels) {
    EXPECT_EQ(loops.count(channel->bridge().event_loop()), 1u);
  }
}

TEST(SharedClientLoops, ChannelsOneAfterAnotherReuseTheLoops) {
  EchoService service;
  std::unique_ptr<Server> server = StartServer(&service, 1);
  Connect(*server).reset();  // The shared group exists from here on.
  // Watched, not held: only the process keeps it alive between channels.
  std::weak_ptr<transport::EventLoopGroup> weak =
      transport::EventLoopGroup::Shared().value();
  for (int i = 0; i < 10; ++i) {
    std::shared_ptr<Channel> channel = Connect(*server);
    ASSERT_NE(channel, nullptr);
    std::shared_ptr<transport::EventLoopGroup> group = weak.lock();
    ASSERT_NE(group, nullptr) << "the shared group went with the last channel";
    bool on_group = false;
    for (int k = 0; k < group->size(); ++k) {
      on_group |= channel->bridge().event_loop() == group->loop(k);
    }
    EXPECT_TRUE(on_group) << i;
  }
}

TEST(SharedClientLoops, ChannelsReleasedOnEachOthersLoopsDoNotWaitForEachOther) {
  // Two channels on the two loops of a group; a task on each loop releases
  // the channel of the other loop, both at the same moment. A release that
  // waited for its Bridge's loop would wait forever here: each loop waits
  // for the other.
  EchoService service;
  std::unique_ptr<Server> server = StartServer(&service, 1);
  absl::StatusOr<std::shared_ptr<transport::EventLoopGroup>> group =
      transport::EventLoopGroup::Create(2);
  ASSERT_TRUE(group.ok());
  std::vector<std::shared_ptr<Channel>> channels;
  for (int i = 0; i < 2; ++i) {
    ChannelOptions options;
    options.link.insecure = true;
    options.link.loops = *group;
    absl::StatusOr<std::shared_ptr<Channel>> channel =
        Channel::Create(server->address(), options);
    ASSERT_TRUE(channel.ok()) << channel.status();
    channels.push_back(*std::move(channel));
  }
  transport::EventLoop* const loops[2] = {channels[0]->bridge().event_loop(),
                                          channels[1]->bridge().event_loop()};
  ASSERT_NE(loops[0], loops[1]);
  Mutex mu;
  CondVar cv;
  int started = 0;
  int released = 0;
  for (int i = 0; i < 2; ++i) {
    std::shared_ptr<Channel> other = std::move(channels[1 - i]);
    loops[i]->Post(
        [&, other = std::move(other)]() mutable {
          {
            MutexLock lock(&mu);
            ++started;
            cv.SignalAll();
            while (started < 2) cv.Wait(&mu);
          }
          other.reset();  // The last reference to the other loop's channel.
          MutexLock lock(&mu);
          ++released;
          cv.SignalAll();
        });
  }
  channels.clear();
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  MutexLock lock(&mu);
  while (released < 2) {
    if (cv.WaitWithDeadline(&mu, give_up)) break;
  }
  EXPECT_EQ(released, 2);
}

TEST(SharedClientLoops, ReleasingAChannelNeverWaitsForABusyLoop) {
  // Every loop of the process's shared group is held by a task; a channel on
  // that group is released meanwhile. The release returns at once (it used
  // to wait for its loop to pass a barrier), and the server sees the
  // connection end although no client loop has run since.
  EchoService service;
  std::unique_ptr<Server> server = StartServer(&service, 1);
  std::shared_ptr<Channel> channel = Connect(*server);
  ASSERT_NE(channel, nullptr);
  ASSERT_TRUE(::netstructer::testing::PollUntil(
      [&] { return server->Count() == 1; }, absl::Seconds(10)));
  std::shared_ptr<transport::EventLoopGroup> group =
      transport::EventLoopGroup::Shared().value();
  Mutex mu;
  CondVar cv;
  int held = 0;
  bool let_go = false;
  for (int i = 0; i < group->size(); ++i) {
    group->loop(i)->Post([&] {
      MutexLock lock(&mu);
      ++held;
      cv.SignalAll();
      while (!let_go) cv.Wait(&mu);
      --held;  // Counted out: the test's state outlives every task.
      cv.SignalAll();
    });
  }
  {
    MutexLock lock(&mu);
    while (held < group->size()) cv.Wait(&mu);
  }
  bool released = false;
  std::thread releaser([&] {
    channel.reset();
    MutexLock lock(&mu);
    released = true;
    cv.SignalAll();
  });
  {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    MutexLock lock(&mu);
    while (!released && !cv.WaitWithDeadline(&mu, give_up)) {
    }
    EXPECT_TRUE(released) << "the release waited for a loop held busy";
  }
  EXPECT_TRUE(::netstructer::testing::PollUntil(
      [&] { return server->Count() == 0; }, absl::Seconds(10)))
      << "the server did not see the released connection end";
  {
    MutexLock lock(&mu);
    let_go = true;
    cv.SignalAll();
    while (held > 0) cv.Wait(&mu);
  }
  releaser.join();
}

}  // namespace
}  // namespace netstructer::test
