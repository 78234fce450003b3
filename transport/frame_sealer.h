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
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "netstructer/transport/compression.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_header.h"

namespace netstructer::transport {

struct SealerOptions {
  // Payloads of at least `compression.threshold_bytes` are offered to lz4 when
  // the caller allows compression; sent compressed only if that is smaller.
  CompressionOptions compression;
};

// One frame for FrameSealer::SealBatch.
struct FrameToSeal {
  uint32_t stream_id = 0;
  FrameType type = FrameType::kData;
  uint8_t flags = 0;
  absl::string_view payload;
  bool allow_compression = false;
};

// Seals the frames of one direction. Resource type; thread-compatible
// (confine to the writer of the connection; SealBatch uses helper threads
// internally).
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

  // Seals `frames` as Seal would one after another (consecutive sequence
  // numbers, the same bytes but for the IVs, except that which frames are
  // offered to lz4 is decided for the whole batch before any outcome is
  // known; see compression_attempts), compressing and sealing them side by
  // side on up to `max_lanes` threads (transport/work_pool.h), and
  // appends each to `*out` in order as soon as it and those before it are
  // sealed, calling `appended()` after each (to write it while the rest is
  // sealed). On an error in frame k, frames before k are appended, nothing
  // after; the sequence numbers continue at k's.
  absl::Status SealBatch(absl::Span<const FrameToSeal> frames, int max_lanes,
                         int64_t now_unix_seconds, std::string* out,
                         absl::FunctionRef<void()> appended);

  // Largest payload whose frame fits in `max_frame_bytes` (the peer's decoder
  // limit) whether or not it gets compressed.
  static size_t MaxPayloadBytes(bool secure, size_t max_frame_bytes);

  bool secure() const { return key_.has_value(); }
  // Whether the last frame offered to lz4 (compression allowed, at least
  // the threshold) went out compressed: lz4 then costs more than Fernet
  // itself, which is when sealing side by side pays.
  bool last_compressed() const { return last_compressed_; }
  // Frames offered to lz4 so far (tests, diagnostics). After
  // kFailuresBeforeSkipping offered frames in a row that did not shrink
  // (random or already compressed data), the next 1, 2, 4, ... up to
  // kMaxSkippedFrames frames that would be offered are sent as they are,
  // then one is offered again; one that shrinks ends the skipping. lz4's
  // give-up costs ~1.5 us per 16 KiB, 5% of a client's W4 time.
  uint64_t compression_attempts() const { return compression_attempts_; }
  static constexpr int kFailuresBeforeSkipping = 8;
  static constexpr int kMaxSkippedFrames = 64;
  uint64_t next_sequence() const { return next_sequence_; }

 private:
  // What one thread needs to seal: Fernet's contexts are per thread.
  struct Lane {
    std::unique_ptr<Fernet> fernet;  // Null in insecure mode.
    std::string scratch;             // The inner frame before sealing.
    bool offered = false;     // The lane's last frame was offered to lz4,
    bool compressed = false;  // and compressed.
  };

  FrameSealer(std::optional<FernetKey> key, SealerOptions options);
  // Seals `frame` with `sequence` into `*out` (appended). REQUIRES: its
  // flags passed CheckFlags.
  absl::Status SealWith(Lane& lane, uint64_t sequence, const FrameToSeal& frame,
                        int64_t now_unix_seconds, std::string* out) const;
  // Whether `frame` is offered to lz4 (consumes a skip turn; see
  // compression_attempts), and the outcome of one that was.
  bool TakeCompressionTurn(const FrameToSeal& frame);
  void RecordCompression(bool compressed);

  std::optional<FernetKey> key_;  // For more lanes; none in insecure mode.
  SealerOptions options_;

  uint64_t next_sequence_ = 0;
  bool last_compressed_ = false;
  uint64_t compression_attempts_ = 0;
  int failures_in_a_row_ = 0;
  int skip_next_ = 0;  // How many the next skipping skips.
  int skip_left_ = 0;  // Frames still to skip.
  // lanes_[0] serves Seal; SealBatch adds more as it needs them.
  std::vector<std::unique_ptr<Lane>> lanes_;
};

struct OpenerOptions {
  // Largest payload a compressed frame may declare; checked before
  // allocating. Default: what an uncompressed frame could carry.
  size_t max_decompressed_bytes = kDefaultMaxDecompressedBytes;
  // False: a frame with COMPRESSED set is DATA_LOSS, decided from its header
  // before any lz4 runs (handshake frames: nothing unauthenticated is ever
  // decompressed, docs/PROTOCOL.md 7.1).
  bool allow_compressed = true;
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
  // Plaintext handshake frames (docs/PROTOCOL.md 7): COMPRESSED refused.
  static FrameOpener Handshake();

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
