// A fixed set of event loops, one thread each, over which connections are
// spread. Each connection is assigned to one loop for its whole life (the
// loop with the fewest connections when it is made), so a server's sessions
// and a process's channels use every core without a thread per connection
// (docs/DESIGN.md, "Threads").
//
// Thread-safe. Resource type, held by shared_ptr: every assignment holds
// the group, so the group and its threads live as long as its last
// connection. When that last holder lets go on one of the group's own
// threads (inside a loop callback), the loops are stopped and joined from
// another thread once that callback returns (a thread cannot join itself).
#ifndef NETSTRUCTER_TRANSPORT_EVENT_LOOP_GROUP_H_
#define NETSTRUCTER_TRANSPORT_EVENT_LOOP_GROUP_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netstructer/transport/clock.h"
#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::transport {

class EventLoopGroup : public std::enable_shared_from_this<EventLoopGroup> {
 public:
  // `loops` threads (>= 1; INVALID_ARGUMENT otherwise), their timers on
  // `clock` (which must outlive the group). The errors of EventLoop::Create.
  static absl::StatusOr<std::shared_ptr<EventLoopGroup>> Create(
      int loops, Clock* clock = Clock::Real());
  // The process's group for client connections (Bridge::Link, Channel):
  // DefaultLoopCount() loops, made on first use and kept until exit (an
  // atexit handler lets it go: its threads end there, or with the last
  // connection still open then). Kept, not made again for each connection
  // after an idle moment: connections made one after another would each
  // pay for starting and joining the threads.
  static absl::StatusOr<std::shared_ptr<EventLoopGroup>> Shared();
  // One loop per core (std::thread::hardware_concurrency), at least 1.
  static int DefaultLoopCount();

  ~EventLoopGroup();
  EventLoopGroup(const EventLoopGroup&) = delete;
  EventLoopGroup& operator=(const EventLoopGroup&) = delete;

  int size() const { return static_cast<int>(loops_.size()); }
  // Assigns one new connection to the loop with the fewest connections
  // (ties: the next in turn). The returned pointer holds the loop and the
  // group; releasing it ends the assignment.
  std::shared_ptr<EventLoop> Assign();
  // Waits until every assignment has let the group go, or until
  // `deadline`; true if none holds it. A holder that then lets go of its
  // own reference last joins the loops on its thread (~Server does, so no
  // loop thread outlives the server).
  bool AwaitReleased(absl::Time deadline) const;
  // Connections assigned to loop `index` now.
  int assigned(int index) const;
  EventLoop* loop(int index) const { return loops_[index].get(); }
  // True on one of this group's loop threads.
  bool OwnsCurrentThread() const;

 private:
  struct Assignment;
  struct Holders;
  explicit EventLoopGroup(std::vector<std::unique_ptr<EventLoop>> loops);
  void Release(int index);

  std::vector<std::unique_ptr<EventLoop>> loops_;
  const std::shared_ptr<Holders> holders_;
  mutable Mutex mu_;
  std::vector<int> assigned_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;  // Where the tie-break starts.
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_EVENT_LOOP_GROUP_H_
