#include "netstructer/transport/handshake_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "netstructer/proto/status_macros.h"

namespace netstructer::transport {
namespace {

struct KdfDeleter {
  void operator()(EVP_KDF* p) const { EVP_KDF_free(p); }
};
struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

const uint8_t* Bytes(absl::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// OSSL_PARAM wants non-const pointers for input octet strings; OpenSSL only
// reads them.
void* Mutable(absl::string_view s) { return const_cast<char*>(s.data()); }

absl::Status OpenSslFailed(const char* what) {
  return absl::InternalError(
      std::string("OpenSSL failed to compute ").append(what));
}

// One HKDF step (mode EVP_KDF_HKDF_MODE_EXTRACT_ONLY or _EXPAND_ONLY) to 32
// bytes. `key` is the IKM for Extract and the PRK for Expand.
absl::StatusOr<Secret32> Hkdf(int mode, absl::string_view key,
                              absl::string_view salt, absl::string_view info) {
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(
      EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
  if (kdf == nullptr) return OpenSslFailed("HKDF");
  std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (ctx == nullptr) return OpenSslFailed("HKDF");
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  Mutable(key), key.size());
  if (mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    Mutable(salt), salt.size());
  } else {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    Mutable(info), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  Secret32 out;
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return OpenSslFailed("HKDF");
  }
  return out;
}

}  // namespace

Secret32::~Secret32() { Wipe(); }

void Secret32::Wipe() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

absl::StatusOr<Bytes32> Sha256(absl::string_view data) {
  Bytes32 out;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != out.size()) {
    return OpenSslFailed("SHA-256");
  }
  return out;
}

absl::StatusOr<Secret32> HmacSha256(absl::string_view key,
                                    absl::string_view data) {
  Secret32 out;
  size_t len = 0;
  // EVP_Q_mac returns `out` on success. A non-null key pointer even for an
  // empty key: HMAC with an empty key is well defined.
  static const uint8_t kEmpty[1] = {0};
  const void* key_ptr =
      key.empty() ? static_cast<const void*>(kEmpty) : key.data();
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key_ptr,
                key.size(), Bytes(data), data.size(), out.data(), out.size(),
                &len) == nullptr ||
      len != out.size()) {
    return OpenSslFailed("HMAC-SHA256");
  }
  return out;
}

absl::StatusOr<Secret32> HkdfExtract(absl::string_view salt,
                                     absl::string_view ikm) {
  return Hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, salt, {});
}

absl::StatusOr<Secret32> HkdfExpand32(absl::string_view prk,
                                      absl::string_view info) {
  return Hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, {}, info);
}

absl::StatusOr<Bytes32> X25519PublicKey(const Secret32& private_key) {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_X25519, nullptr, private_key.data(), private_key.size()));
  Bytes32 out;
  size_t len = out.size();
  if (key == nullptr ||
      EVP_PKEY_get_raw_public_key(key.get(), out.data(), &len) != 1 ||
      len != out.size()) {
    return OpenSslFailed("an X25519 public key");
  }
  return out;
}

absl::StatusOr<Secret32> X25519SharedSecret(const Secret32& private_key,
                                            const Bytes32& peer_public_key) {
  PkeyPtr own(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_X25519, nullptr, private_key.data(), private_key.size()));
  if (own == nullptr) return OpenSslFailed("X25519");
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, own.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1) {
    return OpenSslFailed("X25519");
  }
  const absl::Status invalid =
      absl::InvalidArgumentError("invalid X25519 public key");
  PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                           peer_public_key.data(),
                                           peer_public_key.size()));
  if (peer == nullptr || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) {
    return invalid;
  }
  Secret32 out;
  size_t len = out.size();
  // OpenSSL itself fails the derivation when the result is all zeros; the
  // explicit check below keeps that guarantee whatever the library version.
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    return invalid;
  }
  static const uint8_t kZeros[32] = {};
  if (CRYPTO_memcmp(out.data(), kZeros, out.size()) == 0) return invalid;
  return out;
}

absl::StatusOr<std::array<uint8_t, kKeyIdBytes>> KeyIdOf(const FernetKey& key) {
  absl::StatusOr<Secret32> mac = HmacSha256(key.raw(), kKeyIdLabel);
  if (!mac.ok()) return mac.status();
  std::array<uint8_t, kKeyIdBytes> id;
  std::copy(mac->data(), mac->data() + kKeyIdBytes, id.begin());
  return id;
}

absl::StatusOr<Secret32> BinderKeyOf(const FernetKey& key) {
  return HmacSha256(key.raw(), kBinderKeyLabel);
}

absl::StatusOr<Bytes32> ComputeBinder(const Secret32& binder_key,
                                      absl::string_view hello_head) {
  if (hello_head.size() != kClientHelloBinderOffset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a binder covers the first ", kClientHelloBinderOffset,
        " bytes of a ClientHello"));
  }
  NS_ASSIGN_OR_RETURN(Secret32 mac, HmacSha256(binder_key.view(), hello_head));
  Bytes32 binder{};
  std::copy(mac.data(), mac.data() + binder.size(), binder.begin());
  return binder;
}

absl::StatusOr<KeySchedule> DeriveKeySchedule(
    const FernetKey& psk, const Secret32& shared_secret,
    absl::string_view client_hello, absl::string_view server_hello_head) {
  if (client_hello.size() != kClientHelloBytes ||
      server_hello_head.size() != kServerHelloFinishedOffset) {
    return absl::InvalidArgumentError(
        "the key schedule needs a 117-byte ClientHello and the first 69 bytes "
        "of the ServerHello");
  }
  KeySchedule ks;
  // A transcript of both hellos is at most 77 + 101 bytes.
  std::string transcript;
  transcript.reserve(kClientHelloBytes + kServerHelloBytes);
  transcript.append(client_hello.data(), client_hello.size());
  transcript.append(server_hello_head.data(), server_hello_head.size());

  NS_ASSIGN_OR_RETURN(ks.th1, Sha256(transcript));
  NS_ASSIGN_OR_RETURN(ks.prk, HkdfExtract(psk.raw(), shared_secret.view()));
  NS_ASSIGN_OR_RETURN(ks.server_finished_key,
                      HkdfExpand32(ks.prk.view(), kServerFinishedLabel));
  NS_ASSIGN_OR_RETURN(
      const Secret32 server_finished,
      HmacSha256(ks.server_finished_key.view(), AsView(ks.th1)));
  std::copy(server_finished.data(), server_finished.data() + kFinishedBytes,
            ks.server_finished.begin());

  transcript.append(AsView(ks.server_finished).data(), kFinishedBytes);
  NS_ASSIGN_OR_RETURN(ks.th2, Sha256(transcript));
  NS_ASSIGN_OR_RETURN(ks.client_finished_key,
                      HkdfExpand32(ks.prk.view(), kClientFinishedLabel));
  NS_ASSIGN_OR_RETURN(
      const Secret32 client_finished,
      HmacSha256(ks.client_finished_key.view(), AsView(ks.th2)));
  std::copy(client_finished.data(), client_finished.data() + kFinishedBytes,
            ks.client_finished.begin());

  // info = label || TH2.
  NS_ASSIGN_OR_RETURN(
      ks.c2s, HkdfExpand32(ks.prk.view(),
                           absl::StrCat(kClientToServerLabel, AsView(ks.th2))));
  NS_ASSIGN_OR_RETURN(
      ks.s2c, HkdfExpand32(ks.prk.view(),
                           absl::StrCat(kServerToClientLabel, AsView(ks.th2))));
  return ks;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace netstructer::transport
