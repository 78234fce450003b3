// Encoders and strict decoders of the handshake messages (docs/PROTOCOL.md
// 7.2-7.5; constants in transport/handshake_format.h): ClientHello,
// ServerHello and the REFUSAL payload. Syntax only; the state machines in
// transport/handshake.h decide what a well-formed message means.
//
// Each decoder's error code is the one its receiver reports: a server refuses
// a malformed ClientHello with INVALID_ARGUMENT; a client fails on a malformed
// ServerHello or refusal with DATA_LOSS. Messages never echo input bytes.
// Value types and stateless functions; thread-safe.
#ifndef NETSTRUCTER_TRANSPORT_HANDSHAKE_MESSAGES_H_
#define NETSTRUCTER_TRANSPORT_HANDSHAKE_MESSAGES_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/handshake_crypto.h"
#include "netstructer/transport/handshake_format.h"

namespace netstructer::transport {

using KeyId = std::array<uint8_t, kKeyIdBytes>;

struct ClientHello {
  HandshakeMode mode = HandshakeMode::kFernet;
  KeyId key_id{};  // Zeros in insecure mode.
  Bytes32 nonce{};
  Bytes32 public_key{};  // Zeros in insecure mode.
  uint64_t time_unix_seconds = 0;  // The client's clock; 0 in insecure mode.
  Bytes32 binder{};  // HMAC of the bytes before it; zeros in insecure mode.
};

struct ServerHello {
  HandshakeMode mode = HandshakeMode::kFernet;
  Bytes32 nonce{};
  Bytes32 public_key{};  // Zeros in insecure mode.
  Bytes32 finished{};    // Zeros in insecure mode.
};

// The 117 bytes of a ClientHello. Writes the fields as given (an insecure
// hello with non-zero fields is encoded, and rejected by the decoder; the
// binder is written as given too: EncodeBoundClientHello computes it).
std::string EncodeClientHello(const ClientHello& hello);

// The 117 bytes of `hello` with its binder computed under `binder_key`
// (docs/PROTOCOL.md 7.6) over the bytes before it. INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> EncodeBoundClientHello(ClientHello hello,
                                                   const Secret32& binder_key);

// FAILED_PRECONDITION naming both versions when `payload` starts with
// "NSH1" (a client of handshake version 1). Otherwise INVALID_ARGUMENT
// "malformed handshake: ..." unless `payload` is exactly 117 bytes, starts
// with "NSH2", has mode 0x00 or 0x01, and (insecure mode) has a zero key id,
// public key, time and binder.
absl::StatusOr<ClientHello> DecodeClientHello(absl::string_view payload);

// The 101 bytes of a ServerHello.
std::string EncodeServerHello(const ServerHello& hello);

// DATA_LOSS "malformed ServerHello: ..." unless `payload` is exactly 101
// bytes, starts with "NSH2", has mode 0x00 or 0x01, and (insecure mode) has
// a zero public key and finished.
absl::StatusOr<ServerHello> DecodeServerHello(absl::string_view payload);

// A decoded REFUSAL payload.
struct Refusal {
  absl::StatusCode code = absl::StatusCode::kUnknown;  // Never kOk.
  std::string reason;  // Valid UTF-8, at most kMaxRefusalReasonBytes.
};

// The REFUSAL payload: the code byte, then `reason` cut to 512 bytes at a
// character boundary; bytes of `reason` that are not valid UTF-8 become '?'
// so that every encoded refusal decodes. OK and codes outside 1..16 are sent
// as UNKNOWN (a refusal is never OK).
std::string EncodeRefusal(absl::StatusCode code, absl::string_view reason);
std::string EncodeRefusal(const absl::Status& status);

// DATA_LOSS "malformed refusal: ..." when `payload` is empty, the code is 0
// or above 16, the reason is longer than 512 bytes or not valid UTF-8.
absl::StatusOr<Refusal> DecodeRefusal(absl::string_view payload);

// What a client reports for a REFUSAL payload: its code and reason; an empty
// reason becomes "the server did not accept this key" for UNAUTHENTICATED
// and "the server refused the connection (no reason given)" otherwise; a
// malformed payload is DATA_LOSS. Never OK.
absl::Status RefusalToStatus(absl::string_view payload);

// The first `max_bytes` or fewer bytes of `text` that end at a UTF-8
// character boundary, with every byte that does not start a valid sequence
// (RFC 3629, strict) replaced by '?'.
std::string SanitizeUtf8(absl::string_view text, size_t max_bytes);

// True when `text` is entirely valid UTF-8 (RFC 3629, strict: no overlong
// forms, surrogates, code points above U+10FFFF or truncated sequences).
bool IsValidUtf8(absl::string_view text);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_HANDSHAKE_MESSAGES_H_
