// An epoll event loop on one thread, with timers and cross-thread tasks.
//
// Descriptors are watched edge-triggered: a callback must read (or write)
// until the descriptor is empty (EAGAIN; for a stream socket's input, a
// short read also proves it), or arrange to come back. Callbacks, tasks and timers run on
// the loop's thread, never concurrently with each other.
#ifndef NETSTRUCTER_TRANSPORT_EVENT_LOOP_H_
#define NETSTRUCTER_TRANSPORT_EVENT_LOOP_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netstructer/transport/clock.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::transport {

// Thread-safe: every method may be called from any thread. Resource type.
class EventLoop {
 public:
  using FdCallback = std::function<void(uint32_t epoll_events)>;
  using Task = std::function<void()>;
  using TimerId = uint64_t;

  // Creates the loop and starts its thread. INTERNAL if epoll or eventfd
  // cannot be created (RESOURCE_EXHAUSTED when out of descriptors). Its
  // timers are on `clock` (real time unless a test moves it), which must
  // outlive it. Connections get theirs from an EventLoopGroup, which owns
  // its loops.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(
      Clock* clock = Clock::Real());
  // Stops the thread (after the callback running now, if any), joins it
  // and closes the loop's own descriptors. Watched descriptors are not
  // closed. REQUIRES: not on this loop's thread (a thread cannot join
  // itself; the process is aborted with a message saying so). Owners make
  // sure of it: an EventLoopGroup let go on one of its threads hands its
  // loops to another (~EventLoopGroup); a Server's handshake loop runs no
  // code that could destroy the Server.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` for `events` (EPOLLIN, EPOLLOUT; EPOLLET is always added).
  // The callback holds whatever it captures until Unwatch.
  absl::Status Watch(int fd, uint32_t events, FdCallback callback);
  absl::Status Modify(int fd, uint32_t events);
  // After Unwatch returns, the callback is not started again; a callback
  // running on the loop thread right now finishes.
  void Unwatch(int fd);

  // Runs `task` on the loop thread, soon (FIFO).
  void Post(Task task);
  // Runs `task` on the loop thread once clock()->Now() reaches `when`: for
  // limits measured in the loop's time (keepalive, idle, lifetime).
  TimerId AddTimer(absl::Time when, Task task);
  // Runs `task` on the loop thread once real time (absl::Now()) reaches
  // `when`, whatever the loop's clock: for deadlines and waits, which
  // callers measure in real time. On a loop with the real clock the same
  // as AddTimer.
  TimerId AddRealTimeTimer(absl::Time when, Task task);
  // A timer already running or finished is unaffected.
  void CancelTimer(TimerId id);

  // The time its timers are on; a connection on this loop measures its
  // keepalive, idle and lifetime limits in it too.
  Clock* clock() const { return clock_; }

  bool InLoopThread() const {
    return std::this_thread::get_id() == thread_.get_id();
  }
  // The loop whose thread this is (any EventLoop), or nullptr: a thread
  // that must never block waiting for another loop asks this first.
  static EventLoop* Current();

 private:
  EventLoop(int epoll_fd, int wake_fd, Clock* clock);
  void Run();
  void Wake();

  const int epoll_fd_;
  const int wake_fd_;
  Clock* const clock_;
  uint64_t clock_subscription_ = 0;  // Set before the thread starts.
  Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Task> tasks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, std::shared_ptr<FdCallback>> watchers_
      ABSL_GUARDED_BY(mu_);
  // Timers in one time base, soonest first; ids are the loop's.
  struct TimerQueue {
    std::multimap<absl::Time, std::pair<TimerId, Task>> by_time;
    absl::flat_hash_map<TimerId, absl::Time> times;

    void Add(TimerId id, absl::Time when, Task task);
    // Moves the task of timer `id` into `dropped`; false if not here.
    bool Cancel(TimerId id, Task* dropped);
    // Moves the tasks due at `now` to `due`, soonest first.
    void TakeDue(absl::Time now, std::vector<Task>* due);
  };
  TimerQueue timers_ ABSL_GUARDED_BY(mu_);       // On clock_.
  TimerQueue real_timers_ ABSL_GUARDED_BY(mu_);  // On absl::Now(); only
                                                 // when clock_ is not real.
  TimerId next_timer_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::thread thread_;
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_EVENT_LOOP_H_
