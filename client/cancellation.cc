#include <utility>
#include <vector>

#include "netstructer/client/call_options.h"

namespace netstructer {

void Cancellation::Cancel() {
  absl::flat_hash_map<uint64_t, std::function<void()>> callbacks;
  {
    MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    callbacks.swap(callbacks_);
  }
  // Outside the lock: a callback may end a call whose destructor Forgets.
  for (auto& [id, cancel] : callbacks) cancel();
}

bool Cancellation::cancelled() const {
  MutexLock lock(&mu_);
  return cancelled_;
}

uint64_t Cancellation::OnCancel(std::function<void()> cancel) {
  {
    MutexLock lock(&mu_);
    if (!cancelled_) {
      const uint64_t id = next_id_++;
      callbacks_.emplace(id, std::move(cancel));
      return id;
    }
  }
  cancel();
  return 0;
}

void Cancellation::Forget(uint64_t id) {
  std::function<void()> dropped;  // Destroyed after the lock.
  MutexLock lock(&mu_);
  auto it = callbacks_.find(id);
  if (it == callbacks_.end()) return;
  dropped = std::move(it->second);
  callbacks_.erase(it);
}

}  // namespace netstructer
