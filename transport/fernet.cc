#include "netstructer/transport/fernet.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"

namespace netstructer::transport {
namespace {

// IVs are drawn from the CSPRNG in batches: one RAND_bytes call costs about
// 0.55 us whatever its size (shared/bench/limits/RESULTS.md), more than half
// of sealing a 64 B frame, while 256 IVs cost little more than one (16 at a
// time cost W2 6% of its QPS). The pool is per thread, not per Fernet: one
// per connection was 4 KiB of every idle connection (W6idle,
// docs/BENCHMARKS.md). Each IV is used once and wiped from the pool.
constexpr size_t kIvPoolBytes = 256 * kFernetIvBytes;

struct IvPool {
  std::array<uint8_t, kIvPoolBytes> bytes{};
  size_t pos = kIvPoolBytes;  // Empty: refill on first use.
  ~IvPool() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

// Made on a thread's first seal.
thread_local std::unique_ptr<IvPool> thread_iv_pool;

absl::Status InvalidToken() { return absl::DataLossError("invalid token"); }

absl::Status Fail(FernetFailure why, FernetFailure* failure) {
  if (failure != nullptr) *failure = why;
  return InvalidToken();
}

uint64_t ReadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::optional<std::string> DecodeBase64Url(absl::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t data_chars = text.size();
  while (data_chars > 0 && text[data_chars - 1] == '=') --data_chars;
  if (text.size() - data_chars > 2) return std::nullopt;
  for (size_t i = 0; i < data_chars; ++i) {
    if (!IsBase64UrlChar(text[i])) return std::nullopt;
  }
  // A padded group must encode whole bytes: 2 or 3 data characters.
  if (data_chars % 4 == 1) return std::nullopt;
  std::string out;
  if (!absl::WebSafeBase64Unescape(text.substr(0, data_chars), &out)) {
    return std::nullopt;
  }
  // Reject non-canonical encodings (unused low bits set), as a strict
  // decoder must, so that one token has exactly one text form.
  if (EncodeBase64Url(out) != text) return std::nullopt;
  return out;
}

std::string EncodeBase64Url(absl::string_view bytes) {
  std::string out = absl::WebSafeBase64Escape(bytes);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::string TokenToBase64(absl::string_view binary_token) {
  return EncodeBase64Url(binary_token);
}

absl::StatusOr<std::string> TokenFromBase64(absl::string_view text) {
  std::optional<std::string> decoded =
      DecodeBase64Url(absl::StripAsciiWhitespace(text));
  if (!decoded.has_value()) return InvalidToken();
  return *std::move(decoded);
}

// ---- FernetKey ----

absl::StatusOr<FernetKey> FernetKey::Parse(absl::string_view encoded) {
  encoded = absl::StripAsciiWhitespace(encoded);
  if (encoded.size() != kFernetKeyChars) {
    return absl::InvalidArgumentError(
        "a Fernet key is 44 characters of base64url (as "
        "Fernet.generate_key() or `netstructer keygen` writes it)");
  }
  std::optional<std::string> raw = DecodeBase64Url(encoded);
  if (!raw.has_value()) {
    return absl::InvalidArgumentError(
        "a Fernet key must be base64url (A-Z a-z 0-9 - _, '=' padding)");
  }
  return FromRaw(*raw);
}

absl::StatusOr<FernetKey> FernetKey::FromRaw(absl::string_view raw) {
  if (raw.size() != kFernetKeyBytes) {
    return absl::InvalidArgumentError("a Fernet key must be 32 bytes");
  }
  FernetKey key;
  std::memcpy(key.raw_.data(), raw.data(), kFernetKeyBytes);
  return key;
}

absl::StatusOr<FernetKey> FernetKey::Generate() {
  FernetKey key;
  if (RAND_priv_bytes(key.raw_.data(), static_cast<int>(key.raw_.size())) !=
      1) {
    return absl::InternalError("the CSPRNG (RAND_priv_bytes) failed");
  }
  return key;
}

FernetKey::~FernetKey() { OPENSSL_cleanse(raw_.data(), raw_.size()); }

std::string FernetKey::Encode() const { return EncodeBase64Url(raw()); }

bool operator==(const FernetKey& a, const FernetKey& b) {
  return CRYPTO_memcmp(a.raw_.data(), b.raw_.data(), kFernetKeyBytes) == 0;
}

// ---- Fernet ----

struct Fernet::Contexts {
  // The cipher contexts are made on first use: a connection's sealer never
  // decrypts and its opener never encrypts, and each context is 0.65 KiB of
  // every idle connection (W6idle, docs/BENCHMARKS.md).
  EVP_CIPHER_CTX* enc = nullptr;
  EVP_CIPHER_CTX* dec = nullptr;
  EVP_MAC_CTX* mac = nullptr;
  bool ok = false;  // `mac` is keyed.
  std::array<uint8_t, 16> enc_key{};  // Keys `enc` and `dec` when made.

  ~Contexts() {
    EVP_CIPHER_CTX_free(enc);
    EVP_CIPHER_CTX_free(dec);
    EVP_MAC_CTX_free(mac);
    OPENSSL_cleanse(enc_key.data(), enc_key.size());
  }

  // The AES-128-CBC context for encrypting or decrypting, keyed; nullptr
  // if OpenSSL fails.
  EVP_CIPHER_CTX* Cipher(bool encrypt) {
    EVP_CIPHER_CTX*& c = encrypt ? enc : dec;
    if (c != nullptr) return c;
    EVP_CIPHER_CTX* made = EVP_CIPHER_CTX_new();
    const uint8_t zero_iv[kFernetIvBytes] = {};
    const bool keyed =
        made != nullptr &&
        (encrypt ? EVP_EncryptInit_ex(made, EVP_aes_128_cbc(), nullptr,
                                      enc_key.data(), zero_iv)
                 : EVP_DecryptInit_ex(made, EVP_aes_128_cbc(), nullptr,
                                      enc_key.data(), zero_iv)) == 1;
    if (!keyed) {
      EVP_CIPHER_CTX_free(made);
      return nullptr;
    }
    c = made;
    return c;
  }
};

Fernet::Fernet(const FernetKey& key) : ctx_(std::make_unique<Contexts>()) {
  std::memcpy(ctx_->enc_key.data(), key.encryption_key().data(),
              ctx_->enc_key.size());
  const auto* sign_key =
      reinterpret_cast<const uint8_t*>(key.signing_key().data());
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac != nullptr) ctx_->mac = EVP_MAC_CTX_new(hmac);
  EVP_MAC_free(hmac);  // The context holds its own reference.
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  ctx_->ok = ctx_->mac != nullptr &&
             EVP_MAC_init(ctx_->mac, sign_key, 16, params) == 1;
}

Fernet::Fernet(Fernet&&) noexcept = default;
Fernet& Fernet::operator=(Fernet&&) noexcept = default;
Fernet::~Fernet() = default;

absl::Status Fernet::NextIv(uint8_t* iv) {
  if (thread_iv_pool == nullptr) thread_iv_pool = std::make_unique<IvPool>();
  IvPool& pool = *thread_iv_pool;
  if (pool.pos + kFernetIvBytes > pool.bytes.size()) {
    if (RAND_bytes(pool.bytes.data(), static_cast<int>(pool.bytes.size())) != 1) {
      return absl::InternalError("the CSPRNG (RAND_bytes) failed");
    }
    pool.pos = 0;
  }
  std::memcpy(iv, pool.bytes.data() + pool.pos, kFernetIvBytes);
  // Each IV is used once: wipe it from the pool.
  std::memset(pool.bytes.data() + pool.pos, 0, kFernetIvBytes);
  pool.pos += kFernetIvBytes;
  return absl::OkStatus();
}

absl::Status Fernet::SealTo(absl::string_view plaintext,
                            int64_t now_unix_seconds, std::string* out,
                            const std::array<uint8_t, kFernetIvBytes>* iv) {
  if (!ctx_->ok) return absl::InternalError("OpenSSL setup failed");
  if (plaintext.size() > static_cast<size_t>(INT32_MAX) - 64) {
    return absl::InvalidArgumentError("plaintext too large for one token");
  }
  const size_t start = out->size();
  const size_t token_bytes = FernetTokenBytes(plaintext.size());
  out->resize(start + token_bytes);
  auto* p = reinterpret_cast<uint8_t*>(&(*out)[start]);
  p[0] = kFernetVersion;
  const auto ts = static_cast<uint64_t>(now_unix_seconds);
  for (int i = 0; i < 8; ++i) p[1 + i] = static_cast<uint8_t>(ts >> (56 - 8 * i));
  uint8_t* iv_out = p + 9;
  if (iv != nullptr) {
    std::memcpy(iv_out, iv->data(), kFernetIvBytes);
  } else if (absl::Status s = NextIv(iv_out); !s.ok()) {
    out->resize(start);
    return s;
  }
  int l1 = 0;
  int l2 = 0;
  size_t mac_len = 0;
  EVP_CIPHER_CTX* const enc = ctx_->Cipher(/*encrypt=*/true);
  const bool ok =
      enc != nullptr &&
      EVP_EncryptInit_ex(enc, nullptr, nullptr, nullptr, iv_out) == 1 &&
      EVP_EncryptUpdate(enc, p + kFernetHeaderBytes, &l1,
                        reinterpret_cast<const uint8_t*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(enc, p + kFernetHeaderBytes + l1, &l2) == 1 &&
      kFernetHeaderBytes + static_cast<size_t>(l1 + l2) + kFernetHmacBytes ==
          token_bytes &&
      EVP_MAC_init(ctx_->mac, nullptr, 0, nullptr) == 1 &&
      EVP_MAC_update(ctx_->mac, p, token_bytes - kFernetHmacBytes) == 1 &&
      EVP_MAC_final(ctx_->mac, p + token_bytes - kFernetHmacBytes, &mac_len,
                    kFernetHmacBytes) == 1 &&
      mac_len == kFernetHmacBytes;
  if (!ok) {
    out->resize(start);
    return absl::InternalError("OpenSSL failed to seal a token");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Fernet::Seal(absl::string_view plaintext,
                                         int64_t now_unix_seconds) {
  std::string out;
  absl::Status s = SealTo(plaintext, now_unix_seconds, &out);
  if (!s.ok()) return s;
  return out;
}

bool Fernet::HmacMatches(absl::string_view token) {
  uint8_t mac[kFernetHmacBytes];
  size_t mac_len = 0;
  const size_t signed_bytes = token.size() - kFernetHmacBytes;
  if (!ctx_->ok || EVP_MAC_init(ctx_->mac, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx_->mac, reinterpret_cast<const uint8_t*>(token.data()),
                     signed_bytes) != 1 ||
      EVP_MAC_final(ctx_->mac, mac, &mac_len, sizeof(mac)) != 1 ||
      mac_len != kFernetHmacBytes) {
    return false;
  }
  return CRYPTO_memcmp(mac, token.data() + signed_bytes, kFernetHmacBytes) == 0;
}

absl::Status Fernet::DecryptVerified(absl::string_view token, std::string* out,
                                     FernetFailure* failure) {
  const size_t start = out->size();
  const size_t ct_bytes = token.size() - kFernetHeaderBytes - kFernetHmacBytes;
  out->resize(start + ct_bytes);
  auto* dst = reinterpret_cast<uint8_t*>(&(*out)[start]);
  const auto* iv = reinterpret_cast<const uint8_t*>(token.data() + 9);
  int l1 = 0;
  int l2 = 0;
  EVP_CIPHER_CTX* const dec = ctx_->Cipher(/*encrypt=*/false);
  if (dec == nullptr) {
    out->resize(start);
    return absl::InternalError("OpenSSL failed to set up decryption");
  }
  const bool ok =
      EVP_DecryptInit_ex(dec, nullptr, nullptr, nullptr, iv) == 1 &&
      EVP_DecryptUpdate(
          dec, dst, &l1,
          reinterpret_cast<const uint8_t*>(token.data() + kFernetHeaderBytes),
          static_cast<int>(ct_bytes)) == 1 &&
      EVP_DecryptFinal_ex(dec, dst + l1, &l2) == 1;
  if (!ok) {
    OPENSSL_cleanse(dst, ct_bytes);
    out->resize(start);
    return Fail(FernetFailure::kPadding, failure);
  }
  out->resize(start + static_cast<size_t>(l1 + l2));
  if (failure != nullptr) *failure = FernetFailure::kNone;
  return absl::OkStatus();
}

namespace {

// The checks that need no key: version, structure, TTL. In the spec's order.
absl::Status CheckUnsigned(absl::string_view token,
                           const FernetOpenOptions& options,
                           FernetFailure* failure) {
  if (token.empty()) return Fail(FernetFailure::kMalformed, failure);
  if (static_cast<uint8_t>(token[0]) != kFernetVersion) {
    return Fail(FernetFailure::kVersion, failure);
  }
  if (token.size() < kFernetMinTokenBytes ||
      (token.size() - kFernetHeaderBytes - kFernetHmacBytes) %
              kFernetBlockBytes !=
          0 ||
      token.size() > static_cast<size_t>(INT32_MAX)) {
    return Fail(FernetFailure::kMalformed, failure);
  }
  if (options.ttl_seconds.has_value()) {
    // 128-bit arithmetic: timestamps are attacker-chosen u64 values.
    const __int128 timestamp = ReadBigEndian64(token.data() + 1);
    const __int128 now = options.now_unix_seconds;
    if (timestamp + *options.ttl_seconds < now) {
      return Fail(FernetFailure::kExpired, failure);
    }
    if (now + kFernetMaxClockSkewSeconds < timestamp) {
      return Fail(FernetFailure::kFuture, failure);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Fernet::OpenTo(absl::string_view token,
                            const FernetOpenOptions& options, std::string* out,
                            FernetFailure* failure) {
  if (absl::Status s = CheckUnsigned(token, options, failure); !s.ok()) {
    return s;
  }
  if (!HmacMatches(token)) return Fail(FernetFailure::kHmac, failure);
  return DecryptVerified(token, out, failure);
}

absl::StatusOr<std::string> Fernet::Open(absl::string_view token,
                                         const FernetOpenOptions& options,
                                         FernetFailure* failure) {
  std::string out;
  absl::Status s = OpenTo(token, options, &out, failure);
  if (!s.ok()) return s;
  return out;
}

// ---- FernetRing ----

absl::StatusOr<FernetRing> FernetRing::Create(absl::Span<const FernetKey> keys) {
  if (keys.empty()) {
    return absl::InvalidArgumentError("a key ring needs at least one key");
  }
  std::vector<Fernet> fernets;
  fernets.reserve(keys.size());
  for (const FernetKey& key : keys) fernets.emplace_back(key);
  return FernetRing(std::move(fernets));
}

absl::Status FernetRing::OpenTo(absl::string_view token,
                                const FernetOpenOptions& options,
                                std::string* out, FernetFailure* failure) {
  if (absl::Status s = CheckUnsigned(token, options, failure); !s.ok()) {
    return s;
  }
  for (Fernet& fernet : fernets_) {
    if (fernet.HmacMatches(token)) {
      return fernet.DecryptVerified(token, out, failure);
    }
  }
  return Fail(FernetFailure::kHmac, failure);
}

absl::StatusOr<std::string> FernetRing::Open(absl::string_view token,
                                             const FernetOpenOptions& options,
                                             FernetFailure* failure) {
  std::string out;
  absl::Status s = OpenTo(token, options, &out, failure);
  if (!s.ok()) return s;
  return out;
}

}  // namespace netstructer::transport
