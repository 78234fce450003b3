// ConnectionRateLimiter: a token bucket of new connections per peer IP, in a
// table of bounded size.
#ifndef NETSTRUCTER_SERVICE_RATE_LIMITER_H_
#define NETSTRUCTER_SERVICE_RATE_LIMITER_H_

#include <cstddef>
#include <list>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "netstructer/service/ip_address.h"

namespace netstructer {
namespace service {

struct RateLimiterOptions {
  // Sustained new connections per second per IP; 0 = no rate limit (nothing
  // is tracked then). Finite and >= 0.
  double rate_per_second = 20;
  // Connections an IP may open at once after being quiet (the bucket size);
  // >= 1 when rate_per_second > 0.
  int burst = 40;
  // The most IPs tracked at once; >= 1. At about 100 bytes per IP the
  // default bounds the table to about 7 MB. See "When the table is full".
  size_t max_tracked_ips = 65536;

  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

// Token bucket per IP: an IP starts with `burst` tokens, each new
// connection takes one, and tokens come back at `rate_per_second` up to
// `burst`. Implemented as GCRA (one "theoretical arrival time" per IP, exact
// integer time arithmetic, no floating-point drift).
//
// Time is injected: every call passes `now`, and the limiter never reads a
// clock or sleeps. Time going backwards never adds tokens, and never blocks
// an IP for longer than a full refill (burst / rate_per_second).
//
// Memory is bounded. A bucket that has refilled completely is the same as no
// bucket, so it is dropped: each call drops up to two such buckets from the
// least recently used end, which keeps the table to the IPs seen in the last
// burst / rate_per_second seconds (2 s by default). When the table is full
// anyway (more than max_tracked_ips IPs active within that window), a new IP
// evicts the least recently used one; that IP gets a fresh, full bucket on
// its next attempt. So an attacker who cycles through more IPs than the
// table holds weakens the per-IP rate limit for the coldest IPs, but can
// never grow memory; the session caps of AcceptPolicy still bound what is
// admitted. TODO(security): key IPv6 peers by /64, since one host usually
// owns a whole /64 and can rotate addresses within it.
//
// Thread-compatible: AcceptPolicy calls it under its mutex.
class ConnectionRateLimiter {
 public:
  // REQUIRES: options.Validate().ok() (AcceptPolicy checks it).
  explicit ConnectionRateLimiter(const RateLimiterOptions& options);
  ConnectionRateLimiter(const ConnectionRateLimiter&) = delete;
  ConnectionRateLimiter& operator=(const ConnectionRateLimiter&) = delete;

  // True if `ip` may open a connection at `now`, and takes its token; false
  // if its bucket is empty (a refusal takes nothing, but keeps the IP
  // tracked as recently used).
  bool TryAcquire(const IpAddress& ip, absl::Time now);

  // IPs with a bucket right now (<= max_tracked_ips).
  size_t tracked_ips() const { return index_.size(); }
  const RateLimiterOptions& options() const { return options_; }

 private:
  struct Bucket {
    IpAddress ip;
    // GCRA: the bucket is full at and after `tat`; each token taken moves it
    // one interval later; a connection is allowed while tat - now <=
    // tolerance.
    absl::Time tat;
  };
  using Lru = std::list<Bucket>;  // Most recently used first.

  // Drops up to `max_drops` full buckets from the least recently used end.
  void DropFullBuckets(absl::Time now, int max_drops);

  const RateLimiterOptions options_;
  const bool unlimited_;
  // 1 / rate_per_second.
  const absl::Duration interval_;
  // (burst - 1) * interval_: how far ahead of `now` tat may be and still
  // allow one more connection.
  const absl::Duration tolerance_;
  Lru lru_;
  absl::flat_hash_map<IpAddress, Lru::iterator> index_;
};

}  // namespace service
}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_RATE_LIMITER_H_
