#include "netstructer/proto/value_codec.h"

#include <algorithm>
#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "netstructer/proto/value_canonical.h"

namespace netstructer {
namespace {

// Protobuf message levels per Value level: Value -> ValueMap -> MapEntry ->
// Value is the deepest step (lists take two: Value -> ValueList -> Value).
constexpr int64_t kMessagesPerValueLevel = 3;

int RecursionLimit(int max_depth) {
  const int64_t limit =
      kMessagesPerValueLevel * std::max<int64_t>(max_depth, 0);
  return static_cast<int>(std::min<int64_t>(limit, INT_MAX));
}

}  // namespace

std::string EncodeValue(const Value& value) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    value.SerializeToCodedStream(&coded);
  }
  return out;
}

absl::StatusOr<Value> DecodeValue(absl::string_view bytes,
                                  const ValueLimits& limits) {
  if (bytes.size() > limits.max_input_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("encoded Value of ", bytes.size(),
                     " bytes exceeds the limit of ", limits.max_input_bytes));
  }
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  input.SetRecursionLimit(RecursionLimit(limits.max_depth));
  Value value;
  if (!value.ParseFromCodedStream(&input) || !input.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError(
        "not an encoded netstructer.Value (malformed or truncated protobuf, "
        "invalid UTF-8 in a str, or nested too deep)");
  }
  value.DiscardUnknownFields();
  return Canonicalize(std::move(value), limits);
}

}  // namespace netstructer
