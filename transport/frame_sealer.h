// The one place where the frame codecs compose, in the documented order
// (docs/PROTOCOL.md, "Sealing a frame"):
//
//   seal: payload -> lz4 (maybe) -> inner frame (header + payload)
//         -> Fernet token (secure mode) -> u32 length prefix
//   open: body -> Fernet open (HMAC verified first) -> inner header
//         -> sequence check -> lz4 decompress (only now, with a limit)
//
// Each direction of a connection has its own sequence numbers, starting at 0;
// a sealer numbers the frames it makes and an opener requires exactly the
// next number, so a replayed, reordered or dropped frame is DATA_LOSS.
#ifndef NETSTRUCTER_TRANSPORT_FRAME_SEALER_H_
#define NETSTRUCTER_TRANSPORT_FRAME_SEALER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transport/compression.h"
#include "transport/fernet.h"
#include "transport/frame_format.h"
#include "transport/frame_header.h"

namespace netstructer::transport {

struct SealerOptions {
  // Payloads of at least `compression.threshold_bytes` are offered to lz4 when
  // the caller allows compression; sent compressed only if that is smaller.
  CompressionOptions compression;
};

// Seals the frames of one direction. Resource type; thread-compatible
// (confine to the writer of the connection).
class FrameSealer {
 public:
  // Plaintext inner frames: for benchmarks and local debugging only, and
  // only when explicitly asked for.
  static FrameSealer Insecure(SealerOptions options = {});
  static FrameSealer Secure(const FernetKey& key, SealerOptions options = {});

  FrameSealer(FrameSealer&&) noexcept = default;
  FrameSealer& operator=(FrameSealer&&) noexcept = default;

  // Appends one outer frame carrying `payload` to `*out`, with the next
  // sequence number. `flags` must not contain kFlagCompressed (the sealer
  // decides); `allow_compression` false keeps the payload uncompressed
  // whatever its size (for secrets mixed with attacker-chosen data).
  // `now_unix_seconds` stamps the Fernet token. INVALID_ARGUMENT for a frame
  // that would exceed kProtocolMaxFrameBytes or bad flags; nothing is
  // appended and no sequence number is used on error.
  absl::Status Seal(uint32_t stream_id, FrameType type, uint8_t flags,
                    absl::string_view payload, bool allow_compression,
                    int64_t now_unix_seconds, std::string* out);

  // Largest payload whose frame fits in `max_frame_bytes` (the peer's decoder
  // limit) whether or not it gets compressed.
  static size_t MaxPayloadBytes(bool secure, size_t max_frame_bytes);

  bool secure() const { return fernet_ != nullptr; }
  uint64_t next_sequence() const { return next_sequence_; }

 private:
  FrameSealer(std::unique_ptr<Fernet> fernet, SealerOptions options)
      : fernet_(std::move(fernet)), options_(options) {}

  std::unique_ptr<Fernet> fernet_;  // Null in insecure mode.
  SealerOptions options_;
  uint64_t next_sequence_ = 0;
  std::string scratch_;  // The inner frame before sealing; reused.
};

struct OpenerOptions {
  // Largest payload a compressed frame may declare; checked before
  // allocating. Default: what an uncompressed frame could carry.
  size_t max_decompressed_bytes = kDefaultMaxDecompressedBytes;
};

// One opened frame: its header (kFlagCompressed already undone and cleared)
// and its payload.
struct OpenedFrame {
  FrameHeader header;
  std::string payload;
};

// Opens the frames of one direction. Resource type; thread-compatible
// (confine to the reader of the connection). The first error is sticky: the
// connection must be closed, and nothing from the bad frame is delivered.
class FrameOpener {
 public:
  static FrameOpener Insecure(OpenerOptions options = {});
  static FrameOpener Secure(const FernetKey& key, OpenerOptions options = {});

  FrameOpener(FrameOpener&&) noexcept = default;
  FrameOpener& operator=(FrameOpener&&) noexcept = default;

  // Opens one body as FrameDecoder returns it.
  //   DATA_LOSS "invalid token"          forged, corrupted or wrong-key frame
  //   DATA_LOSS "frame out of sequence"  replayed, reordered or dropped frame
  //   DATA_LOSS                          bad inner header, corrupt lz4 block
  //   RESOURCE_EXHAUSTED                 declared decompressed size over limit
  absl::StatusOr<OpenedFrame> Open(absl::string_view body);

  uint64_t next_sequence() const { return next_sequence_; }

 private:
  FrameOpener(std::unique_ptr<Fernet> fernet, OpenerOptions options)
      : fernet_(std::move(fernet)), options_(options) {}
  absl::StatusOr<OpenedFrame> OpenInner(absl::string_view inner);

  std::unique_ptr<Fernet> fernet_;  // Null in insecure mode.
  OpenerOptions options_;
  uint64_t next_sequence_ = 0;
  absl::Status status_;  // Sticky first error.
  std::string scratch_;  // The opened token's plaintext; reused.
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_FRAME_SEALER_H_
