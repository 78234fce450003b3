// Invariant checks shared by the Value fuzzers (literal_parser,
// value_decoder): a broken invariant is a bug, so it prints and aborts.
#ifndef NETSTRUCTER_TESTS_FUZZ_VALUE_FUZZ_CHECKS_H_
#define NETSTRUCTER_TESTS_FUZZ_VALUE_FUZZ_CHECKS_H_

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "netstructer/proto/value.h"

namespace netstructer::fuzz {

inline void Check(bool ok, const char* what, absl::string_view detail) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// True when `v` holds inf or nan anywhere: their Repr (`inf`, `nan`) is not
// a literal, so the Repr round trip does not apply.
inline bool HasNonFinite(const Value& v) {
  switch (v.kind_case()) {
    case Value::kFloatValue:
      return !std::isfinite(v.float_value());
    case Value::kListValue:
    case Value::kTupleValue:
    case Value::kSetValue: {
      const ValueList& list =
          v.has_list_value()
              ? v.list_value()
              : (v.has_tuple_value() ? v.tuple_value() : v.set_value());
      for (const Value& e : list.values()) {
        if (HasNonFinite(e)) return true;
      }
      return false;
    }
    case Value::kMapValue:
      for (const auto& e : v.map_value().entries()) {
        if (HasNonFinite(e.key()) || HasNonFinite(e.value())) return true;
      }
      return false;
    default:
      return false;
  }
}

}  // namespace netstructer::fuzz

#endif  // NETSTRUCTER_TESTS_FUZZ_VALUE_FUZZ_CHECKS_H_
