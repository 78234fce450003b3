// Streaming handlers that hold no thread: reactors (docs/RPC_API.md,
// "Reactors"). A streaming method's generated factory `MReactor` returns
// one; the server then serves the call with callbacks on the session's
// event loop instead of a thread of its own, so a server with 10,000 open
// streams does not need 10,000 threads. Shaped like gRPC's callback API:
// StartRead/OnReadDone, StartWrite/OnWriteDone, Finish/OnDone.
//
// Threads: the factory and every On* callback run on the session's event
// loop, one at a time, and must not block. StartRead, StartWrite and
// Finish may be called from any thread, never block, and only record what
// is asked: the loop does it (service/reactor_call.h). The server owns the
// reactor and destroys it when OnDone returns.
#ifndef NETSTRUCTER_SERVICE_SERVER_REACTOR_H_
#define NETSTRUCTER_SERVICE_SERVER_REACTOR_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"
#include "netstructer/rpc/typed_message.h"

namespace netstructer {
namespace internal {

class ReactorCall;

// What the typed reactors share: the requests to the engine and the
// engine's calls back. Not for direct use.
class ReactorBase {
 public:
  virtual ~ReactorBase() = default;
  ReactorBase(const ReactorBase&) = delete;
  ReactorBase& operator=(const ReactorBase&) = delete;

 protected:
  // Bound to the call whose factory runs on this thread (a reactor made
  // inside its factory may start reading in its constructor).
  ReactorBase();

  // `target` (the reactor's, kept until OnReadDone) receives the message.
  void RequestRead(google::protobuf::MessageLite* target);
  void RequestWrite(absl::StatusOr<std::string> bytes);
  void RequestFinish(absl::Status status);

 private:
  friend class ReactorCall;
  friend void SetReactorResponse(
      ReactorBase* reactor,
      std::function<absl::StatusOr<std::string>()> response);

  // The engine's calls, on the loop, one at a time.
  virtual void ReadDone(bool ok) = 0;
  virtual void WriteDone(bool ok) = 0;
  virtual void Done(const absl::Status& status) = 0;

  ReactorCall* call_;
  // A client-streaming call's response, serialized when it finishes OK.
  std::function<absl::StatusOr<std::string>()> response_;
};

inline absl::Status ParseRequest(const std::string& bytes,
                                 google::protobuf::MessageLite* request) {
  if (request == nullptr) {
    return absl::InternalError("the reactor's StartRead was given no message");
  }
  return rpc::ParseMessage(bytes, request, absl::StatusCode::kInvalidArgument,
                           "the request");
}

// For the client-streaming glue (service/rpc_service.h).
inline void SetReactorResponse(
    ReactorBase* reactor,
    std::function<absl::StatusOr<std::string>()> response) {
  reactor->response_ = std::move(response);
}

template <typename Resp>
absl::StatusOr<std::string> SerializeResponse(const Resp& response) {
  std::string bytes;
  absl::Status s = rpc::AppendMessage(response, absl::StatusCode::kInternal,
                                      "the response", &bytes);
  if (!s.ok()) return s;
  return bytes;
}

}  // namespace internal

// A bidirectional-streaming call. Override the callbacks you need.
template <typename Req, typename Resp>
class ServerBidiReactor : public internal::ReactorBase {
 public:
  // Asks for the next request message into *request (kept by the caller
  // until OnReadDone): OnReadDone(true) once it is there, false once the
  // client half-closed or the call ended. One read at a time; credit goes
  // back to the client as messages are read, so a reactor that does not
  // read stops the client at one window.
  void StartRead(Req* request) { RequestRead(request); }
  // Serializes `response` now (it may be reused at once) and sends it
  // without a thread, as the client's credit allows: OnWriteDone(true) once
  // it is written, false if the call ended first. One write at a time.
  void StartWrite(const Resp& response) {
    RequestWrite(internal::SerializeResponse(response));
  }
  // Ends the call with `status` (trailers), after the write in progress.
  void Finish(absl::Status status) { RequestFinish(std::move(status)); }

  virtual void OnReadDone(bool ok) {}
  virtual void OnWriteDone(bool ok) {}
  // Last: the call's final status (the Finish status as sent, or how it
  // ended otherwise: CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE, ...). The
  // reactor is destroyed when this returns.
  virtual void OnDone(const absl::Status& status) {}

 private:
  void ReadDone(bool ok) final { OnReadDone(ok); }
  void WriteDone(bool ok) final { OnWriteDone(ok); }
  void Done(const absl::Status& status) final { OnDone(status); }

};

// A server-streaming call: the request was given to the factory.
template <typename Resp>
class ServerWriteReactor : public internal::ReactorBase {
 public:
  void StartWrite(const Resp& response) {
    RequestWrite(internal::SerializeResponse(response));
  }
  void Finish(absl::Status status) { RequestFinish(std::move(status)); }

  virtual void OnWriteDone(bool ok) {}
  virtual void OnDone(const absl::Status& status) {}

 private:
  void ReadDone(bool) final {}
  void WriteDone(bool ok) final { OnWriteDone(ok); }
  void Done(const absl::Status& status) final { OnDone(status); }
};

// A client-streaming call: Finish(OK) sends the response the factory was
// given a pointer to (filled by then).
template <typename Req>
class ServerReadReactor : public internal::ReactorBase {
 public:
  void StartRead(Req* request) { RequestRead(request); }
  void Finish(absl::Status status) { RequestFinish(std::move(status)); }

  virtual void OnReadDone(bool ok) {}
  virtual void OnDone(const absl::Status& status) {}

 private:
  void ReadDone(bool ok) final { OnReadDone(ok); }
  void WriteDone(bool) final {}
  void Done(const absl::Status& status) final { OnDone(status); }

};

}  // namespace netstructer

#endif  // NETSTRUCTER_SERVICE_SERVER_REACTOR_H_
