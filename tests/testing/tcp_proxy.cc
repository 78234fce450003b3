#include "netstructer/tests/testing/tcp_proxy.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "absl/strings/str_cat.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::testing {

namespace {

// How often blocked proxy threads look at the stop flag.
constexpr int kPollMillis = 20;
// A peer that takes no bytes for this long is treated as gone.
constexpr absl::Duration kWriteTimeout = absl::Seconds(5);

const char* KindName(ByteFaults::Kind kind) {
  switch (kind) {
    case ByteFaults::Kind::kNone:
      return "none";
    case ByteFaults::Kind::kDuplicate:
      return "duplicate";
    case ByteFaults::Kind::kDrop:
      return "drop";
    case ByteFaults::Kind::kFlip:
      return "flip";
    case ByteFaults::Kind::kCut:
      return "cut";
  }
  return "?";
}

}  // namespace

std::string ByteFaults::ToString() const {
  std::string out = KindName(kind);
  if (kind != Kind::kNone) absl::StrAppend(&out, " at ", at);
  if (kind == Kind::kDuplicate || kind == Kind::kDrop) {
    absl::StrAppend(&out, " length ", length);
  }
  if (max_chunk > 0) absl::StrAppend(&out, ", chunks <= ", max_chunk);
  if (max_delay > absl::ZeroDuration()) {
    absl::StrAppend(&out, ", delay <= ", absl::FormatDuration(max_delay));
  }
  absl::StrAppend(&out, ", seed ", seed);
  return out;
}

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Listen(
    const std::string& server_address) {
  std::unique_ptr<TcpProxy> proxy(new TcpProxy());
  proxy->server_address_ = server_address;
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
  return proxy;
}

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(
    const std::string& server_address, FrameRewriter rewriter) {
  absl::StatusOr<std::unique_ptr<TcpProxy>> proxy = Listen(server_address);
  if (!proxy.ok()) return proxy.status();
  (*proxy)->rewriter_ = std::move(rewriter);
  (*proxy)->thread_ = std::thread([p = proxy->get()] { p->Run(); });
  return proxy;
}

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(
    const std::string& server_address, ByteFaults client_to_server,
    ByteFaults server_to_client) {
  absl::StatusOr<std::unique_ptr<TcpProxy>> proxy = Listen(server_address);
  if (!proxy.ok()) return proxy.status();
  (*proxy)->directions_[0].faults = std::move(client_to_server);
  (*proxy)->directions_[1].faults = std::move(server_to_client);
  (*proxy)->thread_ = std::thread([p = proxy->get()] { p->Run(); });
  return proxy;
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  if (connected_.load()) ShutdownBoth();  // Wakes blocked pumps at once.
  if (thread_.joinable()) thread_.join();
}

void TcpProxy::ShutdownBoth() {
  shutdown(client_.fd(), SHUT_RDWR);
  shutdown(server_.fd(), SHUT_RDWR);
}

void TcpProxy::Run() {
  while (!stop_ && !client_.valid()) {
    transport::WaitReadable(listener_.fd(),
                            absl::Now() + absl::Milliseconds(kPollMillis));
    absl::StatusOr<transport::Socket> s =
        transport::AcceptTcp(listener_.fd(), nullptr);
    if (s.ok()) client_ = *std::move(s);
  }
  if (stop_) return;
  absl::StatusOr<transport::Socket> server =
      transport::ConnectTcp(*transport::ResolveAddress(server_address_),
                            absl::Now() + absl::Seconds(5));
  if (!server.ok()) return;  // Closing the client tells it.
  server_ = *std::move(server);
  connected_.store(true);
  if (rewriter_) {
    RunFrames();
    return;
  }
  std::thread up([this] { Pump(client_.fd(), server_.fd(), &directions_[0]); });
  Pump(server_.fd(), client_.fd(), &directions_[1]);
  up.join();
}

bool TcpProxy::Send(int fd, absl::string_view data) {
  const absl::Time deadline = absl::Now() + kWriteTimeout;
  while (!data.empty()) {
    const ssize_t n =
        send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    if (stop_ || absl::Now() >= deadline) return false;
    pollfd p{fd, POLLOUT, 0};
    poll(&p, 1, kPollMillis);
  }
  return true;
}

void TcpProxy::Pump(int from, int to, Direction* direction) {
  const ByteFaults& f = direction->faults;
  const bool up = direction == &directions_[0];
  std::mt19937_64 rng(f.seed * 2 + (up ? 0 : 1));
  std::uniform_int_distribution<size_t> chunk_size(
      1, std::max<size_t>(f.max_chunk, 1));
  std::uniform_int_distribution<int64_t> delay_ns(
      0, absl::ToInt64Nanoseconds(f.max_delay));
  std::uniform_int_distribution<int> mask(1, 255);
  const uint64_t fault_end = f.at + f.length;
  uint64_t offset = 0;    // Stream offset of the next byte read.
  std::string duplicate;  // The duplicated run, as it passes.
  char buf[65536];
  while (!stop_) {
    pollfd p{from, POLLIN, 0};
    if (poll(&p, 1, kPollMillis) <= 0) continue;
    const ssize_t got = recv(from, buf, sizeof(buf), MSG_DONTWAIT);
    if (got < 0 &&
        (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
      continue;
    }
    if (got <= 0) {
      // The sender closed (or reset): pass the end on.
      shutdown(to, SHUT_WR);
      return;
    }
    direction->bytes.fetch_add(static_cast<uint64_t>(got));
    absl::string_view data(buf, static_cast<size_t>(got));
    while (!data.empty()) {
      size_t n = data.size();
      if (f.max_chunk > 0) n = std::min(n, chunk_size(rng));
      if (f.kind != ByteFaults::Kind::kNone) {
        // A chunk never straddles where the fault starts or ends.
        for (uint64_t boundary : {f.at, fault_end}) {
          if (boundary > offset && boundary - offset < n) n = boundary - offset;
        }
      }
      std::string chunk(data.substr(0, n));
      data.remove_prefix(n);
      const bool inside = offset >= f.at && offset < fault_end;
      offset += n;
      if (f.max_delay > absl::ZeroDuration()) {
        const absl::Time until = absl::Now() + absl::Nanoseconds(delay_ns(rng));
        while (!stop_ && absl::Now() < until) {
          absl::SleepFor(std::min(until - absl::Now(), absl::Milliseconds(10)));
        }
      }
      switch (f.kind) {
        case ByteFaults::Kind::kNone:
          break;
        case ByteFaults::Kind::kCut:
          if (offset - n >= f.at) {
            direction->fired = true;
            ShutdownBoth();
            return;
          }
          break;
        case ByteFaults::Kind::kDrop:
          if (inside) {
            direction->fired = true;
            chunk.clear();
          }
          break;
        case ByteFaults::Kind::kDuplicate:
          if (inside) {
            duplicate += chunk;
            if (offset == fault_end) {
              direction->fired = true;
              chunk += duplicate;  // The run, then the run again.
            }
          }
          break;
        case ByteFaults::Kind::kFlip:
          if (inside) {
            direction->fired = true;
            chunk[0] = static_cast<char>(chunk[0] ^ mask(rng));
          }
          break;
      }
      if (!chunk.empty() && !Send(to, chunk)) {
        ShutdownBoth();
        return;
      }
    }
  }
}

void TcpProxy::RunFrames() {
  const int client = client_.fd();
  const int server = server_.fd();
  std::string pending;  // Client bytes not yet forwarded (a partial frame).
  int index = 0;
  bool truncated = false;
  char buf[65536];
  while (!stop_ && !truncated) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (poll(fds, 2, kPollMillis) <= 0) continue;
    if (fds[1].revents != 0) {
      const ssize_t n = recv(server, buf, sizeof(buf), 0);
      if (n <= 0) break;
      if (!Send(client, absl::string_view(buf, n))) break;
    }
    if (fds[0].revents != 0) {
      const ssize_t n = recv(client, buf, sizeof(buf), 0);
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
        if (!Send(server, out)) truncated = true;
        if (truncated) break;
      }
    }
  }
  // Shutting both ends down tells each side the connection is gone.
  ShutdownBoth();
}

}  // namespace netstructer::testing
