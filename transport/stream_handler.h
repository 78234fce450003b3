// The hook through which the RPC layer (rpc/) shares a Bridge's connection:
// frames on call streams (ids other than 0 and 1) go to the Bridge's
// StreamHandler instead of being a protocol error.
#ifndef NETSTRUCTER_TRANSPORT_STREAM_HANDLER_H_
#define NETSTRUCTER_TRANSPORT_STREAM_HANDLER_H_

#include "absl/status/status.h"
#include "netstructer/transport/frame_sealer.h"

namespace netstructer {

class Bridge;

class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // Once, before any frame: the Bridge that owns this handler.
  virtual void Attach(Bridge* bridge) = 0;
  // A frame on a call stream, in arrival order, on the thread reading the
  // connection (the Bridge's read lock is held: it may send, it may not
  // wait for input). A non-OK status closes the connection with it.
  virtual absl::Status OnStreamFrame(transport::OpenedFrame frame) = 0;
  // Once, when the connection has closed (any thread, no Bridge lock held
  // except possibly its write lock: it may not send).
  virtual void OnConnectionClosed(const absl::Status& status) = 0;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_TRANSPORT_STREAM_HANDLER_H_
