// TCP sockets: addresses, listening, connecting, non-blocking I/O helpers.
// IPv4 and IPv6; every socket is non-blocking and close-on-exec, and every
// connection has TCP_NODELAY (frames are whole messages; Nagle would only add
// latency).
#ifndef NETSTRUCTER_TRANSPORT_SOCKET_H_
#define NETSTRUCTER_TRANSPORT_SOCKET_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace netstructer::transport {

// A resolved socket address. Value type.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  uint16_t port() const;
  // "127.0.0.1:8080" or "[::1]:8080".
  std::string ToString() const;
  // The address without the port: "127.0.0.1" or "::1" (IPv4-mapped IPv6
  // addresses print as IPv4).
  std::string HostString() const;
};

// Parses "HOST:PORT": an IPv4 literal, "[IPv6]", or a name resolved with
// getaddrinfo (the first address). INVALID_ARGUMENT for a malformed address
// or port; UNAVAILABLE when a name does not resolve.
absl::StatusOr<SocketAddress> ResolveAddress(absl::string_view host_port);

// An owned file descriptor. Resource type (move-only); closes on destruction.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.Release()) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { Close(); }

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Close();

 private:
  int fd_ = -1;
};

// A listening socket bound to `address` (port 0 picks a free port).
// SO_REUSEADDR; IPv6 sockets are IPv6-only. Errors name the address:
// UNAVAILABLE "address already in use", PERMISSION_DENIED for privileged
// ports, INVALID_ARGUMENT for an address this host does not have.
absl::StatusOr<Socket> ListenTcp(const SocketAddress& address, int backlog = 1024);

// Connects to `address` before `deadline`, from `local` when given (a source
// address of this host, port 0 for any). UNAVAILABLE (with the reason:
// connection refused, unreachable) or DEADLINE_EXCEEDED.
absl::StatusOr<Socket> ConnectTcp(const SocketAddress& address,
                                  absl::Time deadline,
                                  const SocketAddress* local = nullptr);

// Accepts one pending connection (non-blocking); nullopt-like: an invalid
// Socket when none is pending. `peer` receives the peer's address.
absl::StatusOr<Socket> AcceptTcp(int listen_fd, SocketAddress* peer);

absl::StatusOr<SocketAddress> LocalAddress(int fd);
absl::StatusOr<SocketAddress> PeerAddress(int fd);

// Waits until `fd` is readable (or writable) or `deadline` passes. Returns
// true when ready, false on timeout. EINTR is retried.
bool WaitReadable(int fd, absl::Time deadline);
bool WaitWritable(int fd, absl::Time deadline);

// Writes all of `data` to a non-blocking socket, waiting as needed, before
// `deadline`. UNAVAILABLE if the peer is gone, DEADLINE_EXCEEDED on timeout.
absl::Status WriteAll(int fd, absl::string_view data, absl::Time deadline);

// errno as a status with context: "connect to 127.0.0.1:1: Connection refused".
absl::Status ErrnoStatus(absl::StatusCode code, int err, absl::string_view what);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_SOCKET_H_
