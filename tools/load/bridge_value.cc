#include "netstructer/tools/load/bridge_value.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "netstructer/proto/value.h"

namespace netstructer::load {

namespace {

// The entry of `map` whose key is the str `key`, or nullptr.
const Value* Find(const Value& map, absl::string_view key) {
  for (const MapEntry& e : map.map_value().entries()) {
    if (e.key().kind_case() == Value::kStrValue && e.key().str_value() == key) {
      return &e.value();
    }
  }
  return nullptr;
}

}  // namespace

Value MakeBridgeValue(PayloadId id) {
  const int64_t seq = static_cast<int64_t>(id.sequence);
  std::vector<Value> sizes;
  for (uint64_t i = 0; i < 4; ++i) {
    sizes.push_back(MakeInt(
        static_cast<int64_t>(SizeFor({id.connection, id.sequence + i}))));
  }
  return MakeMap({
      {MakeStr("conn"), MakeInt(id.connection)},
      {MakeStr("seq"), MakeInt(seq)},
      {MakeStr("data"), MakeBytes(MakePayload(id))},
      {MakeStr("meta"),
       MakeTuple({MakeStr("load"), MakeFloat(static_cast<double>(seq) / 2),
                  MakeBool(seq % 2 == 1), MakeNull()})},
      {MakeStr("tags"), MakeSet({MakeInt(seq % 7), MakeInt(seq % 11),
                                 MakeStr(absl::StrCat("c", id.connection))})},
      {MakeStr("sizes"), MakeList(std::move(sizes))},
  });
}

absl::StatusOr<PayloadId> CheckBridgeValue(const Value& value) {
  if (value.kind_case() != Value::kMapValue) {
    return absl::DataLossError("a Bridge value that is not a dict");
  }
  const Value* data = Find(value, "data");
  const Value* conn = Find(value, "conn");
  const Value* seq = Find(value, "seq");
  if (data == nullptr || data->kind_case() != Value::kBytesValue ||
      conn == nullptr || conn->kind_case() != Value::kIntValue ||
      seq == nullptr || seq->kind_case() != Value::kIntValue) {
    return absl::DataLossError(
        "a Bridge value without bytes 'data' and int 'conn' and 'seq'");
  }
  absl::StatusOr<PayloadId> id = CheckPayload(data->bytes_value());
  if (!id.ok()) return id.status();
  if (conn->int_value() != id->connection ||
      seq->int_value() != static_cast<int64_t>(id->sequence)) {
    return absl::DataLossError(absl::StrCat(
        "a Bridge value names ", conn->int_value(), "/", seq->int_value(),
        " around payload ", id->connection, "/", id->sequence));
  }
  return id;
}

}  // namespace netstructer::load
