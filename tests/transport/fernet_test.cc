#include "netstructer/transport/fernet.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace netstructer::transport {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The Fernet spec's generate.json vector: key, time 1985-10-26T01:20:00-07:00,
// IV 00..0f, plaintext "hello".
constexpr char kSpecKey[] = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
constexpr int64_t kSpecNow = 499162800;
constexpr char kSpecToken[] =
    "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPg"
    "JobwOz7JcbmrR64jVmpU4IwqDA==";

constexpr int64_t kNow = 1700000000;

FernetKey SpecKey() { return FernetKey::Parse(kSpecKey).value(); }

std::array<uint8_t, kFernetIvBytes> SpecIv() {
  std::array<uint8_t, kFernetIvBytes> iv;
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<uint8_t>(i);
  return iv;
}

FernetOpenOptions At(int64_t now, std::optional<int64_t> ttl = std::nullopt) {
  FernetOpenOptions o;
  o.now_unix_seconds = now;
  o.ttl_seconds = ttl;
  return o;
}

void ExpectInvalid(const absl::Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "invalid token");
}

TEST(FernetKey, ParseAndEncodeRoundTrip) {
  absl::StatusOr<FernetKey> key = FernetKey::Parse(kSpecKey);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->Encode(), kSpecKey);
  EXPECT_EQ(key->raw().size(), 32u);
  EXPECT_EQ(key->signing_key(), key->raw().substr(0, 16));
  EXPECT_EQ(key->encryption_key(), key->raw().substr(16, 16));
}

TEST(FernetKey, ParseIgnoresSurroundingWhitespace) {
  absl::StatusOr<FernetKey> key =
      FernetKey::Parse(std::string(kSpecKey) + "\n");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, SpecKey());
}

TEST(FernetKey, BadKeysAreInvalidArgumentWithoutEchoingTheKey) {
  const std::string good = kSpecKey;
  const std::string cases[] = {
      "",
      good.substr(0, 43),                       // too short
      good + "A",                               // too long
      "cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=",  // standard alphabet
      "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4A",  // no padding
      "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e5=",  // non-canonical bits
      "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpw=4e4=",  // '=' inside
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",  // 31 bytes
  };
  for (const std::string& c : cases) {
    absl::StatusOr<FernetKey> key = FernetKey::Parse(c);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << c;
    if (c.size() > 8) {
      EXPECT_THAT(std::string(key.status().message()),
                  Not(HasSubstr(c.substr(0, 8))));
    }
  }
}

TEST(FernetKey, GenerateGivesDistinctParsableKeys) {
  absl::StatusOr<FernetKey> a = FernetKey::Generate();
  absl::StatusOr<FernetKey> b = FernetKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->Encode().size(), kFernetKeyChars);
  EXPECT_EQ(FernetKey::Parse(a->Encode()).value(), *a);
}

TEST(FernetKey, FromRawRequires32Bytes) {
  EXPECT_TRUE(FernetKey::FromRaw(std::string(32, 'k')).ok());
  EXPECT_EQ(FernetKey::FromRaw(std::string(31, 'k')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Fernet, MatchesTheSpecVector) {
  Fernet f(SpecKey());
  const auto iv = SpecIv();
  std::string token;
  ASSERT_TRUE(f.SealTo("hello", kSpecNow, &token, &iv).ok());
  EXPECT_EQ(TokenToBase64(token), kSpecToken);
  absl::StatusOr<std::string> binary = TokenFromBase64(kSpecToken);
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(f.Open(*binary, At(kSpecNow + 60, 60)).value(), "hello");
}

TEST(Fernet, RoundTripsEverySizeAndTokenSizeIsPredicted) {
  Fernet f(SpecKey());
  for (size_t n : {0, 1, 15, 16, 17, 31, 32, 33, 1000, 65536, 70000}) {
    std::string plaintext(n, '\0');
    for (size_t i = 0; i < n; ++i) plaintext[i] = static_cast<char>(i * 7);
    absl::StatusOr<std::string> token = f.Seal(plaintext, kNow);
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(token->size(), FernetTokenBytes(n)) << n;
    EXPECT_EQ(static_cast<uint8_t>((*token)[0]), kFernetVersion);
    EXPECT_EQ(f.Open(*token, At(kNow)).value(), plaintext) << n;
  }
}

TEST(Fernet, SealAppendsAndOpenAppends) {
  Fernet f(SpecKey());
  std::string buf = "prefix";
  ASSERT_TRUE(f.SealTo("abc", kNow, &buf).ok());
  EXPECT_EQ(buf.substr(0, 6), "prefix");
  std::string out = "x";
  ASSERT_TRUE(f.OpenTo(absl::string_view(buf).substr(6), At(kNow), &out).ok());
  EXPECT_EQ(out, "xabc");
}

TEST(Fernet, FreshIvForEveryToken) {
  Fernet f(SpecKey());
  std::string a = f.Seal("same", kNow).value();
  std::string b = f.Seal("same", kNow).value();
  EXPECT_NE(a.substr(9, 16), b.substr(9, 16));
  EXPECT_NE(a, b);
  // Past the IV pool's refill boundary too.
  std::set<std::string> ivs;
  for (int i = 0; i < 600; ++i) ivs.insert(f.Seal("x", kNow)->substr(9, 16));
  EXPECT_EQ(ivs.size(), 600u);
}

TEST(Fernet, FlippingAnySingleByteMakesTheTokenInvalid) {
  Fernet f(SpecKey());
  const std::string token = f.Seal(std::string(40, 'p'), kNow).value();
  for (size_t i = 0; i < token.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string bad = token;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      std::string out;
      absl::Status s = f.OpenTo(bad, At(kNow), &out);
      ExpectInvalid(s);
      EXPECT_TRUE(out.empty()) << "byte " << i;
    }
  }
}

TEST(Fernet, TruncatedOrExtendedTokensAreInvalid) {
  Fernet f(SpecKey());
  const std::string token = f.Seal("hello world", kNow).value();
  for (size_t n = 0; n < token.size(); ++n) {
    ExpectInvalid(f.Open(token.substr(0, n), At(kNow)).status());
  }
  ExpectInvalid(f.Open(token + "x", At(kNow)).status());
  ExpectInvalid(f.Open(token + std::string(16, 'x'), At(kNow)).status());
}

TEST(Fernet, WrongKeyIsInvalidHmac) {
  Fernet a(SpecKey());
  Fernet b(FernetKey::Generate().value());
  FernetFailure why = FernetFailure::kNone;
  ExpectInvalid(b.Open(a.Seal("x", kNow).value(), At(kNow), &why).status());
  EXPECT_EQ(why, FernetFailure::kHmac);
}

TEST(Fernet, TtlEdges) {
  Fernet f(SpecKey());
  const std::string token = f.Seal("t", kNow).value();
  FernetFailure why = FernetFailure::kNone;
  // Exactly ttl seconds old: accepted.
  EXPECT_TRUE(f.Open(token, At(kNow + 100, 100)).ok());
  // One second more: expired.
  ExpectInvalid(f.Open(token, At(kNow + 101, 100), &why).status());
  EXPECT_EQ(why, FernetFailure::kExpired);
  // 60 s in the future: accepted; 61 s: rejected.
  EXPECT_TRUE(f.Open(token, At(kNow - 60, 100)).ok());
  ExpectInvalid(f.Open(token, At(kNow - 61, 100), &why).status());
  EXPECT_EQ(why, FernetFailure::kFuture);
  // Without a TTL the timestamp is not checked at all (as cryptography).
  EXPECT_TRUE(f.Open(token, At(0)).ok());
  EXPECT_TRUE(f.Open(token, At(kNow + 1000000)).ok());
  // ttl = 0: valid only within the same second.
  EXPECT_TRUE(f.Open(token, At(kNow, 0)).ok());
  ExpectInvalid(f.Open(token, At(kNow + 1, 0)).status());
}

TEST(Fernet, ExtremeTimestampsDoNotOverflow) {
  Fernet f(SpecKey());
  FernetFailure why = FernetFailure::kNone;
  std::string max_ts = f.Seal("t", -1).value();  // u64 max on the wire.
  ExpectInvalid(f.Open(max_ts, At(kNow, INT64_MAX), &why).status());
  EXPECT_EQ(why, FernetFailure::kFuture);
  std::string zero_ts = f.Seal("t", 0).value();
  EXPECT_TRUE(f.Open(zero_ts, At(kNow, INT64_MAX)).ok());
  ExpectInvalid(f.Open(zero_ts, At(INT64_MAX, 1), &why).status());
  EXPECT_EQ(why, FernetFailure::kExpired);
}

TEST(Fernet, ChecksRunInTheSpecsOrder) {
  Fernet f(SpecKey());
  std::string token = f.Seal("t", kNow).value();
  token.back() ^= 1;  // Bad HMAC too.
  FernetFailure why = FernetFailure::kNone;
  // Version is checked first...
  std::string bad_version = token;
  bad_version[0] = 0x81;
  ExpectInvalid(f.Open(bad_version, At(kNow + 1000, 10), &why).status());
  EXPECT_EQ(why, FernetFailure::kVersion);
  // ...then the TTL, before any key is used...
  ExpectInvalid(f.Open(token, At(kNow + 1000, 10), &why).status());
  EXPECT_EQ(why, FernetFailure::kExpired);
  // ...then the HMAC.
  ExpectInvalid(f.Open(token, At(kNow, 10), &why).status());
  EXPECT_EQ(why, FernetFailure::kHmac);
}

TEST(Fernet, BadPaddingUnderAValidHmacIsInvalid) {
  // Only a key holder can produce this: a correctly signed token whose
  // plaintext padding is wrong. Drop the padding block of a 16-byte message
  // and re-sign with the signing key (test-only knowledge).
  const FernetKey key = SpecKey();
  Fernet f(key);
  std::string token = f.Seal(std::string(16, 'a'), kNow).value();
  // Drop the padding block: ciphertext is now one block, ending in 'a'.
  token.erase(kFernetHeaderBytes + 16, 16);
  unsigned int len = 0;
  unsigned char mac[32];
  HMAC(EVP_sha256(), key.signing_key().data(), 16,
       reinterpret_cast<const unsigned char*>(token.data()),
       token.size() - kFernetHmacBytes, mac, &len);
  token.replace(token.size() - kFernetHmacBytes, kFernetHmacBytes,
                reinterpret_cast<const char*>(mac), len);
  FernetFailure why = FernetFailure::kNone;
  std::string out;
  ExpectInvalid(f.OpenTo(token, At(kNow), &out, &why));
  EXPECT_EQ(why, FernetFailure::kPadding);
  EXPECT_TRUE(out.empty());
}

TEST(FernetRing, SealsWithPrimaryOpensWithAny) {
  const FernetKey old_key = SpecKey();
  const FernetKey new_key = FernetKey::Generate().value();
  Fernet old_only(old_key);
  Fernet new_only(new_key);
  FernetRing ring = FernetRing::Create({new_key, old_key}).value();
  EXPECT_EQ(ring.size(), 2u);
  // Old tokens still open during rotation.
  EXPECT_EQ(ring.Open(old_only.Seal("old", kNow).value(), At(kNow)).value(),
            "old");
  // New tokens are sealed with the primary key.
  const std::string token = ring.Seal("new", kNow).value();
  EXPECT_EQ(new_only.Open(token, At(kNow)).value(), "new");
  ExpectInvalid(old_only.Open(token, At(kNow)).status());
  // A ring without the old key rejects old tokens.
  FernetRing rotated = FernetRing::Create({new_key}).value();
  FernetFailure why = FernetFailure::kNone;
  ExpectInvalid(
      rotated.Open(old_only.Seal("old", kNow).value(), At(kNow), &why)
          .status());
  EXPECT_EQ(why, FernetFailure::kHmac);
}

TEST(FernetRing, EmptyRingIsInvalidArgument) {
  EXPECT_EQ(FernetRing::Create({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FernetRing, RingChecksTtlToo) {
  FernetRing ring = FernetRing::Create({SpecKey()}).value();
  const std::string token = ring.Seal("t", kNow).value();
  FernetFailure why = FernetFailure::kNone;
  ExpectInvalid(ring.Open(token, At(kNow + 11, 10), &why).status());
  EXPECT_EQ(why, FernetFailure::kExpired);
}

TEST(FernetBase64, TextFormIsStrict) {
  Fernet f(SpecKey());
  const std::string token = f.Seal("abc", kNow).value();
  const std::string text = TokenToBase64(token);
  EXPECT_EQ(TokenFromBase64(text).value(), token);
  EXPECT_EQ(TokenFromBase64(text + "\n").value(), token);
  std::string no_pad = text;
  while (!no_pad.empty() && no_pad.back() == '=') no_pad.pop_back();
  if (no_pad != text) ExpectInvalid(TokenFromBase64(no_pad).status());
  // The empty text decodes to the empty token, which Open rejects.
  EXPECT_EQ(TokenFromBase64("").value(), "");
  ExpectInvalid(f.Open("", At(kNow)).status());
  ExpectInvalid(TokenFromBase64("gAAA*AAA").status());
  ExpectInvalid(TokenFromBase64("gAA").status());
  ExpectInvalid(TokenFromBase64("g===").status());
  std::string plus = text;
  plus[5] = '+';
  ExpectInvalid(TokenFromBase64(plus).status());
}

}  // namespace
}  // namespace netstructer::transport
