#include "netstructer/service/server.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/handshake_messages.h"
#include "service/server_pending.h"

// Server: accepting connections and their handshakes, on the handshake
// loop (which owns the listener and every pending handshake), up to their
// promotion to sessions on the I/O loops.

namespace netstructer {

using transport::FrameType;

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
        accept_retry_timer_ = handshake_loop_->AddRealTimeTimer(
            absl::Now() + absl::Milliseconds(100), [this] {
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
  pending->timer = handshake_loop_->AddRealTimeTimer(
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

std::unique_ptr<Server::Pending> Server::TakePending(int fd) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return nullptr;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  pending_by_age_.erase(p->order);
  handshake_loop_->Unwatch(fd);
  if (p->timer != 0) handshake_loop_->CancelTimer(p->timer);
  return p;
}

void Server::FinishPending(int fd, absl::Status status) {
  // Dropping the handshake closes the socket and releases the admission slot.
  (void)TakePending(fd);
}

void Server::Promote(int fd) {
  std::unique_ptr<Pending> p = TakePending(fd);
  if (p == nullptr) return;
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

}  // namespace netstructer
