// Fernet (https://github.com/fernet/spec, as implemented by Python's
// `cryptography.fernet`): keys, key rings, and the token in its binary form
// (for the wire) and its base64url form (for people and interop).
//
// Token layout (docs/PROTOCOL.md, "Fernet tokens"):
//   0x80 | timestamp u64 BE | IV[16] | AES-128-CBC(PKCS7) ciphertext | HMAC-SHA256[32]
// The HMAC covers everything before it and uses the first 16 key bytes; AES
// uses the last 16.
//
// Every invalid token gets the same status: DATA_LOSS "invalid token". The
// reason is available to the caller's diagnostics through FernetFailure and is
// never put in a message, and no message ever contains key material.
#ifndef NETSTRUCTER_TRANSPORT_FERNET_H_
#define NETSTRUCTER_TRANSPORT_FERNET_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace netstructer::transport {

inline constexpr uint8_t kFernetVersion = 0x80;
inline constexpr size_t kFernetKeyBytes = 32;
inline constexpr size_t kFernetKeyChars = 44;  // base64url of 32 bytes, padded.
inline constexpr size_t kFernetIvBytes = 16;
inline constexpr size_t kFernetHmacBytes = 32;
inline constexpr size_t kFernetBlockBytes = 16;
// version + timestamp + IV.
inline constexpr size_t kFernetHeaderBytes = 1 + 8 + kFernetIvBytes;
// Header, one cipher block (PKCS7 always adds at least one byte), HMAC.
inline constexpr size_t kFernetMinTokenBytes =
    kFernetHeaderBytes + kFernetBlockBytes + kFernetHmacBytes;
// A token more than this many seconds in the future is rejected when a TTL is
// given (the spec's and cryptography's _MAX_CLOCK_SKEW).
inline constexpr int64_t kFernetMaxClockSkewSeconds = 60;

// Size of the binary token that sealing `plaintext_bytes` produces.
constexpr size_t FernetTokenBytes(size_t plaintext_bytes) {
  return kFernetHeaderBytes +
         (plaintext_bytes / kFernetBlockBytes + 1) * kFernetBlockBytes +
         kFernetHmacBytes;
}

// A 32-byte Fernet key. Value type (copyable); compares in constant time.
// Thread-compatible. Never printed: there is deliberately no operator<<.
class FernetKey {
 public:
  // Parses a key as `Fernet.generate_key()` writes it: 44 characters of
  // base64url with padding. Surrounding whitespace (a key file's newline) is
  // ignored. INVALID_ARGUMENT otherwise; the message never echoes the input.
  static absl::StatusOr<FernetKey> Parse(absl::string_view encoded);
  // From 32 raw bytes; INVALID_ARGUMENT for any other length.
  static absl::StatusOr<FernetKey> FromRaw(absl::string_view raw);
  // A fresh key from OpenSSL's CSPRNG (RAND_priv_bytes). INTERNAL if the
  // CSPRNG fails.
  static absl::StatusOr<FernetKey> Generate();

  FernetKey(const FernetKey&) = default;
  FernetKey& operator=(const FernetKey&) = default;
  // Wipes the key bytes (OPENSSL_cleanse), so copies do not linger in freed
  // memory.
  ~FernetKey();

  // The 44-character base64url form, as Python writes it.
  std::string Encode() const;
  absl::string_view signing_key() const {
    return absl::string_view(reinterpret_cast<const char*>(raw_.data()), 16);
  }
  absl::string_view encryption_key() const {
    return absl::string_view(reinterpret_cast<const char*>(raw_.data()) + 16,
                             16);
  }
  absl::string_view raw() const {
    return absl::string_view(reinterpret_cast<const char*>(raw_.data()),
                             raw_.size());
  }

  friend bool operator==(const FernetKey& a, const FernetKey& b);
  friend bool operator!=(const FernetKey& a, const FernetKey& b) {
    return !(a == b);
  }

 private:
  FernetKey() = default;
  std::array<uint8_t, kFernetKeyBytes> raw_{};
};

// Why a token was rejected, in the order Open checks (diagnostics and tests
// only; never sent to a peer, never part of a status message).
enum class FernetFailure {
  kNone = 0,
  kMalformed,   // Not a token: too short, bad base64, bad length.
  kVersion,     // First byte is not 0x80.
  kExpired,     // Older than the TTL.
  kFuture,      // More than kFernetMaxClockSkewSeconds in the future.
  kHmac,        // Signature does not verify with any key.
  kPadding,     // Verified, but the plaintext padding is wrong.
};

struct FernetOpenOptions {
  // The current time, injected (never read from a clock here).
  int64_t now_unix_seconds = 0;
  // When set, tokens older than this many seconds are rejected, and so are
  // tokens more than 60 s in the future (as cryptography does).
  std::optional<int64_t> ttl_seconds;
};

// Fernet with one key, OpenSSL contexts prepared once. Resource type
// (movable, not copyable). Thread-compatible: one instance per thread, or
// external locking.
class Fernet {
 public:
  explicit Fernet(const FernetKey& key);
  Fernet(Fernet&&) noexcept;
  Fernet& operator=(Fernet&&) noexcept;
  ~Fernet();

  // Appends the binary token for `plaintext`, stamped `now_unix_seconds`, to
  // `*out`. `iv` is for deterministic tests only; by default a fresh IV comes
  // from OpenSSL's CSPRNG. INTERNAL only if OpenSSL itself fails.
  absl::Status SealTo(absl::string_view plaintext, int64_t now_unix_seconds,
                      std::string* out,
                      const std::array<uint8_t, kFernetIvBytes>* iv = nullptr);
  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   int64_t now_unix_seconds);

  // Opens a binary token, checking in the spec's order: version, TTL (when
  // given), HMAC (constant time), then decrypt and unpad. Appends the
  // plaintext to `*out` only on success. DATA_LOSS "invalid token" on any
  // failure; `*failure` (optional) says which check failed.
  absl::Status OpenTo(absl::string_view token, const FernetOpenOptions& options,
                      std::string* out, FernetFailure* failure = nullptr);
  absl::StatusOr<std::string> Open(absl::string_view token,
                                   const FernetOpenOptions& options,
                                   FernetFailure* failure = nullptr);

 private:
  friend class FernetRing;
  struct Contexts;
  // Checks only the HMAC; used by FernetRing to find the key that signed.
  bool HmacMatches(absl::string_view token);
  absl::Status DecryptVerified(absl::string_view token, std::string* out,
                               FernetFailure* failure);
  absl::Status NextIv(uint8_t* iv);

  std::unique_ptr<Contexts> ctx_;
};

// A key ring as MultiFernet: seals with the primary (first) key, opens with
// any key. Resource type. Thread-compatible.
class FernetRing {
 public:
  // REQUIRES: keys non-empty (INVALID_ARGUMENT otherwise). keys[0] is primary.
  static absl::StatusOr<FernetRing> Create(absl::Span<const FernetKey> keys);
  FernetRing(FernetRing&&) noexcept = default;
  FernetRing& operator=(FernetRing&&) noexcept = default;

  absl::Status SealTo(absl::string_view plaintext, int64_t now_unix_seconds,
                      std::string* out,
                      const std::array<uint8_t, kFernetIvBytes>* iv = nullptr) {
    return fernets_.front().SealTo(plaintext, now_unix_seconds, out, iv);
  }
  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   int64_t now_unix_seconds) {
    return fernets_.front().Seal(plaintext, now_unix_seconds);
  }
  absl::Status OpenTo(absl::string_view token, const FernetOpenOptions& options,
                      std::string* out, FernetFailure* failure = nullptr);
  absl::StatusOr<std::string> Open(absl::string_view token,
                                   const FernetOpenOptions& options,
                                   FernetFailure* failure = nullptr);
  size_t size() const { return fernets_.size(); }

 private:
  explicit FernetRing(std::vector<Fernet> fernets)
      : fernets_(std::move(fernets)) {}
  std::vector<Fernet> fernets_;
};

// The text form of a token: base64url with padding, as cryptography writes.
std::string TokenToBase64(absl::string_view binary_token);
// Strict: only the base64url alphabet, length a multiple of 4, padding only
// at the end. Surrounding whitespace is ignored. DATA_LOSS "invalid token"
// otherwise (a token that does not decode is an invalid token).
absl::StatusOr<std::string> TokenFromBase64(absl::string_view text);

// Strict padded base64url, shared by keys and tokens. nullopt if malformed.
std::optional<std::string> DecodeBase64Url(absl::string_view text);
std::string EncodeBase64Url(absl::string_view bytes);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_FERNET_H_
