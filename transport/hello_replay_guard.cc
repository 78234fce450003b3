#include "netstructer/transport/hello_replay_guard.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "netstructer/transport/handshake_format.h"

namespace netstructer::transport {

HelloReplayGuard::HelloReplayGuard(std::function<int64_t()> now,
                                   size_t max_nonces)
    : now_(now != nullptr ? std::move(now)
                          : [] { return absl::ToUnixSeconds(absl::Now()); }),
      max_nonces_(max_nonces > 0 ? max_nonces : 1) {}

void HelloReplayGuard::ForgetExpired(int64_t now) {
  // A hello older than the window is refused as stale: its nonce need not
  // be remembered any more.
  while (!by_time_.empty() &&
         by_time_.begin()->first < now - kHelloFreshnessSeconds) {
    nonces_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
}

absl::Status HelloReplayGuard::Accept(uint64_t hello_time_unix_seconds,
                                      const Bytes32& nonce) {
  const int64_t now = now_();
  // Times beyond int64 are far in the future: refused below like any other.
  const int64_t time = hello_time_unix_seconds > uint64_t{INT64_MAX}
                           ? INT64_MAX
                           : static_cast<int64_t>(hello_time_unix_seconds);
  if (time < now - kHelloFreshnessSeconds || time > now + kHelloFreshnessSeconds) {
    const bool behind = time < now;
    const uint64_t off = behind ? static_cast<uint64_t>(now) - static_cast<uint64_t>(time)
                                : static_cast<uint64_t>(time) - static_cast<uint64_t>(now);
    return absl::UnauthenticatedError(absl::StrCat(
        "the ClientHello is not fresh: its time is ", off, " s ",
        behind ? "behind" : "ahead of", " the server's clock (at most ",
        kHelloFreshnessSeconds, " s): a replay, or a client clock to fix"));
  }
  std::string key(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  MutexLock lock(&mu_);
  ForgetExpired(now);
  if (nonces_.contains(key)) {
    return absl::UnauthenticatedError(
        "a replayed ClientHello (its nonce was used before)");
  }
  // Full: the oldest nonce is forgotten and the floor rises to its time,
  // unless this hello is no newer than it (then it is refused and nothing
  // is forgotten for it).
  if (nonces_.size() >= max_nonces_ && time > by_time_.begin()->first) {
    auto oldest = by_time_.begin();
    floor_ = std::max(floor_, oldest->first);
    nonces_.erase(oldest->second);
    by_time_.erase(oldest);
  }
  if (time <= floor_ || nonces_.size() >= max_nonces_) {
    return absl::UnauthenticatedError(
        "the ClientHello is not fresh enough for a server this busy (its "
        "replay memory is full): check the client's clock, then retry");
  }
  nonces_.insert(key);
  by_time_.emplace(time, std::move(key));
  return absl::OkStatus();
}

size_t HelloReplayGuard::remembered() const {
  MutexLock lock(&mu_);
  return nonces_.size();
}

}  // namespace netstructer::transport
