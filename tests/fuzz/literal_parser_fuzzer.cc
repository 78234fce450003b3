// Fuzzes ParseLiteral (proto/python_literal.h). Beyond "never crash", every
// accepted literal must give a valid, canonical Value whose Repr parses back
// to the same Value (same encoding) and prints the same again, and which
// survives the protobuf codec. A broken invariant abort()s: it is a bug.
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
#include "netstructer/proto/value_canonical.h"
#include "netstructer/proto/value_codec.h"
#include "netstructer/proto/value_compare.h"
#include "netstructer/proto/value_validate.h"
#include "netstructer/tests/fuzz/value_fuzz_checks.h"

using netstructer::Value;
using netstructer::fuzz::Check;
using netstructer::fuzz::HasNonFinite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<Value> parsed = netstructer::ParseLiteral(text);
  if (!parsed.ok()) {
    Check(parsed.status().code() == absl::StatusCode::kInvalidArgument ||
              parsed.status().code() == absl::StatusCode::kResourceExhausted,
          "error code", parsed.status().ToString());
    return 0;
  }
  const Value& v = *parsed;
  const std::string repr = netstructer::Repr(v);
  Check(netstructer::Validate(v).ok(), "result is valid", repr);
  Check(netstructer::ValuesEqual(v, v), "no NaN, so equal to itself", repr);
  const std::string encoded = netstructer::EncodeValue(v);
  const absl::StatusOr<Value> canonical = netstructer::Canonicalize(v);
  Check(canonical.ok() && netstructer::EncodeValue(*canonical) == encoded,
        "result is canonical", repr);

  netstructer::ValueLimits unlimited_size;
  unlimited_size.max_input_bytes = std::numeric_limits<size_t>::max();
  const absl::StatusOr<Value> decoded =
      netstructer::DecodeValue(encoded, unlimited_size);
  Check(decoded.ok() && netstructer::EncodeValue(*decoded) == encoded,
        "codec round trip", repr);

  if (HasNonFinite(v)) return 0;
  const absl::StatusOr<Value> reparsed =
      netstructer::ParseLiteral(repr, unlimited_size);
  Check(reparsed.ok(), "Repr parses", repr);
  Check(netstructer::ValuesEqual(*reparsed, v), "Repr parses to an equal value",
        repr);
  Check(netstructer::EncodeValue(*reparsed) == encoded,
        "Repr parses to the same canonical value", repr);
  Check(netstructer::Repr(*reparsed) == repr, "Repr is a fixed point", repr);
  return 0;
}
