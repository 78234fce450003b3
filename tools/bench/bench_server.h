// The server half of the benchmark: the Echo service of echo.proto and the
// `netstructer bench-server` child process that serves it on 127.0.0.1.
#ifndef NETSTRUCTER_TOOLS_BENCH_BENCH_SERVER_H_
#define NETSTRUCTER_TOOLS_BENCH_BENCH_SERVER_H_

#include <istream>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "tools/bench/echo.ns.h"

namespace netstructer::bench {

// Echo as shared/bench/WORKLOADS.md defines it. Thread-safe (stateless;
// each call's state is local to its handler).
class EchoService final : public ::bench::Echo::Service {
 public:
  // Replies with the request's bytes. They are copied: the handler receives
  // `const Payload*`, so the request cannot be moved into the response (the
  // gRPC peer swaps it). ~1 memcpy per call, measurable only for W3.
  absl::Status Call(ServerContext* context, const ::bench::Payload* request,
                    ::bench::Payload* response) override;
  // Counts bytes and messages until the client half-closes, then replies
  // once with 16 bytes: total bytes (u64 LE), then messages (u64 LE).
  absl::Status Stream(
      ServerContext* context,
      ServerReaderWriter<::bench::Payload, ::bench::Payload>* stream) override;
};

// How the server child's RPC side runs, for the `server_api` field.
inline constexpr char kServerApi[] =
    "sync handlers: unary on the session's event loop (the service says "
    "they never block), "
    "each stream on a thread of its own; one event loop per core for "
    "sessions, one for accepting and handshakes";

struct BenchServerOptions {
  // Plaintext frames; else `key_file` (chmod 600, transport/key_file.h).
  bool insecure = false;
  std::string key_file;
  // The accept policy's per-IP session cap and connection rate limit. Off
  // for the connection workloads (W5, W6): every connection there comes
  // from 127.0.0.1, and the shipped limits (64 sessions, 20 new
  // connections/s per IP) would refuse them.
  bool ip_limits = true;
};

// The body of `netstructer bench-server`: serves EchoService on
// 127.0.0.1:0, writes the bound port and a newline to `out`, then serves
// until `in` reaches its end or yields a line "stop"; then shuts down.
absl::Status RunBenchServer(const BenchServerOptions& options, std::istream& in,
                            std::ostream& out);

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_BENCH_SERVER_H_
