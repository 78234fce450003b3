// Bridge::SetMessageCallback: messages handed to a callback on the Bridge's
// loop instead of queued for RecvBuffer (transport/bridge.h).
#include <utility>

#include "netstructer/transport/bridge.h"

namespace netstructer {

void Bridge::SetMessageCallback(
    std::function<void(absl::StatusOr<ReceivedMessage>)> on_message) {
  {
    MutexLock state(&state_mu_);
    message_callback_ = std::move(on_message);
  }
  has_message_callback_.store(true);
  ScheduleDelivery();  // What was queued before, or the end already.
}

void Bridge::ScheduleDelivery() {
  if (!has_message_callback_.load()) return;
  // The task holds the Bridge: the end is delivered even when its last
  // other owner lets go at the close (a Server drops a closed session).
  // Null only in the destructor, when no one can be told anything.
  std::shared_ptr<Bridge> self = weak_from_this().lock();
  if (self == nullptr || delivery_posted_.exchange(true)) return;
  loop_->Post([self = std::move(self)] { self->DeliverMessages(); });
}

void Bridge::DeliverMessages() {
  // Cleared first: a message queued from now on posts another delivery,
  // which finds the inbox empty at worst.
  delivery_posted_.store(false);
  std::function<void(absl::StatusOr<ReceivedMessage>)> callback;
  {
    MutexLock state(&state_mu_);
    callback = message_callback_;
  }
  if (!callback) return;
  for (;;) {
    std::optional<absl::StatusOr<ReceivedMessage>> next;
    bool end = false;
    {
      MutexLock recv_lock(&recv_mu_);
      if (end_delivered_) return;
      next = TakeNext(options_.max_message_bytes);
      if (!next.has_value()) return;
      end = !next->ok() && IsConnectionEnd(next->status());
      end_delivered_ = end;
    }
    // No lock of this Bridge is held: the callback may send on it.
    callback(*std::move(next));
    if (end) return;
  }
}

}  // namespace netstructer
