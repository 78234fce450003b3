// What one ClientHello costs a server, by the path it takes (docs/SECURITY.md,
// "Handshake floods"): the server CPU time of ServerHandshake::Create plus
// OnClientFrame, per hello, as a flood would make a server spend it.
//
//   bazel run -c opt //tools/bench:handshake_cost [-- ROUNDS]
//
// Prints one line per path: median and 90th percentile of per-hello thread
// CPU time over ROUNDS (default 2000) hellos, in microseconds.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/frame_header.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_crypto.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/hello_replay_guard.h"

namespace netstructer::transport {
namespace {

int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Runs `hello()` through a fresh ServerHandshake `rounds` times; returns the
// sorted per-hello CPU times (us) and checks the outcome's code.
std::vector<double> Measure(const HandshakeKeyRing& ring,
                            const std::shared_ptr<HelloReplayGuard>& guard,
                            const std::function<std::string()>& hello,
                            absl::StatusCode expected, int rounds) {
  FrameHeader header;
  header.type = FrameType::kHandshake;
  std::vector<double> us;
  us.reserve(rounds);
  for (int i = 0; i < rounds; ++i) {
    const std::string payload = hello();  // Not measured: the client's work.
    const int64_t start = ThreadCpuNanos();
    ServerHandshake server = ServerHandshake::Create(ring, nullptr, guard).value();
    ServerHandshake::Reply reply = server.OnClientFrame(header, payload);
    const int64_t end = ThreadCpuNanos();
    if (reply.status.code() != expected) {
      std::fprintf(stderr, "unexpected outcome: %s\n",
                   reply.status.ToString().c_str());
      std::exit(1);
    }
    us.push_back(static_cast<double>(end - start) / 1000.0);
  }
  std::sort(us.begin(), us.end());
  return us;
}

void Print(const char* path, const std::vector<double>& us) {
  std::printf("%-58s p50 %7.1f us  p90 %7.1f us\n", path, us[us.size() / 2],
              us[us.size() * 9 / 10]);
}

}  // namespace
}  // namespace netstructer::transport

int main(int argc, char** argv) {
  using namespace netstructer::transport;  // NOLINT: a tool's main.
  const int rounds = argc > 1 ? std::max(10, std::atoi(argv[1])) : 2000;
  const FernetKey key = FernetKey::Generate().value();
  const HandshakeKeyRing ring = HandshakeKeyRing::Create({key}).value();
  auto guard = std::make_shared<HelloReplayGuard>();

  // A ClientHello with the server's key id (sniffed from a real one) and a
  // binder under another key: what anyone who saw one hello can send.
  const FernetKey other = FernetKey::Generate().value();
  auto forged = [&] {
    ClientHello hello;
    hello.key_id = KeyIdOf(key).value();
    hello.nonce = HandshakeRandom::Generate().value().nonce;
    hello.public_key = X25519PublicKey(HandshakeRandom::Generate().value().x25519_private).value();
    hello.time_unix_seconds = absl::ToUnixSeconds(absl::Now());
    return EncodeBoundClientHello(hello, BinderKeyOf(other).value()).value();
  };
  auto unknown = [&] {
    return ClientHandshake::Create(other).value().client_hello();
  };
  auto valid = [&] { return ClientHandshake::Create(key).value().client_hello(); };
  const std::string recorded = valid();
  (void)Measure(ring, guard, [&] { return recorded; }, absl::StatusCode::kOk, 1);
  auto replayed = [&] { return recorded; };

  using absl::StatusCode;
  Print("unknown key id", Measure(ring, guard, unknown, StatusCode::kUnauthenticated, rounds));
  Print("sniffed key id, forged binder (the flood)",
        Measure(ring, guard, forged, StatusCode::kUnauthenticated, rounds));
  Print("replay of an accepted hello",
        Measure(ring, guard, replayed, StatusCode::kUnauthenticated, rounds));
  Print("valid hello: X25519 x2 + key schedule (a key holder)",
        Measure(ring, guard, valid, StatusCode::kOk, rounds));
  return 0;
}
