// Payload compression: the lz4 block format behind a big-endian u32
// uncompressed size (the payload of a frame with kFlagCompressed; see
// transport/frame_format.h and docs/PROTOCOL.md, section "Frames"):
//
//   u32 uncompressed size, big-endian | lz4 block (no lz4 frame header)
//
// Pure functions over bytes; thread-safe. Compression composes with
// encryption in one place: compress, then seal; open, then decompress.
//
// Security caveats:
//  * Compressing secrets together with attacker-chosen data leaks the secret
//    through the ciphertext length (CRIME/BREACH); callers must be able to
//    turn compression off per call.
//  * Decompress only authenticated bytes (after the Fernet HMAC verified):
//    the declared size is checked against a limit before allocating, but the
//    lz4 decoder should not be exposed to unauthenticated peers at all.
#ifndef NETSTRUCTER_TRANSPORT_COMPRESSION_H_
#define NETSTRUCTER_TRANSPORT_COMPRESSION_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {

// Inputs shorter than this are sent uncompressed. 64 B frames never shrink
// (lz4 ratio 0.98) yet cost ~170 ns each; at 1 KiB protobuf-like data first
// pays (ratio 1.25), /work/shared/bench/limits/RESULTS.md section 2.
inline constexpr size_t kDefaultCompressionThresholdBytes = 1024;

struct CompressionOptions {
  // See kDefaultCompressionThresholdBytes.
  size_t threshold_bytes = kDefaultCompressionThresholdBytes;
  // LZ4_compress_fast's acceleration: 1 is LZ4_compress_default; larger is
  // faster and compresses less. Values below 1 mean 1; lz4 caps large ones.
  int acceleration = 1;
};

// The compressed payload of `in`, only when `in` has at least
// `options.threshold_bytes` bytes AND the result, size prefix included, is
// strictly shorter than `in`; std::nullopt otherwise (send `in` as is,
// without kFlagCompressed).
std::optional<std::string> MaybeCompress(
    absl::string_view in, const CompressionOptions& options = {});

// Decompresses a payload MaybeCompress made. REQUIRES: `payload` was
// authenticated (see the caveat above).
//   RESOURCE_EXHAUSTED  the declared size exceeds `max_decompressed_bytes`
//                       (checked before allocating; a sensible limit is
//                       kDefaultMaxDecompressedBytes).
//   DATA_LOSS           shorter than the 4-byte size prefix, a malformed lz4
//                       block, or a block that does not decompress to exactly
//                       the declared size.
absl::StatusOr<std::string> Decompress(absl::string_view payload,
                                       size_t max_decompressed_bytes);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_COMPRESSION_H_
