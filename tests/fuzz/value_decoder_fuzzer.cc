// Fuzzes DecodeValue (proto/value_codec.h). Beyond "never crash", every
// accepted input must decode to a valid Value that encodes, decodes again
// and re-encodes to the same bytes, and whose Repr (when it has no inf or
// nan, which are not literals) parses back to the same Value. A broken
// invariant abort()s: it is a bug.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/proto/python_literal.h"
#include "netstructer/proto/python_repr.h"
#include "netstructer/proto/value.h"
#include "netstructer/proto/value_codec.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/proto/value_validate.h"
#include "netstructer/tests/fuzz/value_fuzz_checks.h"

using netstructer::Value;
using netstructer::fuzz::Check;
using netstructer::fuzz::HasNonFinite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<Value> decoded = netstructer::DecodeValue(bytes);
  if (!decoded.ok()) {
    Check(decoded.status().code() == absl::StatusCode::kInvalidArgument ||
              decoded.status().code() == absl::StatusCode::kResourceExhausted,
          "error code", decoded.status().ToString());
    return 0;
  }
  const Value& v = *decoded;
  const std::string repr = netstructer::Repr(v);
  Check(netstructer::Validate(v).ok(), "result is valid", repr);

  netstructer::ValueLimits unlimited_size;
  unlimited_size.max_input_bytes = std::numeric_limits<size_t>::max();
  const std::string encoded = netstructer::EncodeValue(v);
  const absl::StatusOr<Value> again =
      netstructer::DecodeValue(encoded, unlimited_size);
  Check(again.ok(), "re-encoding decodes", repr);
  Check(netstructer::EncodeValue(*again) == encoded,
        "encode(decode(encode(v))) == encode(v)", repr);
  Check(netstructer::CompareValues(*again, v) == 0, "same value", repr);

  if (HasNonFinite(v)) return 0;  // NaN != NaN, and inf is not a literal.
  Check(netstructer::ValuesEqual(*again, v), "equal value", repr);
  const absl::StatusOr<Value> parsed =
      netstructer::ParseLiteral(repr, unlimited_size);
  Check(parsed.ok(), "Repr parses", repr);
  Check(netstructer::EncodeValue(*parsed) == encoded,
        "Repr parses to the same canonical value", repr);
  return 0;
}
