// Encoding of what RPC call streams carry beside messages
// (docs/PROTOCOL.md section 9): the prefixed CallHeaders/CallTrailers at the
// front of a HEADERS/TRAILERS payload, the 9-byte message header, CANCEL.
#ifndef NETSTRUCTER_RPC_CALL_WIRE_H_
#define NETSTRUCTER_RPC_CALL_WIRE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/rpc/metadata.h"
#include "rpc/rpc.pb.h"

namespace netstructer::rpc {

// Calls use odd stream ids from 3, opened by the client in increasing order.
inline constexpr uint32_t kFirstCallStreamId = 3;
// Per-stream flow-control window, each direction, in message bytes.
inline constexpr uint32_t kStreamWindowBytes = 2u << 20;
// The message kind of a method's request or response (8.1 layout).
inline constexpr uint8_t kMethodMessageKind = 0x03;
// Default limit on open calls per connection (server side).
inline constexpr uint32_t kDefaultMaxConcurrentStreams = 100;
// Largest CallHeaders/CallTrailers accepted.
inline constexpr size_t kMaxCallPrefixBytes = 96 * 1024;
// Longest status message carried (cut at a UTF-8 boundary).
inline constexpr size_t kMaxStatusMessageBytes = 4096;

// `u32 n | message[n]`, the front of a HEADERS or TRAILERS payload.
std::string EncodePrefixed(const google::protobuf::MessageLite& message);
// Splits a HEADERS/TRAILERS payload into its prefixed proto (parsed into
// `out`) and the message bytes after it. DATA_LOSS if malformed.
absl::StatusOr<absl::string_view> ParsePrefixed(
    absl::string_view payload, google::protobuf::MessageLite* out);

// The 9-byte header in front of every message: u64 size | u8 kind 0x03.
std::string MessageHeader(uint64_t size);

// Metadata to and from its wire form. FromWire checks the keys (DATA_LOSS).
void ToWire(const Metadata& metadata,
            google::protobuf::RepeatedPtrField<MetadataEntry>* out);
absl::StatusOr<Metadata> FromWire(
    const google::protobuf::RepeatedPtrField<MetadataEntry>& entries);

// CallTrailers for a status (message sanitised and cut), and back. A code
// out of range is DATA_LOSS.
CallTrailers TrailersFor(const absl::Status& status, const Metadata& metadata);
absl::Status StatusFrom(const CallTrailers& trailers);

// CANCEL payload: u8 code (1..16) | reason, exactly the REFUSAL payload
// (docs/PROTOCOL.md 7.5, transport/handshake_messages.h).
std::string EncodeCancel(const absl::Status& status);
// DATA_LOSS if malformed; else OK with the carried status in `*carried`.
// (Not StatusOr<Status>: an error would convert into a held value.)
absl::Status DecodeCancel(absl::string_view payload, absl::Status* carried);

}  // namespace netstructer::rpc

#endif  // NETSTRUCTER_RPC_CALL_WIRE_H_
