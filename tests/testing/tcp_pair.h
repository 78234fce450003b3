// Two connected TCP sockets over loopback, for tests that need TCP's own
// behaviour (its send-buffer wake-ups, a reset) rather than a socketpair's.
#ifndef NETSTRUCTER_TESTS_TESTING_TCP_PAIR_H_
#define NETSTRUCTER_TESTS_TESTING_TCP_PAIR_H_

#include <string>

#include "netstructer/transport/socket.h"

namespace netstructer::testing {

struct SocketPair {
  transport::Socket a;  // The connecting side.
  transport::Socket b;  // The accepted side.
};

// Connected sockets on `host` ("127.0.0.1", "::1"), port chosen by the
// kernel. Fails the process (value() of an error) when it cannot.
SocketPair ConnectedSockets(const std::string& host);

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_TCP_PAIR_H_
