// Fuzzes Decompress (payload = `u32 BE size | lz4 block`) and, through the
// round trip, MaybeCompress. Aborts unless:
//  * Decompress with a small limit is OK with exactly the declared size,
//    RESOURCE_EXHAUSTED exactly when the declared size is over the limit, or
//    DATA_LOSS;
//  * MaybeCompress of the input, when it compresses, is strictly shorter and
//    decompresses back to the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/compression.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {
namespace {

// Small enough to keep each run fast, large enough for real blocks.
constexpr size_t kLimit = 64 * 1024;

void Check(bool condition) {
  if (!condition) std::abort();
}

void Run(absl::string_view input) {
  absl::StatusOr<std::string> out = Decompress(input, kLimit);
  if (input.size() < kCompressedSizePrefixBytes) {
    Check(out.status().code() == absl::StatusCode::kDataLoss);
  } else {
    const uint32_t declared = big_endian::Load32(input.data());
    if (declared > kLimit) {
      Check(out.status().code() == absl::StatusCode::kResourceExhausted);
    } else if (out.ok()) {
      Check(out->size() == declared);
    } else {
      Check(out.status().code() == absl::StatusCode::kDataLoss);
    }
  }

  CompressionOptions options;
  options.threshold_bytes = 0;
  std::optional<std::string> payload = MaybeCompress(input, options);
  if (payload.has_value()) {
    Check(payload->size() < input.size());
    absl::StatusOr<std::string> back = Decompress(*payload, input.size());
    Check(back.ok() && *back == input);
  }
}

}  // namespace
}  // namespace netstructer::transport

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  netstructer::transport::Run(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
