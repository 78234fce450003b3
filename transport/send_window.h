// The sending half of one flow-controlled stream (docs/PROTOCOL.md 8.2, and
// 9.5 for calls): the credit the peer has granted and not yet seen used.
// The same accounting serves the Bridge stream (the connection's window)
// and every call stream (a stream's window); only the starting credit
// differs. Its twin for the other direction is ReceiveWindow.
//
// Thread-compatible: the owner's lock guards it (Bridge: state_mu_;
// CallStream: mu_), so that checking for credit and waiting for it (or
// asking to be told of it) is one step under that lock.
#ifndef NETSTRUCTER_TRANSPORT_SEND_WINDOW_H_
#define NETSTRUCTER_TRANSPORT_SEND_WINDOW_H_

#include <cstddef>
#include <cstdint>

#include "netstructer/transport/receive_window.h"

namespace netstructer::transport {

class SendWindow {
 public:
  explicit SendWindow(uint32_t initial_credit) : credit_(initial_credit) {}

  // True when a DATA frame of `bytes` may go now.
  bool Allows(size_t bytes) const {
    return credit_ >= static_cast<int64_t>(bytes);
  }
  // A DATA frame of `bytes` is going: the caller checked Allows under the
  // same lock.
  void Take(size_t bytes) { credit_ -= static_cast<int64_t>(bytes); }
  // A WINDOW_UPDATE's increment. False, changing nothing, for an increment
  // of 0 or one that would raise the credit above 2^31 - 1 (PROTOCOL.md
  // 8.2: the connection ends with DATA_LOSS).
  bool Grant(uint32_t increment) {
    if (increment == 0 || increment > kMaxWindowIncrement ||
        credit_ + increment > int64_t{kMaxWindowIncrement}) {
      return false;
    }
    credit_ += increment;
    return true;
  }

  int64_t credit() const { return credit_; }

 private:
  int64_t credit_;
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_SEND_WINDOW_H_
