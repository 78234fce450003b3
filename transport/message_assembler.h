// Reassembly of one stream's messages from the message bytes of its frames
// (docs/PROTOCOL.md 8.1: a 9-byte header, u64 body size B and a kind byte,
// then B body bytes over one or more frames, the last flagged END_MESSAGE).
// One machinery for the Bridge stream and for call streams: the limits, the
// checks on the peer's bytes and the spill of large bodies to an unlinked
// temporary file live here once.
//
// Thread-compatible: used by whoever dispatches the stream's frames, one at
// a time (Bridge: under read_mu_; CallStream: under mu_).
#ifndef NETSTRUCTER_TRANSPORT_MESSAGE_ASSEMBLER_H_
#define NETSTRUCTER_TRANSPORT_MESSAGE_ASSEMBLER_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/spill_file.h"

namespace netstructer::transport {

struct AssemblerOptions {
  // Kinds (docs/PROTOCOL.md 8.1) this stream carries, one bit per kind value
  // (kinds are below 32); another kind is the peer's protocol error.
  uint32_t kind_mask = 0;
  // Bodies larger than this are over the limit (see `discard_oversized`).
  uint64_t max_message_bytes = std::numeric_limits<uint64_t>::max();
  // Bodies larger than this are written to a SpillFile in
  // `spill_directory` as they arrive ("" = $TMPDIR); never, by default.
  uint64_t memory_threshold_bytes = std::numeric_limits<uint64_t>::max();
  std::string spill_directory;
  // Over the limit: true = read the body to its end without keeping it,
  // then hand over a message that carries the error (the Bridge: the
  // stream goes on); false = report kTooLarge at once (a call fails).
  bool discard_oversized = false;
  // Added to "unknown message kind" (which stream it was on).
  std::string stream_name;
};

// A whole message: its body in memory or in a file, or (discarded over the
// limit) only its size and the error that says so.
struct AssembledMessage {
  uint8_t kind = 0;
  uint64_t size = 0;
  std::string memory;
  std::optional<SpillFile> file;
  absl::Status discarded;  // RESOURCE_EXHAUSTED when over the limit.
};

class MessageAssembler {
 public:
  explicit MessageAssembler(AssemblerOptions options)
      : options_(std::move(options)) {}

  enum class Outcome {
    kIncomplete,  // Fed; the message goes on in a later frame.
    kComplete,    // A whole message: Take() it.
    kPeerError,   // DATA_LOSS: the peer broke the format; end the connection.
    kTooLarge,    // RESOURCE_EXHAUSTED, refused at its header.
    kStorageError,  // Our spill file failed (local: not the peer's doing).
  };
  struct Result {
    Outcome outcome;
    absl::Status status;  // OK for kIncomplete and kComplete.
  };

  // The message bytes of one frame (after any CallHeaders prefix); the
  // frame had END_MESSAGE if `end_message`. After an error the assembler is
  // reset (kTooLarge: the rest of that message is the caller's to drop).
  Result Feed(absl::string_view bytes, bool end_message);
  // The message Feed completed. REQUIRES: Feed returned kComplete.
  AssembledMessage Take();

  // A message is in progress (its header was read, not its end).
  bool active() const { return active_; }

 private:
  Result Fail(Outcome outcome, absl::Status status);

  const AssemblerOptions options_;
  bool active_ = false;
  bool discarding_ = false;
  uint64_t received_ = 0;  // Body bytes so far.
  AssembledMessage message_;
};

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_MESSAGE_ASSEMBLER_H_
