// netstructer::Server: accepts connections under an accept policy, runs the
// handshake, and keeps the authenticated sessions (Bridges) by client IP:
// Count, All, Get, Pop, Clear, as the seed module promised, minus its flaws
// (a second client from the same IP never replaces the first; Clear closes
// what it removes).
//
// A peer IP is weak identity: addresses are shared (NAT), spoofable
// upstream of us and reassigned. The pre-shared key is the authentication;
// the IP is for admission control, abuse limits and bookkeeping.
//
// Threads: thread-safe. One event loop thread accepts and runs handshakes;
// the sessions are spread over `io_loops` loops (one per core by default),
// each session on one loop for its life: its background I/O, timers and
// (by default) unary handlers run there.
#ifndef NETSTRUCTER_SERVICE_SERVER_H_
#define NETSTRUCTER_SERVICE_SERVER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netstructer/service/accept_policy.h"
#include "netstructer/service/rpc_dispatcher.h"
#include "netstructer/service/rpc_service.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/event_loop_group.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/socket.h"

namespace netstructer {

namespace builtin {
class HealthService;
class ReflectionService;
}  // namespace builtin

struct ServerOptions {
  // The key ring, primary first: a client may authenticate with any of them
  // (rotation, see docs/PROTOCOL.md section 7).
  std::vector<transport::FernetKey> keys;
  // Plaintext frames, for benchmarks and local debugging only; exclusive
  // with `keys`.
  bool insecure = false;
  service::AcceptPolicyOptions policy;
  // Limits of each session. Its idle_timeout is taken from `policy`.
  BridgeOptions bridge;
  // RPC calls: concurrency, handler threads, interceptors.
  RpcServerOptions rpc;
  // Offer netstructer.health.v1.Health and netstructer.reflection.v1.Reflection
  // (service/builtin/), listed among services() like any other. A service
  // of the same name registered before Init() replaces the built-in one.
  bool builtin_services = true;
  // Event loops (threads) the sessions are spread over, each session on
  // the loop with the fewest when it is made. 0 = one per core.
  int io_loops = 0;
};

class Server {
 public:
  // `address` is "HOST:PORT" ("0.0.0.0:9000", "[::1]:0"; port 0 picks one).
  Server(std::string address, ServerOptions options);
  // Shuts down (1 s for in-flight flushes) if still running, then joins the
  // event loop threads here once nothing else holds them (at most 1 s
  // more: a session the caller still holds keeps its loops running).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the options and binds. INVALID_ARGUMENT for bad options or
  // address; UNAVAILABLE "address already in use"; PERMISSION_DENIED for a
  // privileged port; FAILED_PRECONDITION if called twice.
  absl::Status Init();
  // The bound "IP:PORT" (after Init).
  std::string address() const;

  // Serves `service`'s methods on every session (registered before or
  // after Init; `service` must outlive the server and its sessions).
  // ALREADY_EXISTS for a second service of the same name.
  absl::Status RegisterService(Service* service);
  // The registered services, in registration order.
  std::vector<Service*> services() const;
  // The built-in health service, for SetServingStatus (include
  // "service/builtin/health_service.h"); nullptr before Init() and without
  // builtin_services.
  builtin::HealthService* health() const { return health_.get(); }

  // Starts accepting in the background. FAILED_PRECONDITION before Init()
  // (the seed's ServerInitializeError) or after Shutdown.
  absl::Status Listen();
  // Starts accepting, then runs `accept_loop(*this)` on this thread; the
  // loop takes each new authenticated session with Accept(). Returns when
  // `accept_loop` returns (the server keeps running). FAILED_PRECONDITION
  // before Init().
  absl::Status ListenOn(const std::function<void(Server&)>& accept_loop);
  // The next newly authenticated session, in handshake-completion order.
  // Only sessions that arrive after ListenOn started are queued. UNAVAILABLE
  // after Shutdown, DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<std::shared_ptr<Bridge>> Accept(
      absl::Duration timeout = absl::InfiniteDuration());

  // Replaces the key ring, primary first, for handshakes that start from now
  // on (key rotation without a restart, docs/SECURITY.md); established
  // sessions keep their session keys. INVALID_ARGUMENT for an empty ring, a
  // key twice, or an insecure server; FAILED_PRECONDITION before Init().
  absl::Status SetKeys(std::vector<transport::FernetKey> keys);
  // Closes every session made with a key that is no longer in the ring (one
  // SetKeys removed: a retired or leaked key), telling each peer with
  // GOAWAY UNAUTHENTICATED "the key of this session was revoked". Returns
  // how many it closed. Bridge::key_index() shows which key each live
  // session uses.
  size_t CloseSessionsOfRemovedKeys();

  // Live sessions.
  size_t Count() const;
  std::vector<std::shared_ptr<Bridge>> All() const;
  // With several sessions from one IP, Get returns the OLDEST live one (the
  // first to connect: a newcomer never shadows an established session);
  // GetAll returns them all, oldest first. nullptr / empty when none.
  std::shared_ptr<Bridge> Get(absl::string_view ip) const;
  std::vector<std::shared_ptr<Bridge>> GetAll(absl::string_view ip) const;
  // Removes the session Get(ip) would return and gives it to the caller,
  // still open (the server no longer tracks or closes it: not Shutdown, not
  // CloseSessionsOfRemovedKeys; its key_index() tells the caller which key
  // it was made with). nullptr if none.
  std::shared_ptr<Bridge> Pop(absl::string_view ip);
  // Closes every session (the peers see GOAWAY, then the close) and removes
  // it. Returns how many.
  size_t Clear();

  // Stops accepting connections and calls (new calls: UNAVAILABLE), lets
  // calls in flight finish, cancels those still running near the deadline,
  // then closes every session with GOAWAY. Returns within about `deadline`
  // (a handler that ignores cancellation keeps its own thread). Idempotent.
  void Shutdown(absl::Duration deadline = absl::Seconds(1));

 private:
  struct Pending;
  struct Session {
    std::shared_ptr<Bridge> bridge;
    service::Admission admission;
    // The id of the key the session was made with (unset when insecure).
    std::optional<transport::KeyId> key_id;
  };

  void OnListenReadable();
  void AcceptOne(transport::Socket socket, const transport::SocketAddress& peer);
  void OnPendingReadable(int fd);
  void FinishPending(int fd, absl::Status status);
  // Takes the handshake of `fd` out of pending_ and off the handshake loop
  // (watch, timer); null if none.
  std::unique_ptr<Pending> TakePending(int fd);
  void Promote(int fd);
  void RemoveSession(Bridge* bridge);

  const std::string requested_address_;
  const ServerOptions options_;
  std::unique_ptr<service::AcceptPolicy> policy_;
  // The sessions' loops: their I/O, timers and (by default) unary handlers.
  std::shared_ptr<transport::EventLoopGroup> loops_;
  // Accepting and handshakes run on a loop of their own, so that a flood of
  // connections (a handshake each: 165 us of X25519 and HMACs for a key
  // holder, 11 us for a forged hello) cannot delay established sessions.
  // It owns the listener, pending_ and the accept retry timer.
  std::unique_ptr<transport::EventLoop> handshake_loop_;
  std::shared_ptr<RpcDispatcher> dispatcher_;  // Set by Init.
  // Null without options_.builtin_services.
  std::shared_ptr<builtin::HealthService> health_;
  std::shared_ptr<builtin::ReflectionService> reflection_;
  transport::Socket listener_;
  std::string bound_address_;

  mutable Mutex mu_;
  CondVar accept_cv_;
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  bool listening_ ABSL_GUARDED_BY(mu_) = false;
  bool queue_accepts_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Sessions in establishment order; per IP, oldest first.
  std::vector<Session> sessions_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Bridge>> accept_queue_ ABSL_GUARDED_BY(mu_);
  std::vector<Service*> services_ ABSL_GUARDED_BY(mu_);
  // The ring new handshakes use (null when insecure); SetKeys replaces it.
  std::shared_ptr<const transport::HandshakeKeyRing> key_ring_
      ABSL_GUARDED_BY(mu_);

  // Every ClientHello this server accepted lately (replays, freshness).
  const std::shared_ptr<transport::HelloReplayGuard> hello_guard_ =
      std::make_shared<transport::HelloReplayGuard>();
  // Handshakes in progress, by descriptor, and their descriptors oldest
  // first (by accept order: the one a newcomer displaces). Handshake loop
  // thread only.
  absl::flat_hash_map<int, std::unique_ptr<Pending>> pending_;
  std::map<uint64_t, int> pending_by_age_;
  uint64_t next_pending_order_ = 0;
  // The timer that retries accepting after an accept error (out of
  // descriptors), 0 if none. Handshake loop thread only.
  transport::EventLoop::TimerId accept_retry_timer_ = 0;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_SERVER_H_
