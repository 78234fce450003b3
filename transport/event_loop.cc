#include "netstructer/transport/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "netstructer/transport/socket.h"

namespace netstructer::transport {

namespace {
thread_local EventLoop* current_loop = nullptr;
}  // namespace

EventLoop* EventLoop::Current() { return current_loop; }

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(Clock* clock) {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    return ErrnoStatus(errno == EMFILE || errno == ENFILE
                           ? absl::StatusCode::kResourceExhausted
                           : absl::StatusCode::kInternal,
                       errno, "epoll_create1");
  }
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int err = errno;
    close(epoll_fd);
    return ErrnoStatus(err == EMFILE || err == ENFILE
                           ? absl::StatusCode::kResourceExhausted
                           : absl::StatusCode::kInternal,
                       err, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
  std::unique_ptr<EventLoop> loop(new EventLoop(epoll_fd, wake_fd, clock));
  // A clock a test moves wakes the loop, which then looks at its timers.
  loop->clock_subscription_ =
      clock->Subscribe([raw = loop.get()] { raw->Wake(); });
  loop->thread_ = std::thread([raw = loop.get()] { raw->Run(); });
  return loop;
}

EventLoop::EventLoop(int epoll_fd, int wake_fd, Clock* clock)
    : epoll_fd_(epoll_fd), wake_fd_(wake_fd), clock_(clock) {}

EventLoop::~EventLoop() {
  clock_->Unsubscribe(clock_subscription_);
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) {
    if (InLoopThread()) {
      // A broken ownership rule, not a peer's doing (see the header): say
      // so, rather than std::thread's bare std::terminate.
      std::fputs("netstructer: an EventLoop was destroyed on its own thread\n",
                 stderr);
      std::abort();
    }
    thread_.join();
  }
  // Drop callbacks (and what they hold) outside the lock.
  absl::flat_hash_map<int, std::shared_ptr<FdCallback>> watchers;
  TimerQueue timers;
  TimerQueue real_timers;
  std::vector<Task> tasks;
  {
    MutexLock lock(&mu_);
    watchers.swap(watchers_);
    std::swap(timers, timers_);
    std::swap(real_timers, real_timers_);
    tasks.swap(tasks_);
  }
  close(wake_fd_);
  close(epoll_fd_);
}

void EventLoop::Wake() {
  const uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

absl::Status EventLoop::Watch(int fd, uint32_t events, FdCallback callback) {
  {
    MutexLock lock(&mu_);
    watchers_[fd] = std::make_shared<FdCallback>(std::move(callback));
  }
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    MutexLock lock(&mu_);
    watchers_.erase(fd);
    return ErrnoStatus(absl::StatusCode::kInternal, err, "epoll_ctl ADD");
  }
  return absl::OkStatus();
}

absl::Status EventLoop::Modify(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    return ErrnoStatus(absl::StatusCode::kInternal, errno, "epoll_ctl MOD");
  }
  return absl::OkStatus();
}

void EventLoop::Unwatch(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  // Released after the lock: the callback's captures may re-enter the loop.
  std::shared_ptr<FdCallback> dropped;
  MutexLock lock(&mu_);
  auto it = watchers_.find(fd);
  if (it != watchers_.end()) {
    dropped = std::move(it->second);
    watchers_.erase(it);
  }
}

void EventLoop::Post(Task task) {
  {
    MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
  }
  if (!InLoopThread()) Wake();
}

void EventLoop::TimerQueue::Add(TimerId id, absl::Time when, Task task) {
  by_time.emplace(when, std::make_pair(id, std::move(task)));
  times[id] = when;
}

bool EventLoop::TimerQueue::Cancel(TimerId id, Task* dropped) {
  auto t = times.find(id);
  if (t == times.end()) return false;
  auto range = by_time.equal_range(t->second);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second.first == id) {
      *dropped = std::move(it->second.second);
      by_time.erase(it);
      break;
    }
  }
  times.erase(t);
  return true;
}

void EventLoop::TimerQueue::TakeDue(absl::Time now, std::vector<Task>* due) {
  while (!by_time.empty() && by_time.begin()->first <= now) {
    times.erase(by_time.begin()->second.first);
    due->push_back(std::move(by_time.begin()->second.second));
    by_time.erase(by_time.begin());
  }
}

EventLoop::TimerId EventLoop::AddTimer(absl::Time when, Task task) {
  TimerId id;
  {
    MutexLock lock(&mu_);
    id = next_timer_id_++;
    timers_.Add(id, when, std::move(task));
  }
  if (!InLoopThread()) Wake();
  return id;
}

EventLoop::TimerId EventLoop::AddRealTimeTimer(absl::Time when, Task task) {
  if (clock_ == Clock::Real()) return AddTimer(when, std::move(task));
  TimerId id;
  {
    MutexLock lock(&mu_);
    id = next_timer_id_++;
    real_timers_.Add(id, when, std::move(task));
  }
  if (!InLoopThread()) Wake();
  return id;
}

void EventLoop::CancelTimer(TimerId id) {
  Task dropped;  // Destroyed after the lock (declared before it).
  MutexLock lock(&mu_);
  if (!timers_.Cancel(id, &dropped)) real_timers_.Cancel(id, &dropped);
}

void EventLoop::Run() {
  current_loop = this;
  constexpr int kMaxEvents = 128;
  epoll_event events[kMaxEvents];
  for (;;) {
    int timeout_ms = -1;
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
      if (!tasks_.empty()) {
        timeout_ms = 0;
      } else if (!timers_.by_time.empty() || !real_timers_.by_time.empty()) {
        // The sooner of the two kinds. On a clock a test moves, the loop
        // also looks again when woken (Clock::Subscribe).
        absl::Duration left = absl::InfiniteDuration();
        if (!timers_.by_time.empty()) {
          left = timers_.by_time.begin()->first - clock_->Now();
        }
        if (!real_timers_.by_time.empty()) {
          left = std::min(left,
                          real_timers_.by_time.begin()->first - absl::Now());
        }
        // A timer past INT_MAX ms (24.8 days) wakes the loop at that bound.
        timeout_ms = left <= absl::ZeroDuration()
                         ? 0
                         : static_cast<int>(std::min<int64_t>(
                               absl::ToInt64Milliseconds(
                                   left + absl::Microseconds(999)),
                               INT_MAX));
      }
    }
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t value;
        while (read(wake_fd_, &value, sizeof(value)) > 0) {
        }
        continue;
      }
      std::shared_ptr<FdCallback> callback;
      {
        MutexLock lock(&mu_);
        auto it = watchers_.find(fd);
        if (it != watchers_.end()) callback = it->second;
      }
      if (callback != nullptr) (*callback)(events[i].events);
    }
    // Due timers, then posted tasks.
    std::vector<Task> due;
    {
      MutexLock lock(&mu_);
      timers_.TakeDue(clock_->Now(), &due);
      if (!real_timers_.by_time.empty()) {
        real_timers_.TakeDue(absl::Now(), &due);
      }
      for (Task& t : tasks_) due.push_back(std::move(t));
      tasks_.clear();
    }
    for (Task& task : due) task();
  }
}

}  // namespace netstructer::transport
