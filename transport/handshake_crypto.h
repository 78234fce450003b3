// The handshake's cryptographic primitives over OpenSSL 3.0 EVP: SHA-256,
// HMAC-SHA256, HKDF-SHA256 (RFC 5869, Extract and Expand separately), X25519
// (RFC 7748), and the key id of a PSK (docs/PROTOCOL.md 7.6). Stateless
// functions; thread-safe. Every OpenSSL object is freed before returning.
//
// Errors: INTERNAL when OpenSSL itself fails (out of memory, a provider
// missing); X25519 with a small-order peer key is INVALID_ARGUMENT. Messages
// never contain input bytes.
#ifndef NETSTRUCTER_TRANSPORT_HANDSHAKE_CRYPTO_H_
#define NETSTRUCTER_TRANSPORT_HANDSHAKE_CRYPTO_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/fernet.h"
#include "netstructer/transport/handshake_format.h"

namespace netstructer::transport {

// 32 public bytes: a hash, a public key, a nonce.
using Bytes32 = std::array<uint8_t, 32>;

// 32 secret bytes, wiped (OPENSSL_cleanse) when destroyed. Value type: a
// copy is a second secret that wipes itself too. Thread-compatible.
class Secret32 {
 public:
  Secret32() = default;
  Secret32(const Secret32&) = default;
  Secret32& operator=(const Secret32&) = default;
  ~Secret32();

  // Wipes the bytes now (they read as zeros afterwards).
  void Wipe();

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return 32; }
  absl::string_view view() const {
    return absl::string_view(reinterpret_cast<const char*>(bytes_.data()),
                             bytes_.size());
  }

 private:
  std::array<uint8_t, 32> bytes_{};
};

inline absl::string_view AsView(const Bytes32& bytes) {
  return absl::string_view(reinterpret_cast<const char*>(bytes.data()),
                           bytes.size());
}

// SHA-256 of `data`.
absl::StatusOr<Bytes32> Sha256(absl::string_view data);

// HMAC-SHA256 of `data` under `key` (any length).
absl::StatusOr<Secret32> HmacSha256(absl::string_view key,
                                    absl::string_view data);

// HKDF-Extract (RFC 5869 2.2) with SHA-256: HMAC-SHA256(salt, ikm).
absl::StatusOr<Secret32> HkdfExtract(absl::string_view salt,
                                     absl::string_view ikm);

// HKDF-Expand (RFC 5869 2.3) with SHA-256, to 32 bytes.
absl::StatusOr<Secret32> HkdfExpand32(absl::string_view prk,
                                      absl::string_view info);

// The X25519 public key of a private key (RFC 7748: the private key is
// clamped, so any 32 bytes are a valid private key).
absl::StatusOr<Bytes32> X25519PublicKey(const Secret32& private_key);

// X25519(private_key, peer_public_key). INVALID_ARGUMENT "invalid X25519
// public key" when the result is all zeros (a small-order peer key, RFC 7748
// section 6.1) or OpenSSL rejects the peer key.
absl::StatusOr<Secret32> X25519SharedSecret(const Secret32& private_key,
                                            const Bytes32& peer_public_key);

// The key id of a PSK: HMAC-SHA256(psk, "netstructer key id v1")[0:8].
// A stable pseudonym of the key (docs/PROTOCOL.md 7.8), not a secret.
absl::StatusOr<std::array<uint8_t, kKeyIdBytes>> KeyIdOf(const FernetKey& key);

// The key that binds a ClientHello to the PSK (docs/PROTOCOL.md 7.6):
// HMAC-SHA256(psk, "netstructer v2 binder key"). Secret.
absl::StatusOr<Secret32> BinderKeyOf(const FernetKey& key);

// The binder of a ClientHello: HMAC-SHA256(binder key, the ClientHello's
// first 85 bytes). INVALID_ARGUMENT if `hello_head` is not 85 bytes.
absl::StatusOr<Bytes32> ComputeBinder(const Secret32& binder_key,
                                      absl::string_view hello_head);
// Every value of the Fernet-mode key schedule of one handshake
// (docs/PROTOCOL.md 7.6), intermediates included so that tests can check
// them against the worked example. The secrets wipe themselves.
struct KeySchedule {
  Bytes32 th1{};  // SHA-256(ClientHello || ServerHello[0:69])
  Bytes32 th2{};  // SHA-256(ClientHello || ServerHello)
  Secret32 prk;   // HKDF-Extract(salt = psk, IKM = ss)
  Secret32 server_finished_key;
  Secret32 client_finished_key;
  Bytes32 server_finished{};  // Sent in clear in the ServerHello.
  Bytes32 client_finished{};  // Sent in clear as the ClientFinished.
  Secret32 c2s;               // Session key, client to server.
  Secret32 s2c;               // Session key, server to client.
};

// Runs the key schedule. `client_hello` is the whole ClientHello as sent;
// `server_hello_head` the first 69 bytes of the ServerHello (all but the
// finished, which this computes: TH2 covers the ServerHello with it).
// INVALID_ARGUMENT if the sizes are not 117 and 69; INTERNAL if OpenSSL fails.
absl::StatusOr<KeySchedule> DeriveKeySchedule(
    const FernetKey& psk, const Secret32& shared_secret,
    absl::string_view client_hello, absl::string_view server_hello_head);

// Constant-time equality of two equally long byte strings; false if the
// lengths differ (the length is not secret).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_HANDSHAKE_CRYPTO_H_
