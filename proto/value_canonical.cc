#include "netstructer/proto/value_canonical.h"

#include <utility>
#include <vector>

#include "netstructer/proto/status_macros.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/proto/value_validate.h"

namespace netstructer {
namespace {

// REQUIRES: `v` passed Validate, which bounds the recursion.
void CanonicalizeTree(Value* v) {
  switch (v->kind_case()) {
    case Value::kListValue:
      for (Value& element : *v->mutable_list_value()->mutable_values()) {
        CanonicalizeTree(&element);
      }
      break;
    case Value::kTupleValue:
      for (Value& element : *v->mutable_tuple_value()->mutable_values()) {
        CanonicalizeTree(&element);
      }
      break;
    case Value::kSetValue:
      // Members are hashable, so hold no set or map: nothing inside them to
      // canonicalize.
      CanonicalizeSetMembers(v->mutable_set_value());
      break;
    case Value::kMapValue:
      for (MapEntry& entry : *v->mutable_map_value()->mutable_entries()) {
        CanonicalizeTree(entry.mutable_value());
      }
      CanonicalizeMapEntries(v->mutable_map_value());
      break;
    default:
      break;
  }
}

}  // namespace

absl::StatusOr<Value> Canonicalize(Value value, const ValueLimits& limits) {
  NS_RETURN_IF_ERROR(Validate(value, limits));
  CanonicalizeTree(&value);
  return value;
}

void CanonicalizeSetMembers(ValueList* set) {
  const std::vector<int> kept = CanonicalSetMembers(*set);
  ValueList result;
  result.mutable_values()->Reserve(static_cast<int>(kept.size()));
  for (int i : kept) *result.add_values() = std::move(*set->mutable_values(i));
  set->Swap(&result);
}

void CanonicalizeMapEntries(ValueMap* map) {
  const std::vector<std::pair<int, int>> kept = CanonicalMapEntries(*map);
  if (kept.size() == static_cast<size_t>(map->entries_size())) return;
  ValueMap result;
  result.mutable_entries()->Reserve(static_cast<int>(kept.size()));
  for (const auto& [key_index, value_index] : kept) {
    MapEntry* entry = result.add_entries();
    *entry->mutable_key() =
        std::move(*map->mutable_entries(key_index)->mutable_key());
    *entry->mutable_value() =
        std::move(*map->mutable_entries(value_index)->mutable_value());
  }
  map->Swap(&result);
}

}  // namespace netstructer
