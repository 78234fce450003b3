// The server's RPC side: the registry of services and the running of calls
// (the CallAcceptor of every session's RpcConnection). Owned by the Server
// and by its sessions (a session popped from the Server keeps serving).
//
// Threads: thread-safe. Unary handlers run on the handler pool
// (`handler_threads`, 2 per core by default), never on a borrowed thread;
// those of a service that says they never block
// (Service::set_handlers_never_block), and all of them with
// `handler_threads` = 0, run on the thread reading the connection (the
// session's event loop, or a streaming handler of the same connection that
// waits in Read/Write and reads the socket itself). A streaming call starts
// on its session's loop: a reactor from the method's factory serves it
// there with no thread (service/reactor_call.h); otherwise its blocking
// handler runs on a thread of its own for its duration (bounded by
// max_concurrent_streams per connection, counting handlers that still run
// after their call ended, and by max_streaming_handlers for the server).
#ifndef NETSTRUCTER_SERVICE_RPC_DISPATCHER_H_
#define NETSTRUCTER_SERVICE_RPC_DISPATCHER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "netstructer/rpc/connection.h"
#include "netstructer/service/rpc_service.h"
#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/mutex.h"

namespace netstructer {

struct RpcServerOptions {
  // Open calls per connection; past it a new call is RESOURCE_EXHAUSTED.
  uint32_t max_concurrent_streams = rpc::kDefaultMaxConcurrentStreams;
  // Unary handlers: on a pool of up to N threads (N > 0, started as calls
  // need them), so that one that blocks holds no session's I/O; kAutoHandlerThreads (the default): 2 per
  // core, at least 4; 0: all on the I/O thread (fast; none may block).
  // Services whose handlers never block run them on the I/O thread anyway
  // (Service::set_handlers_never_block).
  static constexpr int kAutoHandlerThreads = -1;
  int handler_threads = kAutoHandlerThreads;
  // Blocking streaming handlers (client, server and bidi streaming) running
  // at once on the whole server, each on a thread of its own; past it a new
  // streaming call is RESOURCE_EXHAUSTED at once (a client retries later)
  // rather than one more thread. Reactors hold no thread and do not count.
  // 0 = no limit.
  int max_streaming_handlers = 1024;
  // Run in order on every call.
  std::vector<std::shared_ptr<ServerInterceptor>> interceptors;
};

class RpcDispatcher : public rpc::CallAcceptor,
                      public std::enable_shared_from_this<RpcDispatcher> {
 public:
  explicit RpcDispatcher(RpcServerOptions options);
  ~RpcDispatcher() override;

  // ALREADY_EXISTS for a second service of the same name.
  absl::Status Register(Service* service);
  std::vector<Service*> services() const;
  // Keeps `service` alive as long as this dispatcher (built-in services,
  // which sessions that outlive their Server may still call). Null: no-op.
  void Retain(std::shared_ptr<Service> service);
  // The StreamHandler of a new session.
  std::shared_ptr<rpc::RpcConnection> NewConnection();

  // Refuses new calls (UNAVAILABLE), lets running ones finish until
  // `deadline`, then cancels the rest and waits for their handlers to
  // return until `grace`.
  void Drain(absl::Time deadline, absl::Time grace);
  size_t active_calls() const;

  absl::Status OnNewCall(rpc::RpcConnection* connection,
                         const std::shared_ptr<rpc::CallStream>& stream,
                         rpc::CallHeaders headers) override;

 private:
  struct Target {
    Service* service;
    const Service::Method* method;
    // Service::handlers_never_block, read once at registration (the loop
    // threads read this copy under no lock of the Service's).
    bool unary_inline;
  };
  struct Running;
  // Runs a unary handler, or the blocking `streaming` handler bound to its
  // call, then ends the call.
  void Run(const std::shared_ptr<Running>& running, bool on_io_thread,
           const std::function<absl::Status()>* streaming = nullptr);
  // Ends the call with `status` (trailers, interceptors, counts); `then`
  // gets the final status.
  void End(const std::shared_ptr<Running>& running,
           std::shared_ptr<internal::ServerCall> call, absl::Status status,
           bool on_io_thread, std::function<void(absl::Status)> then);
  // On the session's loop: a reactor from the method's factory, or the
  // blocking handler on a thread of its own.
  void StartStreaming(std::shared_ptr<Running> running);
  void Enqueue(std::function<void()> task);
  void CallEnded(const rpc::RpcConnection* connection);
  void StreamingHandlerEnded();

  // The worker pool. Its threads are detached and own the pool's state: a
  // task may drop the last reference to this dispatcher (through the
  // session it holds), so the dispatcher never joins them.
  struct Pool {
    Mutex mu;
    CondVar cv;
    std::deque<std::function<void()>> queue ABSL_GUARDED_BY(mu);
    bool stopping ABSL_GUARDED_BY(mu) = false;
    int max_threads = 0;  // Set before any thread starts.
    int threads ABSL_GUARDED_BY(mu) = 0;       // Started (they never end
    int idle_threads ABSL_GUARDED_BY(mu) = 0;  // before `stopping`).
  };
  static void PoolLoop(const std::shared_ptr<Pool>& pool);

  const RpcServerOptions options_;

  mutable Mutex mu_;
  CondVar cv_;  // active_calls_ and the pool's queue.
  absl::flat_hash_map<std::string, Target> methods_ ABSL_GUARDED_BY(mu_);
  std::vector<Service*> services_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Service>> retained_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<rpc::RpcConnection>> connections_ ABSL_GUARDED_BY(mu_);
  size_t active_calls_ ABSL_GUARDED_BY(mu_) = 0;
  // Streaming calls admitted whose handler has not returned.
  int streaming_handlers_ ABSL_GUARDED_BY(mu_) = 0;
  // Handlers not yet returned, per connection (only as a key).
  absl::flat_hash_map<const rpc::RpcConnection*, size_t> running_per_connection_
      ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  const std::shared_ptr<Pool> pool_;  // Null without handler_threads.
};

}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_RPC_DISPATCHER_H_
