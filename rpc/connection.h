// RPC calls multiplexed on one Bridge connection (docs/PROTOCOL.md 9):
// RpcConnection is the Bridge's StreamHandler; each call is a CallStream
// (rpc/call_stream.h).
// Both sides use these; client/ and service/ add the call semantics.
//
// Threads: thread-safe. Frames arrive on the thread reading the connection
// (the event loop, or on a client a caller waiting in Wait). Lock order:
// RpcConnection::mu_ and CallStream::mu_ are leaves: no Bridge call, no
// Wait and no user callback runs while either is held.
#ifndef NETSTRUCTER_RPC_CONNECTION_H_
#define NETSTRUCTER_RPC_CONNECTION_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "netstructer/rpc/call_stream.h"
#include "netstructer/rpc/call_wire.h"
#include "netstructer/transport/bridge.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/stream_handler.h"
#include "rpc/rpc.pb.h"

namespace netstructer::rpc {

// The server side's entry point for new calls.
class CallAcceptor {
 public:
  virtual ~CallAcceptor() = default;
  // A client opened call `stream` (id set, not yet registered) with
  // `headers`, on the reading thread. OK: the connection registers it and
  // feeds it the first frame's message bytes. An error: the call is
  // answered at once with TRAILERS carrying it.
  virtual absl::Status OnNewCall(RpcConnection* connection,
                                 const std::shared_ptr<CallStream>& stream,
                                 CallHeaders headers) = 0;
};

class RpcConnection : public StreamHandler,
                      public std::enable_shared_from_this<RpcConnection> {
 public:
  enum class Role { kClient, kServer };

  // `acceptor`: server only.
  RpcConnection(Role role, std::shared_ptr<CallAcceptor> acceptor,
                uint32_t max_concurrent_streams = kDefaultMaxConcurrentStreams);
  ~RpcConnection() override;

  Role role() const { return role_; }
  Bridge* bridge() const { return bridge_; }
  uint64_t max_message_bytes() const { return max_message_bytes_; }

  // Client: a stream for a new call (not yet opened).
  std::shared_ptr<CallStream> NewStream(bool compression) {
    return std::make_shared<CallStream>(this, compression);
  }
  // Client: gives `stream` the next id, registers it and sends its HEADERS
  // (with `message` and END_STREAM as asked); later frames as credit
  // allows. UNAVAILABLE once the connection is closed.
  // (No thread-safety analysis: open_mu_ is released from inside Send,
  // right after the first frame.)
  absl::Status Open(const std::shared_ptr<CallStream>& stream,
                    const CallHeaders& headers, const absl::string_view* message,
                    bool end_stream, absl::Time deadline)
      ABSL_NO_THREAD_SAFETY_ANALYSIS;

  // Ends the call on both sides: finishes it locally with `status` (queued
  // messages dropped) and sends CANCEL(status) to the peer.
  void Cancel(CallStream* stream, const absl::Status& status);
  // Forgets a finished stream (frames that still arrive for it are dropped).
  void Remove(uint32_t id);
  // Server: a call's handler has finished and been accounted; if no
  // handler waits to read, the loop reads the session again at once (a
  // handler that read it itself may just have ended).
  void CallDone();

  // Sends one frame of `stream`. When the connection has ended, every call
  // is finished before either returns its error (as in Wait), unless this
  // thread is the one reading the connection (see SendFailed).
  absl::Status SendFrame(uint32_t id, transport::FrameType type, uint8_t flags,
                         absl::string_view payload, bool compression);
  // Sends several frames in order (Bridge::SendStreamFrames).
  absl::Status SendFrames(absl::Span<const transport::FrameToSeal> frames);

  // Waits until `ready()` (then true) or the deadline (then false); the
  // connection's closing finishes every stream, so a predicate on a stream
  // becomes true. `ready` may lock a CallStream and nothing else.
  bool Wait(const std::function<bool()>& ready, absl::Time deadline);
  // Wakes every Wait to re-check.
  void Notify();
  // Client: a call is outstanding that no thread waits for (an
  // asynchronous call): someone must keep reading the connection.
  void AsyncStarted();
  void AsyncFinished();

  size_t open_streams() const;
  std::vector<std::shared_ptr<CallStream>> Streams() const;
  // Server: new calls are answered UNAVAILABLE `reason` from now on.
  void StopAccepting(absl::string_view reason);
  // OK while the connection is open.
  absl::Status status() const;

  // StreamHandler.
  void Attach(Bridge* bridge) override;
  absl::Status OnStreamFrame(transport::OpenedFrame frame) override;
  void OnConnectionClosed(const absl::Status& status) override;

 private:
  absl::Status OnNewStream(transport::OpenedFrame frame);
  absl::Status FeedMessageBytes(CallStream* stream, absl::string_view bytes,
                                uint8_t flags);
  void SendCredit(CallStream* stream, bool force);
  void AnswerAtOnce(uint32_t id, const absl::Status& status);
  // What SendFrame(s) returns for the Bridge's error `s`.
  absl::Status SendFailed(const absl::Status& s);
  // Finishes every call with the connection's end `status`, once: a thread
  // that comes second returns when the first is done. Runs no hooks (the
  // caller may hold its own locks); OnConnectionClosed runs them.
  void FinishCalls(const absl::Status& status);

  const Role role_;
  const std::shared_ptr<CallAcceptor> acceptor_;
  const uint32_t max_concurrent_streams_;
  Bridge* bridge_ = nullptr;  // The owner; set by Attach.
  // For paths that may run after the Bridge is gone (the closing task the
  // Bridge posts to its loop can outlive it).
  std::weak_ptr<Bridge> weak_bridge_;
  uint64_t max_message_bytes_ = 0;

  Mutex open_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // Client: id order on the wire.
  mutable Mutex mu_;
  absl::flat_hash_map<uint32_t, std::shared_ptr<CallStream>> streams_
      ABSL_GUARDED_BY(mu_);
  uint32_t next_id_ ABSL_GUARDED_BY(mu_) = kFirstCallStreamId;  // Client.
  uint32_t highest_id_ ABSL_GUARDED_BY(mu_) = 0;  // Highest id opened.
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Set once the thread that closed the connection finished its calls.
  bool calls_finished_ ABSL_GUARDED_BY(mu_) = false;
  CondVar closed_cv_;  // Signalled when calls_finished_ is set.
  // Calls the closing finished whose hooks have not run (OnConnectionClosed
  // runs them).
  std::vector<std::shared_ptr<CallStream>> unfired_ ABSL_GUARDED_BY(mu_);
  absl::Status closed_status_ ABSL_GUARDED_BY(mu_);
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  std::string refusal_ ABSL_GUARDED_BY(mu_);

  // Threads in Wait (both sides), and (client) calls no thread waits for.
  std::atomic<int> waiters_{0};
  std::atomic<int> async_calls_{0};
};

}  // namespace netstructer::rpc

#endif  // NETSTRUCTER_RPC_CONNECTION_H_
