#include "netstructer/tests/testing/tcp_pair.h"

#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace netstructer::testing {

SocketPair ConnectedSockets(const std::string& host) {
  transport::SocketAddress any = transport::ResolveAddress(host + ":0").value();
  transport::Socket listener = transport::ListenTcp(any).value();
  transport::SocketAddress bound = transport::LocalAddress(listener.fd()).value();
  transport::Socket a =
      transport::ConnectTcp(bound, absl::Now() + absl::Seconds(5)).value();
  transport::Socket b;
  for (int i = 0; i < 1000 && !b.valid(); ++i) {
    b = transport::AcceptTcp(listener.fd(), nullptr).value();
    if (!b.valid()) transport::WaitReadable(listener.fd(), absl::Now() + absl::Seconds(1));
  }
  return {std::move(a), std::move(b)};
}

}  // namespace netstructer::testing
