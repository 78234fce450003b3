#include "netstructer/tools/load/payload.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace netstructer::load {

namespace {

// splitmix64's finaliser: a well-mixed 64-bit hash of (connection, sequence).
uint64_t Mix(PayloadId id) {
  uint64_t x = (uint64_t{id.connection} << 40) ^ id.sequence ^
               uint64_t { 0x9E3779B97F4A7C15 };
  x = (x ^ (x >> 30)) * uint64_t{0xBF58476D1CE4E5B9};
  x = (x ^ (x >> 27)) * uint64_t{0x94D049BB133111EB};
  return x ^ (x >> 31);
}

void PutLe(uint64_t v, int bytes, char* out) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetLe(absl::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// The body of payload `id`, 8 bytes at a time. Thread-compatible.
class BodyGenerator {
 public:
  explicit BodyGenerator(PayloadId id)
      : state_(Mix(id) | 1), repeating_(Mix(id) % 4 == 0) {}
  // Fills `out[0, n)`, continuing where the last call stopped.
  // REQUIRES: every call but the last has n % 8 == 0.
  void Next(char* out, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
      uint64_t v = state_;
      if (!repeating_) {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        v = state_ * uint64_t{2685821657736338717};
      }
      const size_t k = std::min<size_t>(8, n - i);
      for (size_t b = 0; b < k; ++b)
        out[i + b] = static_cast<char>(v >> (8 * b));
    }
  }

 private:
  uint64_t state_;
  const bool repeating_;
};

}  // namespace

size_t SizeFor(PayloadId id) {
  if (id.sequence < kLargestFirst) return kMaxPayloadBytes;
  const uint64_t h = Mix(id);
  if ((h >> 20) % 64 == 0) return kMaxPayloadBytes;
  const size_t low = kMinPayloadBytes << ((h >> 8) % 12);  // 16 .. 32 KiB
  return low + (h >> 32) % low;                            // .. 64 KiB - 1
}

uint32_t CountFor(PayloadId id, uint32_t max) {
  return 1 + static_cast<uint32_t>((Mix(id) >> 44) % max);
}

std::string MakePayload(PayloadId id) {
  const size_t size = SizeFor(id);
  std::string out(size, '\0');
  PutLe(id.connection, 4, &out[0]);
  PutLe(id.sequence, 8, &out[4]);
  PutLe(size, 4, &out[12]);
  BodyGenerator(id).Next(&out[kHeaderBytes], size - kHeaderBytes);
  return out;
}

absl::StatusOr<PayloadId> CheckPayload(absl::string_view data) {
  if (data.size() < kHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat("a payload of ", data.size(), " bytes has no header"));
  }
  PayloadId id;
  id.connection = static_cast<uint32_t>(GetLe(data, 4));
  id.sequence = GetLe(data.substr(4), 8);
  const uint64_t size = GetLe(data.substr(12), 4);
  if (size != data.size() || size != SizeFor(id)) {
    return absl::DataLossError(absl::StrCat(
        "payload ", id.connection, "/", id.sequence, " is ", data.size(),
        " bytes, its header says ", size, ", it should be ", SizeFor(id)));
  }
  BodyGenerator body(id);
  char expected[4096];
  for (size_t at = kHeaderBytes; at < data.size(); at += sizeof expected) {
    const size_t n = std::min(sizeof expected, data.size() - at);
    body.Next(expected, n);
    if (std::memcmp(expected, data.data() + at, n) != 0) {
      return absl::DataLossError(
          absl::StrCat("payload ", id.connection, "/", id.sequence,
                       ": body differs in bytes ", at, "..", at + n));
    }
  }
  return id;
}

}  // namespace netstructer::load
