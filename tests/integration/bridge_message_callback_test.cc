// Bridge::SetMessageCallback on a real Server: sessions served from their
// loops without a thread each (an echo of every value), in order, a message
// over the limit as its error, the end once, and RecvBuffer refused.
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netstructer/proto/python_literal.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/value.h"
#include "netstructer/proto/value_codec.h"
#include "netstructer/service/server.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/tests/testing/thread_count.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/sync_point.h"
#include "netstructer/transport/work_pool.h"

namespace netstructer {
namespace {

using transport::FernetKey;

RecvOptions Within(absl::Duration d) {
  RecvOptions o;
  o.timeout = d;
  return o;
}

// What a session's callback saw.
struct Seen {
  Mutex mu;
  std::vector<std::string> values ABSL_GUARDED_BY(mu);  // Python reprs.
  std::vector<absl::Status> errors ABSL_GUARDED_BY(mu);  // Per message.
  std::vector<absl::Status> ends ABSL_GUARDED_BY(mu);
  int calls_after_end ABSL_GUARDED_BY(mu) = 0;
};

// Echoes every Value back on `session` and records what it saw.
void Echo(const std::shared_ptr<Bridge>& session, std::shared_ptr<Seen> seen) {
  Bridge* raw = session.get();  // The callback lives in the Bridge.
  session->SetMessageCallback(
      [raw, seen](absl::StatusOr<ReceivedMessage> message) {
        MutexLock lock(&seen->mu);
        if (!seen->ends.empty()) ++seen->calls_after_end;
        if (!message.ok()) {
          (IsConnectionEnd(message.status()) ? seen->ends : seen->errors)
              .push_back(message.status());
          return;
        }
        absl::StatusOr<std::string> body = message->ReadAll();
        ASSERT_TRUE(body.ok()) << body.status();
        absl::StatusOr<Value> value = DecodeValue(*body, ValueLimits());
        ASSERT_TRUE(value.ok()) << value.status();
        seen->values.push_back(Repr(*value));
        EXPECT_TRUE(raw->SendBuffer(*value).ok());
      });
}

class MessageCallbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = FernetKey::Generate().value();
    Start(/*io_loops=*/2, /*max_message_bytes=*/4096);
  }

  // (Re)starts the server, per-IP limits off.
  void Start(int io_loops, uint64_t max_message_bytes) {
    ServerOptions options;
    options.keys = {key_};
    options.io_loops = io_loops;
    options.bridge.max_message_bytes = max_message_bytes;
    options.policy.max_sessions_per_ip = 0;
    options.policy.new_connections_per_ip_per_second = 0;
    server_ = std::make_unique<Server>("127.0.0.1:0", options);
    ASSERT_TRUE(server_->Init().ok());
  }

  std::shared_ptr<Bridge> Link() {
    LinkOptions options;
    options.key = key_;
    absl::StatusOr<std::shared_ptr<Bridge>> bridge =
        Bridge::Link(server_->address(), options);
    EXPECT_TRUE(bridge.ok()) << bridge.status();
    return bridge.ok() ? *bridge : nullptr;
  }

  // Links `n` clients; the server echoes on each with a callback.
  std::vector<std::shared_ptr<Bridge>> LinkEchoed(
      int n, std::vector<std::shared_ptr<Seen>>* seen) {
    std::vector<std::shared_ptr<Bridge>> clients;
    EXPECT_TRUE(server_
                    ->ListenOn([&](Server& server) {
                      for (int i = 0; i < n; ++i) {
                        clients.push_back(Link());
                        absl::StatusOr<std::shared_ptr<Bridge>> session =
                            server.Accept(absl::Seconds(10));
                        ASSERT_TRUE(session.ok()) << session.status();
                        seen->push_back(std::make_shared<Seen>());
                        Echo(*session, seen->back());
                      }
                    })
                    .ok());
    return clients;
  }

  // A client whose messages nobody reads: it queues at most 64 KiB of them,
  // then gives the server no more credit.
  std::shared_ptr<Bridge> LinkNeverReading() {
    LinkOptions options;
    options.key = key_;
    options.bridge.max_inbox_bytes = 64 << 10;
    absl::StatusOr<std::shared_ptr<Bridge>> bridge =
        Bridge::Link(server_->address(), options);
    EXPECT_TRUE(bridge.ok()) << bridge.status();
    return bridge.ok() ? *bridge : nullptr;
  }

  FernetKey key_ = FernetKey::Generate().value();
  std::unique_ptr<Server> server_;
};

TEST_F(MessageCallbackTest, ManySessionsAreServedInOrderWithoutAThreadEach) {
  const int threads_before = test::ThreadCount();
  std::vector<std::shared_ptr<Seen>> seen;
  std::vector<std::shared_ptr<Bridge>> clients = LinkEchoed(40, &seen);
  ASSERT_EQ(clients.size(), 40u);
  const std::vector<std::string> literals = {
      "0", "False", "''", "b''", "None", "[]", "{1, 2, 6, 4}",
      "['hi im haytam', 128, {b'gg': 'gg'}, (False, True)]"};
  for (const auto& client : clients) {
    for (const std::string& literal : literals) {
      ASSERT_TRUE(client->SendBuffer(ParseLiteral(literal).value()).ok());
    }
  }
  for (const auto& client : clients) {
    for (const std::string& literal : literals) {
      absl::StatusOr<Value> echo = client->RecvBuffer(Within(absl::Seconds(10)));
      ASSERT_TRUE(echo.ok()) << echo.status();
      EXPECT_EQ(Repr(*echo), Repr(ParseLiteral(literal).value()));
    }
  }
  for (const auto& s : seen) {
    MutexLock lock(&s->mu);
    ASSERT_EQ(s->values.size(), literals.size());
    for (size_t i = 0; i < literals.size(); ++i) {
      EXPECT_EQ(s->values[i], Repr(ParseLiteral(literals[i]).value()));
    }
  }
  // 40 sessions and 40 clients: the server's loops and the clients' shared
  // ones, not a thread per session (the sealing helpers may have started).
  EXPECT_LE(test::ThreadCount() - threads_before,
            2 + transport::EventLoopGroup::DefaultLoopCount() +
                transport::kMaxWorkPoolHelpers);
}

TEST_F(MessageCallbackTest, AMessageOverTheLimitIsItsErrorAndTheEndComesOnce) {
  std::vector<std::shared_ptr<Seen>> seen;
  std::vector<std::shared_ptr<Bridge>> clients = LinkEchoed(1, &seen);
  ASSERT_EQ(clients.size(), 1u);
  std::shared_ptr<Bridge> client = clients[0];
  Value big;
  big.set_bytes_value(std::string(8000, 'x'));  // Over the server's 4096.
  ASSERT_TRUE(client->SendBuffer(big).ok());
  ASSERT_TRUE(client->SendBuffer(ParseLiteral("'after'").value()).ok());
  absl::StatusOr<Value> echo = client->RecvBuffer(Within(absl::Seconds(10)));
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(Repr(*echo), "'after'");
  EXPECT_TRUE(client->Close(absl::Seconds(5)).ok());
  Seen& s = *seen[0];
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        MutexLock lock(&s.mu);
        return !s.ends.empty();
      },
      absl::Seconds(10)))
      << [&] {
           MutexLock lock(&s.mu);
           std::string what = absl::StrCat(s.values.size(), " values; errors:");
           for (const absl::Status& e : s.errors) absl::StrAppend(&what, " ", e.ToString());
           return what;
         }();
  server_->Shutdown(absl::Seconds(1));  // Nothing more may come after the end.
  MutexLock lock(&s.mu);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].code(), absl::StatusCode::kResourceExhausted) << s.errors[0];
  ASSERT_EQ(s.ends.size(), 1u);
  EXPECT_EQ(s.ends[0].code(), absl::StatusCode::kOutOfRange) << s.ends[0];
  EXPECT_EQ(s.calls_after_end, 0);
  EXPECT_EQ(s.values.size(), 1u);
}

// A peer that sends and never reads: the server's callback echoes each
// message until the peer's credit (16 MiB) and the send queue are spent.
// SendBuffer there used to wait for credit only the session's loop could
// read, so that loop, and every session on it, stopped for good. Now the
// send is refused whole, and another session on the same loop is served.
TEST_F(MessageCallbackTest, APeerThatNeverReadsCannotStallTheLoopThroughACallbacksSend) {
  Start(/*io_loops=*/1, BridgeOptions().max_message_bytes);  // One loop.

  struct Sends {
    Mutex mu;
    int ok ABSL_GUARDED_BY(mu) = 0;
    std::vector<absl::Status> refused ABSL_GUARDED_BY(mu);
  };
  auto sends = std::make_shared<Sends>();
  std::shared_ptr<Bridge> hostile;
  std::shared_ptr<Bridge> polite;
  auto polite_seen = std::make_shared<Seen>();
  ASSERT_TRUE(server_
                  ->ListenOn([&](Server& server) {
                    hostile = LinkNeverReading();
                    absl::StatusOr<std::shared_ptr<Bridge>> session =
                        server.Accept(absl::Seconds(10));
                    ASSERT_TRUE(session.ok()) << session.status();
                    Bridge* raw = session->get();
                    (*session)->SetMessageCallback(
                        [raw, sends](absl::StatusOr<ReceivedMessage> message) {
                          if (!message.ok()) return;
                          absl::StatusOr<std::string> body = message->ReadAll();
                          if (!body.ok()) return;
                          Value echo;
                          echo.set_bytes_value(*std::move(body));
                          absl::Status s = raw->SendBuffer(echo);
                          MutexLock lock(&sends->mu);
                          if (s.ok()) {
                            ++sends->ok;
                          } else {
                            sends->refused.push_back(s);
                          }
                        });
                    polite = Link();
                    session = server.Accept(absl::Seconds(10));
                    ASSERT_TRUE(session.ok()) << session.status();
                    Echo(*session, polite_seen);
                  })
                  .ok());
  ASSERT_NE(hostile, nullptr);
  ASSERT_NE(polite, nullptr);
  // 20 MiB toward a server whose echoes the sender never reads.
  std::thread flood([hostile] {
    Value chunk;
    chunk.set_bytes_value(std::string(32 << 10, 'h'));
    for (int i = 0; i < 640; ++i) {
      if (!hostile->SendBuffer(chunk).ok()) return;
    }
  });
  const bool refused_seen = testing::PollUntil(
      [&] {
        MutexLock lock(&sends->mu);
        return !sends->refused.empty();
      },
      absl::Seconds(30));
  // The other session on the loop is still served.
  ASSERT_TRUE(polite->SendBuffer(ParseLiteral("'still here'").value()).ok());
  absl::StatusOr<Value> echo = polite->RecvBuffer(Within(absl::Seconds(10)));
  hostile->Abort(absl::CancelledError("the test is over"));
  flood.join();
  ASSERT_TRUE(echo.ok()) << echo.status() << " (the loop is stalled)";
  EXPECT_EQ(Repr(*echo), "'still here'");
  ASSERT_TRUE(refused_seen) << "the callback's sends never came back refused";
  MutexLock lock(&sends->mu);
  EXPECT_GT(sends->ok, 0);
  const absl::Status& first = sends->refused.front();
  EXPECT_EQ(first.code(), absl::StatusCode::kResourceExhausted) << first;
  EXPECT_TRUE(absl::StrContains(first.message(), "the peer is not taking messages"))
      << first;
}

// Another thread is mid-message on the same session, waiting for credit
// the peer does not give; the callback's send used to wait for that
// sender (send_mu_), so the loop stopped for good even though this send
// fitted. Now it is refused at once, and the loop's other session is
// served. The waiting sender is reached deterministically (a sync point in
// its wait).
TEST_F(MessageCallbackTest, ACallbacksSendDoesNotWaitForAnotherThreadsSender) {
  Start(/*io_loops=*/1, BridgeOptions().max_message_bytes);  // One loop.

  std::shared_ptr<Bridge> hostile;
  std::shared_ptr<Bridge> hostile_session;
  std::shared_ptr<Bridge> polite;
  auto polite_seen = std::make_shared<Seen>();
  auto callback_send = std::make_shared<std::optional<absl::Status>>();
  auto callback_mu = std::make_shared<Mutex>();
  ASSERT_TRUE(server_
                  ->ListenOn([&](Server& server) {
                    hostile = LinkNeverReading();
                    absl::StatusOr<std::shared_ptr<Bridge>> session =
                        server.Accept(absl::Seconds(10));
                    ASSERT_TRUE(session.ok()) << session.status();
                    hostile_session = *session;
                    Bridge* raw = session->get();
                    (*session)->SetMessageCallback(
                        [raw, callback_send, callback_mu](
                            absl::StatusOr<ReceivedMessage> message) {
                          if (!message.ok()) return;
                          absl::Status s =
                              raw->SendBuffer(ParseLiteral("'small'").value());
                          MutexLock lock(callback_mu.get());
                          *callback_send = s;
                        });
                    polite = Link();
                    session = server.Accept(absl::Seconds(10));
                    ASSERT_TRUE(session.ok()) << session.status();
                    Echo(*session, polite_seen);
                  })
                  .ok());
  ASSERT_NE(hostile, nullptr);
  ASSERT_NE(polite, nullptr);
  testing::Notification sender_waits;
  transport::ScopedSyncPoint point("Bridge::SendMessage:waits",
                                   [&](void* arg) {
                                     if (arg == hostile_session.get()) {
                                       sender_waits.Notify();
                                     }
                                   });
  // 20 MiB in 32 KiB messages, which the hostile peer stops granting
  // credit for once 64 KiB of them are queued unread.
  std::thread sender([hostile_session] {
    Value chunk;
    chunk.set_bytes_value(std::string(32 << 10, 'b'));
    for (int i = 0; i < 640; ++i) {
      if (!hostile_session->SendBuffer(chunk).ok()) return;
    }
  });
  const bool waited = sender_waits.WaitForNotificationWithTimeout(absl::Seconds(30));
  absl::StatusOr<Value> echo = absl::UnknownError("the sender never waited");
  if (waited) {
    EXPECT_TRUE(hostile->SendBuffer(ParseLiteral("'trigger'").value()).ok());
    EXPECT_TRUE(polite->SendBuffer(ParseLiteral("'still here'").value()).ok());
    echo = polite->RecvBuffer(Within(absl::Seconds(10)));
  }
  std::optional<absl::Status> sent;
  {
    MutexLock lock(callback_mu.get());
    sent = *callback_send;
  }
  hostile->Abort(absl::CancelledError("the test is over"));
  hostile_session->Abort(absl::CancelledError("the test is over"));
  sender.join();
  ASSERT_TRUE(waited) << "the other sender never waited for credit";
  ASSERT_TRUE(echo.ok()) << echo.status() << " (the loop is stalled)";
  EXPECT_EQ(Repr(*echo), "'still here'");
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->code(), absl::StatusCode::kResourceExhausted) << *sent;
  EXPECT_TRUE(absl::StrContains(sent->message(), "another thread is sending"))
      << *sent;
}

// Inside a message callback (on a loop's thread), RecvBuffer on another
// Bridge that would wait is refused at once; a zero timeout polls. (Before,
// it held the loop, and every session on it, for its whole timeout.)
TEST_F(MessageCallbackTest, RecvBufferThatWouldWaitOnALoopThreadIsRefused) {
  std::shared_ptr<Bridge> other;
  std::shared_ptr<Bridge> client;
  std::shared_ptr<Bridge> session;
  ASSERT_TRUE(server_
                  ->ListenOn([&](Server& server) {
                    other = Link();
                    ASSERT_TRUE(server.Accept(absl::Seconds(10)).ok());
                    client = Link();
                    absl::StatusOr<std::shared_ptr<Bridge>> accepted =
                        server.Accept(absl::Seconds(10));
                    ASSERT_TRUE(accepted.ok()) << accepted.status();
                    session = *accepted;
                  })
                  .ok());
  ASSERT_NE(other, nullptr);
  ASSERT_NE(client, nullptr);
  absl::Status waited;
  absl::Status polled;
  absl::Duration took;
  testing::Notification done;
  session->SetMessageCallback([&](absl::StatusOr<ReceivedMessage> message) {
    if (!message.ok()) return;
    const absl::Time start = absl::Now();
    waited = other->RecvBuffer(Within(absl::Seconds(5))).status();
    took = absl::Now() - start;
    polled = other->RecvBuffer(Within(absl::ZeroDuration())).status();
    done.Notify();
  });
  ASSERT_TRUE(client->SendBuffer(ParseLiteral("1").value()).ok());
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(waited.code(), absl::StatusCode::kFailedPrecondition) << waited;
  EXPECT_TRUE(absl::StrContains(waited.message(), "on an event loop's thread"))
      << waited;
  EXPECT_LT(took, absl::Seconds(1));
  EXPECT_EQ(polled.code(), absl::StatusCode::kDeadlineExceeded) << polled;
}

TEST_F(MessageCallbackTest, RecvBufferIsRefusedOnceACallbackIsSet) {
  ASSERT_TRUE(server_->ListenOn([](Server&) {}).ok());
  std::shared_ptr<Bridge> client = Link();
  ASSERT_NE(client, nullptr);
  // Queued before the callback is set: handed to it first.
  ASSERT_TRUE(client->SendBuffer(ParseLiteral("1").value()).ok());
  std::shared_ptr<Bridge> session;
  ASSERT_TRUE(testing::PollUntil(
      [&] { return (session = server_->Get("127.0.0.1")) != nullptr; },
      absl::Seconds(10)));
  auto seen = std::make_shared<Seen>();
  Echo(session, seen);
  absl::StatusOr<Value> echo = client->RecvBuffer(Within(absl::Seconds(10)));
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(Repr(*echo), "1");
  absl::StatusOr<Value> taken = session->RecvBuffer(Within(absl::Seconds(1)));
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kFailedPrecondition)
      << taken.status();
}

}  // namespace
}  // namespace netstructer
