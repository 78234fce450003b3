#include "netstructer/transport/message_assembler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "netstructer/transport/buffer_pool.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {

MessageAssembler::Result MessageAssembler::Fail(Outcome outcome,
                                                absl::Status status) {
  active_ = false;
  discarding_ = false;
  received_ = 0;
  message_ = AssembledMessage();
  return Result{outcome, std::move(status)};
}

MessageAssembler::Result MessageAssembler::Feed(absl::string_view bytes,
                                                bool end_message) {
  if (!active_) {
    if (bytes.size() < kMessageHeaderBytes) {
      return Fail(Outcome::kPeerError,
                  absl::DataLossError("a message's first frame lacks its header"));
    }
    const uint64_t size = big_endian::Load64(bytes.data());
    const auto kind = static_cast<uint8_t>(bytes[8]);
    if (kind >= 32 || (options_.kind_mask & (uint32_t{1} << kind)) == 0) {
      return Fail(Outcome::kPeerError,
                  absl::DataLossError(absl::StrCat("unknown message kind",
                                                   options_.stream_name)));
    }
    bytes.remove_prefix(kMessageHeaderBytes);
    message_ = AssembledMessage();
    message_.kind = kind;
    message_.size = size;
    received_ = 0;
    if (size > options_.max_message_bytes) {
      absl::Status over = absl::ResourceExhaustedError(
          absl::StrCat("message of ", size, " bytes exceeds max_message_bytes ",
                       options_.max_message_bytes));
      if (!options_.discard_oversized) {
        return Fail(Outcome::kTooLarge, std::move(over));
      }
      message_.discarded = absl::ResourceExhaustedError(
          absl::StrCat(over.message(), "; it was discarded"));
      discarding_ = true;
    } else if (size > options_.memory_threshold_bytes) {
      absl::StatusOr<SpillFile> file = SpillFile::Create(options_.spill_directory);
      if (!file.ok()) return Fail(Outcome::kStorageError, file.status());
      message_.file = *std::move(file);
    } else {
      message_.memory = TakeBuffer(size);
    }
    active_ = true;
  }
  if (bytes.size() > message_.size - received_) {
    return Fail(Outcome::kPeerError,
                absl::DataLossError("a message is longer than its header says"));
  }
  received_ += bytes.size();
  if (message_.file.has_value()) {
    if (absl::Status s = message_.file->Append(bytes); !s.ok()) {
      return Fail(Outcome::kStorageError, std::move(s));
    }
  } else if (!discarding_) {
    message_.memory.append(bytes.data(), bytes.size());
  }
  if (!end_message) return Result{Outcome::kIncomplete, absl::OkStatus()};
  if (received_ != message_.size) {
    return Fail(Outcome::kPeerError,
                absl::DataLossError("a message is shorter than its header says"));
  }
  active_ = false;
  discarding_ = false;
  return Result{Outcome::kComplete, absl::OkStatus()};
}

AssembledMessage MessageAssembler::Take() {
  AssembledMessage out = std::move(message_);
  message_ = AssembledMessage();
  received_ = 0;
  return out;
}

}  // namespace netstructer::transport
