#include "service/server.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "service/builtin/health_service.h"
#include "service/builtin/reflection_service.h"
#include "transport/frame_sealer.h"
#include "transport/handshake.h"
#include "transport/handshake_io.h"
#include "transport/handshake_messages.h"

namespace netstructer {

using transport::FrameType;

// A connection between accept and the end of its handshake.
struct Server::Pending {
  transport::Socket socket;
  service::Admission admission;
  std::optional<transport::ServerHandshake> handshake;
  // The ring the handshake uses (null when insecure): its key ids.
  std::shared_ptr<const transport::HandshakeKeyRing> ring;
  transport::ExactFrameReader reader;
  transport::FrameSealer sealer = transport::FrameSealer::Insecure();
  transport::FrameOpener opener = transport::FrameOpener::Handshake();
  transport::EventLoop::TimerId timer = 0;
  uint64_t order = 0;  // Key in pending_by_age_.
};

namespace {

// Sends one small plaintext handshake frame without blocking. Handshake
// frames are far smaller than a fresh socket's send buffer; a partial write
// means the peer is not reading, and the connection is dropped.
absl::Status SendPlain(int fd, transport::FrameSealer* sealer, FrameType type,
                       absl::string_view payload) {
  std::string out;
  if (absl::Status s = sealer->Seal(transport::kConnectionStreamId, type, 0,
                                    payload, false,
                                    absl::ToUnixSeconds(absl::Now()), &out);
      !s.ok()) {
    return s;
  }
  const ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(out.size())) {
    return absl::UnavailableError("could not send a handshake frame");
  }
  return absl::OkStatus();
}

}  // namespace

Server::Server(std::string address, ServerOptions options)
    : requested_address_(std::move(address)), options_(std::move(options)) {}

Server::~Server() {
  Shutdown(absl::Seconds(1));
  // After Shutdown, handler threads (detached) and the sessions' last loop
  // tasks may still hold the loop for a moment. Released by them, it would
  // be joined on a detached thread, and a process that exits right after
  // the Server could exit with the loop thread still running: its OpenSSL
  // thread state leaked (LSan, found by tools/load under --config=asan) and
  // exit-time cleanup racing it. So hold the last reference and join here.
  dispatcher_.reset();
  const absl::Time give_up = absl::Now() + absl::Seconds(1);
  while (loops_ != nullptr && loops_.use_count() > 1 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
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

void Server::OnListenReadable() {
  for (;;) {
    transport::SocketAddress peer;
    absl::StatusOr<transport::Socket> socket =
        transport::AcceptTcp(listener_.fd(), &peer);
    if (!socket.ok()) {
      // Out of descriptors (EMFILE, ENFILE) or another accept error: the
      // connection stays in the backlog. The listener is edge-triggered, so
      // epoll will not report it again; one timer retries. One only: every
      // new connection's edge ends here too, and a timer per edge made the
      // retries pile up at the limit (docs/DESIGN.md, "Server sessions").
      if (accept_retry_timer_ == 0) {
        accept_retry_timer_ =
            handshake_loop_->AddTimer(absl::Now() + absl::Milliseconds(100), [this] {
              accept_retry_timer_ = 0;
              OnListenReadable();
            });
      }
      return;
    }
    if (!socket->valid()) return;  // Nothing more pending.
    AcceptOne(*std::move(socket), peer);
  }
}

void Server::AcceptOne(transport::Socket socket,
                       const transport::SocketAddress& peer) {
  absl::StatusOr<service::IpAddress> ip = service::IpAddress::FromSockaddr(
      reinterpret_cast<const sockaddr*>(&peer.storage), peer.length);
  absl::StatusOr<service::Admission> admission =
      ip.ok() ? policy_->Admit(*ip, absl::Now(),
                               static_cast<int>(pending_by_age_.size()))
              : ip.status();
  if (!admission.ok()) {
    // Refused before reading a byte: a plaintext REFUSAL, then close.
    // PERMISSION_DENIED for a rule, RESOURCE_EXHAUSTED for capacity.
    transport::FrameSealer sealer = transport::FrameSealer::Insecure();
    (void)SendPlain(socket.fd(), &sealer, FrameType::kRefusal,
                    transport::EncodeRefusal(admission.status()));
    return;
  }
  if (admission->displaces_a_handshake() && !pending_by_age_.empty()) {
    // Full: the oldest handshake in progress gives way (accept_policy.h).
    const int oldest = pending_by_age_.begin()->second;
    Pending& p = *pending_.at(oldest);
    (void)SendPlain(oldest, &p.sealer, FrameType::kRefusal,
                    transport::EncodeRefusal(
                        absl::StatusCode::kResourceExhausted,
                        "the server is full: your unfinished handshake gave "
                        "way to a newer connection; try again"));
    FinishPending(oldest, absl::ResourceExhaustedError("displaced"));
  }
  std::shared_ptr<const transport::HandshakeKeyRing> ring;
  {
    MutexLock lock(&mu_);
    ring = key_ring_;
  }
  absl::StatusOr<transport::ServerHandshake> handshake =
      ring == nullptr
          ? transport::ServerHandshake::CreateInsecure()
          : transport::ServerHandshake::Create(*ring, nullptr, hello_guard_);
  if (!handshake.ok()) return;
  auto pending = std::make_unique<Pending>();
  pending->socket = std::move(socket);
  pending->admission = *std::move(admission);
  pending->handshake.emplace(*std::move(handshake));
  pending->ring = ring;
  const int fd = pending->socket.fd();
  pending->order = next_pending_order_++;
  pending_by_age_[pending->order] = fd;
  pending->timer = handshake_loop_->AddTimer(
      absl::Now() + options_.policy.handshake_timeout, [this, fd] {
        FinishPending(fd, absl::DeadlineExceededError(
                              "the handshake did not complete in time"));
      });
  pending_[fd] = std::move(pending);
  if (!handshake_loop_->Watch(fd, EPOLLIN | EPOLLRDHUP,
                    [this, fd](uint32_t) { OnPendingReadable(fd); })
           .ok()) {
    FinishPending(fd, absl::ResourceExhaustedError("cannot watch the socket"));
    return;
  }
  OnPendingReadable(fd);  // Bytes may have arrived already.
}

void Server::OnPendingReadable(int fd) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  for (;;) {
    absl::StatusOr<std::optional<std::string>> body = p.reader.ReadSome(fd);
    if (!body.ok()) {
      if (body.status().code() == absl::StatusCode::kDataLoss) {
        // Not our protocol (garbage instead of a handshake): say so, close.
        (void)SendPlain(fd, &p.sealer, FrameType::kRefusal,
                        transport::EncodeRefusal(absl::StatusCode::kInvalidArgument,
                                                 "malformed handshake"));
      }
      FinishPending(fd, body.status());
      return;
    }
    if (!body->has_value()) return;
    absl::StatusOr<transport::OpenedFrame> frame = p.opener.Open(**body);
    if (!frame.ok()) {
      (void)SendPlain(fd, &p.sealer, FrameType::kRefusal,
                      transport::EncodeRefusal(absl::StatusCode::kInvalidArgument,
                                               "malformed handshake"));
      FinishPending(fd, frame.status());
      return;
    }
    transport::ServerHandshake::Reply reply =
        p.handshake->OnClientFrame(frame->header, frame->payload);
    if (reply.frame.has_value()) {
      absl::Status sent =
          SendPlain(fd, &p.sealer, reply.frame->type, reply.frame->payload);
      if (!sent.ok() && reply.status.ok()) reply.status = sent;
    }
    if (!reply.status.ok()) {
      FinishPending(fd, reply.status);
      return;
    }
    if (p.handshake->complete()) {
      Promote(fd);
      return;
    }
  }
}

void Server::FinishPending(int fd, absl::Status status) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  pending_by_age_.erase(p->order);
  handshake_loop_->Unwatch(fd);
  if (p->timer != 0) handshake_loop_->CancelTimer(p->timer);
  // Dropping `p` closes the socket and releases the admission slot.
}

void Server::Promote(int fd) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  pending_by_age_.erase(p->order);
  handshake_loop_->Unwatch(fd);
  if (p->timer != 0) handshake_loop_->CancelTimer(p->timer);
  p->admission.Establish();
  std::optional<transport::FernetKey> send_key;
  std::optional<transport::FernetKey> recv_key;
  if (const transport::SessionKeys* keys = p->handshake->keys(); keys != nullptr) {
    send_key = keys->s2c;
    recv_key = keys->c2s;
  }
  BridgeOptions bridge_options = options_.bridge;
  bridge_options.idle_timeout = options_.policy.idle_timeout;
  bridge_options.max_lifetime = options_.policy.max_session_lifetime;
  std::optional<size_t> key_index = p->handshake->key_index();
  std::optional<transport::KeyId> key_id;
  if (key_index.has_value() && p->ring != nullptr) {
    key_id = p->ring->key_id(*key_index);
    // The handshake used the ring of its accept time; a key SetKeys removed
    // since (revoked) must not get a session: CloseSessionsOfRemovedKeys may
    // have swept already. The client is past its ClientFinished, so the
    // refusal is the late one (server sequence 1, PROTOCOL.md 7.1).
    std::shared_ptr<const transport::HandshakeKeyRing> current;
    {
      MutexLock lock(&mu_);
      current = key_ring_;
    }
    if (current != nullptr && !current->Find(*key_id).has_value()) {
      (void)SendPlain(p->socket.fd(), &p->sealer, FrameType::kRefusal,
                      transport::EncodeRefusal(absl::StatusCode::kUnauthenticated,
                                               "the server did not accept this key"));
      return;  // Dropping `p` closes the socket and frees its slot.
    }
  }
  std::shared_ptr<Bridge> bridge =
      Bridge::Adopt(std::move(p->socket), loops_->Assign(), Bridge::Role::kServer,
                    send_key, recv_key, bridge_options,
                    dispatcher_->NewConnection());
  bool shutting_down;
  {
    MutexLock lock(&mu_);
    shutting_down = shut_down_;
    if (!shutting_down) {
      if (key_index.has_value()) bridge->SetKeyIndex(static_cast<int>(*key_index));
      sessions_.push_back(Session{bridge, std::move(p->admission), key_id});
      if (queue_accepts_) {
        accept_queue_.push_back(bridge);
        accept_cv_.SignalAll();
      }
    }
  }
  if (shutting_down) {
    (void)bridge->Close(absl::ZeroDuration());
    return;
  }
  bridge->SetCloseCallback([this](Bridge* closed) { RemoveSession(closed); });
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
