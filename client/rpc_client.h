// The typed client API generated stubs use (docs/RPC_API.md): Future,
// ClientWriter/ClientReader/ClientReaderWriter and the call templates in
// netstructer::internal. All of it serialises around internal::ClientCall.
#ifndef NETSTRUCTER_CLIENT_RPC_CLIENT_H_
#define NETSTRUCTER_CLIENT_RPC_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"
#include "netstructer/client/async_stream.h"
#include "netstructer/client/call_options.h"
#include "netstructer/client/channel.h"
#include "netstructer/client/client_call.h"
#include "netstructer/client/client_context.h"
#include "netstructer/rpc/typed_message.h"
#include "netstructer/transport/buffer_pool.h"
#include "netstructer/transport/mutex.h"

namespace netstructer {

namespace internal {

template <typename T>
absl::StatusOr<T> ParseAs(absl::StatusOr<std::string> bytes) {
  if (!bytes.ok()) return bytes.status();
  T message;
  absl::Status s = rpc::ParseMessage(*bytes, &message,
                                     absl::StatusCode::kInternal, "the response");
  transport::ReturnBuffer(*std::move(bytes));
  if (!s.ok()) return s;
  return message;
}

// A request: INVALID_ARGUMENT naming the missing required fields, if any.
inline absl::StatusOr<std::string> Serialize(
    const google::protobuf::MessageLite& message) {
  std::string out = transport::TakeBuffer(message.ByteSizeLong());
  if (absl::Status s = rpc::AppendMessage(
          message, absl::StatusCode::kInvalidArgument, "the request", &out);
      !s.ok()) {
    transport::ReturnBuffer(std::move(out));
    return s;
  }
  return out;
}

// Reads one typed message from a call: true, false at the clean end.
template <typename T>
absl::StatusOr<bool> ReadTyped(ClientCall* call, T* out) {
  absl::StatusOr<std::optional<std::string>> m = call->Read();
  if (!m.ok()) return m.status();
  if (!m->has_value()) return false;
  absl::Status s = rpc::ParseMessage(**m, out, absl::StatusCode::kInternal,
                                     "a response");
  transport::ReturnBuffer(std::move(**m));
  if (!s.ok()) {
    call->Cancel();
    return s;
  }
  return true;
}

template <typename T>
absl::Status WriteTyped(ClientCall* call, const T& message) {
  absl::StatusOr<std::string> bytes = Serialize(message);
  if (!bytes.ok()) return bytes.status();
  absl::Status s = call->Write(*bytes);
  transport::ReturnBuffer(*std::move(bytes));
  return s;
}

}  // namespace internal

// The result of an asynchronous unary call. Movable value type; Get and
// WaitUntil may be called from any thread, any number of times; on an event
// loop's thread (inside a callback), before the result is there, they
// return FAILED_PRECONDITION at once instead of waiting for the loop they
// hold (the call goes on).
template <typename T>
class Future {
 public:
  Future() : state_(std::make_shared<State>()) {}

  // Blocks until the call ends.
  absl::StatusOr<T> Get() const {
    MutexLock lock(&state_->mu);
    if (!state_->result.has_value() && internal::OnLoopThread()) {
      return internal::BlockingOnLoopThread();
    }
    while (!state_->result.has_value()) state_->cv.Wait(&state_->mu);
    return *state_->result;
  }
  bool Ready() const {
    MutexLock lock(&state_->mu);
    return state_->result.has_value();
  }
  // DEADLINE_EXCEEDED if the call has not ended by `deadline` (it goes on).
  absl::StatusOr<T> WaitUntil(absl::Time deadline) const {
    MutexLock lock(&state_->mu);
    if (!state_->result.has_value() && internal::OnLoopThread()) {
      return internal::BlockingOnLoopThread();
    }
    while (!state_->result.has_value()) {
      if (state_->cv.WaitWithDeadline(&state_->mu, deadline) &&
          !state_->result.has_value()) {
        return absl::DeadlineExceededError("the call has not finished yet");
      }
    }
    return *state_->result;
  }

  // For FutureUnaryCall: the callback that fulfils this future.
  UnaryCallback<T> Setter() const {
    return [state = state_](absl::StatusOr<T> result) {
      MutexLock lock(&state->mu);
      state->result = std::move(result);
      state->cv.SignalAll();
    };
  }

 private:
  struct State {
    mutable Mutex mu;
    CondVar cv;
    std::optional<absl::StatusOr<T>> result ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<State> state_;
};

// Client streaming. Thread-compatible.
template <typename Req, typename Resp>
class ClientWriter {
 public:
  explicit ClientWriter(std::unique_ptr<internal::ClientCall> call)
      : call_(std::move(call)) {}
  // Blocks while the server's window is full.
  absl::Status Write(const Req& request) {
    return internal::WriteTyped(call_.get(), request);
  }
  // Half-close: no more requests.
  absl::Status WritesDone() { return call_->WritesDone(); }
  // Half-closes if not yet, then waits for the response and status.
  absl::StatusOr<Resp> Finish() {
    if (absl::Status s = call_->WritesDone(); !s.ok()) return s;
    return internal::ParseAs<Resp>(call_->FinishUnary());
  }
  void Cancel() { call_->Cancel(); }

 private:
  std::unique_ptr<internal::ClientCall> call_;
};

// Server streaming. Thread-compatible.
template <typename Resp>
class ClientReader {
 public:
  explicit ClientReader(std::unique_ptr<internal::ClientCall> call)
      : call_(std::move(call)) {}
  // true: a response; false: the clean end (the server's OK); an error:
  // the call failed. Responses that arrived before a failure are read
  // first; from then on every Read returns the failure (never false), and
  // so does Finish.
  absl::StatusOr<bool> Read(Resp* response) {
    return internal::ReadTyped(call_.get(), response);
  }
  // The final status (responses not read are dropped).
  absl::Status Finish() { return call_->Finish(); }
  void Cancel() { call_->Cancel(); }

 private:
  std::unique_ptr<internal::ClientCall> call_;
};

// Bidirectional streaming. One reader and one writer thread may use it at
// once.
template <typename Req, typename Resp>
class ClientReaderWriter {
 public:
  explicit ClientReaderWriter(std::unique_ptr<internal::ClientCall> call)
      : call_(std::move(call)) {}
  absl::Status Write(const Req& request) {
    return internal::WriteTyped(call_.get(), request);
  }
  absl::Status WritesDone() { return call_->WritesDone(); }
  absl::StatusOr<bool> Read(Resp* response) {
    return internal::ReadTyped(call_.get(), response);
  }
  absl::Status Finish() { return call_->Finish(); }
  void Cancel() { call_->Cancel(); }

 private:
  std::unique_ptr<internal::ClientCall> call_;
};

// What an asynchronous stream (a streaming method's MAsync) reports. Both
// run on the I/O thread, one at a time, so they must not block. A
// response's flow-control credit goes back to the server as it is taken
// for on_message: at most a window waits behind a slow callback, which
// slows the server instead of queueing without bound.
template <typename Resp>
struct StreamCallbacks {
  // Each response, in order (optional).
  std::function<void(Resp)> on_message;
  // Once, after the last response: OK at the clean end, else the call's
  // error (a response that does not parse ends the call with INTERNAL).
  std::function<void(absl::Status)> on_done;
};

// The writing half of an asynchronous client-streaming or bidi call.
// Thread-compatible; the call itself lives on until its callback reported
// the end, whether or not this object does. Destroying it half-closes the
// call if WritesDone was not called.
template <typename Req>
class ClientAsyncWriter {
 public:
  explicit ClientAsyncWriter(std::shared_ptr<internal::AsyncStream> stream)
      : stream_(std::move(stream)) {}
  ~ClientAsyncWriter() {
    if (!writes_done_) (void)stream_->WritesDone();
  }
  ClientAsyncWriter(const ClientAsyncWriter&) = delete;
  ClientAsyncWriter& operator=(const ClientAsyncWriter&) = delete;

  // Blocks while the server's window is full; the call's final status once
  // it ended. Not from inside the call's callbacks (FAILED_PRECONDITION).
  absl::Status Write(const Req& request) {
    absl::StatusOr<std::string> bytes = internal::Serialize(request);
    if (!bytes.ok()) return bytes.status();
    absl::Status s = stream_->Write(*bytes);
    transport::ReturnBuffer(*std::move(bytes));
    return s;
  }
  // Half-close: no more requests.
  absl::Status WritesDone() {
    writes_done_ = true;
    return stream_->WritesDone();
  }
  // Ends the call with CANCELLED (its callback reports it).
  void Cancel() { stream_->Cancel(); }

 private:
  std::shared_ptr<internal::AsyncStream> stream_;
  bool writes_done_ = false;
};

namespace internal {

template <typename Req, typename Resp>
absl::StatusOr<Resp> UnaryCall(Channel* channel, const char* method,
                               const Req& request, const CallOptions& options) {
  absl::StatusOr<std::string> bytes = Serialize(request);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<std::string> response =
      RawUnaryCall(channel, method, *bytes, options);
  transport::ReturnBuffer(*std::move(bytes));
  return ParseAs<Resp>(std::move(response));
}

template <typename Req, typename Resp>
void AsyncUnaryCall(Channel* channel, const char* method, const Req& request,
                    const CallOptions& options, UnaryCallback<Resp> done) {
  absl::StatusOr<std::string> bytes = Serialize(request);
  if (!bytes.ok()) {
    // On the I/O thread, as every completion (never the caller's).
    channel->bridge().event_loop()->Post(
        [done = std::move(done), status = bytes.status()] { done(status); });
    return;
  }
  RawAsyncUnaryCall(channel, method, *bytes, options,
                    [done = std::move(done)](absl::StatusOr<std::string> r) {
                      done(ParseAs<Resp>(std::move(r)));
                    });
}

template <typename Req, typename Resp>
Future<Resp> FutureUnaryCall(Channel* channel, const char* method,
                             const Req& request, const CallOptions& options) {
  Future<Resp> future;
  AsyncUnaryCall<Req, Resp>(channel, method, request, options, future.Setter());
  return future;
}

template <typename Req, typename Resp>
std::unique_ptr<ClientWriter<Req, Resp>> ClientStreamingCall(
    Channel* channel, const char* method, const CallOptions& options) {
  return std::make_unique<ClientWriter<Req, Resp>>(
      ClientCall::Start(channel, method, options, nullptr, false));
}

template <typename Req, typename Resp>
std::unique_ptr<ClientReader<Resp>> ServerStreamingCall(
    Channel* channel, const char* method, const Req& request,
    const CallOptions& options) {
  absl::StatusOr<std::string> bytes = Serialize(request);
  if (!bytes.ok()) {
    return std::make_unique<ClientReader<Resp>>(
        ClientCall::Failed(channel, method, options, bytes.status()));
  }
  return std::make_unique<ClientReader<Resp>>(
      ClientCall::Start(channel, method, options, &*bytes, true));
}

template <typename Req, typename Resp>
std::unique_ptr<ClientReaderWriter<Req, Resp>> BidiStreamingCall(
    Channel* channel, const char* method, const CallOptions& options) {
  return std::make_unique<ClientReaderWriter<Req, Resp>>(
      ClientCall::Start(channel, method, options, nullptr, false));
}

// The same calls with a ClientContext instead of CallOptions. A null context
// means the defaults, as `{}` options do (so `M({})` keeps working).
inline absl::StatusOr<CallOptions> OptionsOf(Channel* channel,
                                             ClientContext* context) {
  if (context == nullptr) return CallOptions();
  return context->StartCall(channel->bridge().peer_address());
}

template <typename Req, typename Resp>
absl::StatusOr<Resp> UnaryCall(Channel* channel, const char* method,
                               const Req& request, ClientContext* context) {
  absl::StatusOr<CallOptions> options = OptionsOf(channel, context);
  if (!options.ok()) return options.status();
  return UnaryCall<Req, Resp>(channel, method, request, *options);
}

template <typename Req, typename Resp>
void AsyncUnaryCall(Channel* channel, const char* method, const Req& request,
                    ClientContext* context, UnaryCallback<Resp> done) {
  absl::StatusOr<CallOptions> options = OptionsOf(channel, context);
  if (!options.ok()) {
    channel->bridge().event_loop()->Post(
        [done = std::move(done), status = options.status()] { done(status); });
    return;
  }
  AsyncUnaryCall<Req, Resp>(channel, method, request, *options,
                            std::move(done));
}

template <typename Req, typename Resp>
Future<Resp> FutureUnaryCall(Channel* channel, const char* method,
                             const Req& request, ClientContext* context) {
  Future<Resp> future;
  AsyncUnaryCall<Req, Resp>(channel, method, request, context, future.Setter());
  return future;
}

template <typename Req, typename Resp>
std::unique_ptr<ClientWriter<Req, Resp>> ClientStreamingCall(
    Channel* channel, const char* method, ClientContext* context) {
  absl::StatusOr<CallOptions> options = OptionsOf(channel, context);
  if (!options.ok()) {
    return std::make_unique<ClientWriter<Req, Resp>>(
        ClientCall::Failed(channel, method, CallOptions(), options.status()));
  }
  return ClientStreamingCall<Req, Resp>(channel, method, *options);
}

template <typename Req, typename Resp>
std::unique_ptr<ClientReader<Resp>> ServerStreamingCall(
    Channel* channel, const char* method, const Req& request,
    ClientContext* context) {
  absl::StatusOr<CallOptions> options = OptionsOf(channel, context);
  if (!options.ok()) {
    return std::make_unique<ClientReader<Resp>>(
        ClientCall::Failed(channel, method, CallOptions(), options.status()));
  }
  return ServerStreamingCall<Req, Resp>(channel, method, request, *options);
}

template <typename Req, typename Resp>
std::unique_ptr<ClientReaderWriter<Req, Resp>> BidiStreamingCall(
    Channel* channel, const char* method, ClientContext* context) {
  absl::StatusOr<CallOptions> options = OptionsOf(channel, context);
  if (!options.ok()) {
    return std::make_unique<ClientReaderWriter<Req, Resp>>(
        ClientCall::Failed(channel, method, CallOptions(), options.status()));
  }
  return BidiStreamingCall<Req, Resp>(channel, method, *options);
}

// ---- Asynchronous streams ----

template <typename Resp>
AsyncStream::Callbacks TypedCallbacks(StreamCallbacks<Resp> callbacks) {
  return AsyncStream::Callbacks{
      [on_message = std::move(callbacks.on_message)](
          std::string bytes) -> absl::Status {
        Resp message;
        absl::Status s = rpc::ParseMessage(
            bytes, &message, absl::StatusCode::kInternal, "a response");
        transport::ReturnBuffer(std::move(bytes));
        if (!s.ok()) return s;
        if (on_message) on_message(std::move(message));
        return absl::OkStatus();
      },
      std::move(callbacks.on_done)};
}

// A client-streaming call's one response, or its error, to `done`.
template <typename Resp>
AsyncStream::Callbacks SingleResponse(UnaryCallback<Resp> done) {
  auto response = std::make_shared<std::optional<Resp>>();
  StreamCallbacks<Resp> callbacks;
  callbacks.on_message = [response](Resp message) {
    *response = std::move(message);
  };
  callbacks.on_done = [response, done = std::move(done)](absl::Status status) {
    if (!status.ok()) return done(std::move(status));
    if (!response->has_value()) {
      return done(absl::InternalError(
          "the server finished a client-streaming call without a response"));
    }
    done(*std::move(*response));
  };
  return TypedCallbacks(std::move(callbacks));
}

template <typename Req, typename Resp>
void ServerStreamingAsyncCall(Channel* channel, const char* method,
                              const Req& request, const CallOptions& options,
                              StreamCallbacks<Resp> callbacks) {
  absl::StatusOr<std::string> bytes = Serialize(request);
  if (!bytes.ok()) {
    AsyncStream::Failed(channel, method, bytes.status(),
                        TypedCallbacks(std::move(callbacks)));
    return;
  }
  AsyncStream::Start(channel, method, options, &*bytes, true,
                     TypedCallbacks(std::move(callbacks)));
  transport::ReturnBuffer(*std::move(bytes));
}

template <typename Req, typename Resp>
std::unique_ptr<ClientAsyncWriter<Req>> ClientStreamingAsyncCall(
    Channel* channel, const char* method, const CallOptions& options,
    UnaryCallback<Resp> done) {
  return std::make_unique<ClientAsyncWriter<Req>>(AsyncStream::Start(
      channel, method, options, nullptr, false,
      SingleResponse<Resp>(std::move(done))));
}

template <typename Req, typename Resp>
std::unique_ptr<ClientAsyncWriter<Req>> BidiStreamingAsyncCall(
    Channel* channel, const char* method, const CallOptions& options,
    StreamCallbacks<Resp> callbacks) {
  return std::make_unique<ClientAsyncWriter<Req>>(
      AsyncStream::Start(channel, method, options, nullptr, false,
                         TypedCallbacks(std::move(callbacks))));
}

template <typename Req, typename Resp>
void ServerStreamingAsyncCall(Channel* channel, const char* method,
                              const Req& request, ClientContext* context,
                              StreamCallbacks<Resp> callbacks) {
  absl::StatusOr<CallOptions> options = OptionsOf(channel, context);
  if (!options.ok()) {
    AsyncStream::Failed(channel, method, options.status(),
                        TypedCallbacks(std::move(callbacks)));
    return;
  }
  ServerStreamingAsyncCall<Req, Resp>(channel, method, request, *options,
                                      std::move(callbacks));
}

template <typename Req, typename Resp>
std::unique_ptr<ClientAsyncWriter<Req>> ClientStreamingAsyncCall(
    Channel* channel, const char* method, ClientContext* context,
    UnaryCallback<Resp> done) {
  absl::StatusOr<CallOptions> options = OptionsOf(channel, context);
  if (!options.ok()) {
    return std::make_unique<ClientAsyncWriter<Req>>(
        AsyncStream::Failed(channel, method, options.status(),
                            SingleResponse<Resp>(std::move(done))));
  }
  return ClientStreamingAsyncCall<Req, Resp>(channel, method, *options,
                                             std::move(done));
}

template <typename Req, typename Resp>
std::unique_ptr<ClientAsyncWriter<Req>> BidiStreamingAsyncCall(
    Channel* channel, const char* method, ClientContext* context,
    StreamCallbacks<Resp> callbacks) {
  absl::StatusOr<CallOptions> options = OptionsOf(channel, context);
  if (!options.ok()) {
    return std::make_unique<ClientAsyncWriter<Req>>(
        AsyncStream::Failed(channel, method, options.status(),
                            TypedCallbacks(std::move(callbacks))));
  }
  return BidiStreamingAsyncCall<Req, Resp>(channel, method, *options,
                                           std::move(callbacks));
}

// Enables the generated `MAsync(request, done)` overload only for a `done`
// that takes the result: `MAsync(request, {})` stays the Future overload.
template <typename Done, typename Resp>
using IfUnaryCallback =
    std::enable_if_t<std::is_invocable_v<Done&, absl::StatusOr<Resp>>, int>;

}  // namespace internal
}  // namespace netstructer

#endif  // NETSTRUCTER_CLIENT_RPC_CLIENT_H_
