// A test double of the NetStructer RPC runtime header (docs/RPC_API.md): just
// enough declarations for the generated code to compile, and a record of what
// it registered and called, so generated_code_test can check the generated
// code's behaviour before the real runtime exists. Not thread-safe.

#ifndef NETSTRUCTER_TESTS_TOOLS_PROTOC_PLUGIN_FAKE_RUNTIME_CLIENT_RPC_RUNTIME_H_
#define NETSTRUCTER_TESTS_TOOLS_PROTOC_PLUGIN_FAKE_RUNTIME_CLIENT_RPC_RUNTIME_H_

#define NETSTRUCTER_RPC_RUNTIME_VERSION 3

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace netstructer {

class Channel {
 public:
  std::vector<std::string> calls;  // "UnaryCall /pkg.Svc/M", ...
};

struct CallOptions {};
class ClientContext {};

template <typename T>
class Future {};

template <typename T>
using UnaryCallback = std::function<void(absl::StatusOr<T>)>;

template <typename W, typename R>
class ClientWriter {};
template <typename R>
class ClientReader {};
template <typename W, typename R>
class ClientReaderWriter {};
template <typename R>
struct StreamCallbacks {
  std::function<void(R)> on_message;
  std::function<void(absl::Status)> on_done;
};
template <typename W>
class ClientAsyncWriter {};

class ServerContext {};
template <typename R>
class ServerReader {};
template <typename W>
class ServerWriter {};
template <typename W, typename R>
class ServerReaderWriter {};

template <typename Req, typename Resp>
class ServerBidiReactor {
 public:
  virtual ~ServerBidiReactor() = default;
};
template <typename Resp>
class ServerWriteReactor {
 public:
  virtual ~ServerWriteReactor() = default;
};
template <typename Req>
class ServerReadReactor {
 public:
  virtual ~ServerReadReactor() = default;
};

class Service;

namespace internal {

enum class MethodKind {
  kUnary,
  kClientStreaming,
  kServerStreaming,
  kBidiStreaming
};

// Calls the handler with default-constructed arguments.
using MethodHandler = std::function<absl::Status(Service* service)>;

template <typename S, typename Req, typename Resp>
MethodHandler UnaryHandler(absl::Status (S::*handler)(ServerContext*,
                                                      const Req*, Resp*)) {
  return [handler](Service* service) {
    ServerContext context;
    Req request;
    Resp response;
    return (static_cast<S*>(service)->*handler)(&context, &request, &response);
  };
}
// The streaming ones ask the reactor factory first, as the real runtime
// does: a reactor serves the call (OK here), null leaves it to the handler.
template <typename S, typename Req, typename Resp>
MethodHandler ClientStreamingHandler(
    absl::Status (S::*handler)(ServerContext*, ServerReader<Req>*, Resp*),
    std::unique_ptr<ServerReadReactor<Req>> (S::*reactor)(ServerContext*,
                                                          Resp*)) {
  return [handler, reactor](Service* service) {
    ServerContext context;
    ServerReader<Req> reader;
    Resp response;
    if ((static_cast<S*>(service)->*reactor)(&context, &response) != nullptr) {
      return absl::OkStatus();
    }
    return (static_cast<S*>(service)->*handler)(&context, &reader, &response);
  };
}
template <typename S, typename Req, typename Resp>
MethodHandler ServerStreamingHandler(
    absl::Status (S::*handler)(ServerContext*, const Req*, ServerWriter<Resp>*),
    std::unique_ptr<ServerWriteReactor<Resp>> (S::*reactor)(ServerContext*,
                                                            const Req*)) {
  return [handler, reactor](Service* service) {
    ServerContext context;
    Req request;
    ServerWriter<Resp> writer;
    if ((static_cast<S*>(service)->*reactor)(&context, &request) != nullptr) {
      return absl::OkStatus();
    }
    return (static_cast<S*>(service)->*handler)(&context, &request, &writer);
  };
}
template <typename S, typename Req, typename Resp>
MethodHandler BidiStreamingHandler(
    absl::Status (S::*handler)(ServerContext*, ServerReaderWriter<Resp, Req>*),
    std::unique_ptr<ServerBidiReactor<Req, Resp>> (S::*reactor)(
        ServerContext*)) {
  return [handler, reactor](Service* service) {
    ServerContext context;
    ServerReaderWriter<Resp, Req> stream;
    if ((static_cast<S*>(service)->*reactor)(&context) != nullptr) {
      return absl::OkStatus();
    }
    return (static_cast<S*>(service)->*handler)(&context, &stream);
  };
}

template <typename Req, typename Resp>
absl::StatusOr<Resp> UnaryCall(Channel* channel, const char* method,
                               const Req& request, const CallOptions& options) {
  channel->calls.push_back(std::string("UnaryCall ") + method);
  return Resp();
}
template <typename Req, typename Resp>
void AsyncUnaryCall(Channel* channel, const char* method, const Req& request,
                    const CallOptions& options, UnaryCallback<Resp> done) {
  channel->calls.push_back(std::string("AsyncUnaryCall ") + method);
  done(Resp());
}
template <typename Req, typename Resp>
Future<Resp> FutureUnaryCall(Channel* channel, const char* method,
                             const Req& request, const CallOptions& options) {
  channel->calls.push_back(std::string("FutureUnaryCall ") + method);
  return Future<Resp>();
}
template <typename Req, typename Resp>
std::unique_ptr<ClientWriter<Req, Resp>> ClientStreamingCall(
    Channel* channel, const char* method, const CallOptions& options) {
  channel->calls.push_back(std::string("ClientStreamingCall ") + method);
  return std::make_unique<ClientWriter<Req, Resp>>();
}
template <typename Req, typename Resp>
std::unique_ptr<ClientReader<Resp>> ServerStreamingCall(
    Channel* channel, const char* method, const Req& request,
    const CallOptions& options) {
  channel->calls.push_back(std::string("ServerStreamingCall ") + method);
  return std::make_unique<ClientReader<Resp>>();
}
template <typename Req, typename Resp>
std::unique_ptr<ClientReaderWriter<Req, Resp>> BidiStreamingCall(
    Channel* channel, const char* method, const CallOptions& options) {
  channel->calls.push_back(std::string("BidiStreamingCall ") + method);
  return std::make_unique<ClientReaderWriter<Req, Resp>>();
}

// The ClientContext overloads record the call with " (context)".
template <typename Req, typename Resp>
absl::StatusOr<Resp> UnaryCall(Channel* channel, const char* method,
                               const Req& request, ClientContext* context) {
  channel->calls.push_back(std::string("UnaryCall (context) ") + method);
  return Resp();
}
template <typename Req, typename Resp>
void AsyncUnaryCall(Channel* channel, const char* method, const Req& request,
                    ClientContext* context, UnaryCallback<Resp> done) {
  channel->calls.push_back(std::string("AsyncUnaryCall (context) ") + method);
  done(Resp());
}
template <typename Req, typename Resp>
Future<Resp> FutureUnaryCall(Channel* channel, const char* method,
                             const Req& request, ClientContext* context) {
  channel->calls.push_back(std::string("FutureUnaryCall (context) ") + method);
  return Future<Resp>();
}
template <typename Req, typename Resp>
std::unique_ptr<ClientWriter<Req, Resp>> ClientStreamingCall(
    Channel* channel, const char* method, ClientContext* context) {
  channel->calls.push_back(std::string("ClientStreamingCall (context) ") +
                           method);
  return std::make_unique<ClientWriter<Req, Resp>>();
}
template <typename Req, typename Resp>
std::unique_ptr<ClientReader<Resp>> ServerStreamingCall(
    Channel* channel, const char* method, const Req& request,
    ClientContext* context) {
  channel->calls.push_back(std::string("ServerStreamingCall (context) ") +
                           method);
  return std::make_unique<ClientReader<Resp>>();
}
template <typename Req, typename Resp>
std::unique_ptr<ClientReaderWriter<Req, Resp>> BidiStreamingCall(
    Channel* channel, const char* method, ClientContext* context) {
  channel->calls.push_back(std::string("BidiStreamingCall (context) ") +
                           method);
  return std::make_unique<ClientReaderWriter<Req, Resp>>();
}

// The asynchronous streams record "... (context)" likewise; each reports
// a clean end at once.
template <typename Req, typename Resp, typename OptionsOrContext>
void ServerStreamingAsyncCall(Channel* channel, const char* method,
                              const Req& request, OptionsOrContext options,
                              StreamCallbacks<Resp> callbacks) {
  channel->calls.push_back(
      std::string("ServerStreamingAsyncCall") +
      (std::is_pointer_v<OptionsOrContext> ? " (context) " : " ") + method);
  callbacks.on_done(absl::OkStatus());
}
template <typename Req, typename Resp, typename OptionsOrContext>
std::unique_ptr<ClientAsyncWriter<Req>> ClientStreamingAsyncCall(
    Channel* channel, const char* method, OptionsOrContext options,
    UnaryCallback<Resp> done) {
  channel->calls.push_back(
      std::string("ClientStreamingAsyncCall") +
      (std::is_pointer_v<OptionsOrContext> ? " (context) " : " ") + method);
  done(Resp());
  return std::make_unique<ClientAsyncWriter<Req>>();
}
template <typename Req, typename Resp, typename OptionsOrContext>
std::unique_ptr<ClientAsyncWriter<Req>> BidiStreamingAsyncCall(
    Channel* channel, const char* method, OptionsOrContext options,
    StreamCallbacks<Resp> callbacks) {
  channel->calls.push_back(
      std::string("BidiStreamingAsyncCall") +
      (std::is_pointer_v<OptionsOrContext> ? " (context) " : " ") + method);
  callbacks.on_done(absl::OkStatus());
  return std::make_unique<ClientAsyncWriter<Req>>();
}

template <typename Done, typename Resp>
using IfUnaryCallback =
    std::enable_if_t<std::is_invocable_v<Done&, absl::StatusOr<Resp>>, int>;

}  // namespace internal

class Service {
 public:
  struct Method {
    internal::MethodKind kind;
    std::string name;
    internal::MethodHandler handler;
  };

  explicit Service(const char* name) : name_(name) {}
  virtual ~Service() = default;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<Method>& methods() const { return methods_; }
  absl::Status Invoke(size_t i) { return methods_[i].handler(this); }

 protected:
  void AddMethod(internal::MethodKind kind, const char* name,
                 internal::MethodHandler handler) {
    methods_.push_back({kind, name, std::move(handler)});
  }

 private:
  std::string name_;
  std::vector<Method> methods_;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_TESTS_TOOLS_PROTOC_PLUGIN_FAKE_RUNTIME_CLIENT_RPC_RUNTIME_H_
