#include "netstructer/transport/compression.h"

#include <lz4.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace netstructer::transport {

std::optional<std::string> MaybeCompress(absl::string_view in,
                                         const CompressionOptions& options) {
  if (in.size() < options.threshold_bytes) return std::nullopt;
  // Anything worth sending compressed is strictly shorter than `in`, so the
  // block gets in.size() - 4 - 1 bytes at most; lz4 gives up (returns 0) when
  // it cannot fit, which also ends early on incompressible data.
  if (in.size() <= kCompressedSizePrefixBytes + 1 ||
      in.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return std::nullopt;
  }
  const size_t block_capacity = in.size() - kCompressedSizePrefixBytes - 1;
  // lz4 writes into a per-thread scratch buffer, reused: incompressible
  // payloads (most large ones) then cost no allocation and no zero-fill,
  // only lz4's early give-up. The result is copied out only when it wins.
  thread_local std::string scratch;
  if (scratch.size() < block_capacity) scratch.resize(block_capacity);
  const int block_bytes = LZ4_compress_fast(
      in.data(), scratch.data(), static_cast<int>(in.size()),
      static_cast<int>(block_capacity), std::max(options.acceleration, 1));
  if (block_bytes <= 0) return std::nullopt;
  std::string out(kCompressedSizePrefixBytes, '\0');
  big_endian::Store32(static_cast<uint32_t>(in.size()), out.data());
  out.append(scratch.data(), static_cast<size_t>(block_bytes));
  return out;
}

absl::StatusOr<std::string> Decompress(absl::string_view payload,
                                       size_t max_decompressed_bytes) {
  if (payload.size() < kCompressedSizePrefixBytes) {
    return absl::DataLossError(absl::StrFormat(
        "compressed payload of %d bytes is shorter than its %d-byte size "
        "prefix",
        payload.size(), kCompressedSizePrefixBytes));
  }
  const uint32_t declared = big_endian::Load32(payload.data());
  // lz4's API counts in int; larger sizes are beyond this implementation.
  const size_t limit =
      std::min<size_t>(max_decompressed_bytes, std::numeric_limits<int>::max());
  if (declared > limit) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "decompressed size of %d bytes exceeds the limit of %d bytes", declared,
        limit));
  }
  const absl::string_view block = payload.substr(kCompressedSizePrefixBytes);
  if (block.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::DataLossError("lz4 block too large");
  }
  // Zeroed, not merely reserved: liblz4 1.9.4 accepts the forbidden match
  // offset 0, which copies output bytes not yet written onto themselves.
  std::string out(declared, '\0');
  const int got = LZ4_decompress_safe(block.data(), out.data(),
                                      static_cast<int>(block.size()),
                                      static_cast<int>(declared));
  if (got < 0) {
    return absl::DataLossError(absl::StrFormat(
        "malformed lz4 block, or it decompresses to more than the declared "
        "%d bytes",
        declared));
  }
  if (static_cast<uint32_t>(got) != declared) {
    return absl::DataLossError(absl::StrFormat(
        "lz4 block decompresses to %d bytes, declared %d", got, declared));
  }
  return out;
}

}  // namespace netstructer::transport
