#include "netstructer/transport/frame_codec.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"

namespace netstructer::transport {

absl::Status AppendFrame(absl::string_view body, std::string* out) {
  if (body.size() < kMinFrameBytes || body.size() > kProtocolMaxFrameBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("frame body of %d bytes is outside [%d, %d]",
                        body.size(), kMinFrameBytes, kProtocolMaxFrameBytes));
  }
  char prefix[kLengthPrefixBytes];
  big_endian::Store32(static_cast<uint32_t>(body.size()), prefix);
  out->append(prefix, kLengthPrefixBytes);
  out->append(body.data(), body.size());
  return absl::OkStatus();
}

FrameDecoder::FrameDecoder(FrameDecoderOptions options)
    : max_frame_bytes_(std::clamp(options.max_frame_bytes, kMinFrameBytes,
                                  kProtocolMaxFrameBytes)) {}

void FrameDecoder::Feed(absl::string_view bytes) {
  while (status_.ok() && !bytes.empty()) {
    if (prefix_bytes_ < kLengthPrefixBytes) {
      const size_t take =
          std::min(kLengthPrefixBytes - prefix_bytes_, bytes.size());
      std::memcpy(prefix_ + prefix_bytes_, bytes.data(), take);
      prefix_bytes_ += take;
      bytes.remove_prefix(take);
      if (prefix_bytes_ < kLengthPrefixBytes) return;
      const uint32_t length = big_endian::Load32(prefix_);
      if (length < kMinFrameBytes || length > max_frame_bytes_) {
        status_ = length == 0
                      ? absl::DataLossError(
                            "frame of 0 bytes: a frame body is never empty")
                      : absl::ResourceExhaustedError(absl::StrFormat(
                            "frame of %d bytes exceeds the limit of %d bytes",
                            length, max_frame_bytes_));
        prefix_bytes_ = 0;  // Drop the invalid prefix.
        return;
      }
      body_length_ = length;
      continue;
    }
    const size_t take = std::min(body_length_ - body_.size(), bytes.size());
    body_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (body_.size() == body_length_) {
      complete_bytes_ += kLengthPrefixBytes + body_.size();
      complete_.push_back(std::move(body_));
      body_.clear();  // A moved-from string is valid but unspecified.
      prefix_bytes_ = 0;
    }
  }
}

absl::StatusOr<std::optional<std::string>> FrameDecoder::Next() {
  if (complete_.empty()) {
    if (!status_.ok()) return status_;
    return std::nullopt;
  }
  std::optional<std::string> body(std::move(complete_.front()));
  complete_.pop_front();
  complete_bytes_ -= kLengthPrefixBytes + body->size();
  return body;
}

absl::Status FrameDecoder::Finish() const {
  if (!status_.ok()) return status_;
  if (prefix_bytes_ == 0) return absl::OkStatus();
  if (prefix_bytes_ < kLengthPrefixBytes) {
    return absl::DataLossError(
        absl::StrFormat("truncated length prefix: got %d of %d bytes",
                        prefix_bytes_, kLengthPrefixBytes));
  }
  return absl::DataLossError(absl::StrFormat(
      "truncated frame: got %d of %d bytes", body_.size(), body_length_));
}

}  // namespace netstructer::transport
