// Interop with an independent implementation: Python's `cryptography.fernet`
// (Debian's python3-cryptography), both directions, every size of the spec's
// edge table, the TTL edges, single-byte flips and key rotation.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/tests/testing/python.h"
#include "netstructer/transport/fernet.h"

namespace netstructer::transport {
namespace {

using ::netstructer::testing::RunPython;

constexpr int64_t kNow = 1700000000;
constexpr int kTtl = 100;
const size_t kSizes[] = {0, 1, 15, 16, 17, 1000, 70000};

std::string Plaintext(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + n) & 0xff);
  return s;
}

FernetOpenOptions At(int64_t now, std::optional<int64_t> ttl = std::nullopt) {
  FernetOpenOptions o;
  o.now_unix_seconds = now;
  o.ttl_seconds = ttl;
  return o;
}

std::vector<std::string> Lines(const std::string& out) {
  return absl::StrSplit(out, '\n', absl::SkipEmpty());
}

TEST(FernetInterop, PythonOpensWhatWeSealAtEverySizeAndTtlEdge) {
  const FernetKey key = FernetKey::Generate().value();
  Fernet f(key);
  std::string input = key.Encode() + "\n";
  for (size_t n : kSizes) {
    absl::StrAppend(&input, absl::BytesToHexString(Plaintext(n)), " ",
                    TokenToBase64(f.Seal(Plaintext(n), kNow).value()), "\n");
  }
  // For each token: decrypt without TTL, at exactly ttl old, ttl+1 old, 60 s
  // in the future, 61 s in the future; print ok/invalid for each.
  const std::string script = absl::StrCat(R"(
import sys
from cryptography.fernet import Fernet, InvalidToken
lines = sys.stdin.read().split("\n")
f = Fernet(lines[0].encode())
NOW, TTL = )", kNow, ", ", kTtl, R"(
def attempt(fn, plain):
    try:
        return "ok" if fn() == plain else "wrong"
    except InvalidToken:
        return "invalid"
for line in lines[1:]:
    if not line:
        continue
    hexplain, token = line.split(" ")
    plain, token = bytes.fromhex(hexplain), token.encode()
    print(len(plain),
          attempt(lambda: f.decrypt(token), plain),
          attempt(lambda: f.decrypt_at_time(token, TTL, NOW + TTL), plain),
          attempt(lambda: f.decrypt_at_time(token, TTL, NOW + TTL + 1), plain),
          attempt(lambda: f.decrypt_at_time(token, TTL, NOW - 60), plain),
          attempt(lambda: f.decrypt_at_time(token, TTL, NOW - 61), plain))
)");
  absl::StatusOr<std::string> out = RunPython(script, input);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<std::string> expected;
  for (size_t n : kSizes) {
    expected.push_back(absl::StrCat(n, " ok ok invalid ok invalid"));
  }
  EXPECT_EQ(Lines(*out), expected);
}

TEST(FernetInterop, WeOpenWhatPythonSealsAtEverySizeAndTtlEdge) {
  const std::string script = absl::StrCat(R"(
from cryptography.fernet import Fernet
key = Fernet.generate_key()
print(key.decode())
f = Fernet(key)
for n in [)", absl::StrJoin(kSizes, ","), R"(]:
    plain = bytes(((i * 131 + n) & 0xff) for i in range(n))
    print(plain.hex(), f.encrypt_at_time(plain, )", kNow, R"().decode())
)");
  absl::StatusOr<std::string> out = RunPython(script);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<std::string> lines = Lines(*out);
  ASSERT_EQ(lines.size(), 1 + std::size(kSizes));
  absl::StatusOr<FernetKey> key = FernetKey::Parse(lines[0]);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->Encode(), lines[0]);  // Same text form as Python's.
  Fernet f(*key);
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> parts = absl::StrSplit(lines[i], ' ');
    ASSERT_EQ(parts.size(), 2u);
    const std::string plain = absl::HexStringToBytes(parts[0]);
    absl::StatusOr<std::string> token = TokenFromBase64(parts[1]);
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(TokenToBase64(*token), parts[1]);
    EXPECT_EQ(f.Open(*token, At(0)).value(), plain);
    EXPECT_EQ(f.Open(*token, At(kNow + kTtl, kTtl)).value(), plain);
    EXPECT_FALSE(f.Open(*token, At(kNow + kTtl + 1, kTtl)).ok());
    EXPECT_EQ(f.Open(*token, At(kNow - 60, kTtl)).value(), plain);
    EXPECT_FALSE(f.Open(*token, At(kNow - 61, kTtl)).ok());
  }
}

TEST(FernetInterop, BothSidesRejectEverySingleByteFlip) {
  const FernetKey key = FernetKey::Generate().value();
  Fernet f(key);
  const std::string token = f.Seal(Plaintext(17), kNow).value();
  std::string input = key.Encode() + "\n";
  for (size_t i = 0; i < token.size(); ++i) {
    std::string bad = token;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(f.Open(bad, At(kNow)).ok()) << i;
    absl::StrAppend(&input, TokenToBase64(bad), "\n");
  }
  const std::string script = R"(
import sys
from cryptography.fernet import Fernet, InvalidToken
lines = sys.stdin.read().split()
f = Fernet(lines[0].encode())
bad = 0
for t in lines[1:]:
    try:
        f.decrypt(t.encode())
    except InvalidToken:
        bad += 1
print(bad, len(lines) - 1)
)";
  absl::StatusOr<std::string> out = RunPython(script, input);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, absl::StrCat(token.size(), " ", token.size(), "\n"));
}

TEST(FernetInterop, SpecVectorAgreesWithPythonsEncryptFromParts) {
  const std::string script = R"(
from cryptography.fernet import Fernet
f = Fernet(b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
print(f._encrypt_from_parts(b"hello", 499162800, bytes(range(16))).decode())
)";
  absl::StatusOr<std::string> out = RunPython(script);
  ASSERT_TRUE(out.ok()) << out.status();
  Fernet f(FernetKey::Parse("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
               .value());
  std::array<uint8_t, kFernetIvBytes> iv;
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<uint8_t>(i);
  std::string token;
  ASSERT_TRUE(f.SealTo("hello", 499162800, &token, &iv).ok());
  EXPECT_EQ(TokenToBase64(token) + "\n", *out);
}

TEST(FernetInterop, RingMatchesMultiFernetRotation) {
  // Python's MultiFernet([new, old]) and our ring agree on who opens what.
  const std::string script = R"(
from cryptography.fernet import Fernet, MultiFernet
old, new = Fernet.generate_key(), Fernet.generate_key()
print(old.decode()); print(new.decode())
print(Fernet(old).encrypt(b"from-old").decode())
print(MultiFernet([Fernet(new), Fernet(old)]).encrypt(b"from-ring").decode())
)";
  absl::StatusOr<std::string> out = RunPython(script);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<std::string> lines = Lines(*out);
  ASSERT_EQ(lines.size(), 4u);
  const FernetKey old_key = FernetKey::Parse(lines[0]).value();
  const FernetKey new_key = FernetKey::Parse(lines[1]).value();
  FernetRing ring = FernetRing::Create({new_key, old_key}).value();
  EXPECT_EQ(ring.Open(TokenFromBase64(lines[2]).value(), At(0)).value(),
            "from-old");
  EXPECT_EQ(ring.Open(TokenFromBase64(lines[3]).value(), At(0)).value(),
            "from-ring");
  // Python's ring sealed with the primary (new) key.
  Fernet new_only(new_key);
  EXPECT_EQ(new_only.Open(TokenFromBase64(lines[3]).value(), At(0)).value(),
            "from-ring");
}

}  // namespace
}  // namespace netstructer::transport
