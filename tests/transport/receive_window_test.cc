#include "netstructer/transport/receive_window.h"

#include "gtest/gtest.h"

namespace netstructer::transport {
namespace {

TEST(ReceiveWindow, DataBeyondTheWindowIsRefused) {
  ReceiveWindow w(1000, 4000);
  EXPECT_TRUE(w.Receive(600));
  EXPECT_TRUE(w.Receive(400));
  EXPECT_FALSE(w.Receive(1));  // The peer had no credit left.
  EXPECT_EQ(w.available(), 0u);
}

TEST(ReceiveWindow, CreditGoesBackInQuarterWindowBatches) {
  ReceiveWindow w(1000, 4000);
  ASSERT_TRUE(w.Receive(200));
  w.Stored(200);
  EXPECT_EQ(w.TakeCredit(false), 0u);  // Below a quarter: wait for more.
  ASSERT_TRUE(w.Receive(50));
  w.Stored(50);
  EXPECT_EQ(w.TakeCredit(false), 250u);  // A quarter window owed.
  EXPECT_EQ(w.available(), 1000u);       // The peer may send it again.
  EXPECT_EQ(w.TakeCredit(true), 0u);     // Nothing owed any more.
}

TEST(ReceiveWindow, ForcedCreditSendsAnythingOwed) {
  ReceiveWindow w(1000, 4000);
  ASSERT_TRUE(w.Receive(10));
  w.Stored(10);
  EXPECT_EQ(w.TakeCredit(true), 10u);
}

TEST(ReceiveWindow, CreditIsDeferredWhileTheQueueIsFullAndReleasedWhenItDrains) {
  ReceiveWindow w(1000, 500);
  ASSERT_TRUE(w.Receive(500));
  w.Stored(500);  // Owed: the queue was empty when it was stored.
  w.Queued(500);  // A whole message now fills the queue.
  EXPECT_EQ(w.TakeCredit(false), 500u);
  ASSERT_TRUE(w.Receive(300));
  w.Stored(300);  // The queue is full: deferred, not owed.
  EXPECT_EQ(w.TakeCredit(true), 0u);
  EXPECT_TRUE(w.Dequeued(100));  // 400 queued, below the limit: released.
  EXPECT_EQ(w.TakeCredit(true), 300u);
}

TEST(ReceiveWindow, DequeueBelowTheLimitReportsTheRelease) {
  ReceiveWindow w(1000, 500);
  w.Queued(600);
  ASSERT_TRUE(w.Receive(200));
  w.Stored(200);  // Deferred.
  EXPECT_FALSE(w.Dequeued(50));  // 550 queued: still full.
  EXPECT_EQ(w.TakeCredit(true), 0u);
  EXPECT_TRUE(w.Dequeued(100));  // 450: released.
  EXPECT_EQ(w.TakeCredit(true), 200u);
  EXPECT_FALSE(w.Dequeued(450));  // Nothing deferred any more.
  EXPECT_EQ(w.queued_bytes(), 0u);
}

TEST(ReceiveWindow, AnIncrementNeverExceedsTheProtocolMaximum) {
  ReceiveWindow w(uint64_t{1} << 33, uint64_t{1} << 40);
  ASSERT_TRUE(w.Receive(uint64_t{1} << 32));
  w.Stored(uint64_t{1} << 32);
  EXPECT_EQ(w.TakeCredit(true), kMaxWindowIncrement);
  EXPECT_EQ(w.TakeCredit(true), kMaxWindowIncrement);
  EXPECT_EQ(w.TakeCredit(true), 2u);
  EXPECT_EQ(w.TakeCredit(true), 0u);
}

}  // namespace
}  // namespace netstructer::transport
