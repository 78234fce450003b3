// Limits applied to Values from untrusted sources: DecodeValue (protobuf
// bytes), ParseLiteral (Python literal text) and Validate / Canonicalize.
#ifndef NETSTRUCTER_PROTO_VALUE_LIMITS_H_
#define NETSTRUCTER_PROTO_VALUE_LIMITS_H_

#include <cstddef>

namespace netstructer {

// 100 levels: protobuf's own default recursion limit, far deeper than any
// value a person writes, and it bounds the stack used by the recursive
// helpers (comparison, Repr, canonicalization) to a few hundred frames.
inline constexpr int kDefaultMaxValueDepth = 100;

// 1 MiB: a safe default for Values decoded from untrusted bytes outside a
// connection. A Bridge raises it to its own max_message_bytes, since large
// messages arrive in many frames. Decoding allocates up to ~40x the input (a
// 2-byte empty element becomes a heap-allocated protobuf Value), so callers
// that raise it accept that memory cost.
inline constexpr size_t kDefaultMaxValueInputBytes = size_t{1} << 20;

struct ValueLimits {
  // Deepest nesting accepted. A scalar has depth 1; a list, tuple, set or map
  // has one more than its deepest element or key (an empty one has depth 1).
  // The literal parser counts every bracket, including redundant parentheses
  // such as `((1))`. Values below 1 reject everything.
  int max_depth = kDefaultMaxValueDepth;
  // Largest input accepted: the encoded bytes for DecodeValue, the literal
  // text for ParseLiteral. Not applied by Validate / Canonicalize.
  size_t max_input_bytes = kDefaultMaxValueInputBytes;
};

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_VALUE_LIMITS_H_
