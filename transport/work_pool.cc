#include "netstructer/transport/work_pool.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "netstructer/transport/mutex.h"

namespace netstructer::transport {
namespace {

// One RunInOrder call. Shared with the helpers that joined it; the caller
// returns only once `active` (helpers inside work) is zero and no item can
// be claimed, so `work` (a reference into the caller's frame) is never
// called after RunInOrder returns.
struct Job {
  Job(size_t n, absl::FunctionRef<void(size_t, int)> work)
      : n(n), work(work), done(n) {}
  const size_t n;
  const absl::FunctionRef<void(size_t, int)> work;
  std::atomic<size_t> next{0};      // The next unclaimed item.
  std::atomic<int> next_lane{1};    // Lanes for helpers that join.
  std::atomic<bool> stop{false};    // The consumer stopped: claim nothing.
  std::vector<std::atomic<bool>> done;
  Mutex mu;
  CondVar cv;                        // Signalled when an item is done.
  int active ABSL_GUARDED_BY(mu) = 0;  // Helpers between join and leave.
  bool waiting ABSL_GUARDED_BY(mu) = false;

  // A helper's share: claims and runs items until none is left, waking the
  // consumer after each. (The consumer claims its own inline.)
  void Work(int lane) {
    for (;;) {
      if (stop.load()) return;
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      work(i, lane);
      done[i].store(true);
      MutexLock lock(&mu);
      if (waiting) cv.Signal();
    }
  }
};

class Pool {
 public:
  Pool() : helpers_(std::clamp(
               static_cast<int>(std::thread::hardware_concurrency()) - 1, 0,
               kMaxWorkPoolHelpers)) {}

  int helpers() const { return helpers_; }

  // Offers `job` to `count` helpers.
  void Offer(const std::shared_ptr<Job>& job, int count) {
    {
      MutexLock lock(&mu_);
      if (!started_) {
        started_ = true;
        for (int i = 0; i < helpers_; ++i) {
          std::thread([this] { Loop(); }).detach();
        }
      }
      for (int i = 0; i < count; ++i) queue_.push_back(job);
    }
    for (int i = 0; i < count; ++i) cv_.Signal();
  }

 private:
  void Loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        MutexLock lock(&mu_);
        while (queue_.empty()) cv_.Wait(&mu_);
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      // Nothing left to claim: the job may be over already.
      if (job->stop.load() || job->next.load() >= job->n) continue;
      {
        MutexLock lock(&job->mu);
        ++job->active;
      }
      job->Work(job->next_lane.fetch_add(1));
      MutexLock lock(&job->mu);
      --job->active;
      job->cv.Signal();
    }
  }

  const int helpers_;
  Mutex mu_;
  CondVar cv_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::shared_ptr<Job>> queue_ ABSL_GUARDED_BY(mu_);
};

Pool& GetPool() {
  static Pool* const pool = new Pool();  // Never destroyed: helpers use it.
  return *pool;
}

}  // namespace

int WorkPoolLanes() { return 1 + GetPool().helpers(); }

void RunInOrder(size_t n, int max_lanes,
                absl::FunctionRef<void(size_t index, int lane)> work,
                absl::FunctionRef<bool(size_t index)> consume) {
  if (n == 0) return;
  Pool& pool = GetPool();
  const int helpers = static_cast<int>(std::min<size_t>(
      {static_cast<size_t>(std::max(max_lanes - 1, 0)),
       static_cast<size_t>(pool.helpers()), n - 1}));
  auto job = std::make_shared<Job>(n, work);
  if (helpers > 0) pool.Offer(job, helpers);
  size_t consumed = 0;
  while (consumed < n) {
    if (job->done[consumed].load()) {
      if (!consume(consumed)) {
        job->stop.store(true);
        break;
      }
      ++consumed;
      continue;
    }
    // Not ready: do an item ourselves, or wait for the helper that has it.
    if (!job->stop.load() && job->next.load() < n) {
      const size_t i = job->next.fetch_add(1);
      if (i < n) {
        work(i, 0);
        job->done[i].store(true);
      }
      continue;
    }
    MutexLock lock(&job->mu);
    job->waiting = true;
    while (!job->done[consumed].load()) job->cv.Wait(&job->mu);
    job->waiting = false;
  }
  // No helper may still be inside `work`: claims past n fail, and after a
  // stop none are made; wait for those in flight.
  job->stop.store(true);
  MutexLock lock(&job->mu);
  job->waiting = true;
  while (job->active > 0) job->cv.Wait(&job->mu);
}

}  // namespace netstructer::transport
