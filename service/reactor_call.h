// The engine under a streaming call served by a reactor
// (service/server_reactor.h): it turns the reactor's requests (StartRead,
// StartWrite, Finish) and the stream's events (a message, credit, the
// client's half-close, the call's end) into the reactor's callbacks.
//
// Ownership: one owner at a time, the session's event loop. Requests from
// any thread are recorded under `mu_` (a leaf) and the loop is kicked;
// only the loop thread delivers (Deliver), one round at a time (the
// `delivering_` flag makes a request made inside a callback a note for the
// round in progress, not a nested one). No lock is held while a callback
// runs or a frame is written. The engine owns the reactor and destroys it
// after OnDone; it is kept alive by the stream's event hook and by its
// posted rounds, and lets go of the call after OnDone (breaking the
// stream -> hook -> engine -> call cycle).
#ifndef NETSTRUCTER_SERVICE_REACTOR_CALL_H_
#define NETSTRUCTER_SERVICE_REACTOR_CALL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "netstructer/rpc/call_stream.h"
#include "netstructer/service/rpc_service.h"
#include "netstructer/service/server_reactor.h"
#include "netstructer/transport/event_loop.h"
#include "netstructer/transport/mutex.h"

namespace netstructer::internal {

class ReactorCall : public std::enable_shared_from_this<ReactorCall> {
 public:
  // Ends `call` with `status` (trailers, interceptors, the dispatcher's
  // counts); calls `then` with the final status once done (maybe at once,
  // maybe on another thread). Given the call, not holding it: it must not
  // keep the call alive past OnDone.
  using End = std::function<void(std::shared_ptr<ServerCall> call,
                                 absl::Status status,
                                 std::function<void(absl::Status)> then)>;

  // `call`'s session's loop delivers.
  ReactorCall(std::shared_ptr<ServerCall> call, End end);
  ReactorCall(const ReactorCall&) = delete;
  ReactorCall& operator=(const ReactorCall&) = delete;

  // The engine a ReactorBase built on this thread binds to (set while a
  // factory runs).
  static ReactorCall* Binding();
  class ScopedBinding {
   public:
    explicit ScopedBinding(ReactorCall* call);
    ~ScopedBinding();

   private:
    ReactorCall* previous_;
  };

  // On the loop, after the factory returned `reactor`: delivery starts.
  // `keep` lives as long as the reactor (StreamStart::keep).
  void Start(std::unique_ptr<ReactorBase> reactor,
             std::shared_ptr<const void> keep);
  // The stream's event hook: delivers at once on the loop (a stream event
  // comes from the connection's frame handling, a timer or a post, never
  // from inside a user callback), else posts a round.
  void OnEvent() { Kick(/*from_request=*/false); }

  // ReactorBase's requests; any thread. They never deliver themselves:
  // inside this engine's round they leave a note for it, elsewhere they
  // post a round, so no callback runs inside a request (one reactor's
  // callback may make requests of another on the same loop).
  void StartRead(google::protobuf::MessageLite* target);
  void StartWrite(absl::StatusOr<std::string> bytes);
  void Finish(absl::Status status);

 private:
  void Kick(bool from_request);
  void Deliver();  // The loop thread only.
  // One step of delivery; false when nothing is left to do now.
  bool Step();
  void BeginEnd(absl::Status status);

  std::shared_ptr<ServerCall> call_;  // Reset after OnDone (loop only).
  // The session, whose loop delivers: weak, so that a late kick (a drain's
  // FireEvent racing OnDone) finds it gone rather than a dead loop.
  const std::weak_ptr<Bridge> session_;
  const End end_;
  std::unique_ptr<ReactorBase> reactor_;  // Loop only, after Start.
  std::shared_ptr<const void> keep_;       // Loop only.
  rpc::SendProgress progress_;             // Loop only.

  Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool read_wanted_ ABSL_GUARDED_BY(mu_) = false;
  // Where the read in progress puts its message (the reactor's).
  google::protobuf::MessageLite* read_target_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The write in progress: its bytes (or why it could not be serialized).
  std::optional<absl::StatusOr<std::string>> write_ ABSL_GUARDED_BY(mu_);
  // Asked after Finish: reported false, never sent.
  bool write_refused_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> finish_ ABSL_GUARDED_BY(mu_);
  // Misuse (a second StartRead/StartWrite in progress): ends the call.
  absl::Status misuse_ ABSL_GUARDED_BY(mu_);
  bool ending_ ABSL_GUARDED_BY(mu_) = false;  // End called.
  std::optional<absl::Status> ended_ ABSL_GUARDED_BY(mu_);  // End's then.
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone delivered.
};

}  // namespace netstructer::internal

#endif  // NETSTRUCTER_SERVICE_REACTOR_CALL_H_
