// The load test's payloads: every request and response carries one, and
// whoever receives it can check it byte for byte without having seen it
// sent. A payload is a 16-byte header (connection u32, sequence u64, total
// size u32, little-endian) and a body that is a pure function of
// (connection, sequence): xorshift64* output (incompressible), or for one
// sequence in four a repeating pattern (so lz4 has something to shrink).
// Sizes run from 16 B to 64 KiB, log-uniform, also a function of
// (connection, sequence).
#ifndef NETSTRUCTER_TOOLS_LOAD_PAYLOAD_H_
#define NETSTRUCTER_TOOLS_LOAD_PAYLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netstructer::load {

inline constexpr size_t kHeaderBytes = 16;
inline constexpr size_t kMinPayloadBytes = kHeaderBytes;
inline constexpr size_t kMaxPayloadBytes = size_t{64} << 10;

// Which payload: value type.
struct PayloadId {
  uint32_t connection = 0;
  uint64_t sequence = 0;
  bool operator==(const PayloadId& o) const {
    return connection == o.connection && sequence == o.sequence;
  }
};

// The first sequences of every connection are kMaxPayloadBytes, so that
// every buffer along the way reaches its largest size during warm-up.
inline constexpr uint64_t kLargestFirst = 4;

// In [kMinPayloadBytes, kMaxPayloadBytes], log-uniform over the sequences
// from kLargestFirst on.
size_t SizeFor(PayloadId id);

// A small count in [1, max] derived from `id` (messages per stream).
uint32_t CountFor(PayloadId id, uint32_t max);

// The payload `id` of SizeFor(id) bytes.
std::string MakePayload(PayloadId id);

// Checks `data` against the payload its header names: the size field must
// be data.size(), and every body byte what MakePayload would write. Returns
// the id; DATA_LOSS saying what differs otherwise.
absl::StatusOr<PayloadId> CheckPayload(absl::string_view data);

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_PAYLOAD_H_
