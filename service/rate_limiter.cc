#include "netstructer/service/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/base/macros.h"
#include "absl/strings/str_cat.h"

namespace netstructer {
namespace service {

absl::Status RateLimiterOptions::Validate() const {
  if (!std::isfinite(rate_per_second) || rate_per_second < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the new connection rate per IP must be a finite number "
                     ">= 0 (0 = no limit), not ",
                     rate_per_second));
  }
  if (rate_per_second > 0 && burst < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the new connection burst per IP must be >= 1, not ", burst));
  }
  if (max_tracked_ips < 1) {
    return absl::InvalidArgumentError(
        "the rate limiter must track at least 1 IP (max_tracked_ips)");
  }
  return absl::OkStatus();
}

ConnectionRateLimiter::ConnectionRateLimiter(const RateLimiterOptions& options)
    : options_(options),
      unlimited_(!(options.rate_per_second > 0)),
      interval_(unlimited_ ? absl::ZeroDuration()
                           : absl::Seconds(1) / options.rate_per_second),
      tolerance_(unlimited_ ? absl::ZeroDuration()
                            : interval_ *
                                  (options.burst > 1 ? options.burst - 1 : 0)) {
  ABSL_ASSERT(options.Validate().ok());
}

void ConnectionRateLimiter::DropFullBuckets(absl::Time now, int max_drops) {
  for (int i = 0; i < max_drops && !lru_.empty(); ++i) {
    const Bucket& coldest = lru_.back();
    // Still refilling: stop. Warmer buckets almost always are too, and a
    // bounded look keeps every call O(1).
    if (coldest.tat > now) return;
    index_.erase(coldest.ip);
    lru_.pop_back();
  }
}

bool ConnectionRateLimiter::TryAcquire(const IpAddress& ip, absl::Time now) {
  if (unlimited_) return true;
  DropFullBuckets(now, 2);
  auto found = index_.find(ip);
  if (found == index_.end()) {
    // A new IP has a full bucket: always allowed (burst >= 1).
    if (index_.size() >= options_.max_tracked_ips) {
      index_.erase(lru_.back().ip);
      lru_.pop_back();
    }
    lru_.push_front(Bucket{ip, now + interval_});
    index_.emplace(ip, lru_.begin());
    return true;
  }
  lru_.splice(lru_.begin(), lru_, found->second);
  Bucket& bucket = *found->second;
  absl::Time tat = std::max(bucket.tat, now);
  // With time moving forward, tat - now <= tolerance + interval after any
  // call. More means the clock went back: count the bucket as just emptied
  // (no tokens added; full again one refill later).
  if (tat - now > tolerance_ + interval_) tat = now + tolerance_ + interval_;
  bucket.tat = tat;
  if (tat - now > tolerance_) return false;
  bucket.tat = tat + interval_;
  return true;
}

}  // namespace service
}  // namespace netstructer
