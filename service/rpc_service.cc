#include "netstructer/service/rpc_service.h"

#include "absl/base/macros.h"
#include "absl/strings/str_cat.h"
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

MetadataResult ServerContext::AddInitialMetadata(std::string key,
                                                 std::string value) {
  if (initial_sent_) {
    return MetadataResult(
        absl::FailedPreconditionError(absl::StrCat(
            "initial metadata '", key,
            "' was added after the initial metadata was sent (with the "
            "first response)")),
        this);
  }
  return MetadataResult(
      AppendMetadata(&initial_metadata_, std::move(key), std::move(value)),
      this);
}

MetadataResult ServerContext::AddTrailingMetadata(std::string key,
                                                  std::string value) {
  return MetadataResult(
      AppendMetadata(&trailing_metadata_, std::move(key), std::move(value)),
      this);
}

void ServerContext::Unseen(const absl::Status& status) {
  if (metadata_refused_.ok()) metadata_refused_ = status;
}

MetadataResult::~MetadataResult() {
  if (context_ != nullptr && !status_.ok()) context_->Unseen(status_);
}

absl::Status ServerContext::FinalStatus(
    const absl::Status& handler_status) const {
  if (metadata_refused_.ok()) return handler_status;
  const std::string why = absl::StrCat("the handler's metadata was refused: ",
                                       metadata_refused_.message());
  if (handler_status.ok()) return absl::InternalError(why);
  return absl::Status(handler_status.code(),
                      absl::StrCat(handler_status.message(), " (", why, ")"));
}

absl::Status ServerContext::AppendMetadata(Metadata* to, std::string key,
                                           std::string value) {
  // Checked before it is kept: what is kept is sent, and a peer closes the
  // connection over metadata that breaks the rules.
  if (absl::Status s = rpc::ValidateMetadataKey(key); !s.ok()) return s;
  to->emplace_back(std::move(key), std::move(value));
  if (absl::Status s = rpc::ValidateMetadata(*to); !s.ok()) {
    const std::string refused = std::move(to->back().first);
    to->pop_back();
    return absl::Status(s.code(), absl::StrCat("adding '", refused, "': ",
                                               s.message()));
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

absl::Status ServerCall::WriteWithoutWaiting(absl::string_view message,
                                             rpc::SendProgress* progress,
                                             bool* done) {
  *done = false;
  if (absl::Status s = SendInitialMetadataIfAny(); !s.ok()) return s;
  return stream_->SendWithoutWaiting(message, progress, done);
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
