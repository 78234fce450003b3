// The server half of the load test: the Load service of load.proto, the
// Bridge echo, and `load --serve`, the child process the client starts
// (/proc/self/exe) so that client and server are two processes.
#ifndef NETSTRUCTER_TOOLS_LOAD_LOAD_SERVER_H_
#define NETSTRUCTER_TOOLS_LOAD_LOAD_SERVER_H_

#include <atomic>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "netstructer/service/server.h"
#include "netstructer/tools/load/payload.h"
#include "netstructer/transport/fernet.h"
#include "tools/load/load.ns.h"

namespace netstructer::load {

// The address Bridge clients connect from: the server tells Bridge
// sessions from RPC ones (from 127.0.0.1) by the peer IP, and answers only
// the former's buffers. (Linux routes all of 127.0.0.0/8 to loopback.)
inline constexpr char kBridgeClientIp[] = "127.0.0.2";

// What the server saw; thread-safe (atomics).
struct ServerCounters {
  std::atomic<uint64_t> bridge_sessions{0};
  std::atomic<uint64_t> echo_calls{0};
  std::atomic<uint64_t> fetch_streams{0};
  std::atomic<uint64_t> fetch_chunks{0};
  std::atomic<uint64_t> upload_streams{0};
  std::atomic<uint64_t> upload_chunks{0};
  std::atomic<uint64_t> chat_streams{0};
  std::atomic<uint64_t> chat_chunks{0};
  std::atomic<uint64_t> bridge_messages{0};
  std::atomic<uint64_t> mismatches{0};
  std::atomic<uint64_t> errors{0};
};

// Checks every payload it receives (a bad one fails the call with
// DATA_LOSS and counts as a mismatch). Thread-safe. `counters` and the
// server given to set_server must outlive it.
class LoadService final : public ::load::Load::Service {
 public:
  explicit LoadService(ServerCounters* counters) : counters_(counters) {}
  // For Stats' session count. REQUIRES: before the server listens.
  void set_server(const Server* server) { server_ = server; }

  absl::Status Echo(ServerContext* context, const ::load::Chunk* request,
                    ::load::Chunk* response) override;
  absl::Status Fetch(ServerContext* context,
                     const ::load::FetchRequest* request,
                     ServerWriter<::load::Chunk>* writer) override;
  absl::Status Upload(ServerContext* context,
                      ServerReader<::load::Chunk>* reader,
                      ::load::UploadReply* reply) override;
  absl::Status Chat(
      ServerContext* context,
      ServerReaderWriter<::load::Chunk, ::load::Chunk>* stream) override;
  absl::Status Stats(ServerContext* context,
                     const ::load::StatsRequest* request,
                     ::load::StatsReply* reply) override;

  // Most chunks one Fetch may ask for: 64 x 64 KiB stays within a call's
  // 2 MiB window twice over, so a Fetch never waits long on a slow reader.
  static constexpr uint32_t kMaxFetchChunks = 64;

 private:
  // Count a failed check as a mismatch, a failed read or write as an
  // error, and return it.
  absl::Status Mismatch(absl::Status status);
  absl::Status Failed(absl::Status status);
  // The next chunk, checked (CheckPayload); nullopt once the client
  // half-closed. Failures are counted.
  absl::StatusOr<std::optional<PayloadId>> ReadChecked(
      ServerReader<::load::Chunk>* reader, ::load::Chunk* chunk);

  ServerCounters* const counters_;
  const Server* server_ = nullptr;
};

// Serves every session's Bridge buffers from kBridgeClientIp: each buffer
// received is checked (CheckBridgeValue) and sent back unchanged, until the
// session ends. Blocks; run one per Bridge session.
void ServeBridgeEcho(const std::shared_ptr<Bridge>& bridge,
                     ServerCounters* counters);

struct LoadServerOptions {
  // Plaintext frames; else the key ring `keys` (transport/key_file.h).
  bool insecure = false;
  std::vector<transport::FernetKey> keys;
  // The connections the client will open: the accept policy's caps are
  // set to let them all in from one address.
  int connections = 0;
};

// The body of `load --serve`: serves LoadService and the Bridge echo on
// 127.0.0.1:0, writes the bound port and a newline to `out`, then serves
// until `in` reaches its end or yields a line "stop"; then shuts down.
absl::Status RunLoadServer(const LoadServerOptions& options, std::istream& in,
                           std::ostream& out);

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_LOAD_SERVER_H_
