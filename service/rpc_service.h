// The server side of RPC (docs/RPC_API.md): ServerContext, the readers and
// writers handlers get, the Service base of every generated Svc::Service,
// and the handler adapters the generated code registers.
#ifndef NETSTRUCTER_SERVICE_RPC_SERVICE_H_
#define NETSTRUCTER_SERVICE_RPC_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"
#include "netstructer/rpc/connection.h"
#include "netstructer/rpc/metadata.h"
#include "netstructer/rpc/typed_message.h"
#include "netstructer/service/server_reactor.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/buffer_pool.h"
#include "netstructer/transport/mutex.h"

namespace netstructer {

class Service;
class ServerContext;

namespace internal {

enum class MethodKind { kUnary, kClientStreaming, kServerStreaming,
                        kBidiStreaming };

class ServerCall;

// How a streaming call starts: a reactor that serves it on the session's
// loop, or else the blocking handler bound to its call (and request), for a
// thread of its own. `keep` lives as long as the reactor (the request a
// server-streaming factory was given).
struct StreamStart {
  std::unique_ptr<ReactorBase> reactor;
  std::shared_ptr<const void> keep;
  std::function<absl::Status()> blocking;
};

// Type-erased handler: runs one call of a method on a Service. Movable.
// Unary: `Run`. Streaming: `Start`, on the session's loop.
class MethodHandler {
 public:
  using Fn = std::function<absl::Status(Service*, ServerCall*)>;
  using StartFn =
      std::function<absl::StatusOr<StreamStart>(Service*, ServerCall*)>;
  MethodHandler() = default;
  MethodHandler(MethodKind kind, Fn fn) : kind_(kind), fn_(std::move(fn)) {}
  static MethodHandler Streaming(MethodKind kind, StartFn start) {
    MethodHandler h;
    h.kind_ = kind;
    h.start_ = std::move(start);
    return h;
  }
  MethodKind kind() const { return kind_; }
  absl::Status Run(Service* service, ServerCall* call) const {
    return fn_(service, call);
  }
  absl::StatusOr<StreamStart> Start(Service* service, ServerCall* call) const {
    return start_(service, call);
  }

 private:
  MethodKind kind_ = MethodKind::kUnary;
  Fn fn_;
  StartFn start_;
};

// One call on the server: the stream, its context, its response.
// Thread-compatible (the handler's thread), except Cancel.
class ServerCall {
 public:
  ServerCall(rpc::RpcConnection* connection,
             std::shared_ptr<rpc::CallStream> stream,
             std::unique_ptr<ServerContext> context);
  ~ServerCall();

  ServerContext* context() const { return context_.get(); }
  rpc::CallStream* stream() const { return stream_.get(); }
  rpc::RpcConnection* connection() const { return connection_; }

  // The next request message; nullopt once the client half-closed.
  absl::StatusOr<std::optional<std::string>> Read();
  // Sends one response message (initial metadata first, if any).
  absl::Status Write(absl::string_view message);
  // Write without waiting for credit (rpc::CallStream::SendWithoutWaiting):
  // *done = false leaves the rest for a later call with the same progress.
  absl::Status WriteWithoutWaiting(absl::string_view message,
                                   rpc::SendProgress* progress, bool* done);
  // A unary or client-streaming response, sent with the trailers.
  void SetResponse(std::string bytes) { response_ = std::move(bytes); }
  size_t response_size() const {
    return response_.has_value() ? response_->size() : 0;
  }
  // Ends the call with `status` (the response, if set and status is OK):
  // one TRAILERS frame. Nothing is sent if the call already ended
  // (cancelled, deadline, connection lost).
  void Finish(const absl::Status& status);
  // Ends the call on both sides (CANCEL to the client).
  void Cancel(const absl::Status& status);

 private:
  absl::Status SendInitialMetadataIfAny();

  rpc::RpcConnection* connection_;
  std::shared_ptr<rpc::CallStream> stream_;
  std::unique_ptr<ServerContext> context_;
  std::optional<std::string> response_;
  bool initial_sent_ = false;
};

}  // namespace internal

// What ServerContext::AddInitialMetadata / AddTrailingMetadata return. Not
// must-use, as absl::Status is. A refused entry that the handler never
// looks at fails the call when this is destroyed (see AddInitialMetadata),
// so the common case needs no check and loses nothing unseen; a handler
// that looks (ok(), code(), status(), message(), the conversion to
// absl::Status, or IgnoreError(), which keeps code written for the old
// absl::Status return compiling) has taken the refusal in hand, and the
// call ends as the handler says. Move-only.
class MetadataResult {
 public:
  MetadataResult(absl::Status status, ServerContext* context)
      : status_(std::move(status)), context_(context) {}
  MetadataResult(MetadataResult&& other) noexcept
      : status_(std::move(other.status_)),
        context_(std::exchange(other.context_, nullptr)) {}
  MetadataResult(const MetadataResult&) = delete;
  MetadataResult& operator=(const MetadataResult&) = delete;
  MetadataResult& operator=(MetadataResult&&) = delete;
  ~MetadataResult();

  bool ok() const { return Seen().ok(); }
  absl::StatusCode code() const { return Seen().code(); }
  absl::string_view message() const { return Seen().message(); }
  std::string ToString() const { return Seen().ToString(); }
  const absl::Status& status() const { return Seen(); }
  operator absl::Status() const { return Seen(); }  // NOLINT: implicit
  void IgnoreError() const { (void)Seen(); }
  friend std::ostream& operator<<(std::ostream& os, const MetadataResult& r) {
    return os << r.Seen();
  }

 private:
  const absl::Status& Seen() const {
    context_ = nullptr;  // The handler has it now.
    return status_;
  }
  absl::Status status_;
  mutable ServerContext* context_;  // Until seen: where an unseen refusal goes.
};

// What a handler knows about its call. Borrowed for the handler's duration;
// thread-compatible except IsCancelled (any thread).
class ServerContext {
 public:
  ServerContext(std::string method, Metadata client_metadata,
                absl::Time deadline, std::shared_ptr<Bridge> session);

  // "/pkg.Service/Method".
  const std::string& method() const { return method_; }
  // The client's IP: weak identity (the key is the authentication).
  const std::string& PeerIp() const;
  // The session (Bridge) the call arrived on; its Bridge stream works too.
  const std::shared_ptr<Bridge>& session() const { return session_; }
  // InfiniteFuture when the client set no deadline.
  absl::Time deadline() const { return deadline_; }
  // True once the client cancelled, the deadline passed, the connection
  // was lost or the server is cancelling calls at shutdown.
  bool IsCancelled() const;
  const Metadata& client_metadata() const { return client_metadata_; }
  // Initial metadata goes before the first response message (or with the
  // trailers); trailing metadata with the trailers. An entry that breaks
  // the rules of rpc/metadata.h (INVALID_ARGUMENT: a bad key, over 64 KiB
  // in all) or initial metadata added after it was sent
  // (FAILED_PRECONDITION) is not kept. Unless the handler looks at the
  // result, the call then ends with INTERNAL "the handler's metadata was
  // refused: ..." instead of an OK status (a handler's error keeps its
  // code and gains the reason), so nothing is dropped unseen. Most
  // handlers need not check the result.
  MetadataResult AddInitialMetadata(std::string key, std::string value);
  MetadataResult AddTrailingMetadata(std::string key, std::string value);

  // For the call machinery: the status the call ends with when its handler
  // returned `handler_status` (see AddInitialMetadata).
  absl::Status FinalStatus(const absl::Status& handler_status) const;

 private:
  friend class internal::ServerCall;
  static absl::Status AppendMetadata(Metadata* to, std::string key,
                                     std::string value);
  friend class MetadataResult;
  // Keeps the first refusal nobody looked at (FinalStatus reports it).
  void Unseen(const absl::Status& status);
  const std::string method_;
  const Metadata client_metadata_;
  const absl::Time deadline_;
  const std::shared_ptr<Bridge> session_;
  rpc::CallStream* stream_ = nullptr;
  std::atomic<bool> finished_by_handler_{false};
  Metadata initial_metadata_;
  Metadata trailing_metadata_;
  bool initial_sent_ = false;
  absl::Status metadata_refused_;
};

// Sees every call of a Server: may refuse it (its status ends the call
// before the handler runs) and observes each final status. Thread-safe.
class ServerInterceptor {
 public:
  virtual ~ServerInterceptor() = default;
  virtual absl::Status OnCall(ServerContext* context) { return absl::OkStatus(); }
  virtual void OnFinish(ServerContext* context, const absl::Status& status) {}
};

template <typename Req>
class ServerReader {
 public:
  explicit ServerReader(internal::ServerCall* call) : call_(call) {}
  // true: a request; false: the client half-closed; an error: the call
  // ended (CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE).
  absl::StatusOr<bool> Read(Req* request) {
    absl::StatusOr<std::optional<std::string>> m = call_->Read();
    if (!m.ok()) return m.status();
    if (!m->has_value()) return false;
    absl::Status s = rpc::ParseMessage(
        **m, request, absl::StatusCode::kInvalidArgument, "a request");
    transport::ReturnBuffer(std::move(**m));
    if (!s.ok()) return s;
    return true;
  }

 private:
  internal::ServerCall* call_;
};

template <typename Resp>
class ServerWriter {
 public:
  explicit ServerWriter(internal::ServerCall* call) : call_(call) {}
  // Blocks while the client's window is full; CANCELLED once the call is.
  absl::Status Write(const Resp& response) {
    std::string bytes = transport::TakeBuffer(response.ByteSizeLong());
    if (absl::Status s = rpc::AppendMessage(
            response, absl::StatusCode::kInternal, "a response", &bytes);
        !s.ok()) {
      transport::ReturnBuffer(std::move(bytes));
      return s;
    }
    absl::Status s = call_->Write(bytes);
    transport::ReturnBuffer(std::move(bytes));
    return s;
  }

 private:
  internal::ServerCall* call_;
};

template <typename Resp, typename Req>
class ServerReaderWriter : public ServerReader<Req>, public ServerWriter<Resp> {
 public:
  explicit ServerReaderWriter(internal::ServerCall* call)
      : ServerReader<Req>(call), ServerWriter<Resp>(call) {}
};

// Base of every generated Svc::Service. Resource type; must outlive the
// Server it is registered with.
class Service {
 public:
  struct Method {
    internal::MethodKind kind;
    std::string path;  // "/pkg.Service/Method"
    std::string name;  // "Method"
    internal::MethodHandler handler;
  };

  explicit Service(const char* service_name) : name_(service_name) {}
  virtual ~Service() = default;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // The proto full name, "pkg.Service".
  const std::string& name() const { return name_; }
  const std::vector<Method>& methods() const { return methods_; }

  // Says this service's unary handlers never block (no disk, no network, no
  // other RPC, no lock held long): the server then runs them on the
  // session's I/O loop, the fastest path, instead of its handler pool
  // (RpcServerOptions::handler_threads). A handler that blocks anyway
  // stalls every session on that loop. Read once, when the server
  // registers the service (set it before RegisterService).
  void set_handlers_never_block(bool never_block) {
    handlers_never_block_ = never_block;
  }
  bool handlers_never_block() const { return handlers_never_block_; }

 protected:
  void AddMethod(internal::MethodKind kind, const char* method,
                 internal::MethodHandler handler);

 private:
  const std::string name_;
  std::vector<Method> methods_;
  bool handlers_never_block_ = false;
};

namespace internal {

// The first (only) request of a unary or server-streaming call.
template <typename Req>
absl::Status ReadSingleRequest(ServerCall* call, Req* request) {
  absl::StatusOr<std::optional<std::string>> m = call->Read();
  if (!m.ok()) return m.status();
  if (!m->has_value()) {
    return absl::InvalidArgumentError("the call carried no request message");
  }
  absl::Status s = rpc::ParseMessage(
      **m, request, absl::StatusCode::kInvalidArgument, "the request");
  transport::ReturnBuffer(std::move(**m));
  return s;
}

template <typename Resp>
absl::Status SetTypedResponse(ServerCall* call, const Resp& response) {
  std::string bytes = transport::TakeBuffer(response.ByteSizeLong());
  if (absl::Status s = rpc::AppendMessage(
          response, absl::StatusCode::kInternal, "the response", &bytes);
      !s.ok()) {
    transport::ReturnBuffer(std::move(bytes));
    return s;
  }
  call->SetResponse(std::move(bytes));
  return absl::OkStatus();
}

template <typename S, typename Req, typename Resp>
MethodHandler UnaryHandler(
    absl::Status (S::*handler)(ServerContext*, const Req*, Resp*)) {
  return MethodHandler(MethodKind::kUnary,
                       [handler](Service* service, ServerCall* call) {
                         Req request;
                         if (absl::Status s = ReadSingleRequest(call, &request);
                             !s.ok()) {
                           return s;
                         }
                         Resp response;
                         absl::Status s = (static_cast<S*>(service)->*handler)(
                             call->context(), &request, &response);
                         if (!s.ok()) return s;
                         return SetTypedResponse(call, response);
                       });
}

// The streaming handlers: `reactor` (the generated MReactor factory) is
// asked first; a null reactor (its default) leaves the call to the blocking
// `handler` on a thread. Without `reactor`: the blocking handler only.
template <typename S, typename Req, typename Resp>
MethodHandler ClientStreamingHandler(
    absl::Status (S::*handler)(ServerContext*, ServerReader<Req>*, Resp*),
    std::unique_ptr<ServerReadReactor<Req>> (S::*reactor)(ServerContext*,
                                                          Resp*) = nullptr) {
  return MethodHandler::Streaming(
      MethodKind::kClientStreaming,
      [handler, reactor](Service* service,
                         ServerCall* call) -> absl::StatusOr<StreamStart> {
        StreamStart start;
        if (reactor != nullptr) {
          auto response = std::make_shared<Resp>();
          std::unique_ptr<ServerReadReactor<Req>> r =
              (static_cast<S*>(service)->*reactor)(call->context(),
                                                   response.get());
          if (r != nullptr) {
            SetReactorResponse(r.get(), [response] {
              return SerializeResponse(*response);
            });
            start.reactor = std::move(r);
            return start;
          }
        }
        start.blocking = [handler, service, call] {
          ServerReader<Req> reader(call);
          Resp response;
          absl::Status s = (static_cast<S*>(service)->*handler)(
              call->context(), &reader, &response);
          if (!s.ok()) return s;
          return SetTypedResponse(call, response);
        };
        return start;
      });
}

template <typename S, typename Req, typename Resp>
MethodHandler ServerStreamingHandler(
    absl::Status (S::*handler)(ServerContext*, const Req*, ServerWriter<Resp>*),
    std::unique_ptr<ServerWriteReactor<Resp>> (S::*reactor)(
        ServerContext*, const Req*) = nullptr) {
  return MethodHandler::Streaming(
      MethodKind::kServerStreaming,
      [handler, reactor](Service* service,
                         ServerCall* call) -> absl::StatusOr<StreamStart> {
        auto request = std::make_shared<Req>();
        if (absl::Status s = ReadSingleRequest(call, request.get()); !s.ok()) {
          return s;
        }
        StreamStart start;
        if (reactor != nullptr) {
          start.reactor = (static_cast<S*>(service)->*reactor)(
              call->context(), request.get());
          if (start.reactor != nullptr) {
            start.keep = request;
            return start;
          }
        }
        start.blocking = [handler, service, call, request] {
          ServerWriter<Resp> writer(call);
          return (static_cast<S*>(service)->*handler)(call->context(),
                                                      request.get(), &writer);
        };
        return start;
      });
}

template <typename S, typename Req, typename Resp>
MethodHandler BidiStreamingHandler(
    absl::Status (S::*handler)(ServerContext*, ServerReaderWriter<Resp, Req>*),
    std::unique_ptr<ServerBidiReactor<Req, Resp>> (S::*reactor)(
        ServerContext*) = nullptr) {
  return MethodHandler::Streaming(
      MethodKind::kBidiStreaming,
      [handler, reactor](Service* service,
                         ServerCall* call) -> absl::StatusOr<StreamStart> {
        StreamStart start;
        if (reactor != nullptr) {
          start.reactor =
              (static_cast<S*>(service)->*reactor)(call->context());
          if (start.reactor != nullptr) return start;
        }
        start.blocking = [handler, service, call] {
          ServerReaderWriter<Resp, Req> stream(call);
          return (static_cast<S*>(service)->*handler)(call->context(), &stream);
        };
        return start;
      });
}

}  // namespace internal
}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_RPC_SERVICE_H_
