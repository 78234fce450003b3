// The handshake's wire constants, shared by the messages' encoders and
// decoders. The specification is docs/PROTOCOL.md, section 7 "Handshake";
// this header only mirrors it. Change both together, never one.
//
// Every handshake message is the payload of a plaintext inner frame (stream
// id 0, flags 0) of type HANDSHAKE, or REFUSAL from the server:
//   ClientHello (117 B):    "NSH2" | mode u8 | key id[8] | nonce[32]
//                           | X25519 public key[32] | time u64 | binder[32]
//   ServerHello (101 B):    "NSH2" | mode u8 | nonce[32]
//                           | X25519 public key[32] | finished[32]
//   ClientFinished (32 B):  finished[32]                  (Fernet mode only)
//   Refusal (1..513 B):     status code u8 (1..16) | reason, UTF-8, <= 512 B
#ifndef NETSTRUCTER_TRANSPORT_HANDSHAKE_FORMAT_H_
#define NETSTRUCTER_TRANSPORT_HANDSHAKE_FORMAT_H_

#include <cstddef>
#include <cstdint>

#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {

// "NSH2": NetStructer handshake, version 2 (version 1, "NSH1", had no
// binder in its ClientHello; a server names it when it refuses one).
inline constexpr char kHandshakeMagic[] = "NSH2";
inline constexpr char kHandshakeMagicVersion1[] = "NSH1";
inline constexpr size_t kHandshakeMagicBytes = 4;

// The mode byte. Configured on each side, never negotiated.
enum class HandshakeMode : uint8_t {
  kInsecure = 0x00,  // Plaintext frames; benchmarks and local debugging only.
  kFernet = 0x01,    // PSK-authenticated X25519, Fernet session keys.
};

inline constexpr size_t kHandshakeNonceBytes = 32;
inline constexpr size_t kX25519KeyBytes = 32;
inline constexpr size_t kKeyIdBytes = 8;
inline constexpr size_t kFinishedBytes = 32;  // HMAC-SHA256.

// ---- ClientHello ----------------------------------------------------------
inline constexpr size_t kClientHelloModeOffset = 4;
inline constexpr size_t kClientHelloKeyIdOffset = 5;
inline constexpr size_t kClientHelloNonceOffset = 13;
inline constexpr size_t kClientHelloPublicKeyOffset = 45;
inline constexpr size_t kClientHelloTimeOffset = 77;
// The binder covers the ClientHello up to here.
inline constexpr size_t kClientHelloBinderOffset = 85;
inline constexpr size_t kBinderBytes = 32;  // HMAC-SHA256.
inline constexpr size_t kClientHelloBytes = 117;
// A ClientHello's time may differ from the server's clock by this much;
// within it, a server remembers every nonce it accepted (replays).
inline constexpr int64_t kHelloFreshnessSeconds = 60;

// ---- ServerHello ----------------------------------------------------------
inline constexpr size_t kServerHelloModeOffset = 4;
inline constexpr size_t kServerHelloNonceOffset = 5;
inline constexpr size_t kServerHelloPublicKeyOffset = 37;
// TH1 covers the ServerHello up to here (everything but the finished).
inline constexpr size_t kServerHelloFinishedOffset = 69;
inline constexpr size_t kServerHelloBytes = 101;

// ---- ClientFinished -------------------------------------------------------
inline constexpr size_t kClientFinishedBytes = kFinishedBytes;

// ---- Refusal --------------------------------------------------------------
// A reason is for people: one or two sentences. The cap bounds what an
// unauthenticated peer makes us buffer, log and show.
inline constexpr size_t kMaxRefusalReasonBytes = 512;
inline constexpr size_t kMaxRefusalBytes = 1 + kMaxRefusalReasonBytes;
// Valid codes are absl::StatusCode 1 (CANCELLED) to 16 (UNAUTHENTICATED).
inline constexpr uint8_t kMaxRefusalCode = 16;

// The largest body of a handshake frame (an inner frame carrying the largest
// handshake message, a refusal). Everything else a peer sends during the
// handshake is malformed; a connection may bound its handshake reads by it.
inline constexpr size_t kMaxHandshakeFrameBytes =
    kFrameHeaderBytes + kMaxRefusalBytes;

// ---- Key schedule labels (ASCII, no NUL; docs/PROTOCOL.md 7.6) -------------
inline constexpr char kKeyIdLabel[] = "netstructer key id v1";
inline constexpr char kBinderKeyLabel[] = "netstructer v2 binder key";
inline constexpr char kServerFinishedLabel[] = "netstructer v1 server finished";
inline constexpr char kClientFinishedLabel[] = "netstructer v1 client finished";
inline constexpr char kClientToServerLabel[] = "netstructer v1 c2s";  // || TH2
inline constexpr char kServerToClientLabel[] = "netstructer v1 s2c";  // || TH2

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_HANDSHAKE_FORMAT_H_
