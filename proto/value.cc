#include "netstructer/proto/value.h"

#include <string>

#include "netstructer/proto/value_canonical.h"

namespace netstructer {
namespace {

void MoveInto(std::vector<Value> elements, ValueList* list) {
  list->mutable_values()->Reserve(static_cast<int>(elements.size()));
  for (Value& element : elements) *list->add_values() = std::move(element);
}

}  // namespace

Value MakeNull() {
  Value v;
  v.set_null_value(NULL_VALUE);
  return v;
}

Value MakeBool(bool value) {
  Value v;
  v.set_bool_value(value);
  return v;
}

Value MakeInt(int64_t value) {
  Value v;
  v.set_int_value(value);
  return v;
}

Value MakeFloat(double value) {
  Value v;
  v.set_float_value(value);
  return v;
}

Value MakeStr(absl::string_view utf8) {
  Value v;
  v.set_str_value(std::string(utf8));
  return v;
}

Value MakeBytes(absl::string_view bytes) {
  Value v;
  v.set_bytes_value(std::string(bytes));
  return v;
}

Value MakeList(std::vector<Value> elements) {
  Value v;
  MoveInto(std::move(elements), v.mutable_list_value());
  return v;
}

Value MakeTuple(std::vector<Value> elements) {
  Value v;
  MoveInto(std::move(elements), v.mutable_tuple_value());
  return v;
}

Value MakeSet(std::vector<Value> members) {
  Value v;
  MoveInto(std::move(members), v.mutable_set_value());
  CanonicalizeSetMembers(v.mutable_set_value());
  return v;
}

Value MakeMap(std::vector<std::pair<Value, Value>> entries) {
  Value v;
  ValueMap* map = v.mutable_map_value();
  map->mutable_entries()->Reserve(static_cast<int>(entries.size()));
  for (auto& [key, value] : entries) {
    MapEntry* entry = map->add_entries();
    *entry->mutable_key() = std::move(key);
    *entry->mutable_value() = std::move(value);
  }
  CanonicalizeMapEntries(map);
  return v;
}

}  // namespace netstructer
