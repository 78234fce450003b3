#include "netstructer/transport/clock.h"

namespace netstructer::transport {

namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  uint64_t Subscribe(std::function<void()>) override { return 0; }
  void Unsubscribe(uint64_t) override {}
};

}  // namespace

Clock* Clock::Real() {
  static RealClock* const real = new RealClock();  // Never destroyed.
  return real;
}

}  // namespace netstructer::transport
