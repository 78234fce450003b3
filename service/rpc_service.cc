#include "netstructer/service/rpc_service.h"

#include "absl/base/macros.h"
#include "netstructer/rpc/call_wire.h"
#include "netstructer/transport/buffer_pool.h"

namespace netstructer {

// ---- ServerContext ---------------------------------------------------------

ServerContext::ServerContext(std::string method, Metadata client_metadata,
                             absl::Time deadline, std::shared_ptr<Bridge> session)
    : method_(std::move(method)),
      client_metadata_(std::move(client_metadata)),
      deadline_(deadline),
      session_(std::move(session)) {}

const std::string& ServerContext::PeerIp() const {
  static const std::string* const kNone = new std::string();
  return session_ != nullptr ? session_->peer_ip() : *kNone;
}

bool ServerContext::IsCancelled() const {
  return stream_ != nullptr && !finished_by_handler_.load() &&
         stream_->finished();
}

absl::Status ServerContext::AddInitialMetadata(std::string key,
                                               std::string value) {
  if (initial_sent_) {
    return absl::FailedPreconditionError(
        "initial metadata was already sent (with the first response)");
  }
  return AppendMetadata(&initial_metadata_, std::move(key), std::move(value));
}

absl::Status ServerContext::AddTrailingMetadata(std::string key,
                                                std::string value) {
  return AppendMetadata(&trailing_metadata_, std::move(key), std::move(value));
}

absl::Status ServerContext::AppendMetadata(Metadata* to, std::string key,
                                           std::string value) {
  // Checked before it is kept: what is kept is sent, and a peer closes the
  // connection over metadata that breaks the rules.
  if (absl::Status s = rpc::ValidateMetadataKey(key); !s.ok()) return s;
  to->emplace_back(std::move(key), std::move(value));
  if (absl::Status s = rpc::ValidateMetadata(*to); !s.ok()) {
    to->pop_back();
    return s;
  }
  return absl::OkStatus();
}

// ---- Service ---------------------------------------------------------------

void Service::AddMethod(internal::MethodKind kind, const char* method,
                        internal::MethodHandler handler) {
  ABSL_ASSERT(kind == handler.kind());
  absl::string_view path(method);
  const size_t slash = path.rfind('/');
  methods_.push_back(Method{kind, std::string(path),
                            std::string(path.substr(slash + 1)),
                            std::move(handler)});
}

namespace internal {

// ---- ServerCall ------------------------------------------------------------

ServerCall::ServerCall(rpc::RpcConnection* connection,
                       std::shared_ptr<rpc::CallStream> stream,
                       std::unique_ptr<ServerContext> context)
    : connection_(connection),
      stream_(std::move(stream)),
      context_(std::move(context)) {
  context_->stream_ = stream_.get();
}

ServerCall::~ServerCall() = default;

absl::StatusOr<std::optional<std::string>> ServerCall::Read() {
  return stream_->Read(absl::InfiniteFuture());
}

absl::Status ServerCall::SendInitialMetadataIfAny() {
  if (context_->initial_sent_) return absl::OkStatus();
  context_->initial_sent_ = true;
  if (context_->initial_metadata_.empty()) return absl::OkStatus();
  rpc::CallHeaders headers;
  rpc::ToWire(context_->initial_metadata_, headers.mutable_metadata());
  return stream_->Send(rpc::EncodePrefixed(headers), nullptr, "", false,
                       absl::InfiniteFuture());
}

absl::Status ServerCall::Write(absl::string_view message) {
  if (absl::Status s = SendInitialMetadataIfAny(); !s.ok()) return s;
  return stream_->Send("", &message, "", false, absl::InfiniteFuture());
}

void ServerCall::Finish(const absl::Status& status) {
  if (stream_->finished()) return;  // Cancelled, expired or lost: no trailers.
  absl::Status sent = SendInitialMetadataIfAny();
  const std::string trailers = rpc::EncodePrefixed(
      rpc::TrailersFor(status, context_->trailing_metadata_));
  absl::string_view body;
  const bool with_response = status.ok() && response_.has_value();
  if (with_response) body = *response_;
  if (sent.ok()) {
    sent = stream_->Send("", with_response ? &body : nullptr, trailers, true,
                         absl::InfiniteFuture());
  }
  if (sent.ok()) {
    context_->finished_by_handler_.store(true);
    stream_->Finish(status);
  } else {
    // The handler's end did not go out (a response over max_message_bytes,
    // or the connection is gone): the call ends with that error, which the
    // client gets in a CANCEL while the connection stands (else it would
    // wait for trailers that never come), and interceptors see.
    connection_->Cancel(stream_.get(), sent);
  }
  connection_->Remove(stream_->id());
  if (response_.has_value()) transport::ReturnBuffer(*std::move(response_));
}

void ServerCall::Cancel(const absl::Status& status) {
  connection_->Cancel(stream_.get(), status);
}

}  // namespace internal
}  // namespace netstructer
