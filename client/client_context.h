// netstructer::ClientContext: one call's own object, as gRPC users know it.
// It owns what the call sends (deadline, metadata, compression), its
// cancellation, and what came back (the server's initial and trailing
// metadata, the peer's address). docs/RPC_API.md, "The call context".
//
// Ownership: the caller's, for one call. Set it up before the call, keep it
// until the call has ended (a blocking call returned, an asynchronous call's
// callback ran or its Future is ready, a stream's Finish returned), then
// read what came back. TryCancel is the one member any thread may call at
// any time while the context lives; the rest is thread-compatible.
#ifndef NETSTRUCTER_CLIENT_CLIENT_CONTEXT_H_
#define NETSTRUCTER_CLIENT_CLIENT_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "netstructer/client/call_options.h"
#include "netstructer/rpc/metadata.h"

namespace netstructer {

class ClientContext {
 public:
  ClientContext();
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // ---- Before the call ----------------------------------------------------
  // The earlier of the two wins; the timeout counts from the call's start.
  // Neither set = no deadline.
  void set_deadline(absl::Time deadline) { options_.deadline = deadline; }
  void set_timeout(absl::Duration timeout) { options_.timeout = timeout; }
  // Sent with the call (ServerContext::client_metadata()). The rules of
  // rpc/metadata.h are checked when the call starts: a bad key or too much
  // metadata fails the call with INVALID_ARGUMENT and sends nothing.
  void AddMetadata(std::string key, std::string value) {
    options_.metadata.emplace_back(std::move(key), std::move(value));
  }
  // lz4 for this call's messages of 1 KiB or more (CallOptions::compression).
  void set_compression(bool on) { options_.compression = on; }
  // The deadline as set (not counting set_timeout's).
  absl::Time deadline() const { return options_.deadline; }

  // ---- Any time, any thread -----------------------------------------------
  // Ends the call with CANCELLED if it has not finished; before the call
  // starts, the call fails at once with CANCELLED and sends nothing.
  void TryCancel() { cancellation_->Cancel(); }

  // ---- After the call ended -----------------------------------------------
  // What the server's handler added (ServerContext::AddInitialMetadata /
  // AddTrailingMetadata); empty if nothing, or if the call never reached it.
  const Metadata& GetServerInitialMetadata() const { return response_.initial; }
  const Metadata& GetServerTrailingMetadata() const {
    return response_.trailing;
  }
  // The channel's server, "host:port" (IPv6 in brackets), once a call was
  // started with this context, even one that then failed before sending
  // (TryCancel first, a bad key, a passed deadline); empty before.
  const std::string& peer() const { return peer_; }

  // ---- For the call machinery -----------------------------------------------
  // The options for the one call this context serves, on the connection to
  // `peer`. FAILED_PRECONDITION if a call already used this context: its
  // metadata and cancellation belong to that call.
  absl::StatusOr<CallOptions> StartCall(const std::string& peer);

 private:
  CallOptions options_;
  ResponseMetadata response_;
  std::shared_ptr<Cancellation> cancellation_;
  std::string peer_;
  bool started_ = false;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_CLIENT_CLIENT_CONTEXT_H_
