#include "netstructer/client/channel.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace netstructer {

absl::StatusOr<std::shared_ptr<Channel>> Channel::Create(
    absl::string_view address, const ChannelOptions& options) {
  absl::StatusOr<std::shared_ptr<Bridge>> bridge =
      Bridge::Link(address, options.link);
  if (!bridge.ok()) return bridge.status();
  return Over(*std::move(bridge), options.interceptors);
}

absl::StatusOr<std::shared_ptr<Channel>> Channel::Over(
    std::shared_ptr<Bridge> bridge,
    std::vector<std::shared_ptr<ClientInterceptor>> interceptors) {
  if (bridge == nullptr || bridge->role() != Bridge::Role::kClient) {
    return absl::InvalidArgumentError("a Channel needs a client Bridge");
  }
  std::shared_ptr<Channel> channel(new Channel());
  channel->connection_ = std::make_shared<rpc::RpcConnection>(
      rpc::RpcConnection::Role::kClient, nullptr);
  bridge->SetStreamHandler(channel->connection_);
  channel->bridge_ = std::move(bridge);
  channel->interceptors_ = std::move(interceptors);
  return channel;
}

absl::Status Channel::status() const {
  absl::Status s = bridge_->status();
  if (s.ok() || s.code() == absl::StatusCode::kUnavailable ||
      s.code() == absl::StatusCode::kDataLoss ||
      s.code() == absl::StatusCode::kUnauthenticated) {
    return s;
  }
  return absl::UnavailableError(
      absl::StrCat("the connection is closed (", s.message(), ")"));
}

Channel::~Channel() {
  bridge_->Abort(absl::CancelledError("the Channel was destroyed"));
}

}  // namespace netstructer
