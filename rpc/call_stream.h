// One call's stream on an RpcConnection (docs/PROTOCOL.md 9), either side:
// its messages out (fragmented to the stream's credit, HEADERS and TRAILERS
// around them) and in (MessageAssembler, ReceiveWindow), its metadata and
// its end. RpcConnection (rpc/connection.h) feeds it its frames.
//
// Threads: thread-safe. CallStream::mu_ is a leaf: no Bridge call, no Wait
// and no user callback runs while it is held.
#ifndef NETSTRUCTER_RPC_CALL_STREAM_H_
#define NETSTRUCTER_RPC_CALL_STREAM_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "netstructer/rpc/call_wire.h"
#include "netstructer/rpc/metadata.h"
#include "netstructer/transport/message_assembler.h"
#include "netstructer/transport/mutex.h"
#include "netstructer/transport/receive_window.h"
#include "netstructer/transport/send_window.h"

namespace netstructer::rpc {

class RpcConnection;

// Where a message sent without waiting (SendWithoutWaiting) stopped for
// credit; the next call goes on from here. Owned by the one sender.
struct SendProgress {
  uint64_t message_pos = 0;  // Its bytes (header and body) sent.
  bool started = false;   // Its first frame was written.
};

// One call's stream, either side. Thread-safe.
class CallStream : public std::enable_shared_from_this<CallStream> {
 public:
  CallStream(RpcConnection* connection, bool compression);
  CallStream(const CallStream&) = delete;
  CallStream& operator=(const CallStream&) = delete;

  uint32_t id() const { return id_.load(std::memory_order_acquire); }
  RpcConnection* connection() const { return connection_; }

  // Sends what one frame sequence carries: `headers` (a prefixed
  // CallHeaders, empty = none) on the first frame, then `message` (null =
  // none) in fragments, then `trailers` (a prefixed CallTrailers, empty =
  // none) on the last frame, with END_STREAM when `end_stream`. Waits for
  // stream credit until `deadline`. `after_first_frame` runs once the first
  // frame is written (or the send failed before it). Errors: the call's
  // final status once it is finished; DEADLINE_EXCEEDED; RESOURCE_EXHAUSTED
  // for a message over the limit.
  absl::Status Send(absl::string_view headers, const absl::string_view* message,
                    absl::string_view trailers, bool end_stream,
                    absl::Time deadline,
                    const std::function<void()>& after_first_frame = nullptr);

  // Sends `message` (no headers, no trailers, not the stream's end) as far
  // as the stream's credit allows, never waiting: *done = true once its
  // last frame is written; false = stopped for credit at *progress, and
  // the stream's event fires when credit arrives (call again then, with
  // the same message and progress). One such sender per stream at a time.
  // Errors as Send's (the message's frames sent so far are not undone: the
  // caller ends the call).
  absl::Status SendWithoutWaiting(absl::string_view message,
                                  SendProgress* progress, bool* done);

  // The next complete message; nullopt once the peer ended its side
  // cleanly. A finished call with an error reports the error once its
  // queued messages are read (a local Cancel drops them). DEADLINE_EXCEEDED
  // at `deadline` (the call goes on).
  absl::StatusOr<std::optional<std::string>> Read(absl::Time deadline);
  // Non-blocking: a message if one is complete.
  std::optional<std::string> TryRead();

  // Finishes the call once (later calls do nothing and return false):
  // wakes every waiter; Read/Send report `status` from now on.
  // `drop_queued`: queued messages are discarded (a local cancellation).
  bool Finish(absl::Status status, bool drop_queued = false);
  bool finished() const;
  absl::Status final_status() const;  // OK until finished.
  bool input_ended() const;
  bool output_ended() const;
  bool has_messages() const;
  // Its first frame was written (the peer knows the stream).
  bool on_wire() const { return on_wire_.load(std::memory_order_acquire); }
  // Sets on_wire; true if a Cancel came before and left its CANCEL frame to
  // the sender (then sent by it).
  bool MarkOnWire();

  // Called with no lock held after a message completed, the input ended or
  // the call finished: on the reading thread, or on the loop (the
  // connection's end, deadline timers), or by whoever cancelled the call.
  // May be set while the stream is open: whoever sets it late checks for
  // what it missed.
  void set_on_event(std::function<void()> on_event) {
    MutexLock lock(&mu_);
    on_event_ = std::move(on_event);
  }

  // ---- For RpcConnection (the reading thread) ----
  absl::Status OnMessageBytes(absl::string_view bytes, bool end_message);
  void OnInputEnd();
  absl::Status OnCredit(uint32_t increment);
  // Credit owed to the peer, taken if at least a quarter window (or any,
  // with `force`); 0 = nothing to send.
  uint32_t TakeCredit(bool force);
  void FireEvent();
  // Metadata the peer sent: initial (HEADERS) and trailing (TRAILERS).
  void AddReceivedMetadata(bool trailing, Metadata metadata);
  Metadata received_metadata(bool trailing) const;

 private:
  friend class RpcConnection;

  bool ReadyToRead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Send's body; `progress` null = wait for credit, else SendWithoutWaiting.
  absl::Status SendFrames(absl::string_view headers,
                          const absl::string_view* message,
                          absl::string_view trailers, bool end_stream,
                          absl::Time deadline,
                          const std::function<void()>& after_first_frame,
                          SendProgress* progress, bool* done);

  RpcConnection* const connection_;
  const bool compression_;
  std::atomic<uint32_t> id_{0};
  std::atomic<bool> on_wire_{false};  // A client stream's: set under mu_.

  mutable Mutex mu_;
  std::function<void()> on_event_ ABSL_GUARDED_BY(mu_);
  // A client Cancel found the stream not on the wire yet (see MarkOnWire).
  bool cancel_owed_ ABSL_GUARDED_BY(mu_) = false;
  // Receiving.
  std::deque<std::string> inbox_ ABSL_GUARDED_BY(mu_);
  transport::MessageAssembler assembler_ ABSL_GUARDED_BY(mu_);
  bool input_ended_ ABSL_GUARDED_BY(mu_) = false;
  // Queued messages are counted here: past a window's worth, credit waits.
  transport::ReceiveWindow window_ ABSL_GUARDED_BY(mu_){kStreamWindowBytes,
                                                       kStreamWindowBytes};
  // Sending.
  transport::SendWindow send_window_ ABSL_GUARDED_BY(mu_){kStreamWindowBytes};
  bool output_ended_ ABSL_GUARDED_BY(mu_) = false;
  // A SendWithoutWaiting stopped for credit: OnCredit fires the event.
  bool credit_wanted_ ABSL_GUARDED_BY(mu_) = false;
  Metadata initial_metadata_ ABSL_GUARDED_BY(mu_);
  Metadata trailing_metadata_ ABSL_GUARDED_BY(mu_);
  // End.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netstructer::rpc

#endif  // NETSTRUCTER_RPC_CALL_STREAM_H_
