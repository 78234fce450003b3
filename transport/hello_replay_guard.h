// Freshness and replay protection of ClientHellos (docs/PROTOCOL.md 7.7):
// a server accepts a ClientHello only if its time is within
// kHelloFreshnessSeconds of the server's clock and its nonce was not
// accepted before. A replayed hello is then refused after one HMAC (its
// binder), before any Diffie-Hellman: a flood of copies of a sniffed hello
// costs the server almost nothing.
//
// Memory is bounded: nonces are kept only while their hello could still be
// fresh, and at most `max_nonces` at once. When full, the oldest (by hello
// time) is forgotten and hellos at or before its time are refused from then
// on (a moving floor), so forgetting never lets a replay through; it only
// narrows the window for slow client clocks while the server is that busy.
//
// Thread-safe (one server's handshakes may run on several threads).
#ifndef NETSTRUCTER_TRANSPORT_HELLO_REPLAY_GUARD_H_
#define NETSTRUCTER_TRANSPORT_HELLO_REPLAY_GUARD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "netstructer/transport/handshake_crypto.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::transport {

class HelloReplayGuard {
 public:
  // `now` is the server's clock in Unix seconds (tests inject one).
  // 100,000 nonces: about 10 MB, 1,600 handshakes a second sustained over
  // the two-minute window before the floor moves.
  explicit HelloReplayGuard(std::function<int64_t()> now = nullptr,
                            size_t max_nonces = 100000);

  // OK, and the nonce is remembered, if a ClientHello stamped
  // `hello_time_unix_seconds` with `nonce` is fresh and new. Otherwise
  // UNAUTHENTICATED saying why (clock difference, replay). Call only for a
  // hello whose binder verified: only key holders can fill the memory.
  absl::Status Accept(uint64_t hello_time_unix_seconds, const Bytes32& nonce);

  size_t remembered() const;

 private:
  void ForgetExpired(int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<int64_t()> now_;
  const size_t max_nonces_;
  mutable Mutex mu_;
  absl::flat_hash_set<std::string> nonces_ ABSL_GUARDED_BY(mu_);
  // The same nonces by hello time, to forget them in time order.
  std::multimap<int64_t, std::string> by_time_ ABSL_GUARDED_BY(mu_);
  // Hellos at or before this time are refused: a nonce of theirs may have
  // been forgotten. Starts below any real time.
  int64_t floor_ ABSL_GUARDED_BY(mu_) = INT64_MIN;
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_HELLO_REPLAY_GUARD_H_
