// What the load test sends on the Bridge stream: a typed Value (a dict
// holding ints, a float, str, bytes, a tuple, a list, a set, None and a
// bool) around one payload (payload.h), so the server can check it without
// having seen it sent and every Value kind crosses the wire.
#ifndef NETSTRUCTER_TOOLS_LOAD_BRIDGE_VALUE_H_
#define NETSTRUCTER_TOOLS_LOAD_BRIDGE_VALUE_H_

#include "absl/status/statusor.h"
#include "netstructer/tools/load/payload.h"
#include "proto/value.pb.h"

namespace netstructer::load {

// {'conn': C, 'seq': S, 'data': b'<MakePayload(id)>', 'meta': ('load',
// S / 2, S odd, None), 'tags': {S % 7, S % 11, 'c<C>'}, 'sizes': [..]}.
Value MakeBridgeValue(PayloadId id);

// Checks a received value: the shape above, its payload (CheckPayload) and
// 'conn'/'seq' naming the payload's id. Returns the id; DATA_LOSS saying
// what differs otherwise.
absl::StatusOr<PayloadId> CheckBridgeValue(const Value& value);

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_BRIDGE_VALUE_H_
