// The close-path races, forced. Each was fixed by reading once (b9b09ad):
// two threads' steps could interleave so that a call ended wrong or never.
// Here a sync point (transport/sync_point.h) runs, on the thread that
// reaches the place between two steps, what the other thread would do at
// that worst moment; each test fails on the code before its fix (checked
// by putting the old code back, as each test says) and passes now,
// whatever the scheduler does.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "netstructer/rpc/call_stream.h"
#include "netstructer/rpc/connection.h"
#include "netstructer/service/rpc_service.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/deadline.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/sync_point.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer::test {
namespace {

using rpc::EchoReply;
using rpc::EchoRequest;
using transport::ScopedSyncPoint;

// Counts the calls the server's dispatcher took and ended, and keeps the
// last end's status.
class CallCounter : public ServerInterceptor {
 public:
  absl::Status OnCall(ServerContext*) override {
    ++calls;
    return absl::OkStatus();
  }
  void OnFinish(ServerContext*, const absl::Status& status) override {
    {
      MutexLock lock(&mu_);
      last_ = status;
    }
    ++finished;
  }
  absl::Status last() const {
    MutexLock lock(&mu_);
    return last_;
  }
  std::atomic<int> calls{0};
  std::atomic<int> finished{0};

 private:
  mutable Mutex mu_;
  absl::Status last_ ABSL_GUARDED_BY(mu_);
};

EchoFixtureOptions Counted(const std::shared_ptr<CallCounter>& counter) {
  EchoFixtureOptions options;
  options.server.rpc.interceptors.push_back(counter);
  return options;
}

// TRAILERS carrying an error, read by another thread than the caller's
// Read: the reader finishes the call (status) and ends its input, and
// wakes the Read after each. A Read woken between the two must find the
// trailers' error, not a clean end of the stream. Old code (input ended
// first, then finished): the Read here returned "no more messages" and the
// caller took a failed call for a complete one.
TEST(CloseRaces, AReadWokenBetweenTheTrailersStepsFindsTheTrailersError) {
  testing::Watchdog watchdog("AReadWokenBetweenTheTrailersSteps",
                             absl::Seconds(30));
  EchoFixture f;
  std::atomic<int> reached{0};  // Hooks run on the server's or loop's thread.
  Mutex mu;
  CondVar hook_done;
  std::optional<absl::StatusOr<std::optional<std::string>>> woken_read
      ABSL_GUARDED_BY(mu);
  ScopedSyncPoint point(
      "RpcConnection::OnTrailers:between_steps", [&](void* arg) {
        if (reached++ > 0) return;
        // What a Read woken now returns (nothing waits: it is ready).
        auto read =
            static_cast<::netstructer::rpc::CallStream*>(arg)->Read(absl::Now());
        MutexLock lock(&mu);
        woken_read = std::move(read);
        hook_done.SignalAll();
      });
  EchoRequest request;
  request.set_count(0);
  request.set_fail_code(static_cast<int>(absl::StatusCode::kNotFound));
  request.set_text("no such range");
  auto reader = f.stub().Range(request);
  EchoReply reply;
  absl::StatusOr<bool> more = reader->Read(&reply);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kNotFound) << more.status();
  // When the loop's thread read the TRAILERS (not this one, inside Read),
  // the first step already woke this Read: the hook may still be running.
  MutexLock lock(&mu);
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (!woken_read.has_value() && !hook_done.WaitWithDeadline(&mu, give_up)) {
  }
  ASSERT_TRUE(woken_read.has_value()) << "the hook never ran";
  EXPECT_EQ(reached.load(), 1);
  EXPECT_EQ(woken_read->status().code(), absl::StatusCode::kNotFound)
      << (woken_read->ok() ? "a clean end of the stream"
                           : woken_read->status().ToString());
}

// The connection ends while its reader still dispatches a HEADERS frame it
// read before: the end finished every call it knew, so a call registered
// after it would never be finished (a handler never cancelled, a session's
// count never given back). Here the end comes exactly between the reader's
// decoding of a new call and its registration. Old code: the call was
// registered and its handler ran (calls == 1).
TEST(CloseRaces, ACallOpenedAfterTheConnectionEndedIsNeverStarted) {
  testing::Watchdog watchdog("ACallOpenedAfterTheConnectionEnded",
                             absl::Seconds(30));
  auto counter = std::make_shared<CallCounter>();
  EchoFixture f(Counted(counter));
  std::atomic<int> reached{0};  // Hooks run on the server's or loop's thread.
  ScopedSyncPoint point(
      "RpcConnection::OnNewStream:before_register", [&](void* arg) {
        if (reached++ > 0) return;
        auto* connection = static_cast<::netstructer::rpc::RpcConnection*>(arg);
        const absl::Status end =
            absl::UnavailableError("the test ends the session here");
        connection->bridge()->Abort(end);
        // As the loop's closing task would, had it run first.
        connection->OnConnectionClosed(end);
      });
  absl::StatusOr<EchoReply> reply = f.stub().Unary(EchoRequest());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable)
      << reply.status();
  EXPECT_EQ(reached.load(), 1);
  EXPECT_EQ(counter->calls.load(), 0);
  EXPECT_EQ(f.service().finished.load(), 0);
}

// A call's deadline timer fires after the dispatcher armed it and before
// it set the hook that starts the handler: the timer finished the call and
// fired a hook that was not there yet. The dispatcher checks once the hook
// is set. Old code (no check): a call whose request spans several frames
// was never started nor ended (its later frames are dropped), and its place
// in the server's counts was never given back (finished == 0).
TEST(CloseRaces, ACallFinishedBeforeItsStartHookIsSetStillEnds) {
  testing::Watchdog watchdog("ACallFinishedBeforeItsStartHook",
                             absl::Seconds(30));
  auto counter = std::make_shared<CallCounter>();
  EchoFixture f(Counted(counter));
  std::atomic<int> reached{0};  // Hooks run on the server's or loop's thread.
  ScopedSyncPoint point(
      "RpcDispatcher::OnNewCall:before_start_hook", [&](void* arg) {
        if (reached++ > 0) return;
        // What the deadline timer does (rpc_dispatcher.cc).
        static_cast<internal::ServerCall*>(arg)->Cancel(
            absl::DeadlineExceededError("the test's deadline"));
      });
  // A request over one frame: its first frame does not complete it, so
  // nothing after the timer fires the hook (a complete first frame would).
  EchoRequest request;
  request.set_payload(std::string(256 * 1024, 'x'));
  absl::StatusOr<EchoReply> reply = f.stub().Unary(request);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded)
      << reply.status();
  EXPECT_EQ(reached.load(), 1);
  EXPECT_EQ(counter->calls.load(), 1);
  EXPECT_TRUE(testing::PollUntil(
      [&] { return counter->finished.load() == 1; }, absl::Seconds(10)))
      << "the call never ended on the server";
  EXPECT_EQ(counter->last().code(), absl::StatusCode::kDeadlineExceeded)
      << counter->last();
}

// A caller learns that the connection ended before the loop's notice does
// (its call fails in Open, with the channel's id lock held): it finishes
// every call but runs none of their callbacks, so an async callback may
// start a call on the same channel. Here the loop's notice waits until the
// caller's call has returned. Old code (the first thread to learn of the
// end ran the callbacks): the callback ran inside Open and deadlocked on
// its lock (the watchdog aborts).
TEST(CloseRaces, AnAsyncCallbackStartsACallWhenACallerLearnsOfTheEndFirst) {
  testing::Watchdog watchdog("AnAsyncCallbackStartsACall", absl::Seconds(30));
  EchoFixtureOptions options;
  options.server.rpc.handler_threads = 2;  // The slow call blocks no reader.
  EchoFixture f(options);
  std::promise<void> caller_returned;
  std::shared_future<void> caller_done = caller_returned.get_future().share();
  std::atomic<int> reached{0};
  ScopedSyncPoint point(
      "RpcConnection::OnConnectionClosed:start", [&](void* arg) {
        // Only this fixture's client end: the shared client loops outlive
        // a test, so an earlier test's closing notice may still be queued
        // on one and reach this point now (seen under TSan in CI).
        if (static_cast<::netstructer::rpc::RpcConnection*>(arg) !=
                f.channel()->connection() ||
            reached++ > 0) {
          return;
        }
        // Bounded: a caller that never returns fails the test below.
        (void)caller_done.wait_for(std::chrono::seconds(20));
      });
  Mutex mu;
  absl::Status first ABSL_GUARDED_BY(mu);
  absl::Status retry ABSL_GUARDED_BY(mu);
  std::promise<void> retried;
  EchoRequest slow;
  slow.set_sleep_ms(5000);
  f.stub().UnaryAsync(slow, {}, [&](absl::StatusOr<EchoReply> r) {
    {
      MutexLock lock(&mu);
      first = r.status();
    }
    f.stub().UnaryAsync(EchoRequest(), {}, [&](absl::StatusOr<EchoReply> r2) {
      {
        MutexLock lock(&mu);
        retry = r2.status();
      }
      retried.set_value();
    });
  });
  f.channel()->bridge().Abort(absl::UnavailableError("the test aborts"));
  absl::StatusOr<EchoReply> after = f.stub().Unary(EchoRequest());
  caller_returned.set_value();
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable)
      << after.status();
  ASSERT_EQ(retried.get_future().wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  EXPECT_EQ(reached.load(), 1);
  MutexLock lock(&mu);
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
  EXPECT_EQ(retry.code(), absl::StatusCode::kUnavailable) << retry;
}

}  // namespace
}  // namespace netstructer::test
