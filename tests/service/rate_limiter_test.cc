#include "netstructer/service/rate_limiter.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "netstructer/service/ip_address.h"

namespace netstructer {
namespace service {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

IpAddress Ip(const std::string& text) { return IpAddress::Parse(text).value(); }

IpAddress NthIPv4(uint32_t n) {
  return IpAddress::FromIPv4Bytes(
      {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
       static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
}

RateLimiterOptions Options(double rate, int burst, size_t max_tracked = 65536) {
  RateLimiterOptions options;
  options.rate_per_second = rate;
  options.burst = burst;
  options.max_tracked_ips = max_tracked;
  return options;
}

int AcquireAll(ConnectionRateLimiter& limiter, const IpAddress& ip,
               absl::Time now, int attempts) {
  int allowed = 0;
  for (int i = 0; i < attempts; ++i) allowed += limiter.TryAcquire(ip, now);
  return allowed;
}

TEST(ConnectionRateLimiter, DefaultsAreValid) {
  RateLimiterOptions options;
  EXPECT_TRUE(options.Validate().ok());
  EXPECT_EQ(options.rate_per_second, 20);
  EXPECT_EQ(options.burst, 40);
  EXPECT_EQ(options.max_tracked_ips, 65536u);
}

TEST(ConnectionRateLimiter, InvalidOptionsAreInvalidArgument) {
  EXPECT_EQ(Options(-1, 40).Validate().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Options(std::nan(""), 40).Validate().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Options(std::numeric_limits<double>::infinity(), 40).Validate().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Options(20, 0).Validate().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Options(20, 40, 0).Validate().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Options(0, 0).Validate().ok());  // No limit: burst unused.
}

TEST(ConnectionRateLimiter, BurstThenRefillAtTheRate) {
  ConnectionRateLimiter limiter(Options(20, 40));
  const IpAddress ip = Ip("192.0.2.1");
  EXPECT_EQ(AcquireAll(limiter, ip, kT0, 100), 40);
  // One token every 50 ms.
  EXPECT_FALSE(limiter.TryAcquire(ip, kT0 + absl::Milliseconds(49)));
  EXPECT_TRUE(limiter.TryAcquire(ip, kT0 + absl::Milliseconds(50)));
  EXPECT_FALSE(limiter.TryAcquire(ip, kT0 + absl::Milliseconds(50)));
  EXPECT_EQ(AcquireAll(limiter, ip, kT0 + absl::Milliseconds(250), 100), 4);
  // Quiet for burst / rate = 2 s: full again, never more than the burst.
  EXPECT_EQ(AcquireAll(limiter, ip, kT0 + absl::Seconds(60), 100), 40);
}

TEST(ConnectionRateLimiter, SustainedRateIsTheLimit) {
  ConnectionRateLimiter limiter(Options(20, 40));
  const IpAddress ip = Ip("192.0.2.1");
  int allowed = 0;
  // One attempt per millisecond for 10 s: the burst plus 20 per second.
  for (int ms = 0; ms < 10000; ++ms) {
    allowed += limiter.TryAcquire(ip, kT0 + absl::Milliseconds(ms));
  }
  EXPECT_EQ(allowed, 40 + 10 * 20 - 1);  // The 200th refill lands at 10 s.
}

TEST(ConnectionRateLimiter, FractionalRate) {
  ConnectionRateLimiter limiter(Options(0.5, 1));
  const IpAddress ip = Ip("192.0.2.1");
  EXPECT_TRUE(limiter.TryAcquire(ip, kT0));
  EXPECT_FALSE(limiter.TryAcquire(ip, kT0 + absl::Milliseconds(1999)));
  EXPECT_TRUE(limiter.TryAcquire(ip, kT0 + absl::Seconds(2)));
}

TEST(ConnectionRateLimiter, RefusalsTakeNoToken) {
  ConnectionRateLimiter limiter(Options(20, 1));
  const IpAddress ip = Ip("192.0.2.1");
  EXPECT_TRUE(limiter.TryAcquire(ip, kT0));
  EXPECT_EQ(AcquireAll(limiter, ip, kT0 + absl::Milliseconds(10), 1000), 0);
  EXPECT_TRUE(limiter.TryAcquire(ip, kT0 + absl::Milliseconds(50)));
}

TEST(ConnectionRateLimiter, IPsAreIndependent) {
  ConnectionRateLimiter limiter(Options(20, 2));
  EXPECT_EQ(AcquireAll(limiter, Ip("192.0.2.1"), kT0, 10), 2);
  EXPECT_EQ(AcquireAll(limiter, Ip("192.0.2.2"), kT0, 10), 2);
  EXPECT_EQ(AcquireAll(limiter, Ip("2001:db8::1"), kT0, 10), 2);
  // A dual-stack peer is its IPv4 address.
  EXPECT_EQ(AcquireAll(limiter, Ip("::ffff:192.0.2.1"), kT0, 10), 0);
  EXPECT_EQ(limiter.tracked_ips(), 3u);
}

TEST(ConnectionRateLimiter, ZeroRateIsNoLimitAndTracksNothing) {
  ConnectionRateLimiter limiter(Options(0, 0));
  EXPECT_EQ(AcquireAll(limiter, Ip("192.0.2.1"), kT0, 10000), 10000);
  EXPECT_EQ(limiter.tracked_ips(), 0u);
}

TEST(ConnectionRateLimiter, ClockGoingBackAddsNoTokensAndBlocksAtMostARefill) {
  ConnectionRateLimiter limiter(Options(20, 40));
  const IpAddress ip = Ip("192.0.2.1");
  EXPECT_EQ(AcquireAll(limiter, ip, kT0, 40), 40);
  const absl::Time back = kT0 - absl::Hours(1);
  // Counted as just emptied: no token now, then the normal refill from the
  // new time (not an hour of refusals).
  EXPECT_FALSE(limiter.TryAcquire(ip, back));
  EXPECT_FALSE(limiter.TryAcquire(ip, back + absl::Milliseconds(49)));
  // Full again one refill (burst / rate = 2 s) after the jump.
  EXPECT_EQ(AcquireAll(limiter, ip, back + absl::Seconds(2), 100), 40);
}

TEST(ConnectionRateLimiter, FullBucketsAreDropped) {
  ConnectionRateLimiter limiter(Options(20, 40));
  for (uint32_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(limiter.TryAcquire(NthIPv4(i), kT0));
  }
  EXPECT_EQ(limiter.tracked_ips(), 1000u);
  // 10 s later every old bucket is full again; each call drops up to two.
  const absl::Time later = kT0 + absl::Seconds(10);
  for (uint32_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE(limiter.TryAcquire(NthIPv4(1000000 + i), later));
  }
  EXPECT_EQ(limiter.tracked_ips(), 1000u);  // Only the new ones.
  // A dropped IP starts over with a full bucket.
  EXPECT_EQ(AcquireAll(limiter, NthIPv4(0), later, 100), 40);
}

TEST(ConnectionRateLimiter, TableStaysBoundedUnder200kDistinctIPs) {
  ConnectionRateLimiter limiter(Options(20, 40));
  for (uint32_t i = 0; i < 200000; ++i) {
    // All at one instant: nothing refills, so nothing is dropped as full;
    // only eviction bounds the table.
    ASSERT_TRUE(limiter.TryAcquire(NthIPv4(i), kT0));
    ASSERT_LE(limiter.tracked_ips(), 65536u);
  }
  EXPECT_EQ(limiter.tracked_ips(), 65536u);
}

TEST(ConnectionRateLimiter, FullTableEvictsTheLeastRecentlyUsed) {
  ConnectionRateLimiter limiter(Options(1, 1, /*max_tracked=*/2));
  const IpAddress a = Ip("192.0.2.1");
  const IpAddress b = Ip("192.0.2.2");
  const IpAddress c = Ip("192.0.2.3");
  EXPECT_TRUE(limiter.TryAcquire(a, kT0));
  EXPECT_TRUE(limiter.TryAcquire(b, kT0));
  EXPECT_FALSE(limiter.TryAcquire(a, kT0));  // Refused, but used: a is warm.
  EXPECT_TRUE(limiter.TryAcquire(c, kT0));   // Evicts b.
  EXPECT_EQ(limiter.tracked_ips(), 2u);
  EXPECT_FALSE(limiter.TryAcquire(a, kT0));  // a is still tracked.
  EXPECT_TRUE(limiter.TryAcquire(b, kT0));   // b starts over (evicts c).
  EXPECT_FALSE(limiter.TryAcquire(a, kT0));
}

}  // namespace
}  // namespace service
}  // namespace netstructer
