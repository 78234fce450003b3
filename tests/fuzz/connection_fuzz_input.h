// The input format of the `connection` fuzz target (connection_fuzzer.cc),
// shared with its seed generator (connection_seeds.cc): a byte of server
// configuration, then a script of operations a client holding the key
// performs after a valid handshake. The harness turns each operation into
// frames sealed with the session's c2s key (docs/PROTOCOL.md 3, 8, 9), so
// they pass authentication, except where an operation asks for raw bytes.
//
//   input  := config:u8 op*
//   op     := code:u8 fields...      kind = code & 0x0f, variant = code >> 4
//   str8   := n:u8 bytes[n]          str16 := n:u16 bytes[n]
//   call   := u8, picks one of the calls opened so far (modulo their number)
//
// Integers are big-endian; a field cut off by the end of the input reads as
// zero bytes. Request texts and str8 method names are mapped to printable
// ASCII (they are proto3 strings). Kinds (variant bits in brackets):
//   0,13-15 RAW    type:u8 flags:u8 stream:u8 [stream&7==7: id:u32] str16
//                  payload. stream&7: 0, 1, 2, the newest call, a new call
//                  id, an older call (stream>>3 picks it), an even id, id.
//                  [1: lz4 the payload (COMPRESSED set even if it does not
//                  shrink), 2: skip a sequence number, 4: reserved bytes
//                  non-zero, 8: flip a bit of the sealed body]
//   1  GARBAGE     str8 written to the socket as is
//   2  UNARY       method:u8 text:str16 n:u32 fail:u8 [2: key:u8 value:str8]
//                  [4: timeout_micros:u32]: a new call whose HEADERS carries
//                  the request and END_STREAM. [1: request in a DATA frame
//                  after an empty HEADERS, 8: let lz4 compress]
//   3  STREAM_OPEN method:u8 text:str16 n:u32 [4: timeout_micros:u32]: a new
//                  call, HEADERS only [1: with the request and END_STREAM,
//                  as a server-streaming call opens; 8: compress]
//   4  STREAM_MSG  call text:str16 n:u32: one request on that call [1: split
//                  over two DATA frames, 2: with END_STREAM, 8: compress]
//   5  STREAM_END  call: an empty DATA with END_STREAM
//   6  CANCEL      call code:u8 reason:str8
//   7  WINDOW_UPDATE [1: stream 0, else call] increment:u32
//   8  PING        bytes[8] [1: ACK flag; 2: payload is a str8 instead]
//   9  BRIDGE      body:str16, a message on the Bridge stream [1: typed
//                  (EchoRequest), else a Value; 2: fragment:u8, payload bytes
//                  per DATA frame minus one; 8: compress]
//   10 GOAWAY      code:u8 reason:str8
//   11 CLOSE       ends the script [0: half-close; 1: reset; 2: graceful:
//                  GOAWAY(OK), then half-close]
//   12 HEADERS     a new call with fuzzed CallHeaders: method:u8 (>= the
//                  method table: str8 follows) timeout:u32 count:u8 then
//                  count % 4 times key:str8 value:str8, then flags:u8 and
//                  message bytes str16 [1: no_compression, 2: prefix length
//                  u32 from the input, 4: CallHeaders bytes are a str8]
//
// Config bits: kConfigInsecure (insecure server and client), kConfigPool
// (unary handlers on a worker pool), kConfigSmallLimits (4 KiB messages,
// spill files from 512 bytes, 16 KiB frames, 4 concurrent calls).
#ifndef NETSTRUCTER_TESTS_FUZZ_CONNECTION_FUZZ_INPUT_H_
#define NETSTRUCTER_TESTS_FUZZ_CONNECTION_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace netstructer::fuzz {

inline constexpr uint8_t kConfigInsecure = 0x01;
inline constexpr uint8_t kConfigPool = 0x02;
inline constexpr uint8_t kConfigSmallLimits = 0x04;

enum OpKind : uint8_t {
  kOpRaw = 0,
  kOpGarbage = 1,
  kOpUnary = 2,
  kOpStreamOpen = 3,
  kOpStreamMsg = 4,
  kOpStreamEnd = 5,
  kOpCancel = 6,
  kOpWindowUpdate = 7,
  kOpPing = 8,
  kOpBridge = 9,
  kOpGoAway = 10,
  kOpClose = 11,
  kOpHeaders = 12,
};

// Stream selectors of RAW (the low 3 bits), 0 to 7 in this order.
enum StreamSelector : uint8_t {
  kStreamZero,
  kStreamBridge,
  kStreamTwo,
  kStreamNewestCall,
  kStreamNewCall,
  kStreamOlderCall,
  kStreamEven,
  kStreamExplicit,
};

// The methods a method byte picks; a byte >= kMethodCount means "a str8
// method name follows".
inline constexpr const char* kMethods[] = {
    "/netstructer.test.rpc.Echo/Unary",
    "/netstructer.test.rpc.Echo/Sum",
    "/netstructer.test.rpc.Echo/Range",
    "/netstructer.test.rpc.Echo/Chat",
    "/netstructer.health.v1.Health/Check",
    "/netstructer.reflection.v1.Reflection/ListServices",
    "/netstructer.reflection.v1.Reflection/FileContainingSymbol",
    "/no.such.Service/Method",
};
inline constexpr size_t kMethodCount = sizeof(kMethods) / sizeof(kMethods[0]);
enum MethodIndex : uint8_t {
  kMethodUnary = 0,
  kMethodSum = 1,
  kMethodRange = 2,
  kMethodChat = 3,
};

// Metadata keys UNARY's key byte picks (modulo): the echo service copies
// "echo-initial" into initial metadata (a server HEADERS frame) and
// "echo-trailing" into the trailers; the last one breaks the key rules.
inline constexpr const char* kMetadataKeys[] = {
    "echo-initial", "echo-trailing", "x-trace", "Bad Key",
};
inline constexpr size_t kMetadataKeyCount =
    sizeof(kMetadataKeys) / sizeof(kMetadataKeys[0]);

// Reads the fields of an input; past the end, everything is zero.
class InputReader {
 public:
  explicit InputReader(absl::string_view data) : data_(data) {}
  bool empty() const { return pos_ >= data_.size(); }
  uint8_t U8() {
    return pos_ < data_.size() ? static_cast<uint8_t>(data_[pos_++]) : 0;
  }
  uint16_t U16() { return static_cast<uint16_t>((U8() << 8) | U8()); }
  uint32_t U32() { return (uint32_t{U16()} << 16) | U16(); }
  std::string Bytes(size_t n) {
    n = std::min(n, data_.size() - std::min(pos_, data_.size()));
    std::string out(data_.substr(pos_, n));
    pos_ += n;
    return out;
  }
  std::string Str8() { return Bytes(U8()); }
  std::string Str16() { return Bytes(U16()); }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

// Writes an input (the seed generator).
class InputWriter {
 public:
  explicit InputWriter(uint8_t config) : bytes_(1, static_cast<char>(config)) {}
  InputWriter& Op(OpKind kind, uint8_t variant = 0) {
    return U8(static_cast<uint8_t>(kind | (variant << 4)));
  }
  InputWriter& U8(uint8_t v) {
    bytes_.push_back(static_cast<char>(v));
    return *this;
  }
  InputWriter& U16(uint16_t v) { return U8(v >> 8).U8(v & 0xff); }
  InputWriter& U32(uint32_t v) { return U16(v >> 16).U16(v & 0xffff); }
  InputWriter& Raw(absl::string_view v) {
    bytes_.append(v.data(), v.size());
    return *this;
  }
  InputWriter& Str8(absl::string_view v) {
    return U8(static_cast<uint8_t>(v.size())).Raw(v.substr(0, 0xff));
  }
  InputWriter& Str16(absl::string_view v) {
    return U16(static_cast<uint16_t>(v.size())).Raw(v.substr(0, 0xffff));
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

}  // namespace netstructer::fuzz

#endif  // NETSTRUCTER_TESTS_FUZZ_CONNECTION_FUZZ_INPUT_H_
