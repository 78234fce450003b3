// The receiving half of one flow-controlled stream (docs/PROTOCOL.md 8.2, 9.5): how
// much the peer may still send, and the credit owed back to it. The same
// accounting serves the Bridge stream (a connection's window) and every call
// stream (a stream's window); only the sizes differ.
//
// Credit for a frame is owed once its bytes are stored, and held back
// (deferred) while the receiver's queue of whole messages is at its limit,
// so a reader that does not read stops the sender instead of growing the
// queue. It is sent in batches of a quarter window, or at once when a
// caller forces it (a queue that drained, a message that needs the rest).
//
// Thread-compatible: the owner's lock or thread guards it (Bridge:
// state_mu_; CallStream: mu_).
#ifndef NETSTRUCTER_TRANSPORT_RECEIVE_WINDOW_H_
#define NETSTRUCTER_TRANSPORT_RECEIVE_WINDOW_H_

#include <cstdint>

namespace netstructer::transport {

// The largest WINDOW_UPDATE increment (docs/PROTOCOL.md 8.2): 2^31 - 1.
inline constexpr uint32_t kMaxWindowIncrement = 0x7fffffff;

class ReceiveWindow {
 public:
  // `window_bytes`: what the peer starts with (and what one batch of credit
  // is a quarter of). `max_queued_bytes`: whole messages queued past which
  // credit is deferred.
  ReceiveWindow(uint64_t window_bytes, uint64_t max_queued_bytes)
      : available_(window_bytes),
        batch_bytes_(window_bytes / 4),
        max_queued_bytes_(max_queued_bytes) {}

  // A DATA frame of `bytes` arrived. False (a protocol error, DATA_LOSS for
  // the caller) when the peer had no credit for it.
  bool Receive(uint64_t bytes);
  // The frame's bytes are stored: their credit is owed, or deferred while
  // the queue is full.
  void Stored(uint64_t bytes);
  // A whole message of `bytes` joined the queue / left it. Dequeued returns
  // true when it released deferred credit (send it now: the sender may be
  // waiting for exactly that).
  void Queued(uint64_t bytes) { queued_bytes_ += bytes; }
  bool Dequeued(uint64_t bytes);
  // The queue was dropped (a finished call): nothing is queued any more.
  void ClearQueue() { queued_bytes_ = 0; }

  // The credit to send now: at least a quarter window, or anything owed
  // with `force`; 0 = nothing to send. What it returns the peer may send.
  uint32_t TakeCredit(bool force);

  uint64_t queued_bytes() const { return queued_bytes_; }
  uint64_t available() const { return available_; }

 private:
  uint64_t available_;  // What the peer may still send.
  const uint64_t batch_bytes_;
  const uint64_t max_queued_bytes_;
  uint64_t queued_bytes_ = 0;
  uint64_t owed_ = 0;      // Stored, not yet sent back.
  uint64_t deferred_ = 0;  // Stored while the queue was full.
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_RECEIVE_WINDOW_H_
