// A Value's bytes on the wire: its protobuf encoding (proto/value.proto).
#ifndef NETSTRUCTER_PROTO_VALUE_CODEC_H_
#define NETSTRUCTER_PROTO_VALUE_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/proto/value_limits.h"
#include "proto/value.pb.h"

namespace netstructer {

// Serializes `value` with protobuf's deterministic serialization: the same
// Value always gives the same bytes. It does not canonicalize: encode the
// result of Canonicalize (or of DecodeValue / ParseLiteral, which already
// are canonical) when equal values must give equal bytes; even then equal
// values of different kinds (1 and True and 1.0) encode differently.
// REQUIRES: the encoding is under 2 GiB (protobuf's limit).
std::string EncodeValue(const Value& value);

// Decodes untrusted bytes into a canonical Value (proto/value_canonical.h).
// Errors:
//   RESOURCE_EXHAUSTED  bytes.size() > limits.max_input_bytes (checked
//                       before parsing, like the transport's size limits);
//   INVALID_ARGUMENT    not a protobuf encoding of netstructer.Value
//                       (truncated, malformed, invalid UTF-8 in a str, or
//                       nested too deep for protobuf's recursion limit, which
//                       is set from limits.max_depth), or a Value that fails
//                       Validate (its message, e.g. "at $[0]: no kind set").
// Unknown fields are dropped. Protobuf writes one ERROR line to its log when
// a str holds invalid UTF-8 (proto3 `string` check); TODO(security): a peer
// can trigger that line at will, so rate-limit protobuf's log handler if
// logs matter.
absl::StatusOr<Value> DecodeValue(absl::string_view bytes,
                                  const ValueLimits& limits = {});

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_VALUE_CODEC_H_
