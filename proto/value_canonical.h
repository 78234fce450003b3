// The canonical form of a Value: what DecodeValue and ParseLiteral return.
#ifndef NETSTRUCTER_PROTO_VALUE_CANONICAL_H_
#define NETSTRUCTER_PROTO_VALUE_CANONICAL_H_

#include "absl/status/statusor.h"
#include "netstructer/proto/value_limits.h"
#include "proto/value.pb.h"

namespace netstructer {

// Validates `value` (proto/value_validate.h; its INVALID_ARGUMENT on failure)
// and returns its canonical form, at every level:
//   * A set keeps what a Python set built from its members in order keeps:
//     of equal members the first ({1, True} is {1}, {True, 1} is {True};
//     NaNs are never equal, so each stays), sorted by CompareValues
//     (proto/value_compare.h): None, numbers ascending, str by code point,
//     bytes bytewise, tuples lexicographically.
//   * A map keeps what a dict display keeps: for each group of equal keys
//     the first key at the first position, with the last value
//     ({1: 'a', True: 'b'} is {1: 'b'}). Otherwise entries stay in order.
//   * Lists and tuples keep their order.
// The result is ValuesEqual to the input. Its Repr prints sets in the
// canonical order, which for small non-negative ints is also CPython's.
absl::StatusOr<Value> Canonicalize(Value value, const ValueLimits& limits = {});

// One level of the above, without validation or recursion: what MakeSet and
// MakeMap apply. Members and entries are moved, not copied.
void CanonicalizeSetMembers(ValueList* set);
void CanonicalizeMapEntries(ValueMap* map);

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_VALUE_CANONICAL_H_
