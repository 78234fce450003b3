#include "netstructer/transport/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace netstructer::transport {
namespace {

int PollMillis(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  // Round up so a wait never returns just before its deadline; a wait
  // past INT_MAX ms (24.8 days) wakes at it and waits again.
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(left + absl::Microseconds(999)), INT_MAX));
}

bool WaitFor(int fd, short events, absl::Time deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, PollMillis(deadline));
    if (n > 0) return true;
    if (n == 0) {
      if (absl::Now() >= deadline) return false;
      continue;
    }
    if (errno != EINTR) return true;  // Let the caller's I/O report it.
  }
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

absl::Status ErrnoStatus(absl::StatusCode code, int err, absl::string_view what) {
  return absl::Status(code, absl::StrCat(what, ": ", std::strerror(err)));
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::HostString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr,
              buf, sizeof(buf));
    return buf;
  }
  if (family() == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf));
    }
    return buf;
  }
  return "?";
}

std::string SocketAddress::ToString() const {
  const std::string host = HostString();
  if (family() == AF_INET6 && host.find(':') != std::string::npos) {
    return absl::StrCat("[", host, "]:", port());
  }
  return absl::StrCat(host, ":", port());
}

absl::StatusOr<SocketAddress> ResolveAddress(absl::string_view host_port) {
  std::string host;
  absl::string_view port_text;
  if (!host_port.empty() && host_port[0] == '[') {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos || close + 1 >= host_port.size() ||
        host_port[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad address '", host_port, "': expected [IPv6]:PORT"));
    }
    host = std::string(host_port.substr(1, close - 1));
    port_text = host_port.substr(close + 2);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == absl::string_view::npos ||
        host_port.find(':') != colon) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad address '", host_port,
          "': expected HOST:PORT (IPv6 as [ADDR]:PORT)"));
    }
    host = std::string(host_port.substr(0, colon));
    port_text = host_port.substr(colon + 1);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535 || host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address '", host_port, "': bad host or port"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0 || result == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot resolve '", host,
                                               "': ", gai_strerror(rc)));
  }
  SocketAddress address;
  std::memcpy(&address.storage, result->ai_addr, result->ai_addrlen);
  address.length = result->ai_addrlen;
  freeaddrinfo(result);
  if (address.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(port);
  } else if (address.family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(port);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", host, "' is not an IP address"));
  }
  return address;
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.Release();
  }
  return *this;
}

void Socket::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

absl::StatusOr<Socket> ListenTcp(const SocketAddress& address, int backlog) {
  Socket s(socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    return ErrnoStatus(absl::StatusCode::kUnavailable, errno, "socket");
  }
  int one = 1;
  setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (address.family() == AF_INET6) {
    setsockopt(s.fd(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (bind(s.fd(), reinterpret_cast<const sockaddr*>(&address.storage),
           address.length) != 0) {
    const int err = errno;
    const std::string what = absl::StrCat("cannot listen on ", address.ToString());
    switch (err) {
      case EADDRINUSE:
        return ErrnoStatus(absl::StatusCode::kUnavailable, err, what);
      case EACCES:
        return ErrnoStatus(absl::StatusCode::kPermissionDenied, err, what);
      case EADDRNOTAVAIL:
        return ErrnoStatus(absl::StatusCode::kInvalidArgument, err, what);
      default:
        return ErrnoStatus(absl::StatusCode::kUnavailable, err, what);
    }
  }
  if (listen(s.fd(), backlog) != 0) {
    return ErrnoStatus(absl::StatusCode::kUnavailable, errno,
                       absl::StrCat("listen on ", address.ToString()));
  }
  return s;
}

absl::StatusOr<Socket> ConnectTcp(const SocketAddress& address,
                                  absl::Time deadline,
                                  const SocketAddress* local) {
  Socket s(socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    return ErrnoStatus(absl::StatusCode::kUnavailable, errno, "socket");
  }
  const std::string what = absl::StrCat("connect to ", address.ToString());
  if (local != nullptr &&
      bind(s.fd(), reinterpret_cast<const sockaddr*>(&local->storage),
           local->length) != 0) {
    return ErrnoStatus(absl::StatusCode::kInvalidArgument, errno,
                       absl::StrCat("bind to ", local->ToString()));
  }
  if (connect(s.fd(), reinterpret_cast<const sockaddr*>(&address.storage),
              address.length) != 0) {
    if (errno != EINPROGRESS) {
      return ErrnoStatus(absl::StatusCode::kUnavailable, errno, what);
    }
    if (!WaitWritable(s.fd(), deadline)) {
      return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return ErrnoStatus(absl::StatusCode::kUnavailable, err, what);
  }
  SetNoDelay(s.fd());
  return s;
}

absl::StatusOr<Socket> AcceptTcp(int listen_fd, SocketAddress* peer) {
  SocketAddress addr;
  addr.length = sizeof(addr.storage);
  const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr.storage),
                         &addr.length, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR ||
        err == ECONNABORTED) {
      return Socket();
    }
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      return ErrnoStatus(absl::StatusCode::kResourceExhausted, err, "accept");
    }
    return ErrnoStatus(absl::StatusCode::kUnavailable, err, "accept");
  }
  SetNoDelay(fd);
  if (peer != nullptr) *peer = addr;
  return Socket(fd);
}

namespace {
absl::StatusOr<SocketAddress> NameOf(int fd, bool peer) {
  SocketAddress addr;
  addr.length = sizeof(addr.storage);
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr.storage), &addr.length)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&addr.storage), &addr.length);
  if (rc != 0) {
    return ErrnoStatus(absl::StatusCode::kUnavailable, errno,
                       peer ? "getpeername" : "getsockname");
  }
  return addr;
}
}  // namespace

absl::StatusOr<SocketAddress> LocalAddress(int fd) { return NameOf(fd, false); }
absl::StatusOr<SocketAddress> PeerAddress(int fd) { return NameOf(fd, true); }

bool WaitReadable(int fd, absl::Time deadline) {
  return WaitFor(fd, POLLIN, deadline);
}

bool WaitWritable(int fd, absl::Time deadline) {
  return WaitFor(fd, POLLOUT, deadline);
}

absl::Status WriteAll(int fd, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitWritable(fd, deadline)) {
        return absl::DeadlineExceededError("write timed out");
      }
      continue;
    }
    return ErrnoStatus(absl::StatusCode::kUnavailable, errno,
                       "the connection was lost while writing");
  }
  return absl::OkStatus();
}

}  // namespace netstructer::transport
