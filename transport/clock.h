// The time an event loop's timers, and a connection's keepalive, idle and
// lifetime limits, are measured in. Real time everywhere but in tests,
// which give a loop group a clock they can move forward
// (tests/testing/jumping_clock.h: real time plus the jumps the test made),
// to check limits of hours at their edges in milliseconds, without
// sleeping.
//
// What stays real time whatever the loop's clock: waits with a deadline
// (a RecvBuffer timeout, a GOAWAY's wait for its answer), the loop timers
// for call deadlines, the read token's linger and handshake timeouts
// (EventLoop::AddRealTimeTimer), and the Fernet timestamps: they time how
// long a thread sleeps or what a caller asked for in real time, and a
// jump must not fire them early.
#ifndef NETSTRUCTER_TRANSPORT_CLOCK_H_
#define NETSTRUCTER_TRANSPORT_CLOCK_H_

#include <cstdint>
#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace netstructer::transport {

// Thread-safe. Outlives every loop made with it.
class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() const = 0;

  // `moved` runs (on the thread that moves the clock) whenever Now() jumps
  // other than with real time, so that a loop waiting for its next timer
  // looks again. Returns an id for Unsubscribe. Real time never calls it:
  // a loop's wait ends by itself when a timer is due.
  virtual uint64_t Subscribe(std::function<void()> moved) = 0;
  // After it returns, `moved` is not started again.
  virtual void Unsubscribe(uint64_t id) = 0;

  // absl::Now(); the default of every loop.
  static Clock* Real();
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_CLOCK_H_
