#include "netstructer/transport/outgoing_message.h"

#include <algorithm>

namespace netstructer::transport {

OutgoingMessage::OutgoingMessage(uint8_t kind, absl::string_view prefix,
                                 absl::string_view rest)
    : prefix_(prefix),
      rest_(rest),
      size_(kMessageHeaderBytes + prefix.size() + rest.size()) {
  big_endian::Store64(prefix.size() + rest.size(), header_.data());
  header_[8] = static_cast<char>(kind);
}

void OutgoingMessage::ResumeAt(uint64_t sent) { sent_ = std::min(sent, size_); }

size_t OutgoingMessage::NextSize(size_t budget) const {
  const uint64_t left = size_ - sent_;
  const uint64_t header_left = sent_ < kMessageHeaderBytes && size_ > 0
                                   ? kMessageHeaderBytes - sent_
                                   : 0;
  return static_cast<size_t>(
      std::min<uint64_t>(left, std::max<uint64_t>(budget, header_left)));
}

absl::string_view OutgoingMessage::Take(size_t n, std::string* out) {
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - sent_));
  const uint64_t from = sent_;
  sent_ += n;
  if (out->empty()) {
    if (n == 0) return absl::string_view();
    const uint64_t prefix_at = kMessageHeaderBytes;
    const uint64_t rest_at = prefix_at + prefix_.size();
    if (from >= rest_at) return rest_.substr(from - rest_at, n);
    if (from >= prefix_at && from + n <= rest_at) {
      return prefix_.substr(from - prefix_at, n);
    }
  }
  AppendRange(from, n, out);
  return *out;
}

void OutgoingMessage::AppendRange(uint64_t from, size_t n,
                                  std::string* out) const {
  out->reserve(out->size() + n);
  const absl::string_view parts[] = {
      absl::string_view(header_.data(), size_ == 0 ? 0 : header_.size()),
      prefix_, rest_};
  uint64_t part_at = 0;
  for (const absl::string_view part : parts) {
    if (n == 0) return;
    const uint64_t part_end = part_at + part.size();
    if (from < part_end) {
      const size_t offset = static_cast<size_t>(from - part_at);
      const size_t take = std::min<size_t>(n, part.size() - offset);
      out->append(part.data() + offset, take);
      from += take;
      n -= take;
    }
    part_at = part_end;
  }
}

}  // namespace netstructer::transport
