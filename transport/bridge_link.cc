// Bridge::Link: connect, handshake on the caller's thread, then hand the
// socket to a Bridge on a loop of the process's shared group.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_io.h"
#include "netstructer/transport/mutex.h"

namespace netstructer {

namespace {

using transport::FrameType;

// Seals one plaintext handshake frame (insecure inner frame, stream 0).
absl::Status SendHandshakeFrame(int fd, transport::FrameSealer* sealer,
                                FrameType type, absl::string_view payload,
                                absl::Time deadline) {
  std::string out;
  if (absl::Status s =
          sealer->Seal(transport::kConnectionStreamId, type, 0, payload,
                       /*allow_compression=*/false,
                       absl::ToUnixSeconds(absl::Now()), &out);
      !s.ok()) {
    return s;
  }
  return transport::WriteAll(fd, out, deadline);
}

}  // namespace

absl::StatusOr<std::shared_ptr<Bridge>> Bridge::Link(
    absl::string_view address, const LinkOptions& options) {
  if (!options.insecure && !options.key.has_value()) {
    return absl::InvalidArgumentError(
        "Bridge::Link needs a key (LinkOptions.key), or insecure = true");
  }
  if (options.insecure && options.key.has_value()) {
    return absl::InvalidArgumentError(
        "LinkOptions: give a key or insecure = true, not both");
  }
  absl::StatusOr<transport::SocketAddress> resolved =
      transport::ResolveAddress(address);
  if (!resolved.ok()) return resolved.status();
  std::optional<transport::SocketAddress> local;
  if (!options.local_address.empty()) {
    absl::StatusOr<transport::SocketAddress> l =
        transport::ResolveAddress(options.local_address);
    if (!l.ok()) return l.status();
    local = *l;
  }
  absl::StatusOr<transport::Socket> socket = transport::ConnectTcp(
      *resolved, std::min(absl::Now() + options.connect_timeout, options.deadline),
      local.has_value() ? &*local : nullptr);
  if (!socket.ok()) return socket.status();
  const int fd = socket->fd();
  const absl::Time deadline =
      std::min(absl::Now() + options.handshake_timeout, options.deadline);

  absl::StatusOr<transport::ClientHandshake> handshake =
      options.insecure ? transport::ClientHandshake::CreateInsecure()
                       : transport::ClientHandshake::Create(*options.key);
  if (!handshake.ok()) return handshake.status();
  transport::FrameSealer sealer = transport::FrameSealer::Insecure();
  transport::FrameOpener opener = transport::FrameOpener::Handshake();
  if (absl::Status s = SendHandshakeFrame(fd, &sealer, FrameType::kHandshake,
                                          handshake->client_hello(), deadline);
      !s.ok()) {
    return s;
  }
  // The server's answer: a ServerHello, or a REFUSAL (policy, key, mode).
  absl::StatusOr<std::string> body = transport::ReadOneFrame(fd, deadline);
  if (!body.ok()) {
    if (body.status().code() == absl::StatusCode::kUnavailable) {
      return absl::UnavailableError(absl::StrCat(
          "the server at ", resolved->ToString(),
          " closed the connection during the handshake"));
    }
    return body.status();
  }
  absl::StatusOr<transport::OpenedFrame> frame = opener.Open(*body);
  if (!frame.ok()) return frame.status();
  absl::StatusOr<std::optional<std::string>> finished =
      handshake->OnServerFrame(frame->header, frame->payload);
  if (!finished.ok()) return finished.status();
  if (finished->has_value()) {
    if (absl::Status s = SendHandshakeFrame(fd, &sealer, FrameType::kHandshake,
                                            **finished, deadline);
        !s.ok()) {
      return s;
    }
  }
  std::shared_ptr<transport::EventLoopGroup> group = options.loops;
  const bool shared_group = group == nullptr;
  if (group == nullptr) {
    absl::StatusOr<std::shared_ptr<transport::EventLoopGroup>> shared =
        transport::EventLoopGroup::Shared();
    if (!shared.ok()) return shared.status();
    group = *std::move(shared);
  }
  std::optional<transport::FernetKey> send_key;
  std::optional<transport::FernetKey> recv_key;
  if (const transport::SessionKeys* keys = handshake->keys(); keys != nullptr) {
    send_key = keys->c2s;
    recv_key = keys->s2c;
  }
  // The caller's shared_ptr owns the Bridge and its loop assignment. When
  // the last reference goes, the Bridge is aborted (its peer sees the close
  // at once) and let go. A loop callback running it holds it (weak_ptr ->
  // shared_ptr), so it is destroyed by whoever lets go last: the caller, or
  // the loop after that callback. With the process's shared group that is
  // all: the group outlives every connection (and passes a barrier on each
  // loop at exit, so no callback is left holding one then). With a group of
  // the caller's own, which the caller may let go next, the release waits
  // until the loop has passed a barrier, so that the caller is the last
  // holder and joins the loop threads itself (a group released on one of its
  // own threads is joined by a detached thread, which process exit does not
  // wait for). Waiting for a busy loop made closing 2x slower than gRPC's
  // (docs/BENCHMARKS.md, W6).
  struct Owner {
    std::shared_ptr<transport::EventLoop> loop;
    std::shared_ptr<Bridge> bridge;
    bool shared_group = false;
    ~Owner() {
      // Abort unwatches the socket and cancels the timers.
      bridge->Abort(absl::CancelledError("the Bridge was released"));
      if (shared_group || loop->InLoopThread()) {
        bridge.reset();
        loop.reset();
        return;
      }
      if (transport::EventLoop::Current() != nullptr) {
        // On another loop's thread, which must never wait for a loop (two
        // loops releasing each other's Bridges would wait forever): the
        // Bridge's own loop lets it go after the callback it runs now.
        transport::EventLoop* raw = loop.get();
        raw->Post([bridge = std::move(bridge), loop = std::move(loop)] {});
        return;
      }
      // Wait for the loop to pass a barrier.
      auto barrier = std::make_shared<std::pair<Mutex, bool>>();
      auto cv = std::make_shared<CondVar>();
      loop->Post([barrier, cv] {
        MutexLock lock(&barrier->first);
        barrier->second = true;
        cv->SignalAll();
      });
      {
        MutexLock lock(&barrier->first);
        while (!barrier->second) cv->Wait(&barrier->first);
      }
      bridge.reset();
      loop.reset();
    }
  };
  auto owner = std::make_shared<Owner>();
  owner->shared_group = shared_group;
  owner->loop = group->Assign();
  owner->bridge = Adopt(*std::move(socket), owner->loop, Role::kClient,
                        send_key, recv_key, options.bridge);
  Bridge* raw = owner->bridge.get();
  return std::shared_ptr<Bridge>(std::move(owner), raw);
}

}  // namespace netstructer
