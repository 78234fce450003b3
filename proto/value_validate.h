// Structural checks of a Value: the rules every Value from an untrusted
// source must pass (see proto/value.proto).
#ifndef NETSTRUCTER_PROTO_VALUE_VALIDATE_H_
#define NETSTRUCTER_PROTO_VALUE_VALIDATE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "netstructer/proto/value_limits.h"
#include "proto/value.pb.h"

namespace netstructer {

// OK when `value`
//   * has a kind set at every level (map entries need both key and value),
//   * has null_value == NULL_VALUE wherever it holds None,
//   * nests at most limits.max_depth deep,
//   * holds only valid UTF-8 (RFC 3629: no surrogates) in every str,
//   * has only hashable set members and map keys (see IsHashable).
// Otherwise INVALID_ARGUMENT naming the first offending place as a path from
// the root `$`: `[i]` is element i of a list, tuple or set, `[i].key` and
// `[i].value` are the key and value of map entry i. For example
//   "at $[2].key: unhashable type: 'list'".
// Recursion is bounded by limits.max_depth; limits.max_input_bytes is not used.
absl::Status Validate(const Value& value, const ValueLimits& limits = {});

// Python's notion of hashable: None, bool, int, float, str and bytes are; a
// tuple is when all of its elements are; list, set and map never are. A
// Value with no kind set is not.
bool IsHashable(const Value& value);

// "" for a hashable value, otherwise the Python type name that
// `hash(value)` complains about: the first list, set or dict found, depth
// first ("list" for (1, [2])), or "unset" for a missing kind.
absl::string_view UnhashableType(const Value& value);

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_VALUE_VALIDATE_H_
