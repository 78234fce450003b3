// Fuzzes ServerHandshake with hostile ClientHello and ClientFinished frames.
//
// Input: flags u8 | n u8 | ClientHello (n bytes, or what is left) | the rest
// is the ClientFinished. Flags: 0x01 insecure server; 0x02 the ClientHello
// arrives as a REFUSAL frame; 0x04 the ClientFinished arrives on stream 1.
// The server's randoms, clock and ring are fixed (those of docs/PROTOCOL.md
// 7.10, plus a second key), so the only ClientFinished that may complete a
// Fernet handshake is the worked example's own.
//
// Invariants: never crash; the ClientHello always gets a frame: a 101-byte
// ServerHello of the server's mode when OK, else a REFUSAL that decodes to
// the returned status with a documented code; a Fernet handshake completes
// only with the worked example's ClientHello and ClientFinished; failures are
// sticky and frameless afterwards; decoded ClientHellos re-encode to the
// same bytes.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "netstructer/transport/handshake.h"

namespace {

using namespace netstructer::transport;  // NOLINT: a fuzz target's file.

const char kVectorClientHello[] =
    "4e5348320185d2292eb36c82d8000102030405060708090a0b0c0d0e0f1011121314151617"
    "18191a1b1c1d1e1f358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd"
    "166254000000006553f1005f57537a5fd3d5184fb34ebf44c11f25ec4de883890a29c2c2e3"
    "5b7028b9a6eb";
const char kVectorClientFinished[] =
    "b7149744bfbf2a162c57d56859dced4d4e1d2ad1964629c6ea352ebc923add2c";

const HandshakeKeyRing& Ring() {
  static const HandshakeKeyRing* ring = [] {
    FernetKey psk =
        FernetKey::Parse("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
            .value();
    FernetKey other = FernetKey::FromRaw(std::string(32, '\x11')).value();
    return new HandshakeKeyRing(HandshakeKeyRing::Create({psk, other}).value());
  }();
  return *ring;
}

HandshakeRandom ServerRandom() {
  HandshakeRandom random;
  for (uint8_t i = 0; i < 32; ++i) {
    random.nonce[i] = static_cast<uint8_t>(0x40 + i);
    random.x25519_private.data()[i] = static_cast<uint8_t>(0x60 + i);
  }
  return random;
}

FrameHeader Header(FrameType type, uint32_t stream_id = 0) {
  FrameHeader header;
  header.type = type;
  header.stream_id = stream_id;
  return header;
}

void CheckRefusal(const ServerHandshake::Reply& reply) {
  if (!reply.frame.has_value() || reply.frame->type != FrameType::kRefusal) {
    abort();
  }
  const absl::StatusCode code = reply.status.code();
  if (code != absl::StatusCode::kInvalidArgument &&
      code != absl::StatusCode::kFailedPrecondition &&
      code != absl::StatusCode::kUnauthenticated) {
    abort();
  }
  if (RefusalToStatus(reply.frame->payload) != reply.status) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const std::string input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::string hello = input.substr(0, data[1]);
  const std::string finished =
      input.size() > data[1] ? input.substr(data[1]) : std::string();

  const bool insecure = (flags & 0x01) != 0;
  const HandshakeRandom random = ServerRandom();
  ServerHandshake server =
      insecure ? ServerHandshake::CreateInsecure(&random).value()
               : ServerHandshake::Create(
                     Ring(), &random,
                     // The worked example's clock; a fresh memory of
                     // nonces per input, so every input stands alone.
                     std::make_shared<HelloReplayGuard>(
                         [] { return int64_t{1700000000}; }))
                     .value();

  absl::StatusOr<ClientHello> decoded = DecodeClientHello(hello);
  if (decoded.ok() && EncodeClientHello(*decoded) != hello) abort();

  const FrameType hello_type =
      (flags & 0x02) != 0 ? FrameType::kRefusal : FrameType::kHandshake;
  ServerHandshake::Reply reply =
      server.OnClientFrame(Header(hello_type), hello);
  if (!reply.status.ok()) {
    CheckRefusal(reply);
    if (!server.failed() || server.complete() || server.keys() != nullptr) {
      abort();
    }
    ServerHandshake::Reply again =
        server.OnClientFrame(Header(FrameType::kHandshake), finished);
    if (again.frame.has_value() || again.status != reply.status) abort();
    return 0;
  }
  if (!reply.frame.has_value() || reply.frame->type != FrameType::kHandshake ||
      reply.frame->payload.size() != kServerHelloBytes) {
    abort();
  }
  absl::StatusOr<ServerHello> server_hello =
      DecodeServerHello(reply.frame->payload);
  if (!server_hello.ok() || server_hello->mode != server.mode()) abort();

  if (insecure) {
    if (!server.complete() || server.keys() != nullptr) abort();
    ServerHandshake::Reply late =
        server.OnClientFrame(Header(FrameType::kHandshake), finished);
    if (late.frame.has_value() ||
        late.status.code() != absl::StatusCode::kFailedPrecondition) {
      abort();
    }
    return 0;
  }

  if (server.complete() || server.keys() != nullptr) abort();
  const uint32_t finished_stream = (flags & 0x04) != 0 ? 1 : 0;
  ServerHandshake::Reply last = server.OnClientFrame(
      Header(FrameType::kHandshake, finished_stream), finished);
  if (last.status.ok()) {
    if (last.frame.has_value() || !server.complete() ||
        server.keys() == nullptr) {
      abort();
    }
    // Only the worked example's client can finish.
    if (absl::BytesToHexString(hello) != kVectorClientHello ||
        absl::BytesToHexString(finished) != kVectorClientFinished ||
        finished_stream != 0 || server.key_index() != 0u) {
      abort();
    }
  } else {
    CheckRefusal(last);
    if (last.status.code() == absl::StatusCode::kFailedPrecondition) abort();
    if (server.complete() || server.keys() != nullptr) abort();
  }
  return 0;
}
