#include "netstructer/tests/testing/jumping_clock.h"

#include <utility>

namespace netstructer::testing {

absl::Time JumpingClock::Now() const {
  MutexLock lock(&mu_);
  return absl::Now() + offset_;
}

uint64_t JumpingClock::Subscribe(std::function<void()> moved) {
  MutexLock lock(&subscribers_mu_);
  const uint64_t id = next_id_++;
  subscribers_.emplace(id, std::move(moved));
  return id;
}

void JumpingClock::Unsubscribe(uint64_t id) {
  MutexLock lock(&subscribers_mu_);
  subscribers_.erase(id);
}

void JumpingClock::Jump(absl::Duration d) {
  {
    MutexLock lock(&mu_);
    offset_ += d;
  }
  // A loop's wake-up only writes to its eventfd: nothing runs here that
  // could call back into the clock.
  MutexLock lock(&subscribers_mu_);
  for (const auto& [id, moved] : subscribers_) moved();
}

absl::Duration JumpingClock::jumped() const {
  MutexLock lock(&mu_);
  return offset_;
}

}  // namespace netstructer::testing
