// The Bridge's write queue (docs/DESIGN.md, "The threading model"): one
// thread at a time holds the writer role and writes, without the write
// lock, what others queued; a sender that finds the role taken returns at
// once. Each rule is forced with sync points over a socketpair: the
// writer is held between two rounds while another thread acts.
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "netstructer/proto/value.h"
#include "netstructer/tests/testing/tcp_pair.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/socket.h"
#include "netstructer/transport/stream_handler.h"
#include "netstructer/transport/sync_point.h"

namespace netstructer {
namespace {

using transport::FernetKey;
using transport::ScopedSyncPoint;

struct Pair {
  std::shared_ptr<transport::EventLoopGroup> group;
  std::shared_ptr<Bridge> client;
  std::shared_ptr<Bridge> server;
};

// A one-way flag on std::mutex, which ThreadSanitizer sees (Debian's Abseil
// is built without it: absl::Notification's ordering is invisible to it).
class Flag {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool HasBeenNotified() {
    std::lock_guard<std::mutex> lock(mu_);
    return set_;
  }
  bool WaitForNotificationWithTimeout(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [this] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Keeps what arrives on call streams (the first test's first frame).
class Recorder : public StreamHandler {
 public:
  void Attach(Bridge*) override {}
  absl::Status OnStreamFrame(transport::OpenedFrame frame) override {
    payloads_.push_back(std::move(frame.payload));
    arrived_.Notify();
    return absl::OkStatus();
  }
  void OnConnectionClosed(const absl::Status&) override {}
  // Written by the reading thread before arrived_ is notified.
  std::vector<std::string> payloads_;
  Flag arrived_;
};

// A client and a server Bridge over a socketpair; the server's only once
// StartServer() is called when `server_later`.
struct PairMaker {
  explicit PairMaker(bool server_later = false) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    server_fd = fds[1];
    pair.group = transport::EventLoopGroup::Create(1).value();
    pair.client = Bridge::Adopt(transport::Socket(fds[0]), pair.group->Assign(),
                                Bridge::Role::kClient, c2s, s2c, BridgeOptions{});
    if (!server_later) StartServer();
  }
  void StartServer() {
    pair.server = Bridge::Adopt(transport::Socket(server_fd), pair.group->Assign(),
                                Bridge::Role::kServer, s2c, c2s, BridgeOptions{});
  }
  const FernetKey c2s = FernetKey::Generate().value();
  const FernetKey s2c = FernetKey::Generate().value();
  int server_fd = -1;
  Pair pair;
};

Pair MakePair() { return PairMaker().pair; }

RecvOptions Within(absl::Duration d) {
  RecvOptions o;
  o.timeout = d;
  return o;
}

TEST(WriteQueue, ASenderThatFindsTheRoleTakenReturnsAndItsFrameGoesOutWithTheWriters) {
  Pair p = MakePair();
  std::atomic<bool> armed{false};
  Flag second_sent;
  std::thread second;
  bool second_returned_while_held = false;
  ScopedSyncPoint hold("Bridge::WriteAsWriter:round_written", [&](void* arg) {
    if (arg != p.client.get() || !armed.exchange(false)) return;
    // The first sender holds the role between its rounds: another sender
    // queues its message and returns without waiting for it.
    second = std::thread([&] {
      EXPECT_TRUE(p.client->SendBuffer(MakeStr("second")).ok());
      second_sent.Notify();
    });
    second_returned_while_held =
        second_sent.WaitForNotificationWithTimeout(absl::Seconds(10));
  });
  auto recorder = std::make_shared<Recorder>();
  p.server->SetStreamHandler(recorder);
  armed = true;
  // A call stream's frame first (no message lock: the second sender's
  // Bridge message does not wait for it on that lock).
  ASSERT_TRUE(p.client
                  ->SendStreamFrame(3, transport::FrameType::kData, 0, "first",
                                    false)
                  .ok());
  second.join();
  EXPECT_TRUE(second_returned_while_held);
  ASSERT_TRUE(recorder->arrived_.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(recorder->payloads_, std::vector<std::string>{"first"});
  absl::StatusOr<Value> next = p.server->RecvBuffer(Within(absl::Seconds(10)));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->str_value(), "second");
}

TEST(WriteQueue, AGoAwayQueuedWhileAnotherThreadWritesLeavesBeforeTheClose) {
  // CloseWithError queues its GOAWAY while another thread holds the role,
  // then ends the connection: without waiting for the writer's round the
  // close cut it short, and the peer saw an end without GOAWAY.
  Pair p = MakePair();
  std::atomic<bool> armed{false};
  Flag closer_waits, closed;
  std::thread closer;
  ScopedSyncPoint waits("Bridge::SendGoAway:waits_for_writer", [&](void* arg) {
    if (arg == p.client.get() && !closer_waits.HasBeenNotified()) {
      closer_waits.Notify();
    }
  });
  ScopedSyncPoint hold("Bridge::WriteAsWriter:round_written", [&](void* arg) {
    if (arg != p.client.get() || !armed.exchange(false)) return;
    closer = std::thread([&] {
      p.client->CloseWithError(absl::PermissionDeniedError("the key was revoked"));
      closed.Notify();
    });
    // Until the close waits for this round (or, wrongly, has ended it).
    for (int i = 0; i < 1000 && !closer_waits.HasBeenNotified() &&
                    !closed.HasBeenNotified();
         ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
  armed = true;
  (void)p.client->SendBuffer(MakeStr("before the close"));
  closer.join();
  EXPECT_TRUE(closer_waits.HasBeenNotified());
  absl::StatusOr<Value> first = p.server->RecvBuffer(Within(absl::Seconds(10)));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->str_value(), "before the close");
  absl::StatusOr<Value> end = p.server->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(end.status().code(), absl::StatusCode::kPermissionDenied) << end.status();
  EXPECT_EQ(end.status().message(), "the key was revoked");
}

TEST(WriteQueue, APeersGoAwayIsReportedWhenOurAnswerCannotBeWritten) {
  // The client closes with an error (GOAWAY, then both directions shut)
  // before the server reads a byte: the server's answer to that GOAWAY
  // fails on the socket, which must not replace the client's word.
  PairMaker maker(/*server_later=*/true);
  Pair& p = maker.pair;
  ASSERT_TRUE(p.client->SendBuffer(MakeStr("last")).ok());
  p.client->CloseWithError(absl::PermissionDeniedError("the key was revoked"));
  maker.StartServer();
  absl::StatusOr<Value> last = p.server->RecvBuffer(Within(absl::Seconds(10)));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->str_value(), "last");
  absl::StatusOr<Value> end = p.server->RecvBuffer(Within(absl::Seconds(10)));
  EXPECT_EQ(end.status().code(), absl::StatusCode::kPermissionDenied) << end.status();
  EXPECT_EQ(end.status().message(), "the key was revoked");
}

TEST(WriteQueue, WritabilitySeenWhileAnotherThreadWritesIsNotLost) {
  // The socket is full and the role awaits writability. A sender takes it
  // on, finds the socket still full; then, before it lets the role go, the
  // peer reads and the loop's one edge-triggered EPOLLOUT comes, while the
  // role is held. Without being told, the sender gave the role back to
  // await an event that had come already: the rest of the message stayed
  // queued until a keepalive PING (30 s).
  // TCP: its socket wakes a writer once when room comes back (the
  // no-space flag is cleared), where a socketpair wakes it on every read.
  // Small buffers, so that 2 MiB fill them.
  testing::SocketPair tcp = testing::ConnectedSockets("127.0.0.1");
  const int small = 32 << 10;
  setsockopt(tcp.a.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  setsockopt(tcp.b.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  const FernetKey c2s = FernetKey::Generate().value();
  const FernetKey s2c = FernetKey::Generate().value();
  BridgeOptions uncompressed;
  uncompressed.compression = false;
  // Declared before the loops, which may still wait on it as they stop.
  Flag server_may_read;
  auto client_loops = transport::EventLoopGroup::Create(1).value();
  auto server_loops = transport::EventLoopGroup::Create(1).value();
  std::shared_ptr<transport::EventLoop> server_loop = server_loops->Assign();
  // The server reads nothing until the test lets it.
  server_loop->Post([&] { server_may_read.WaitForNotificationWithTimeout(absl::Seconds(20)); });
  auto client = Bridge::Adopt(std::move(tcp.a), client_loops->Assign(),
                              Bridge::Role::kClient, c2s, s2c, uncompressed);
  auto server = Bridge::Adopt(std::move(tcp.b), server_loop,
                              Bridge::Role::kServer, s2c, c2s, uncompressed);
  std::string big(2 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 2654435761u >> 13);
  ASSERT_TRUE(client->SendBuffer(MakeBytes(big)).ok());  // Fills the socket.

  std::atomic<std::thread::id> taker{};
  Flag loop_saw_writable;
  ScopedSyncPoint busy("Bridge::ContinueWriting:role_busy", [&](void* arg) {
    if (arg == client.get()) loop_saw_writable.Notify();
  });
  ScopedSyncPoint hold("Bridge::WriteAsWriter:round_written", [&](void* arg) {
    if (arg != client.get() || std::this_thread::get_id() != taker.load()) return;
    taker = std::thread::id();
    // The sender found the socket full. Now the peer reads, and the loop's
    // event arrives while the sender still holds the role.
    server_may_read.Notify();
    EXPECT_TRUE(loop_saw_writable.WaitForNotificationWithTimeout(absl::Seconds(10)));
  });
  std::thread sender([&] {
    taker = std::this_thread::get_id();
    EXPECT_TRUE(client->SendBuffer(MakeStr("after")).ok());
  });
  sender.join();
  absl::StatusOr<Value> first = server->RecvBuffer(Within(absl::Seconds(5)));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->bytes_value().size(), big.size());
  absl::StatusOr<Value> next = server->RecvBuffer(Within(absl::Seconds(5)));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->str_value(), "after");
  server_may_read.Notify();
}

}  // namespace
}  // namespace netstructer
