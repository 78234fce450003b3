// Call metadata: ordered (key, value) pairs that travel with a call, as
// gRPC's. Keys are lowercase ASCII (a-z 0-9 - _ .), 1..128 bytes; values are
// bytes. A key may repeat; order is kept.
#ifndef NETSTRUCTER_RPC_METADATA_H_
#define NETSTRUCTER_RPC_METADATA_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace netstructer {

using Metadata = std::vector<std::pair<std::string, std::string>>;

namespace rpc {

// Limits on what one side sends or accepts (docs/PROTOCOL.md 9.3).
inline constexpr size_t kMaxMetadataKeyBytes = 128;
inline constexpr size_t kMaxMetadataBytes = 64 * 1024;  // Keys + values.

// INVALID_ARGUMENT naming the offending key, or OK.
absl::Status ValidateMetadataKey(absl::string_view key);
absl::Status ValidateMetadata(const Metadata& metadata);

}  // namespace rpc
}  // namespace netstructer

#endif  // NETSTRUCTER_RPC_METADATA_H_
