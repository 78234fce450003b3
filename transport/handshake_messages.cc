#include "netstructer/transport/handshake_messages.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace netstructer::transport {
namespace {

template <size_t N>
void Put(const std::array<uint8_t, N>& bytes, std::string* out) {
  out->append(reinterpret_cast<const char*>(bytes.data()), N);
}

template <size_t N>
std::array<uint8_t, N> Get(absl::string_view payload, size_t offset) {
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), payload.data() + offset, N);
  return out;
}

template <size_t N>
bool IsZero(const std::array<uint8_t, N>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(),
                     [](uint8_t b) { return b == 0; });
}

bool HasMagic(absl::string_view payload) {
  return payload.substr(0, kHandshakeMagicBytes) ==
         absl::string_view(kHandshakeMagic, kHandshakeMagicBytes);
}

// The mode byte, or nullopt for a value that is not a mode.
std::optional<HandshakeMode> ModeOf(uint8_t byte) {
  switch (byte) {
    case static_cast<uint8_t>(HandshakeMode::kInsecure):
      return HandshakeMode::kInsecure;
    case static_cast<uint8_t>(HandshakeMode::kFernet):
      return HandshakeMode::kFernet;
    default:
      return std::nullopt;
  }
}

absl::Status MalformedClientHello(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed handshake: ", why));
}

absl::Status MalformedServerHello(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("malformed ServerHello: ", why));
}

// Length of the strictly valid UTF-8 sequence at text[pos], or 0.
size_t Utf8SequenceLength(absl::string_view text, size_t pos) {
  const auto byte = [&](size_t i) -> uint8_t {
    return static_cast<uint8_t>(text[pos + i]);
  };
  const size_t left = text.size() - pos;
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  const auto cont = [&](size_t i) { return (byte(i) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) return left >= 2 && cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left < 3) return 0;
    const uint8_t b1 = byte(1);
    const uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80;  // No overlong forms.
    const uint8_t hi = b0 == 0xED ? 0x9F : 0xBF;  // No surrogates.
    return b1 >= lo && b1 <= hi && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left < 4) return 0;
    const uint8_t b1 = byte(1);
    const uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80;  // No overlong forms.
    const uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF;  // At most U+10FFFF.
    return b1 >= lo && b1 <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t n = Utf8SequenceLength(text, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string SanitizeUtf8(absl::string_view text, size_t max_bytes) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t n = Utf8SequenceLength(text, pos);
    if (n == 0) {
      if (out.size() + 1 > max_bytes) break;
      out.push_back('?');
      ++pos;
      continue;
    }
    if (out.size() + n > max_bytes) break;
    out.append(text.data() + pos, n);
    pos += n;
  }
  return out;
}

std::string EncodeClientHello(const ClientHello& hello) {
  std::string out;
  out.reserve(kClientHelloBytes);
  out.append(kHandshakeMagic, kHandshakeMagicBytes);
  out.push_back(static_cast<char>(hello.mode));
  Put(hello.key_id, &out);
  Put(hello.nonce, &out);
  Put(hello.public_key, &out);
  char time[8];
  big_endian::Store64(hello.time_unix_seconds, time);
  out.append(time, sizeof(time));
  Put(hello.binder, &out);
  return out;
}

absl::StatusOr<std::string> EncodeBoundClientHello(ClientHello hello,
                                                   const Secret32& binder_key) {
  const std::string head =
      EncodeClientHello(hello).substr(0, kClientHelloBinderOffset);
  absl::StatusOr<Bytes32> binder = ComputeBinder(binder_key, head);
  if (!binder.ok()) return binder.status();
  hello.binder = *binder;
  return EncodeClientHello(hello);
}

absl::StatusOr<ClientHello> DecodeClientHello(absl::string_view payload) {
  if (absl::StartsWith(payload, kHandshakeMagicVersion1)) {
    return absl::FailedPreconditionError(
        "the client speaks NetStructer handshake version 1 (NSH1, no binder); "
        "this server speaks version 2 (NSH2): upgrade the client");
  }
  if (payload.size() != kClientHelloBytes) {
    return MalformedClientHello(absl::StrCat("a ClientHello has ",
                                             kClientHelloBytes, " bytes, got ",
                                             payload.size()));
  }
  if (!HasMagic(payload)) {
    return MalformedClientHello(
        "not a NetStructer version 2 handshake (magic is not NSH2)");
  }
  const uint8_t mode_byte =
      static_cast<uint8_t>(payload[kClientHelloModeOffset]);
  std::optional<HandshakeMode> mode = ModeOf(mode_byte);
  if (!mode.has_value()) {
    return MalformedClientHello(
        absl::StrFormat("unknown mode 0x%02x", mode_byte));
  }
  ClientHello hello;
  hello.mode = *mode;
  hello.key_id = Get<kKeyIdBytes>(payload, kClientHelloKeyIdOffset);
  hello.nonce = Get<kHandshakeNonceBytes>(payload, kClientHelloNonceOffset);
  hello.public_key = Get<kX25519KeyBytes>(payload, kClientHelloPublicKeyOffset);
  hello.time_unix_seconds =
      big_endian::Load64(payload.data() + kClientHelloTimeOffset);
  hello.binder = Get<kBinderBytes>(payload, kClientHelloBinderOffset);
  if (hello.mode == HandshakeMode::kInsecure &&
      (!IsZero(hello.key_id) || !IsZero(hello.public_key) ||
       hello.time_unix_seconds != 0 || !IsZero(hello.binder))) {
    return MalformedClientHello(
        "an insecure ClientHello has a zero key id, public key, time and "
        "binder");
  }
  return hello;
}

std::string EncodeServerHello(const ServerHello& hello) {
  std::string out;
  out.reserve(kServerHelloBytes);
  out.append(kHandshakeMagic, kHandshakeMagicBytes);
  out.push_back(static_cast<char>(hello.mode));
  Put(hello.nonce, &out);
  Put(hello.public_key, &out);
  Put(hello.finished, &out);
  return out;
}

absl::StatusOr<ServerHello> DecodeServerHello(absl::string_view payload) {
  if (payload.size() != kServerHelloBytes) {
    return MalformedServerHello(absl::StrCat("a ServerHello has ",
                                             kServerHelloBytes, " bytes, got ",
                                             payload.size()));
  }
  if (!HasMagic(payload)) {
    return MalformedServerHello(
        "not a NetStructer version 2 handshake (magic is not NSH2)");
  }
  const uint8_t mode_byte =
      static_cast<uint8_t>(payload[kServerHelloModeOffset]);
  std::optional<HandshakeMode> mode = ModeOf(mode_byte);
  if (!mode.has_value()) {
    return MalformedServerHello(
        absl::StrFormat("unknown mode 0x%02x", mode_byte));
  }
  ServerHello hello;
  hello.mode = *mode;
  hello.nonce = Get<kHandshakeNonceBytes>(payload, kServerHelloNonceOffset);
  hello.public_key = Get<kX25519KeyBytes>(payload, kServerHelloPublicKeyOffset);
  hello.finished = Get<kFinishedBytes>(payload, kServerHelloFinishedOffset);
  if (hello.mode == HandshakeMode::kInsecure &&
      (!IsZero(hello.public_key) || !IsZero(hello.finished))) {
    return MalformedServerHello(
        "an insecure ServerHello has a zero public key and finished");
  }
  return hello;
}

std::string EncodeRefusal(absl::StatusCode code, absl::string_view reason) {
  int value = static_cast<int>(code);
  if (value < 1 || value > kMaxRefusalCode) {
    value = static_cast<int>(absl::StatusCode::kUnknown);
  }
  std::string out(1, static_cast<char>(value));
  out += SanitizeUtf8(reason, kMaxRefusalReasonBytes);
  return out;
}

std::string EncodeRefusal(const absl::Status& status) {
  return EncodeRefusal(status.code(), status.message());
}

absl::StatusOr<Refusal> DecodeRefusal(absl::string_view payload) {
  if (payload.empty()) {
    return absl::DataLossError("malformed refusal: empty payload");
  }
  const uint8_t code = static_cast<uint8_t>(payload[0]);
  if (code < 1 || code > kMaxRefusalCode) {
    return absl::DataLossError(
        absl::StrCat("malformed refusal: status code ", code,
                     " is not a canonical error code (1-16)"));
  }
  absl::string_view reason = payload.substr(1);
  if (reason.size() > kMaxRefusalReasonBytes) {
    return absl::DataLossError(
        absl::StrCat("malformed refusal: a reason has at most ",
                     kMaxRefusalReasonBytes, " bytes, got ", reason.size()));
  }
  if (!IsValidUtf8(reason)) {
    return absl::DataLossError("malformed refusal: the reason is not UTF-8");
  }
  Refusal refusal;
  refusal.code = static_cast<absl::StatusCode>(code);
  refusal.reason = std::string(reason);
  return refusal;
}

absl::Status RefusalToStatus(absl::string_view payload) {
  absl::StatusOr<Refusal> refusal = DecodeRefusal(payload);
  if (!refusal.ok()) return refusal.status();
  if (!refusal->reason.empty()) {
    return absl::Status(refusal->code, refusal->reason);
  }
  if (refusal->code == absl::StatusCode::kUnauthenticated) {
    return absl::UnauthenticatedError("the server did not accept this key");
  }
  return absl::Status(refusal->code,
                      "the server refused the connection (no reason given)");
}

}  // namespace netstructer::transport
