// The frame format's constants, shared by every encoder and decoder of it.
// The specification is docs/PROTOCOL.md, section "Frames"; this header only
// mirrors it. Change both together, never one.
//
// Outer frame (what travels on the TCP stream):
//   u32 length, big-endian | body[length]
// The body is a binary Fernet token in secure mode and the plaintext inner
// frame in insecure mode.
//
// Inner frame (the plaintext inside the token), all integers big-endian:
//   offset  0  u64 sequence number (per direction; the first frame after the
//              handshake is 0)
//   offset  8  u32 stream id (0 = the connection itself)
//   offset 12  u8  type (FrameType)
//   offset 13  u8  flags (kFlag*; other bits must be 0)
//   offset 14  u16 reserved, must be 0
//   offset 16  payload (the rest); with kFlagCompressed it is
//              u32 uncompressed size, big-endian | lz4 block
#ifndef NETSTRUCTER_TRANSPORT_FRAME_FORMAT_H_
#define NETSTRUCTER_TRANSPORT_FRAME_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace netstructer::transport {

// ---- Outer frame ----------------------------------------------------------

inline constexpr size_t kLengthPrefixBytes = 4;
// A body is never empty: a Fernet token has at least 73 bytes and an inner
// frame at least kFrameHeaderBytes.
inline constexpr size_t kMinFrameBytes = 1;
// Default largest body a decoder accepts. Room for a 1 MiB message fragment
// plus the inner header and the Fernet overhead (< 100 bytes); the limit
// bounds what a peer can make us buffer before authentication.
inline constexpr size_t kDefaultMaxFrameBytes = (size_t{1} << 20) + 1024;
// Hard protocol maximum of a body; decoder limits are clamped to it. Keeps
// every length far from u32/int overflow and caps per-connection buffering.
inline constexpr size_t kProtocolMaxFrameBytes = size_t{16} << 20;

// ---- Inner frame header ---------------------------------------------------

inline constexpr size_t kFrameHeaderBytes = 16;
inline constexpr size_t kSequenceOffset = 0;   // u64
inline constexpr size_t kStreamIdOffset = 8;   // u32
inline constexpr size_t kTypeOffset = 12;      // u8
inline constexpr size_t kFlagsOffset = 13;     // u8
inline constexpr size_t kReservedOffset = 14;  // u16, must be 0
inline constexpr size_t kPayloadOffset = 16;

// Stream id 0 addresses the connection itself (PING, GOAWAY, connection
// WINDOW_UPDATE, HANDSHAKE, REFUSAL).
inline constexpr uint32_t kConnectionStreamId = 0;

// Frame types. 0x00 and everything above kMaxFrameType are invalid.
enum class FrameType : uint8_t {
  kHeaders = 0x01,
  kData = 0x02,
  kTrailers = 0x03,
  kCancel = 0x04,
  kWindowUpdate = 0x05,
  kPing = 0x06,
  kGoAway = 0x07,
  kRefusal = 0x08,
  kHandshake = 0x09,
};
inline constexpr uint8_t kMinFrameType = 0x01;
inline constexpr uint8_t kMaxFrameType = 0x09;

// Flag bits.
// The payload is `u32 BE uncompressed size | lz4 block`
// (transport/compression.h).
inline constexpr uint8_t kFlagCompressed = 0x01;
// The sender will send nothing more on this stream (half-close).
inline constexpr uint8_t kFlagEndStream = 0x02;
// This frame carries the last fragment of a message.
inline constexpr uint8_t kFlagEndMessage = 0x04;
// A PING that answers a PING.
inline constexpr uint8_t kFlagAck = 0x08;
// Every defined flag; a decoder rejects any other bit.
inline constexpr uint8_t kKnownFlagsMask =
    kFlagCompressed | kFlagEndStream | kFlagEndMessage | kFlagAck;

// ---- Compressed payload ---------------------------------------------------

// The big-endian u32 uncompressed size in front of the lz4 block.
inline constexpr size_t kCompressedSizePrefixBytes = 4;
// Default limit on a decompressed payload: what an uncompressed frame could
// carry, so compression (lz4 expands up to ~255x) never lets a peer make us
// allocate more per frame than it could without it.
inline constexpr size_t kDefaultMaxDecompressedBytes = kDefaultMaxFrameBytes;

// ---- Messages and streams (docs/PROTOCOL.md, section 8) -------------------

// The Bridge's stream of buffers, open in both directions from the end of
// the handshake.
inline constexpr uint32_t kBridgeStreamId = 1;
// The first DATA frame of a message starts with: u64 body size | u8 kind.
inline constexpr size_t kMessageHeaderBytes = 9;
enum class MessageKind : uint8_t {
  kValue = 0x01,  // body: a netstructer.Value (protobuf binary)
  kTyped = 0x02,  // body: u16 type-name length | type name | message bytes
};
// Flow-control credit a sender starts with, per connection, counted in DATA
// payload bytes. 16 MiB keeps a 1 MiB-message pipeline full on loopback
// while bounding what a receiver must absorb before it can push back.
inline constexpr uint32_t kInitialWindowBytes = 16u << 20;
// WINDOW_UPDATE payload: u32 increment (1 .. 2^31-1).
inline constexpr size_t kWindowUpdateBytes = 4;
// PING payload: 8 opaque bytes, echoed by the ACK.
inline constexpr size_t kPingBytes = 8;

// ---- Byte order -----------------------------------------------------------

// Every integer on the wire is big-endian. REQUIRES: `p` has room for the
// width read or written.
namespace big_endian {

inline uint16_t Load16(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((uint16_t{b[0]} << 8) | uint16_t{b[1]});
}

inline uint32_t Load32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
         (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

inline uint64_t Load64(const char* p) {
  return (uint64_t{Load32(p)} << 32) | uint64_t{Load32(p + 4)};
}

inline void Store16(uint16_t v, char* p) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
}

inline void Store32(uint32_t v, char* p) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

inline void Store64(uint64_t v, char* p) {
  Store32(static_cast<uint32_t>(v >> 32), p);
  Store32(static_cast<uint32_t>(v), p + 4);
}

}  // namespace big_endian
}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_FRAME_FORMAT_H_
