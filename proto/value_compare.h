// Equality with Python's == semantics, and the total order over Values that
// defines the canonical order of sets (proto/value_canonical.h).
#ifndef NETSTRUCTER_PROTO_VALUE_COMPARE_H_
#define NETSTRUCTER_PROTO_VALUE_COMPARE_H_

#include <utility>
#include <vector>

#include "proto/value.pb.h"

namespace netstructer {

// Python's `a == b` for the types a Value holds:
//   * Numbers compare by mathematical value across kinds, as in Python:
//     True == 1 == 1.0, False == 0 == 0.0 == -0.0. int vs float is exact:
//     2**53 + 1 != 2.0**53.
//   * NaN is unequal to everything, itself included, and so is any container
//     holding one. (Python says `[x] == [x]` for the same NaN object through
//     an identity shortcut; a Value has no identity.)
//   * str never equals bytes; a list never equals a tuple.
//   * Sets compare as sets: order and duplicates do not matter.
//   * Maps compare as dicts: by key lookup, order does not matter; when a key
//     occurs twice the last value counts, like the dict display {1: 'a', 1:
//     'b'}.
//   * A Value with no kind set equals only another such Value.
// Works on any Value, valid or not. Recursion is as deep as the values;
// values from DecodeValue / ParseLiteral are depth-limited.
bool ValuesEqual(const Value& a, const Value& b);

// A total order over Values: negative, zero or positive as `a` sorts before,
// with or after `b`. It is the canonical order of set members:
//   kind not set < None < numbers < str < bytes < tuple < list < set < map,
// where
//   * numbers (bool as 0/1, int, float) sort by mathematical value, exactly;
//     equal numbers of different kinds (1, True, 1.0) compare 0; every NaN
//     sorts after +inf, NaNs among themselves by bit pattern;
//   * str sorts by code point (the same as UTF-8 byte order), bytes bytewise;
//   * tuples and lists lexicographically by element, a prefix first;
//   * sets and maps by their members sorted and deduplicated (map entries by
//     key, then value). Lists, sets and maps are never set members in a valid
//     Value; they are ordered only so that the order is total.
// CompareValues(a, b) == 0 exactly when ValuesEqual(a, b), except that values
// holding NaNs with identical bits compare 0.
int CompareValues(const Value& a, const Value& b);

// The members of `set` that a Python set built from them in order keeps (the
// first of each group of equal members), as indices into set.values(),
// sorted by CompareValues. Shared by Canonicalize and MakeSet.
std::vector<int> CanonicalSetMembers(const ValueList& set);

// The entries a Python dict display built from `map` in order keeps, as
// (index of the entry whose key is kept, index of the entry whose value is
// kept) in order of first appearance: each group of equal keys keeps its
// first key, position and its last value. Shared by Canonicalize and MakeMap.
std::vector<std::pair<int, int>> CanonicalMapEntries(const ValueMap& map);

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_VALUE_COMPARE_H_
