// netstructer::Value (proto/value.proto) and its builders. The other Value
// helpers, all in the //proto:value target, are listed in proto/README.md.
//
//   Value v = MakeList({MakeStr("hi"), MakeInt(128),
//                       MakeMap({{MakeBytes("gg"), MakeStr("gg")}}),
//                       MakeSet({MakeInt(6), MakeInt(1)}),
//                       MakeTuple({MakeBool(false), MakeBool(true)})});
//   Repr(v) == "['hi', 128, {b'gg': 'gg'}, {1, 6}, (False, True)]"
//
// Value is a protobuf message: a value type that copies, thread-compatible.
#ifndef NETSTRUCTER_PROTO_VALUE_H_
#define NETSTRUCTER_PROTO_VALUE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/value.pb.h"

namespace netstructer {

Value MakeNull();
Value MakeBool(bool value);
Value MakeInt(int64_t value);
Value MakeFloat(double value);
// `utf8` must be valid UTF-8 for the Value to pass Validate.
Value MakeStr(absl::string_view utf8);
Value MakeBytes(absl::string_view bytes);
Value MakeList(std::vector<Value> elements);
Value MakeTuple(std::vector<Value> elements);
// Like Python's set(members): equal members collapse to the first one and
// the result is in canonical order (proto/value_canonical.h), so
// MakeSet({MakeInt(2), MakeInt(1), MakeBool(true)}) prints as {1, 2}.
Value MakeSet(std::vector<Value> members);
// Like a dict display {k1: v1, k2: v2, ...}: a repeated key keeps its first
// position and its last value. Entries otherwise stay in order.
Value MakeMap(std::vector<std::pair<Value, Value>> entries);

}  // namespace netstructer

#endif  // NETSTRUCTER_PROTO_VALUE_H_
