#include "netstructer/transport/event_loop_group.h"

#include <cstdlib>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace netstructer::transport {

// How many assignments still hold the group. Kept apart from the group so
// that an assignment can count itself out after letting the group go: a
// waiter (AwaitReleased) that then lets go of its own reference is the
// group's last holder, and joins the loops on its own thread.
struct EventLoopGroup::Holders {
  Mutex mu;
  CondVar cv;
  int count ABSL_GUARDED_BY(mu) = 0;
};

// What Assign hands out: the loop, through an aliasing pointer to this.
struct EventLoopGroup::Assignment {
  std::shared_ptr<EventLoopGroup> group;
  std::shared_ptr<Holders> holders;
  int index;
  ~Assignment() {
    group->Release(index);
    group.reset();
    MutexLock lock(&holders->mu);
    if (--holders->count == 0) holders->cv.SignalAll();
  }
};

absl::StatusOr<std::shared_ptr<EventLoopGroup>> EventLoopGroup::Create(
    int loops, Clock* clock) {
  if (loops < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("an event loop group needs at least 1 loop, not ", loops));
  }
  std::vector<std::unique_ptr<EventLoop>> made;
  for (int i = 0; i < loops; ++i) {
    absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(clock);
    if (!loop.ok()) return loop.status();  // `made` joins the others.
    made.push_back(*std::move(loop));
  }
  return std::shared_ptr<EventLoopGroup>(new EventLoopGroup(std::move(made)));
}

namespace {

// The process's group. Never destroyed itself: usable from any static
// destructor.
Mutex* const shared_mu = new Mutex;
std::shared_ptr<EventLoopGroup>* const shared_group =
    new std::shared_ptr<EventLoopGroup>;

// At exit: lets the group go, which joins its threads here unless a
// connection still holds it, so that no idle loop thread runs while the
// process tears down (OpenSSL's exit-time cleanup raced one: TSan).
void ReleaseSharedGroup() {
  std::shared_ptr<EventLoopGroup> group;
  {
    MutexLock lock(shared_mu);
    group.swap(*shared_group);
  }
  // (exit() called inside a loop callback: that loop cannot pass a barrier.)
  if (group == nullptr || group->OwnsCurrentThread()) return;
  // A loop callback may still hold a connection released just before (a
  // callback holds its Bridge while it runs): each loop finishes it before
  // this barrier, so the group's last holder is normally this thread.
  // Bounded: a callback that blocks on something the exiting thread holds
  // must not turn exit into a hang.
  const absl::Time give_up = absl::Now() + absl::Seconds(1);
  for (int i = 0; i < group->size(); ++i) {
    struct Barrier {
      Mutex mu;
      CondVar cv;
      bool passed ABSL_GUARDED_BY(mu) = false;
    };
    auto barrier = std::make_shared<Barrier>();
    group->loop(i)->Post([barrier] {
      MutexLock lock(&barrier->mu);
      barrier->passed = true;
      barrier->cv.SignalAll();
    });
    MutexLock lock(&barrier->mu);
    while (!barrier->passed) {
      if (barrier->cv.WaitWithDeadline(&barrier->mu, give_up)) break;
    }
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<EventLoopGroup>> EventLoopGroup::Shared() {
  MutexLock lock(shared_mu);
  if (*shared_group != nullptr) return *shared_group;
  absl::StatusOr<std::shared_ptr<EventLoopGroup>> group =
      Create(DefaultLoopCount());
  if (!group.ok()) return group.status();
  static const bool registered = std::atexit(ReleaseSharedGroup) == 0;
  (void)registered;
  *shared_group = *group;
  return group;
}

int EventLoopGroup::DefaultLoopCount() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

EventLoopGroup::EventLoopGroup(std::vector<std::unique_ptr<EventLoop>> loops)
    : loops_(std::move(loops)), holders_(std::make_shared<Holders>()) {
  MutexLock lock(&mu_);
  assigned_.assign(loops_.size(), 0);
}

EventLoopGroup::~EventLoopGroup() {
  if (OwnsCurrentThread()) {
    // Released inside one of our callbacks: that loop's thread cannot join
    // itself, so another thread stops and joins them all once it returns.
    std::thread([loops = std::move(loops_)]() mutable { loops.clear(); })
        .detach();
    return;
  }
  loops_.clear();  // Each ~EventLoop stops and joins its thread.
}

std::shared_ptr<EventLoop> EventLoopGroup::Assign() {
  int chosen = 0;
  {
    MutexLock lock(&mu_);
    const size_t n = assigned_.size();
    size_t best = next_ % n;
    for (size_t k = 1; k < n; ++k) {
      const size_t i = (next_ + k) % n;
      if (assigned_[i] < assigned_[best]) best = i;
    }
    next_ = best + 1;
    ++assigned_[best];
    chosen = static_cast<int>(best);
  }
  auto assignment = std::make_shared<Assignment>();
  assignment->group = shared_from_this();
  assignment->holders = holders_;
  assignment->index = chosen;
  {
    MutexLock lock(&holders_->mu);
    ++holders_->count;
  }
  return std::shared_ptr<EventLoop>(std::move(assignment),
                                    loops_[chosen].get());
}

void EventLoopGroup::Release(int index) {
  MutexLock lock(&mu_);
  --assigned_[index];
}

bool EventLoopGroup::AwaitReleased(absl::Time deadline) const {
  MutexLock lock(&holders_->mu);
  while (holders_->count > 0) {
    if (holders_->cv.WaitWithDeadline(&holders_->mu, deadline)) {
      return holders_->count == 0;
    }
  }
  return true;
}

int EventLoopGroup::assigned(int index) const {
  MutexLock lock(&mu_);
  return assigned_[index];
}

bool EventLoopGroup::OwnsCurrentThread() const {
  const EventLoop* current = EventLoop::Current();
  if (current == nullptr) return false;
  for (const auto& loop : loops_) {
    if (loop.get() == current) return true;
  }
  return false;
}

}  // namespace netstructer::transport
