#include "netstructer/transport/receive_window.h"

#include <algorithm>

namespace netstructer::transport {

bool ReceiveWindow::Receive(uint64_t bytes) {
  if (bytes > available_) return false;
  available_ -= bytes;
  return true;
}

void ReceiveWindow::Stored(uint64_t bytes) {
  if (queued_bytes_ >= max_queued_bytes_) {
    deferred_ += bytes;
  } else {
    owed_ += bytes;
  }
}

bool ReceiveWindow::Dequeued(uint64_t bytes) {
  queued_bytes_ -= std::min(bytes, queued_bytes_);
  if (deferred_ == 0 || queued_bytes_ >= max_queued_bytes_) return false;
  owed_ += deferred_;
  deferred_ = 0;
  return true;
}

uint32_t ReceiveWindow::TakeCredit(bool force) {
  if (owed_ == 0) return 0;
  if (!force && owed_ < batch_bytes_) return 0;
  const auto credit =
      static_cast<uint32_t>(std::min<uint64_t>(owed_, kMaxWindowIncrement));
  owed_ -= credit;
  available_ += credit;
  return credit;
}

}  // namespace netstructer::transport
