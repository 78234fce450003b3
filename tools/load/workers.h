// The client's traffic, one object per connection. Unary connections run a
// closed loop of asynchronous calls driven by their completions (no thread
// of ours). The others are Workers, driven in rounds by a few driver
// threads: Begin on every connection of the thread (send the round's
// requests), then End on each (receive and check the responses), so one
// thread keeps many connections busy. Every request carries a payload of
// payload.h; every response is checked byte for byte; every call has a
// deadline and every receive a timeout.
#ifndef NETSTRUCTER_TOOLS_LOAD_WORKERS_H_
#define NETSTRUCTER_TOOLS_LOAD_WORKERS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "netstructer/client/channel.h"
#include "netstructer/tools/load/counters.h"
#include "netstructer/tools/load/payload.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/mutex.h"
#include "tools/load/load.ns.h"

namespace netstructer::load {

// What every connection's traffic shares. Thread-safe; outlives the traffic.
struct RunContext {
  ClientCounters counters;
  // Each call's deadline (streams: the whole stream's) and each Bridge
  // receive's timeout.
  absl::Duration call_timeout = absl::Seconds(30);
  // Set at the end of the run: loops issue no new calls, drivers finish
  // their round and close their streams.
  std::atomic<bool> stopping{false};

  CallOptions Call() const;
};

// Keeps `in_flight` Echo calls outstanding on one channel: each completion
// (on the channel's I/O thread) checks its response and issues the next
// until the run stops or a call fails. Thread-safe. Owned by shared_ptr
// (completions hold it).
class UnaryLoop : public std::enable_shared_from_this<UnaryLoop> {
 public:
  UnaryLoop(std::shared_ptr<Channel> channel, uint32_t connection,
            RunContext* run);
  void Start(int in_flight);
  // Waits until no call is outstanding (after run->stopping was set).
  // False if some still are at `deadline`.
  bool WaitIdle(absl::Time deadline);

 private:
  void Issue();
  void OnDone(const ::load::Chunk& request,
              const absl::StatusOr<::load::Chunk>& response);

  ::load::Load::Stub stub_;
  const uint32_t connection_;
  RunContext* const run_;
  std::atomic<uint64_t> next_sequence_{0};
  std::atomic<bool> failed_{false};
  Mutex mu_;
  CondVar idle_cv_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
};

// One connection in rounds. Thread-compatible: one driver thread. A step
// that fails records why (RunContext::counters) and returns false; the
// driver then leaves the connection alone.
class Worker {
 public:
  Worker(Kind kind, uint32_t connection, RunContext* run)
      : kind_(kind), connection_(connection), run_(run) {}
  virtual ~Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Sends this round's requests.
  virtual bool Begin() = 0;
  // Receives this round's responses and checks them.
  virtual bool End() = 0;
  // After the last round: ends cleanly what is still open.
  virtual bool Close() { return true; }

 protected:
  bool Error(const absl::Status& status);
  bool Mismatch(const absl::Status& status);
  // Adds to this worker's kind's tally.
  void Count(uint64_t calls, uint64_t messages, uint64_t bytes);
  // Checks `data` is payload `want` (CheckPayload); a mismatch otherwise.
  bool Expect(absl::string_view data, PayloadId want);
  // Takes this round's sequences: a few (CountFor) from next_sequence_.
  struct Batch {
    uint64_t first = 0;
    uint32_t count = 0;
  };
  Batch NextBatch();

  const Kind kind_;
  const uint32_t connection_;
  RunContext* const run_;
  uint64_t next_sequence_ = 0;
};

// The worker for connection `connection` of kind KindOf(connection) (not
// kUnary, which is a UnaryLoop: nullptr): on `channel` for the RPC kinds,
// on `bridge` for kBridge.
std::unique_ptr<Worker> MakeWorker(uint32_t connection,
                                   std::shared_ptr<Channel> channel,
                                   std::shared_ptr<Bridge> bridge,
                                   RunContext* run);

// A driver thread's body: rounds over `workers` until run->stopping, then
// Close on each that has not failed.
void DriveWorkers(const std::vector<Worker*>& workers, RunContext* run);

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_WORKERS_H_
