#include "netstructer/transport/sync_point.h"

#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::transport {
namespace sync_point_internal {

std::atomic<int> installed{0};

namespace {

struct Hook {
  std::function<void(void*)> run;
  int running = 0;  // Runs in progress (guarded by registry_mu).
};

// Never destroyed: points may be reached from static destructors.
Mutex* const registry_mu = new Mutex;
CondVar* const registry_cv = new CondVar;
auto* const registry =
    new absl::flat_hash_map<std::string, std::shared_ptr<Hook>>;

}  // namespace

void Reach(const char* name, void* arg) {
  std::shared_ptr<Hook> hook;
  {
    MutexLock lock(registry_mu);
    auto it = registry->find(name);
    if (it == registry->end()) return;
    hook = it->second;
    ++hook->running;
  }
  hook->run(arg);  // Outside the lock: the hook may reach other points.
  MutexLock lock(registry_mu);
  if (--hook->running == 0) registry_cv->SignalAll();
}

}  // namespace sync_point_internal

using sync_point_internal::registry;
using sync_point_internal::registry_cv;
using sync_point_internal::registry_mu;

ScopedSyncPoint::ScopedSyncPoint(std::string name,
                                 std::function<void(void*)> hook)
    : name_(std::move(name)) {
  auto entry = std::make_shared<sync_point_internal::Hook>();
  entry->run = std::move(hook);
  MutexLock lock(registry_mu);
  if (!registry->emplace(name_, std::move(entry)).second) {
    std::abort();  // Two hooks for one point: a test's own mistake.
  }
  sync_point_internal::installed.fetch_add(1);
}

ScopedSyncPoint::~ScopedSyncPoint() {
  MutexLock lock(registry_mu);
  auto it = registry->find(name_);
  std::shared_ptr<sync_point_internal::Hook> hook = it->second;
  registry->erase(it);
  sync_point_internal::installed.fetch_sub(1);
  // The hook captures the test's locals: none of its runs may outlive them.
  while (hook->running > 0) registry_cv->Wait(registry_mu);
}

}  // namespace netstructer::transport
