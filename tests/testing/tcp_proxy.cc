#include "tests/testing/tcp_proxy.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/frame_format.h"

namespace netstructer::testing {

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(
    const std::string& server_address, FrameRewriter rewriter) {
  std::unique_ptr<TcpProxy> proxy(new TcpProxy());
  proxy->server_address_ = server_address;
  proxy->rewriter_ = std::move(rewriter);
  absl::StatusOr<transport::SocketAddress> server =
      transport::ResolveAddress(server_address);
  if (!server.ok()) return server.status();
  // Same family as the server, any port.
  absl::StatusOr<transport::SocketAddress> local = transport::ResolveAddress(
      server->family() == AF_INET6 ? "[::1]:0" : "127.0.0.1:0");
  if (!local.ok()) return local.status();
  absl::StatusOr<transport::Socket> listener = transport::ListenTcp(*local);
  if (!listener.ok()) return listener.status();
  proxy->listener_ = *std::move(listener);
  proxy->address_ = transport::LocalAddress(proxy->listener_.fd())->ToString();
  proxy->thread_ = std::thread([p = proxy.get()] { p->Run(); });
  return proxy;
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void TcpProxy::Run() {
  transport::Socket client;
  while (!stop_ && !client.valid()) {
    transport::WaitReadable(listener_.fd(), absl::Now() + absl::Milliseconds(20));
    absl::StatusOr<transport::Socket> s = transport::AcceptTcp(listener_.fd(), nullptr);
    if (s.ok()) client = *std::move(s);
  }
  if (stop_) return;
  absl::StatusOr<transport::Socket> server = transport::ConnectTcp(
      *transport::ResolveAddress(server_address_), absl::Now() + absl::Seconds(5));
  if (!server.ok()) return;
  std::string pending;  // Client bytes not yet forwarded (a partial frame).
  int index = 0;
  bool truncated = false;
  char buf[65536];
  while (!stop_ && !truncated) {
    pollfd fds[2] = {{client.fd(), POLLIN, 0}, {server->fd(), POLLIN, 0}};
    if (poll(fds, 2, 20) <= 0) continue;
    if (fds[1].revents != 0) {
      const ssize_t n = recv(server->fd(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      if (!transport::WriteAll(client.fd(), absl::string_view(buf, n),
                               absl::Now() + absl::Seconds(5)).ok()) {
        break;
      }
    }
    if (fds[0].revents != 0) {
      const ssize_t n = recv(client.fd(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      pending.append(buf, n);
      for (;;) {
        if (pending.size() < transport::kLengthPrefixBytes) break;
        const size_t length = transport::big_endian::Load32(pending.data());
        const size_t whole = transport::kLengthPrefixBytes + length;
        if (pending.size() < whole) break;
        const std::string frame = pending.substr(0, whole);
        pending.erase(0, whole);
        std::string out = rewriter_(index++, frame);
        if (out == "\xff") {
          out = frame.substr(0, frame.size() / 2);
          truncated = true;
        }
        if (!transport::WriteAll(server->fd(), out, absl::Now() + absl::Seconds(5)).ok()) {
          truncated = true;
        }
        if (truncated) break;
      }
    }
  }
  // Closing both ends tells each side the connection is gone.
}

}  // namespace netstructer::testing
