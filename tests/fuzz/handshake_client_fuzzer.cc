// Fuzzes ClientHandshake with hostile ServerHello and REFUSAL frames, and the
// REFUSAL and ServerHello decoders.
//
// Input: flags u8 | payload. Flags: 0x01 insecure client; bits 0x06 pick the
// frame: 0 HANDSHAKE, 1 REFUSAL, 2 DATA, 3 HANDSHAKE on stream 1. The
// client's randoms, clock and key are fixed (docs/PROTOCOL.md 7.10), so the only
// ServerHello a Fernet client may accept is the worked example's.
//
// Invariants: never crash; success only for the worked example's ServerHello
// (then the ClientFinished and keys are the example's), or for a valid
// insecure ServerHello in insecure mode; a REFUSAL fails with exactly what
// RefusalToStatus says; other failures are DATA_LOSS or UNAUTHENTICATED and
// sticky; a decodable refusal re-encodes to the same bytes; SanitizeUtf8
// always yields valid UTF-8 within its bound.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "netstructer/transport/handshake.h"

namespace {

using namespace netstructer::transport;  // NOLINT: a fuzz target's file.

const char kVectorServerHello[] =
    "4e53483201404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f5a4af20b48"
    "20069419443c5ff4a24efbe67e6a6145b4e74a0ee47c6224be189f";
const char kVectorClientFinished[] =
    "b7149744bfbf2a162c57d56859dced4d4e1d2ad1964629c6ea352ebc923add2c";
const char kVectorC2s[] = "3emF4yQQ1GsqKvKuOEPNEzXMYzLwtGvzeRAezt4Ubqs=";

HandshakeRandom ClientRandom() {
  HandshakeRandom random;
  for (uint8_t i = 0; i < 32; ++i) {
    random.nonce[i] = i;
    random.x25519_private.data()[i] = static_cast<uint8_t>(0x20 + i);
  }
  return random;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const std::string payload(reinterpret_cast<const char*>(data) + 1, size - 1);

  // The decoders on their own.
  absl::StatusOr<Refusal> refusal = DecodeRefusal(payload);
  if (refusal.ok() &&
      EncodeRefusal(refusal->code, refusal->reason) != payload) {
    abort();
  }
  const std::string sanitized = SanitizeUtf8(payload, data[0]);
  if (!IsValidUtf8(sanitized) || sanitized.size() > data[0]) abort();
  absl::StatusOr<ServerHello> server_hello = DecodeServerHello(payload);
  if (server_hello.ok() && EncodeServerHello(*server_hello) != payload) abort();

  const bool insecure = (flags & 0x01) != 0;
  const HandshakeRandom random = ClientRandom();
  static const FernetKey* psk = new FernetKey(
      FernetKey::Parse("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").value());
  ClientHandshake client =
      insecure ? ClientHandshake::CreateInsecure(&random).value()
               : ClientHandshake::Create(*psk, &random, 1700000000).value();

  FrameHeader header;
  switch ((flags >> 1) & 0x03) {
    case 0:
      header.type = FrameType::kHandshake;
      break;
    case 1:
      header.type = FrameType::kRefusal;
      break;
    case 2:
      header.type = FrameType::kData;
      break;
    default:
      header.type = FrameType::kHandshake;
      header.stream_id = 1;
      break;
  }
  absl::StatusOr<std::optional<std::string>> result =
      client.OnServerFrame(header, payload);

  if (result.ok()) {
    if (!client.done() || header.type != FrameType::kHandshake ||
        header.stream_id != 0 || !server_hello.ok()) {
      abort();
    }
    if (insecure) {
      if (result->has_value() || client.keys() != nullptr ||
          server_hello->mode != HandshakeMode::kInsecure) {
        abort();
      }
      return 0;
    }
    if (absl::BytesToHexString(payload) != kVectorServerHello ||
        !result->has_value() ||
        absl::BytesToHexString(**result) != kVectorClientFinished ||
        client.keys() == nullptr || client.keys()->c2s.Encode() != kVectorC2s) {
      abort();
    }
    // The server's refusal of our ClientFinished may still arrive.
    FrameHeader late;
    late.type = FrameType::kRefusal;
    absl::Status status = client.OnServerFrame(late, payload).status();
    if (status.ok() || status != RefusalToStatus(payload) || !client.failed()) {
      abort();
    }
    return 0;
  }

  const absl::Status& status = result.status();
  if (client.done() || !client.failed() || client.keys() != nullptr) abort();
  if (header.type == FrameType::kRefusal && header.stream_id == 0) {
    if (status != RefusalToStatus(payload)) abort();
  } else if (status.code() != absl::StatusCode::kDataLoss &&
             status.code() != absl::StatusCode::kUnauthenticated) {
    abort();
  }
  if (client.OnServerFrame(header, payload).status() != status) abort();
  return 0;
}
