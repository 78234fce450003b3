// A clock for event loops under test (transport/clock.h): real time plus
// the jumps the test made. Until the first jump it is real time, so a loop
// on it behaves as any; Jump(d) moves it d forward at once and wakes the
// loops on it, whose due timers then run. A keepalive of an hour is then
// checked a second before and a second after its edge in a few
// milliseconds of real time: what real time adds meanwhile is far below
// those margins.
#ifndef NETSTRUCTER_TESTS_TESTING_JUMPING_CLOCK_H_
#define NETSTRUCTER_TESTS_TESTING_JUMPING_CLOCK_H_

#include <cstdint>
#include <functional>
#include <map>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "netstructer/transport/clock.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::testing {

// Thread-safe. Must outlive the loops made with it.
class JumpingClock : public transport::Clock {
 public:
  absl::Time Now() const override;
  uint64_t Subscribe(std::function<void()> moved) override;
  void Unsubscribe(uint64_t id) override;

  // Moves the clock `d` (> 0) forward and wakes every loop on it.
  void Jump(absl::Duration d);
  // The jumps so far.
  absl::Duration jumped() const;

 private:
  mutable Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  // Held while a subscriber runs, so Unsubscribe waits for it.
  Mutex subscribers_mu_;
  std::map<uint64_t, std::function<void()>> subscribers_
      ABSL_GUARDED_BY(subscribers_mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(subscribers_mu_) = 1;
};

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_JUMPING_CLOCK_H_
