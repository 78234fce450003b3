// netstructer::Channel: the client end of one authenticated connection, on
// which many RPC calls are multiplexed (docs/RPC_API.md). Generated stubs
// hold a std::shared_ptr<Channel>.
//
// Threads: thread-safe. A thread blocked in a call reads the connection
// itself (no hand-off to another thread on the fast path); asynchronous
// calls complete on the channel's event loop (a loop of the process's
// shared group, one per core, that other channels use too; a response a
// blocked caller read is handed to it), so their callbacks must not block.
#ifndef NETSTRUCTER_CLIENT_CHANNEL_H_
#define NETSTRUCTER_CLIENT_CHANNEL_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/client/call_options.h"
#include "netstructer/rpc/connection.h"
#include "netstructer/transport/bridge.h"

namespace netstructer {

struct ChannelOptions {
  // Key, timeouts and connection limits (transport/bridge.h).
  LinkOptions link;
  // Run in order on every call.
  std::vector<std::shared_ptr<ClientInterceptor>> interceptors;
};

class Channel {
 public:
  // Connects and authenticates (the errors of Bridge::Link).
  static absl::StatusOr<std::shared_ptr<Channel>> Create(
      absl::string_view address, const ChannelOptions& options);
  // Over a client Bridge from Bridge::Link that carries no calls yet; its
  // Bridge stream (SendBuffer/RecvBuffer) keeps working beside the calls.
  static absl::StatusOr<std::shared_ptr<Channel>> Over(
      std::shared_ptr<Bridge> bridge,
      std::vector<std::shared_ptr<ClientInterceptor>> interceptors = {});

  // Destroying the Channel closes the connection: calls still running fail
  // with UNAVAILABLE or CANCELLED (stream objects stay safe to use).
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // The connection's Bridge: buffers travel beside the calls.
  Bridge& bridge() const { return *bridge_; }
  // OK while the connection is open; then UNAVAILABLE with why it closed
  // (the code calls on it report).
  absl::Status status() const;

  // For the call machinery.
  rpc::RpcConnection* connection() const { return connection_.get(); }
  const std::shared_ptr<Bridge>& bridge_owner() const { return bridge_; }
  const std::vector<std::shared_ptr<ClientInterceptor>>& interceptors() const {
    return interceptors_;
  }

 private:
  Channel() = default;
  std::shared_ptr<Bridge> bridge_;
  std::shared_ptr<rpc::RpcConnection> connection_;
  std::vector<std::shared_ptr<ClientInterceptor>> interceptors_;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_CLIENT_CHANNEL_H_
