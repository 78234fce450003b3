#include "netstructer/service/server.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/service/builtin/health_service.h"
#include "netstructer/service/builtin/reflection_service.h"
#include "service/server_pending.h"

namespace netstructer {

using transport::FrameType;

Server::Server(std::string address, ServerOptions options)
    : requested_address_(std::move(address)), options_(std::move(options)) {}

Server::~Server() {
  Shutdown(absl::Seconds(1));
  // After Shutdown, handler threads (detached) and the sessions' last loop
  // tasks may still hold their loops for a moment. Released by them, the
  // loops would be joined on a detached thread, and a process that exits
  // right after the Server could exit with a loop thread still running: its
  // OpenSSL thread state leaked (LSan, found by tools/load under
  // --config=asan) and exit-time cleanup racing it. So wait (an event, not
  // a poll) for the last session to let go, and join here.
  dispatcher_.reset();
  if (loops_ != nullptr) (void)loops_->AwaitReleased(absl::Now() + absl::Seconds(1));
  loops_.reset();
  handshake_loop_.reset();  // Idle since Shutdown: joins its thread.
}

absl::Status Server::Init() {
  {
    MutexLock lock(&mu_);
    if (initialized_) return absl::FailedPreconditionError("Init() was already called");
  }
  if (options_.insecure == !options_.keys.empty()) {
    return absl::InvalidArgumentError(
        "ServerOptions: give the key ring (keys) or insecure = true, not both");
  }
  std::shared_ptr<const transport::HandshakeKeyRing> key_ring;
  if (!options_.insecure) {
    absl::StatusOr<transport::HandshakeKeyRing> ring =
        transport::HandshakeKeyRing::Create(options_.keys);
    if (!ring.ok()) return ring.status();
    key_ring = std::make_shared<const transport::HandshakeKeyRing>(
        *std::move(ring));
  }
  absl::StatusOr<std::unique_ptr<service::AcceptPolicy>> policy =
      service::AcceptPolicy::Create(options_.policy);
  if (!policy.ok()) return policy.status();
  absl::StatusOr<transport::SocketAddress> address =
      transport::ResolveAddress(requested_address_);
  if (!address.ok()) return address.status();
  absl::StatusOr<transport::Socket> listener = transport::ListenTcp(*address);
  if (!listener.ok()) return listener.status();
  absl::StatusOr<transport::SocketAddress> bound =
      transport::LocalAddress(listener->fd());
  if (!bound.ok()) return bound.status();
  if (options_.io_loops < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ServerOptions: io_loops is ", options_.io_loops,
        " (0 = one per core, or a count)"));
  }
  absl::StatusOr<std::shared_ptr<transport::EventLoopGroup>> loops =
      transport::EventLoopGroup::Create(
          options_.io_loops > 0 ? options_.io_loops
                                : transport::EventLoopGroup::DefaultLoopCount());
  if (!loops.ok()) return loops.status();
  absl::StatusOr<std::unique_ptr<transport::EventLoop>> handshake_loop =
      transport::EventLoop::Create();
  if (!handshake_loop.ok()) return handshake_loop.status();
  policy_ = *std::move(policy);
  listener_ = *std::move(listener);
  bound_address_ = bound->ToString();
  loops_ = *std::move(loops);
  handshake_loop_ = *std::move(handshake_loop);
  auto dispatcher = std::make_shared<RpcDispatcher>(options_.rpc);
  if (options_.builtin_services && health_ == nullptr) {
    // Owned by the dispatcher too: a popped session keeps the dispatcher,
    // and with it these, after the Server is gone.
    std::weak_ptr<RpcDispatcher> weak = dispatcher;
    builtin::ServiceList list = [weak] {
      std::shared_ptr<RpcDispatcher> d = weak.lock();
      return d != nullptr ? d->services() : std::vector<Service*>();
    };
    health_ = std::make_shared<builtin::HealthService>(list);
    reflection_ = std::make_shared<builtin::ReflectionService>(list);
    // Both answer from memory.
    health_->set_handlers_never_block(true);
    reflection_->set_handlers_never_block(true);
  }
  dispatcher->Retain(health_);
  dispatcher->Retain(reflection_);
  MutexLock lock(&mu_);
  for (Service* builtin : {static_cast<Service*>(health_.get()),
                           static_cast<Service*>(reflection_.get())}) {
    if (builtin == nullptr) continue;
    bool replaced = false;  // By the user's, or by a failed Init's attempt.
    for (const Service* s : services_) replaced |= s->name() == builtin->name();
    if (!replaced) services_.push_back(builtin);
  }
  for (Service* service : services_) {
    if (absl::Status s = dispatcher->Register(service); !s.ok()) return s;
  }
  dispatcher_ = std::move(dispatcher);
  key_ring_ = std::move(key_ring);
  initialized_ = true;
  return absl::OkStatus();
}

absl::Status Server::SetKeys(std::vector<transport::FernetKey> keys) {
  if (options_.insecure) {
    return absl::InvalidArgumentError(
        "SetKeys: this server is insecure (it has no key ring)");
  }
  absl::StatusOr<transport::HandshakeKeyRing> ring =
      transport::HandshakeKeyRing::Create(keys);
  if (!ring.ok()) return ring.status();
  auto shared = std::make_shared<const transport::HandshakeKeyRing>(
      *std::move(ring));
  MutexLock lock(&mu_);
  if (!initialized_) {
    return absl::FailedPreconditionError("SetKeys() needs Init() first");
  }
  key_ring_ = std::move(shared);
  return absl::OkStatus();
}

size_t Server::CloseSessionsOfRemovedKeys() {
  std::vector<std::shared_ptr<Bridge>> revoked;
  {
    MutexLock lock(&mu_);
    if (key_ring_ == nullptr) return 0;
    for (const Session& s : sessions_) {
      if (s.key_id.has_value() && !key_ring_->Find(*s.key_id).has_value()) {
        revoked.push_back(s.bridge);
      }
    }
  }
  // Outside the lock: the close callback removes each from sessions_.
  for (const std::shared_ptr<Bridge>& bridge : revoked) {
    bridge->CloseWithError(
        absl::UnauthenticatedError("the key of this session was revoked"));
  }
  return revoked.size();
}

absl::Status Server::RegisterService(Service* service) {
  MutexLock lock(&mu_);
  for (const Service* s : services_) {
    if (s->name() == service->name()) {
      return absl::AlreadyExistsError(
          absl::StrCat("a service ", service->name(), " is already registered"));
    }
  }
  if (initialized_) {
    if (absl::Status s = dispatcher_->Register(service); !s.ok()) return s;
  }
  services_.push_back(service);
  return absl::OkStatus();
}

std::vector<Service*> Server::services() const {
  MutexLock lock(&mu_);
  return services_;
}

std::string Server::address() const { return bound_address_; }

absl::Status Server::Listen() {
  {
    MutexLock lock(&mu_);
    if (!initialized_) {
      return absl::FailedPreconditionError(
          "the server is not initialized: call Init() before Listen()");
    }
    if (shut_down_) return absl::FailedPreconditionError("the server was shut down");
    if (listening_) return absl::OkStatus();
    listening_ = true;
  }
  return handshake_loop_->Watch(listener_.fd(), EPOLLIN,
                                [this](uint32_t) { OnListenReadable(); });
}

absl::Status Server::ListenOn(const std::function<void(Server&)>& accept_loop) {
  {
    MutexLock lock(&mu_);
    if (!initialized_) {
      return absl::FailedPreconditionError(
          "the server is not initialized: call Init() before ListenOn()");
    }
    queue_accepts_ = true;
  }
  if (absl::Status s = Listen(); !s.ok()) return s;
  accept_loop(*this);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Bridge>> Server::Accept(absl::Duration timeout) {
  const absl::Time deadline = timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + timeout;
  MutexLock lock(&mu_);
  for (;;) {
    if (!accept_queue_.empty()) {
      std::shared_ptr<Bridge> bridge = std::move(accept_queue_.front());
      accept_queue_.pop_front();
      return bridge;
    }
    if (shut_down_) return absl::UnavailableError("the server was shut down");
    if (!queue_accepts_) {
      return absl::FailedPreconditionError("Accept() needs ListenOn()");
    }
    if (accept_cv_.WaitWithDeadline(&mu_, deadline) && absl::Now() >= deadline) {
      if (accept_queue_.empty()) {
        return absl::DeadlineExceededError("no new session within the timeout");
      }
    }
  }
}
void Server::RemoveSession(Bridge* bridge) {
  Session removed;  // Destroyed after the lock: releases the admission slot.
  MutexLock lock(&mu_);
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    if (it->bridge.get() == bridge) {
      removed = std::move(*it);
      sessions_.erase(it);
      break;
    }
  }
}

size_t Server::Count() const {
  MutexLock lock(&mu_);
  return sessions_.size();
}

std::vector<std::shared_ptr<Bridge>> Server::All() const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Bridge>> out;
  for (const Session& s : sessions_) out.push_back(s.bridge);
  return out;
}

std::shared_ptr<Bridge> Server::Get(absl::string_view ip) const {
  MutexLock lock(&mu_);
  for (const Session& s : sessions_) {
    if (s.bridge->peer_ip() == ip) return s.bridge;
  }
  return nullptr;
}

std::vector<std::shared_ptr<Bridge>> Server::GetAll(absl::string_view ip) const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Bridge>> out;
  for (const Session& s : sessions_) {
    if (s.bridge->peer_ip() == ip) out.push_back(s.bridge);
  }
  return out;
}

std::shared_ptr<Bridge> Server::Pop(absl::string_view ip) {
  Session popped;
  {
    MutexLock lock(&mu_);
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->bridge->peer_ip() == ip) {
        popped = std::move(*it);
        sessions_.erase(it);
        break;
      }
    }
  }
  if (popped.bridge != nullptr) popped.bridge->SetCloseCallback(nullptr);
  return popped.bridge;
}

size_t Server::Clear() {
  std::vector<Session> removed;
  {
    MutexLock lock(&mu_);
    removed.swap(sessions_);
  }
  for (Session& s : removed) {
    s.bridge->SetCloseCallback(nullptr);
    (void)s.bridge->Close(absl::Milliseconds(200));
  }
  return removed.size();
}

void Server::Shutdown(absl::Duration deadline) {
  {
    MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    accept_cv_.SignalAll();
    if (!initialized_) return;
  }
  // Stop accepting and drop pending handshakes, on the handshake loop's
  // thread (which owns them); inline when Shutdown is called from it.
  auto stop_accepting = [this] {
    handshake_loop_->Unwatch(listener_.fd());
    if (accept_retry_timer_ != 0) handshake_loop_->CancelTimer(accept_retry_timer_);
    accept_retry_timer_ = 0;
    std::vector<int> fds;
    for (const auto& entry : pending_) fds.push_back(entry.first);
    for (int fd : fds) {
      FinishPending(fd, absl::UnavailableError("the server is shutting down"));
    }
  };
  if (handshake_loop_->InLoopThread()) {
    stop_accepting();
  } else {
    auto done = std::make_shared<std::pair<Mutex, bool>>();
    auto done_cv = std::make_shared<CondVar>();
    handshake_loop_->Post([stop_accepting, done, done_cv] {
      stop_accepting();
      MutexLock lock(&done->first);
      done->second = true;
      done_cv->SignalAll();
    });
    MutexLock lock(&done->first);
    while (!done->second) done_cv->Wait(&done->first);
  }
  listener_.Close();
  // Calls in flight may finish until shortly before the deadline; the
  // rest are cancelled; the sessions' goodbyes get the remainder.
  const absl::Time end = absl::Now() + deadline;
  dispatcher_->Drain(end - std::min(deadline / 4, absl::Milliseconds(300)),
                     end - std::min(deadline / 8, absl::Milliseconds(150)));
  deadline = std::max(end - absl::Now(), absl::Milliseconds(1));
  std::vector<Session> removed;
  {
    MutexLock lock(&mu_);
    removed.swap(sessions_);
    accept_queue_.clear();
  }
  const absl::Duration each =
      removed.empty() ? deadline : deadline / static_cast<int64_t>(removed.size());
  for (Session& s : removed) {
    s.bridge->SetCloseCallback(nullptr);
    (void)s.bridge->Close(std::min(each, absl::Milliseconds(200)));
  }
}

}  // namespace netstructer
