// The end of a connection, told apart from the failure of one message.
//
// A Bridge's calls fail for two kinds of reasons that may share a status
// code: one message failed and the connection goes on (RecvBuffer's
// RESOURCE_EXHAUSTED for a message over max_message_bytes, INVALID_ARGUMENT
// for one that does not decode, DEADLINE_EXCEEDED for a timeout), or the
// connection has ended and every later call fails the same way (the peer's
// GOAWAY with any code, a frame over max_frame_bytes, which is
// RESOURCE_EXHAUSTED too, a forged frame, a lost socket). Every status of the
// second kind carries a payload that marks it; a loop over RecvBuffer stops
// on IsConnectionEnd(status) and goes on otherwise, whatever the code:
//
//   for (;;) {
//     absl::StatusOr<Value> value = bridge->RecvBuffer();
//     if (value.ok()) { Use(*value); continue; }
//     if (netstructer::IsConnectionEnd(value.status())) break;  // Why: the status.
//     Log(value.status());  // That message alone failed.
//   }
#ifndef NETSTRUCTER_TRANSPORT_CONNECTION_END_H_
#define NETSTRUCTER_TRANSPORT_CONNECTION_END_H_

#include "absl/status/status.h"

namespace netstructer {

// The payload's type URL (absl::Status::GetPayload).
inline constexpr char kConnectionEndTypeUrl[] =
    "type.netstructer/netstructer.ConnectionEnd";

// `status` marked as the end of the connection. An OK status stays OK.
absl::Status MarkConnectionEnd(absl::Status status);

// True when `status` reports the end of the connection: the call that
// returned it, and every later call of the same direction, fails because
// the connection is closed (or closed for sending, after our GOAWAY).
bool IsConnectionEnd(const absl::Status& status);

}  // namespace netstructer

#endif  // NETSTRUCTER_TRANSPORT_CONNECTION_END_H_
