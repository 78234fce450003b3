// The handshake of docs/PROTOCOL.md section 7: the worked example byte for
// byte, the crypto primitives against their RFCs, full handshakes in memory,
// key rings, mode mismatches, tampering with every byte, replays, malformed
// and small-order inputs, and the REFUSAL payload.
#include "netstructer/transport/handshake.h"

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake_crypto.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/hello_replay_guard.h"

namespace netstructer::transport {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPsk[] = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
constexpr int64_t kNow = 1700000000;

// ---- The worked example of docs/PROTOCOL.md 7.10 ----------------------------
constexpr char kVectorKeyId[] = "85d2292eb36c82d8";
constexpr char kVectorClientPublic[] =
    "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254";
constexpr char kVectorServerPublic[] =
    "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f";
constexpr char kVectorSharedSecret[] =
    "7c79d7b5f31b9aac367477f5f7c7a68b5c44cac28ed5c902a59ec48c02956a6a";
constexpr char kVectorPrk[] =
    "f66a78a133bd4e95b79479cbd3b65dd66aa05d1401fcf00c9c56140a3d5a31f1";
constexpr char kVectorTh1[] =
    "4f46ec01b69982060c6e7e61701a36eed9ff82c14fa03d93173317915b5a7fe0";
constexpr char kVectorServerFinishedKey[] =
    "28f4cf295fc01eadd29a844f5fe51cf3de344460bd7b44a03795435265e66d38";
constexpr char kVectorServerFinished[] =
    "5a4af20b4820069419443c5ff4a24efbe67e6a6145b4e74a0ee47c6224be189f";
constexpr char kVectorTh2[] =
    "29aebe98dc9c191495bc53e1072f4cae5be9a3177fa9500dbb587639a1f8fb0f";
constexpr char kVectorClientFinishedKey[] =
    "75bdcd0cfa1a64b7839851827341608928db563c939b33b60c2a3763fc162efe";
constexpr char kVectorClientFinished[] =
    "b7149744bfbf2a162c57d56859dced4d4e1d2ad1964629c6ea352ebc923add2c";
constexpr char kVectorClientHello[] =
    "4e5348320185d2292eb36c82d8000102030405060708090a0b0c0d0e0f1011121314151617"
    "18191a1b1c1d1e1f358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd"
    "166254000000006553f1005f57537a5fd3d5184fb34ebf44c11f25ec4de883890a29c2c2e3"
    "5b7028b9a6eb";
constexpr char kVectorServerHello[] =
    "4e53483201404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f5a4af20b48"
    "20069419443c5ff4a24efbe67e6a6145b4e74a0ee47c6224be189f";
constexpr char kVectorC2s[] = "3emF4yQQ1GsqKvKuOEPNEzXMYzLwtGvzeRAezt4Ubqs=";
constexpr char kVectorS2c[] = "fUjSAghqD8m-Cyfk_AM7RMwhazSWFJjqL-WuXSFsYOA=";
constexpr char kVectorBinderKey[] =
    "708d53c0d60d733796dea817a1274e683e1a9fc30e23acf3f61ddf6ec03ac8d2";
constexpr char kVectorBinder[] =
    "5f57537a5fd3d5184fb34ebf44c11f25ec4de883890a29c2c2e35b7028b9a6eb";

// Low-order X25519 public keys (and their non-canonical forms): X25519 with
// any of them is all zeros.
const std::vector<std::string>& LowOrderPoints() {
  static const auto* points = new std::vector<std::string>{
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  return *points;
}

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}
std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  return Hex(absl::string_view(reinterpret_cast<const char*>(bytes.data()), N));
}

Bytes32 Bytes32Of(absl::string_view hex) {
  const std::string raw = Unhex(hex);
  Bytes32 out{};
  std::copy(raw.begin(), raw.end(), out.begin());
  return out;
}

Secret32 Secret32Of(absl::string_view hex) {
  const std::string raw = Unhex(hex);
  Secret32 out;
  std::copy(raw.begin(), raw.end(), out.data());
  return out;
}

FernetKey Psk() { return FernetKey::Parse(kPsk).value(); }
FernetKey OtherKey() { return FernetKey::Generate().value(); }

// Bytes first, first+1, ..., first+31.
HandshakeRandom Counting(uint8_t nonce_first, uint8_t private_first) {
  HandshakeRandom random;
  for (uint8_t i = 0; i < 32; ++i) {
    random.nonce[i] = static_cast<uint8_t>(nonce_first + i);
    random.x25519_private.data()[i] = static_cast<uint8_t>(private_first + i);
  }
  return random;
}
HandshakeRandom VectorClientRandom() { return Counting(0x00, 0x20); }
HandshakeRandom VectorServerRandom() { return Counting(0x40, 0x60); }

FrameHeader Header(FrameType type, uint32_t stream_id = 0, uint8_t flags = 0) {
  FrameHeader header;
  header.stream_id = stream_id;
  header.type = type;
  header.flags = flags;
  return header;
}
const FrameHeader kHandshake = Header(FrameType::kHandshake);
const FrameHeader kRefusal = Header(FrameType::kRefusal);

HandshakeKeyRing Ring(std::vector<FernetKey> keys) {
  return HandshakeKeyRing::Create(keys).value();
}

// The clock of both sides in these tests: the worked example's time.
std::shared_ptr<HelloReplayGuard> GuardAt(int64_t now) {
  return std::make_shared<HelloReplayGuard>([now] { return now; });
}

ClientHandshake Client(const FernetKey& key,
                       const HandshakeRandom* random = nullptr,
                       int64_t now = kNow) {
  return ClientHandshake::Create(key, random, now).value();
}

ServerHandshake Server(std::vector<FernetKey> ring,
                       const HandshakeRandom* random = nullptr,
                       std::shared_ptr<HelloReplayGuard> guard = GuardAt(kNow)) {
  return ServerHandshake::Create(Ring(std::move(ring)), random, std::move(guard))
      .value();
}

// What happened to both sides of one in-memory handshake.
struct Outcome {
  absl::Status server_status;  // Of the server's last step.
  absl::Status client_status;  // Of the client's last step.
  bool server_complete = false;
  bool client_done = false;
};

// Runs a whole handshake, with optional tampering of each message in flight.
// A server refusal is delivered to the client, as on the wire.
struct Tamper {
  std::function<void(std::string*)> client_hello = nullptr;
  std::function<void(std::string*)> server_hello = nullptr;
  std::function<void(std::string*)> client_finished = nullptr;
};
Outcome RunHandshake(ClientHandshake& client, ServerHandshake& server,
                     const Tamper& tamper = {}) {
  Outcome out;
  std::string hello = client.client_hello();
  if (tamper.client_hello) tamper.client_hello(&hello);
  ServerHandshake::Reply reply = server.OnClientFrame(kHandshake, hello);
  out.server_status = reply.status;
  EXPECT_TRUE(reply.frame.has_value());
  if (!reply.frame.has_value()) return out;
  if (tamper.server_hello && reply.frame->type == FrameType::kHandshake) {
    tamper.server_hello(&reply.frame->payload);
  }
  absl::StatusOr<std::optional<std::string>> finished =
      client.OnServerFrame(Header(reply.frame->type), reply.frame->payload);
  out.client_status = finished.status();
  if (finished.ok() && finished->has_value()) {
    std::string cf = **finished;
    if (tamper.client_finished) tamper.client_finished(&cf);
    ServerHandshake::Reply last = server.OnClientFrame(kHandshake, cf);
    out.server_status = last.status;
    if (last.frame.has_value()) {
      // The late refusal of the ClientFinished.
      EXPECT_EQ(last.frame->type, FrameType::kRefusal);
      out.client_status =
          client.OnServerFrame(kRefusal, last.frame->payload).status();
    }
  }
  out.server_complete = server.complete();
  out.client_done = client.done();
  // Whatever happened, the two sides never both finish with different keys.
  if (client.done() && server.complete() && client.keys() != nullptr) {
    EXPECT_TRUE(server.keys() != nullptr);
    EXPECT_TRUE(client.keys()->c2s == server.keys()->c2s);
    EXPECT_TRUE(client.keys()->s2c == server.keys()->s2c);
  }
  return out;
}

// ---- Crypto primitives against their specifications -------------------------

TEST(HandshakeCrypto, HkdfMatchesRfc5869TestCase1) {
  const std::string ikm(22, '\x0b');
  const std::string salt = Unhex("000102030405060708090a0b0c");
  const std::string info = Unhex("f0f1f2f3f4f5f6f7f8f9");
  Secret32 prk = HkdfExtract(salt, ikm).value();
  EXPECT_EQ(Hex(prk.view()),
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  // The first 32 of the RFC's 42 output bytes.
  EXPECT_EQ(Hex(HkdfExpand32(prk.view(), info).value().view()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
}

TEST(HandshakeCrypto, HkdfExtractIsHmacWithTheSaltAsKey) {
  EXPECT_EQ(Hex(HkdfExtract("salt", "ikm").value().view()),
            Hex(HmacSha256("salt", "ikm").value().view()));
}

TEST(HandshakeCrypto, X25519MatchesRfc7748Section6_1) {
  const Secret32 alice = Secret32Of(
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const Secret32 bob = Secret32Of(
      "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const Bytes32 alice_public = X25519PublicKey(alice).value();
  const Bytes32 bob_public = X25519PublicKey(bob).value();
  EXPECT_EQ(Hex(alice_public),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(Hex(bob_public),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const char kShared[] =
      "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  EXPECT_EQ(Hex(X25519SharedSecret(alice, bob_public).value().view()), kShared);
  EXPECT_EQ(Hex(X25519SharedSecret(bob, alice_public).value().view()), kShared);
}

TEST(HandshakeCrypto, LowOrderPublicKeysAreInvalidArgument) {
  const Secret32 own = Secret32Of(
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  for (const std::string& point : LowOrderPoints()) {
    absl::StatusOr<Secret32> shared = X25519SharedSecret(own, Bytes32Of(point));
    EXPECT_EQ(shared.status().code(), absl::StatusCode::kInvalidArgument)
        << point;
    EXPECT_EQ(shared.status().message(), "invalid X25519 public key");
  }
}

TEST(HandshakeCrypto, SecretWipeZeroesTheBytes) {
  Secret32 secret = Secret32Of(kVectorPrk);
  secret.Wipe();
  EXPECT_EQ(secret.view(), std::string(32, '\0'));
}

TEST(HandshakeCrypto, ConstantTimeEqualsComparesLengthThenBytes) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

// ---- The worked example -----------------------------------------------------

TEST(ProtocolVector, KeyIdAndPublicKeys) {
  EXPECT_EQ(Hex(KeyIdOf(Psk()).value()), kVectorKeyId);
  EXPECT_EQ(Hex(X25519PublicKey(VectorClientRandom().x25519_private).value()),
            kVectorClientPublic);
  EXPECT_EQ(Hex(X25519PublicKey(VectorServerRandom().x25519_private).value()),
            kVectorServerPublic);
  EXPECT_EQ(Hex(BinderKeyOf(Psk()).value().view()), kVectorBinderKey);
  EXPECT_EQ(Hex(ComputeBinder(Secret32Of(kVectorBinderKey),
                              Unhex(kVectorClientHello).substr(0, 85))
                    .value()),
            kVectorBinder);
}

TEST(ProtocolVector, KeyScheduleIntermediates) {
  const Secret32 ss = X25519SharedSecret(VectorClientRandom().x25519_private,
                                         Bytes32Of(kVectorServerPublic))
                          .value();
  EXPECT_EQ(Hex(ss.view()), kVectorSharedSecret);
  const std::string client_hello = Unhex(kVectorClientHello);
  const std::string server_hello = Unhex(kVectorServerHello);
  KeySchedule ks =
      DeriveKeySchedule(Psk(), ss, client_hello, server_hello.substr(0, 69))
          .value();
  EXPECT_EQ(Hex(ks.prk.view()), kVectorPrk);
  EXPECT_EQ(Hex(ks.th1), kVectorTh1);
  EXPECT_EQ(Hex(ks.server_finished_key.view()), kVectorServerFinishedKey);
  EXPECT_EQ(Hex(ks.server_finished), kVectorServerFinished);
  EXPECT_EQ(Hex(ks.th2), kVectorTh2);
  EXPECT_EQ(Hex(ks.client_finished_key.view()), kVectorClientFinishedKey);
  EXPECT_EQ(Hex(ks.client_finished), kVectorClientFinished);
  EXPECT_EQ(EncodeBase64Url(ks.c2s.view()), kVectorC2s);
  EXPECT_EQ(EncodeBase64Url(ks.s2c.view()), kVectorS2c);
}

TEST(ProtocolVector, KeyScheduleRejectsWrongSizes) {
  Secret32 ss;
  EXPECT_EQ(DeriveKeySchedule(Psk(), ss, "short", std::string(69, 'x'))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      DeriveKeySchedule(Psk(), ss, std::string(77, 'x'), std::string(101, 'x'))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(ProtocolVector, StateMachinesProduceTheDocumentedBytesAndKeys) {
  const HandshakeRandom client_random = VectorClientRandom();
  const HandshakeRandom server_random = VectorServerRandom();
  ClientHandshake client = Client(Psk(), &client_random);
  ServerHandshake server = Server({Psk()}, &server_random);
  EXPECT_EQ(Hex(client.client_hello()), kVectorClientHello);

  ServerHandshake::Reply hello =
      server.OnClientFrame(kHandshake, client.client_hello());
  ASSERT_TRUE(hello.status.ok()) << hello.status;
  ASSERT_TRUE(hello.frame.has_value());
  EXPECT_EQ(hello.frame->type, FrameType::kHandshake);
  EXPECT_EQ(Hex(hello.frame->payload), kVectorServerHello);
  EXPECT_FALSE(server.complete());
  EXPECT_EQ(server.keys(), nullptr);  // Not before the ClientFinished.

  absl::StatusOr<std::optional<std::string>> finished =
      client.OnServerFrame(kHandshake, hello.frame->payload);
  ASSERT_TRUE(finished.ok()) << finished.status();
  ASSERT_TRUE(finished->has_value());
  EXPECT_EQ(Hex(**finished), kVectorClientFinished);
  ASSERT_TRUE(client.done());
  ASSERT_NE(client.keys(), nullptr);
  EXPECT_EQ(client.keys()->c2s.Encode(), kVectorC2s);
  EXPECT_EQ(client.keys()->s2c.Encode(), kVectorS2c);

  ServerHandshake::Reply done = server.OnClientFrame(kHandshake, **finished);
  ASSERT_TRUE(done.status.ok()) << done.status;
  EXPECT_FALSE(done.frame.has_value());
  ASSERT_TRUE(server.complete());
  ASSERT_NE(server.keys(), nullptr);
  EXPECT_EQ(server.keys()->c2s.Encode(), kVectorC2s);
  EXPECT_EQ(server.keys()->s2c.Encode(), kVectorS2c);
  EXPECT_EQ(server.key_index(), std::optional<size_t>(0));
}

TEST(ProtocolVector, WireBytesOfTheClientHelloFrame) {
  const HandshakeRandom random = VectorClientRandom();
  ClientHandshake client = Client(Psk(), &random);
  FrameSealer sealer = FrameSealer::Insecure();
  std::string wire;
  ASSERT_TRUE(sealer
                  .Seal(kConnectionStreamId, FrameType::kHandshake, 0,
                        client.client_hello(), /*allow_compression=*/false,
                        kNow, &wire)
                  .ok());
  EXPECT_EQ(Hex(wire), absl::StrCat("00000085", "0000000000000000", "00000000",
                                    "09000000", kVectorClientHello));
}

TEST(ProtocolVector, RefusalBytes) {
  EXPECT_EQ(Hex(EncodeRefusal(absl::StatusCode::kUnauthenticated,
                              "the server did not accept this key")),
            "107468652073657276657220646964206e6f742061636365707420746869"
            "73206b6579");
}

// ---- Whole handshakes -------------------------------------------------------

TEST(Handshake, KeysAgreeAndSessionFramesOpenOnTheOtherSide) {
  ClientHandshake client = Client(Psk());
  ServerHandshake server = Server({Psk()});
  Outcome out = RunHandshake(client, server);
  ASSERT_TRUE(out.server_status.ok()) << out.server_status;
  ASSERT_TRUE(out.client_status.ok()) << out.client_status;
  ASSERT_TRUE(out.client_done && out.server_complete);
  const SessionKeys& ck = *client.keys();
  const SessionKeys& sk = *server.keys();
  EXPECT_TRUE(ck.c2s == sk.c2s);
  EXPECT_TRUE(ck.s2c == sk.s2c);
  EXPECT_FALSE(ck.c2s == ck.s2c);
  EXPECT_FALSE(ck.c2s == Psk());

  // Client to server under c2s, and server to client under s2c.
  FrameSealer client_sealer = FrameSealer::Secure(ck.c2s);
  FrameOpener server_opener = FrameOpener::Secure(sk.c2s);
  FrameSealer server_sealer = FrameSealer::Secure(sk.s2c);
  FrameOpener client_opener = FrameOpener::Secure(ck.s2c);
  std::string wire;
  ASSERT_TRUE(client_sealer
                  .Seal(1, FrameType::kData, kFlagEndMessage, "request", true,
                        kNow, &wire)
                  .ok());
  FrameDecoder decoder;
  decoder.Feed(wire);
  std::optional<std::string> body = decoder.Next().value();
  ASSERT_TRUE(body.has_value());
  // A reflected frame does not open under the other direction's key.
  EXPECT_EQ(FrameOpener::Secure(ck.s2c).Open(*body).status().code(),
            absl::StatusCode::kDataLoss);
  absl::StatusOr<OpenedFrame> opened = server_opener.Open(*body);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->header.sequence, 0u);
  EXPECT_EQ(opened->payload, "request");

  wire.clear();
  ASSERT_TRUE(server_sealer
                  .Seal(1, FrameType::kData, kFlagEndMessage, "response", true,
                        kNow, &wire)
                  .ok());
  FrameDecoder decoder2;
  decoder2.Feed(wire);
  body = decoder2.Next().value();
  ASSERT_TRUE(body.has_value());
  opened = client_opener.Open(*body);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->payload, "response");
}

TEST(Handshake, HandshakeFramesTravelThroughInsecureSealersInSequence) {
  ClientHandshake client = Client(Psk());
  ServerHandshake server = Server({Psk()});
  FrameSealer client_sealer = FrameSealer::Insecure();
  FrameOpener server_opener = FrameOpener::Insecure();
  FrameSealer server_sealer = FrameSealer::Insecure();
  FrameOpener client_opener = FrameOpener::Insecure();
  const auto through = [](FrameSealer& sealer, FrameOpener& opener,
                          FrameType type, const std::string& payload) {
    std::string wire;
    EXPECT_TRUE(
        sealer.Seal(kConnectionStreamId, type, 0, payload, false, kNow, &wire)
            .ok());
    FrameDecoder decoder;
    decoder.Feed(wire);
    return opener.Open(*decoder.Next().value()).value();
  };
  OpenedFrame ch = through(client_sealer, server_opener, FrameType::kHandshake,
                           client.client_hello());
  EXPECT_EQ(ch.header.sequence, 0u);
  ServerHandshake::Reply sh = server.OnClientFrame(ch.header, ch.payload);
  ASSERT_TRUE(sh.status.ok());
  OpenedFrame sh_frame =
      through(server_sealer, client_opener, sh.frame->type, sh.frame->payload);
  EXPECT_EQ(sh_frame.header.sequence, 0u);
  std::optional<std::string> cf =
      client.OnServerFrame(sh_frame.header, sh_frame.payload).value();
  ASSERT_TRUE(cf.has_value());
  OpenedFrame cf_frame =
      through(client_sealer, server_opener, FrameType::kHandshake, *cf);
  EXPECT_EQ(cf_frame.header.sequence, 1u);
  EXPECT_TRUE(
      server.OnClientFrame(cf_frame.header, cf_frame.payload).status.ok());
  EXPECT_TRUE(server.complete());
  EXPECT_EQ(kMaxHandshakeFrameBytes, 16u + 513u);
}

TEST(Handshake, TwoSessionsWithTheSamePskGetDifferentKeys) {
  std::set<std::string> keys;
  std::set<std::string> hellos;
  for (int i = 0; i < 3; ++i) {
    ClientHandshake client = Client(Psk());
    ServerHandshake server = Server({Psk()});
    hellos.insert(client.client_hello());
    Outcome out = RunHandshake(client, server);
    ASSERT_TRUE(out.client_done && out.server_complete);
    keys.insert(client.keys()->c2s.Encode());
    keys.insert(client.keys()->s2c.Encode());
  }
  EXPECT_EQ(keys.size(), 6u);
  EXPECT_EQ(hellos.size(), 3u);
}

TEST(Handshake, InsecureHandshakeHasNoKeysAndNoClientFinished) {
  ClientHandshake client = ClientHandshake::CreateInsecure().value();
  ServerHandshake server = ServerHandshake::CreateInsecure().value();
  const std::string& hello = client.client_hello();
  ASSERT_EQ(hello.size(), kClientHelloBytes);
  EXPECT_EQ(hello[4], '\x00');
  EXPECT_EQ(hello.substr(5, 8), std::string(8, '\0'));
  EXPECT_EQ(hello.substr(45), std::string(72, '\0'));  // Key, time, binder.
  ServerHandshake::Reply reply = server.OnClientFrame(kHandshake, hello);
  ASSERT_TRUE(reply.status.ok()) << reply.status;
  EXPECT_TRUE(server.complete());
  EXPECT_EQ(server.keys(), nullptr);
  EXPECT_EQ(server.key_index(), std::nullopt);
  ASSERT_EQ(reply.frame->payload.size(), kServerHelloBytes);
  EXPECT_EQ(reply.frame->payload.substr(37), std::string(64, '\0'));
  absl::StatusOr<std::optional<std::string>> finished =
      client.OnServerFrame(kHandshake, reply.frame->payload);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_FALSE(finished->has_value());
  EXPECT_TRUE(client.done());
  EXPECT_EQ(client.keys(), nullptr);
  EXPECT_EQ(client.mode(), HandshakeMode::kInsecure);
}

// ---- Key ring ---------------------------------------------------------------

TEST(KeyRing, ClientWithTheOlderKeyOfTheRingIsAcceptedAtIndexOne) {
  const FernetKey new_key = OtherKey();
  ClientHandshake client = Client(Psk());
  ServerHandshake server = Server({new_key, Psk()});
  Outcome out = RunHandshake(client, server);
  ASSERT_TRUE(out.client_done && out.server_complete) << out.server_status;
  EXPECT_EQ(server.key_index(), std::optional<size_t>(1));
}

TEST(KeyRing, ClientWithThePrimaryKeyIsAcceptedAtIndexZero) {
  const FernetKey old_key = OtherKey();
  ClientHandshake client = Client(Psk());
  ServerHandshake server = Server({Psk(), old_key});
  Outcome out = RunHandshake(client, server);
  ASSERT_TRUE(out.client_done && out.server_complete);
  EXPECT_EQ(server.key_index(), std::optional<size_t>(0));
}

TEST(KeyRing, EmptyRingIsInvalidArgument) {
  EXPECT_EQ(HandshakeKeyRing::Create({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KeyRing, TheSameKeyTwiceIsInvalidArgument) {
  const FernetKey other = OtherKey();
  absl::StatusOr<HandshakeKeyRing> ring =
      HandshakeKeyRing::Create({Psk(), other, Psk()});
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ring.status().message(), HasSubstr("keys 1 and 3"));
  EXPECT_THAT(ring.status().message(), Not(HasSubstr(kPsk)));
}

TEST(KeyRing, FindsEveryKeyByItsId) {
  std::vector<FernetKey> keys = {OtherKey(), OtherKey(), Psk()};
  HandshakeKeyRing ring = Ring(keys);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(ring.Find(KeyIdOf(keys[i]).value()), std::optional<size_t>(i));
  }
  EXPECT_EQ(ring.Find(KeyId{}), std::nullopt);
}

// ---- Refusals and mode mismatches -------------------------------------------

TEST(Handshake, WrongKeyIsRefusedUnauthenticated) {
  ClientHandshake client = Client(OtherKey());
  ServerHandshake server = Server({Psk()});
  ServerHandshake::Reply reply =
      server.OnClientFrame(kHandshake, client.client_hello());
  EXPECT_EQ(reply.status.code(), absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(reply.frame.has_value());
  EXPECT_EQ(reply.frame->type, FrameType::kRefusal);
  EXPECT_EQ(Hex(reply.frame->payload),
            Hex(EncodeRefusal(absl::StatusCode::kUnauthenticated,
                              "the server did not accept this key")));
  EXPECT_TRUE(server.failed());
  absl::Status status =
      client.OnServerFrame(kRefusal, reply.frame->payload).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status.message(), "the server did not accept this key");
  EXPECT_TRUE(client.failed());
  EXPECT_EQ(client.keys(), nullptr);
}

TEST(Handshake, InsecureClientToFernetServerIsFailedPrecondition) {
  ClientHandshake client = ClientHandshake::CreateInsecure().value();
  ServerHandshake server = Server({Psk()});
  Outcome out = RunHandshake(client, server);
  EXPECT_EQ(out.server_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.client_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.client_status.message(),
            "this server requires Fernet encryption");
  EXPECT_FALSE(out.client_done || out.server_complete);
}

TEST(Handshake, FernetClientToInsecureServerIsFailedPrecondition) {
  ClientHandshake client = Client(Psk());
  ServerHandshake server = ServerHandshake::CreateInsecure().value();
  Outcome out = RunHandshake(client, server);
  EXPECT_EQ(out.server_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.client_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(out.client_status.message(), "this server runs in insecure mode");
  EXPECT_FALSE(out.client_done || out.server_complete);
}

TEST(Handshake, DowngradedServerHelloIsRejectedByAFernetClient) {
  // An attacker rewrites the mode byte to 0 and forwards it to an insecure
  // server (or forges its insecure answer): the Fernet client refuses it.
  ClientHandshake client = Client(Psk());
  ServerHandshake server = ServerHandshake::CreateInsecure().value();
  std::string hello = client.client_hello();
  hello[4] = 0;
  std::fill(hello.begin() + 5, hello.begin() + 13, '\0');
  std::fill(hello.begin() + 45, hello.end(), '\0');
  ServerHandshake::Reply reply = server.OnClientFrame(kHandshake, hello);
  ASSERT_TRUE(reply.status.ok());
  absl::Status status =
      client.OnServerFrame(kHandshake, reply.frame->payload).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("insecure mode"));
  EXPECT_FALSE(client.done());
}

TEST(Handshake, UpgradedServerHelloIsRejectedByAnInsecureClient) {
  ClientHandshake client = ClientHandshake::CreateInsecure().value();
  ServerHello hello;
  hello.mode = HandshakeMode::kFernet;
  EXPECT_EQ(client.OnServerFrame(kHandshake, EncodeServerHello(hello))
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(Handshake, ClientReportsRefusalsWithTheirCodeAndReason) {
  {
    ClientHandshake client = Client(Psk());
    absl::Status status =
        client
            .OnServerFrame(kRefusal,
                           EncodeRefusal(absl::StatusCode::kPermissionDenied,
                                         "10.0.0.0/8 is not allowed"))
            .status();
    EXPECT_EQ(status, absl::PermissionDeniedError("10.0.0.0/8 is not allowed"));
  }
  {
    ClientHandshake client = Client(Psk());
    absl::Status status =
        client
            .OnServerFrame(
                kRefusal, EncodeRefusal(absl::StatusCode::kUnauthenticated, ""))
            .status();
    EXPECT_EQ(status,
              absl::UnauthenticatedError("the server did not accept this key"));
  }
  {
    ClientHandshake client = Client(Psk());
    absl::Status status =
        client.OnServerFrame(kRefusal, std::string("\x00oops", 5)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  }
}

// ---- Tampering with every byte ----------------------------------------------

const uint8_t kMasks[] = {0x01, 0x80, 0xff};

TEST(Tampering, EveryByteOfTheClientHello) {
  for (size_t i = 0; i < kClientHelloBytes; ++i) {
    for (uint8_t mask : kMasks) {
      SCOPED_TRACE(absl::StrCat("byte ", i, " mask ", mask));
      ClientHandshake client = Client(Psk());
      ServerHandshake server = Server({Psk()});
      Tamper tamper;
      tamper.client_hello = [&](std::string* m) { (*m)[i] ^= mask; };
      Outcome out = RunHandshake(client, server, tamper);
      EXPECT_FALSE(out.client_done);
      EXPECT_FALSE(out.server_complete);
      if (i < 4) {  // Magic.
        EXPECT_EQ(out.server_status.code(), absl::StatusCode::kInvalidArgument);
      } else if (i == 4) {
        // Mode 0x00 with a key id and public key is not a valid insecure
        // hello either (an honest insecure client gets FAILED_PRECONDITION).
        EXPECT_EQ(out.server_status.code(), absl::StatusCode::kInvalidArgument);
      } else {
        // Key id: no such key. Nonce, public key, time or binder: the
        // binder no longer verifies, which the server checks before any
        // Diffie-Hellman, and refuses like an unknown key.
        EXPECT_EQ(out.server_status,
                  absl::UnauthenticatedError("the server did not accept this key"));
        EXPECT_EQ(out.client_status.code(), absl::StatusCode::kUnauthenticated);
      }
    }
  }
}

TEST(Tampering, EveryByteOfTheServerHello) {
  for (size_t i = 0; i < kServerHelloBytes; ++i) {
    for (uint8_t mask : kMasks) {
      SCOPED_TRACE(absl::StrCat("byte ", i, " mask ", mask));
      ClientHandshake client = Client(Psk());
      ServerHandshake server = Server({Psk()});
      Tamper tamper;
      tamper.server_hello = [&](std::string* m) { (*m)[i] ^= mask; };
      Outcome out = RunHandshake(client, server, tamper);
      EXPECT_FALSE(out.client_done);
      EXPECT_FALSE(out.server_complete);
      EXPECT_EQ(out.client_status.code(),
                i < 5 ? absl::StatusCode::kDataLoss
                      : absl::StatusCode::kUnauthenticated);
    }
  }
}

TEST(Tampering, EveryByteOfTheClientFinished) {
  for (size_t i = 0; i < kClientFinishedBytes; ++i) {
    for (uint8_t mask : kMasks) {
      SCOPED_TRACE(absl::StrCat("byte ", i, " mask ", mask));
      ClientHandshake client = Client(Psk());
      ServerHandshake server = Server({Psk()});
      Tamper tamper;
      tamper.client_finished = [&](std::string* m) { (*m)[i] ^= mask; };
      Outcome out = RunHandshake(client, server, tamper);
      EXPECT_FALSE(out.server_complete);
      EXPECT_EQ(server.keys(), nullptr);
      EXPECT_EQ(out.server_status, absl::UnauthenticatedError(
                                       "the server did not accept this key"));
      // The late refusal reaches the client, which fails with it.
      EXPECT_EQ(out.client_status.code(), absl::StatusCode::kUnauthenticated);
      EXPECT_TRUE(client.failed());
      EXPECT_EQ(client.keys(), nullptr);
    }
  }
}

TEST(Tampering, ReplayedServerHelloFromAnotherSessionIsRejected) {
  ClientHandshake first = Client(Psk());
  ServerHandshake server = Server({Psk()});
  ServerHandshake::Reply old =
      server.OnClientFrame(kHandshake, first.client_hello());
  ASSERT_TRUE(old.status.ok());
  ClientHandshake second = Client(Psk());
  absl::Status status =
      second.OnServerFrame(kHandshake, old.frame->payload).status();
  EXPECT_EQ(status, absl::UnauthenticatedError(
                        "the server did not prove knowledge of the key"));
}

TEST(Tampering, ReplayedClientHelloAndFinishedAreRejected) {
  ClientHandshake client = Client(Psk());
  ServerHandshake server = Server({Psk()});
  ServerHandshake::Reply sh =
      server.OnClientFrame(kHandshake, client.client_hello());
  std::optional<std::string> cf =
      client.OnServerFrame(kHandshake, sh.frame->payload).value();
  ASSERT_TRUE(cf.has_value());
  // The recorded ClientHello and ClientFinished, replayed to a new session.
  ServerHandshake replayed = Server({Psk()});
  ASSERT_TRUE(
      replayed.OnClientFrame(kHandshake, client.client_hello()).status.ok());
  ServerHandshake::Reply reply = replayed.OnClientFrame(kHandshake, *cf);
  EXPECT_EQ(reply.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(replayed.complete());
}

// Reflection (docs/SECURITY.md): an attacker without the PSK sends the
// server its own proof back. The ServerHello's server_finished (offset 69,
// PROTOCOL.md 7.3) replayed as the ClientFinished does not verify, because
// the two finished values use distinct labels.
// Reflection (docs/SECURITY.md): the finished values differ by their label,
// not only by their transcript. With the transcript fixed (TH2, the one the
// client's finished covers), the MAC under the server's label is presented
// as the ClientFinished: were both labels the same, it would be exactly the
// genuine client finished and be accepted.
TEST(Tampering, ServerFinishedReflectedAsClientFinishedIsRejected) {
  const HandshakeRandom client_random = VectorClientRandom();
  ClientHandshake client = Client(Psk(), &client_random);
  ServerHandshake server = Server({Psk()});
  ServerHandshake::Reply sh =
      server.OnClientFrame(kHandshake, client.client_hello());
  ASSERT_TRUE(sh.status.ok()) << sh.status;
  ASSERT_EQ(sh.frame->payload.size(), 101u);
  const Secret32 ss =
      X25519SharedSecret(client_random.x25519_private,
                         Bytes32Of(Hex(sh.frame->payload.substr(37, 32))))
          .value();
  const KeySchedule ks = DeriveKeySchedule(Psk(), ss, client.client_hello(),
                                           sh.frame->payload.substr(0, 69))
                             .value();
  // The same transcript under each label: only the label tells them apart.
  const Secret32 under_server_label =
      HmacSha256(ks.server_finished_key.view(), AsView(ks.th2)).value();
  const Secret32 under_client_label =
      HmacSha256(ks.client_finished_key.view(), AsView(ks.th2)).value();
  ASSERT_EQ(Hex(under_client_label.view()), Hex(ks.client_finished));
  ASSERT_NE(Hex(under_server_label.view()), Hex(ks.client_finished));
  ServerHandshake::Reply reply = server.OnClientFrame(
      kHandshake, std::string(under_server_label.view()));
  EXPECT_EQ(reply.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(server.complete());
  // The genuine finished, over the same transcript, completes it.
  std::optional<std::string> cf =
      client.OnServerFrame(kHandshake, sh.frame->payload).value();
  ASSERT_TRUE(cf.has_value());
  EXPECT_EQ(*cf, std::string(under_client_label.view()));
}

TEST(Tampering, ServerWithADifferentKeyButTheSameKeyIdCannotProveIt) {
  // The key id only selects a key; the finished values prove it. A server
  // that found the key id (here: a ring built from the right key) but then
  // uses other key material fails the client's check; simulated by giving
  // the client the ServerHello of a session with another client.
  const HandshakeRandom server_random = VectorServerRandom();
  ServerHandshake server = Server({Psk()}, &server_random);
  ClientHandshake other = Client(Psk());
  ServerHandshake::Reply sh =
      server.OnClientFrame(kHandshake, other.client_hello());
  const HandshakeRandom client_random = VectorClientRandom();
  ClientHandshake client = Client(Psk(), &client_random);
  EXPECT_EQ(client.OnServerFrame(kHandshake, sh.frame->payload).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// ---- Malformed input --------------------------------------------------------

TEST(Malformed, ClientHelloOfAnyOtherLengthIsInvalidArgument) {
  const std::string hello = Client(Psk()).client_hello();
  for (size_t size : {0, 1, 4, 76, 78, 200, 600}) {
    SCOPED_TRACE(size);
    std::string m = hello;
    m.resize(size, '\0');
    ServerHandshake server = Server({Psk()});
    ServerHandshake::Reply reply = server.OnClientFrame(kHandshake, m);
    EXPECT_EQ(reply.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(reply.status.message(), HasSubstr("malformed handshake"));
    ASSERT_TRUE(reply.frame.has_value());
    EXPECT_EQ(reply.frame->type, FrameType::kRefusal);
    EXPECT_EQ(DecodeRefusal(reply.frame->payload)->code,
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(Malformed, ServerHelloOfAnyOtherLengthIsDataLoss) {
  const std::string hello = Unhex(kVectorServerHello);
  for (size_t size : {0, 1, 69, 100, 102, 529}) {
    SCOPED_TRACE(size);
    std::string m = hello;
    m.resize(size, '\0');
    ClientHandshake client = Client(Psk());
    absl::Status status = client.OnServerFrame(kHandshake, m).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(status.message(), HasSubstr("malformed ServerHello"));
  }
}

TEST(Malformed, ClientFinishedOfAnyOtherLengthIsInvalidArgument) {
  for (size_t size : {0, 1, 31, 33, 64}) {
    SCOPED_TRACE(size);
    ClientHandshake client = Client(Psk());
    ServerHandshake server = Server({Psk()});
    Tamper tamper;
    tamper.client_finished = [&](std::string* m) { m->resize(size, '\0'); };
    Outcome out = RunHandshake(client, server, tamper);
    EXPECT_EQ(out.server_status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE(out.server_complete);
  }
}

TEST(Malformed, ServerRefusesFramesOtherThanHandshakeOnStreamZeroWithoutFlags) {
  const std::string hello = Client(Psk()).client_hello();
  for (const FrameHeader& header :
       {Header(FrameType::kData), Header(FrameType::kRefusal),
        Header(FrameType::kHandshake, 1),
        Header(FrameType::kHandshake, 0, kFlagEndStream)}) {
    ServerHandshake server = Server({Psk()});
    ServerHandshake::Reply reply = server.OnClientFrame(header, hello);
    EXPECT_EQ(reply.status.code(), absl::StatusCode::kInvalidArgument);
    ASSERT_TRUE(reply.frame.has_value());
    EXPECT_EQ(reply.frame->type, FrameType::kRefusal);
  }
  // The same rule for the ClientFinished.
  ClientHandshake client = Client(Psk());
  ServerHandshake server = Server({Psk()});
  ServerHandshake::Reply sh =
      server.OnClientFrame(kHandshake, client.client_hello());
  std::optional<std::string> cf =
      client.OnServerFrame(kHandshake, sh.frame->payload).value();
  ServerHandshake::Reply reply =
      server.OnClientFrame(Header(FrameType::kPing), *cf);
  EXPECT_EQ(reply.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(server.complete());
}

TEST(Malformed, ClientRejectsFramesOtherThanHandshakeOrRefusal) {
  const std::string hello = Unhex(kVectorServerHello);
  for (const FrameHeader& header :
       {Header(FrameType::kData), Header(FrameType::kGoAway),
        Header(FrameType::kHandshake, 3),
        Header(FrameType::kRefusal, 0, kFlagAck)}) {
    const HandshakeRandom random = VectorClientRandom();
    ClientHandshake client = Client(Psk(), &random);
    EXPECT_EQ(client.OnServerFrame(header, hello).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(Malformed, ClientHelloFieldRules) {
  ClientHello hello;
  hello.mode = HandshakeMode::kFernet;
  EXPECT_TRUE(DecodeClientHello(EncodeClientHello(hello)).ok());
  std::string bad_mode = EncodeClientHello(hello);
  bad_mode[4] = 2;
  EXPECT_EQ(DecodeClientHello(bad_mode).status().message(),
            "malformed handshake: unknown mode 0x02");
  hello.mode = HandshakeMode::kInsecure;
  hello.key_id[3] = 1;
  EXPECT_EQ(DecodeClientHello(EncodeClientHello(hello)).status().code(),
            absl::StatusCode::kInvalidArgument);
  hello.key_id = {};
  hello.public_key[31] = 0x80;
  EXPECT_EQ(DecodeClientHello(EncodeClientHello(hello)).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string other_magic = EncodeClientHello(ClientHello{});
  other_magic[3] = '3';
  EXPECT_THAT(DecodeClientHello(other_magic).status().message(),
              HasSubstr("magic"));
}

// A client of handshake version 1 (77-byte hello, no binder) is told which
// versions meet, not just "malformed".
TEST(Malformed, AVersion1HelloIsFailedPreconditionNamingBothVersions) {
  std::string v1 = Unhex(kVectorClientHello).substr(0, 77);
  v1[3] = '1';
  ServerHandshake server = Server({Psk()});
  ServerHandshake::Reply reply = server.OnClientFrame(kHandshake, v1);
  EXPECT_EQ(reply.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(reply.status.message()), HasSubstr("version 1 (NSH1"));
  EXPECT_THAT(std::string(reply.status.message()), HasSubstr("version 2 (NSH2)"));
  ASSERT_TRUE(reply.frame.has_value());
  EXPECT_EQ(reply.frame->type, FrameType::kRefusal);
}

TEST(Malformed, ServerHelloFieldRules) {
  ServerHello hello;
  hello.mode = HandshakeMode::kInsecure;
  absl::StatusOr<ServerHello> decoded =
      DecodeServerHello(EncodeServerHello(hello));
  ASSERT_TRUE(decoded.ok());
  hello.finished[0] = 1;
  EXPECT_EQ(DecodeServerHello(EncodeServerHello(hello)).status().code(),
            absl::StatusCode::kDataLoss);
  hello.finished = {};
  hello.public_key[0] = 1;
  EXPECT_EQ(DecodeServerHello(EncodeServerHello(hello)).status().code(),
            absl::StatusCode::kDataLoss);
  std::string bad_mode = EncodeServerHello(ServerHello{});
  bad_mode[4] = '\xff';
  EXPECT_EQ(DecodeServerHello(bad_mode).status().code(),
            absl::StatusCode::kDataLoss);
}

// ---- The binder, freshness and replays (PROTOCOL.md 7.2, 7.7) ---------------

// `hello` at kNow with its binder under `key` (what a key holder sends).
std::string WithBinder(ClientHello hello, const FernetKey& key) {
  hello.time_unix_seconds = kNow;
  return EncodeBoundClientHello(hello, BinderKeyOf(key).value()).value();
}

// The binder is checked before any Diffie-Hellman: a hello with a known key
// id, a small-order public key and a binder under another key is refused as
// an unknown key (UNAUTHENTICATED), not for its public key (which X25519
// would have found: INVALID_ARGUMENT).
TEST(Binder, AForgedBinderIsRefusedBeforeAnyDiffieHellman) {
  ClientHello hello;
  hello.mode = HandshakeMode::kFernet;
  hello.key_id = KeyIdOf(Psk()).value();  // Sniffed from a real hello.
  hello.public_key = Bytes32Of(LowOrderPoints()[0]);
  ServerHandshake server = Server({Psk()});
  ServerHandshake::Reply reply =
      server.OnClientFrame(kHandshake, WithBinder(hello, OtherKey()));
  EXPECT_EQ(reply.status, absl::UnauthenticatedError("the server did not accept this key"));
  // The same hello with the right binder reaches X25519.
  ServerHandshake honest = Server({Psk()});
  EXPECT_EQ(honest.OnClientFrame(kHandshake, WithBinder(hello, Psk())).status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Binder, AHelloOutsideTheFreshnessWindowIsRefused) {
  for (int64_t skew : {-61, 61, -100000, 100000}) {
    SCOPED_TRACE(skew);
    ClientHandshake client = Client(Psk(), nullptr, kNow + skew);
    ServerHandshake server = Server({Psk()});
    ServerHandshake::Reply reply = server.OnClientFrame(kHandshake, client.client_hello());
    EXPECT_EQ(reply.status.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(reply.status.message()), HasSubstr("not fresh"));
    EXPECT_THAT(std::string(reply.status.message()),
                HasSubstr(skew < 0 ? "behind" : "ahead of"));
  }
  for (int64_t skew : {-60, 60}) {  // At the edge: accepted.
    ClientHandshake client = Client(Psk(), nullptr, kNow + skew);
    ServerHandshake server = Server({Psk()});
    EXPECT_TRUE(server.OnClientFrame(kHandshake, client.client_hello()).status.ok())
        << skew;
  }
}

TEST(Binder, AReplayedHelloIsRefusedEvenToAFreshServerHandshake) {
  std::shared_ptr<HelloReplayGuard> guard = GuardAt(kNow);
  ClientHandshake client = Client(Psk());
  ServerHandshake first = Server({Psk()}, nullptr, guard);
  ASSERT_TRUE(first.OnClientFrame(kHandshake, client.client_hello()).status.ok());
  ServerHandshake second = Server({Psk()}, nullptr, guard);
  ServerHandshake::Reply replay = second.OnClientFrame(kHandshake, client.client_hello());
  EXPECT_EQ(replay.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(replay.status.message()), HasSubstr("replayed"));
  // Another client's hello still goes through.
  ServerHandshake third = Server({Psk()}, nullptr, guard);
  EXPECT_TRUE(third.OnClientFrame(kHandshake, Client(Psk()).client_hello()).status.ok());
}

// Bounded memory never opens the door to a replay: when full, the oldest
// nonce is forgotten and hellos at or before its time are refused.
TEST(HelloReplayGuard, AFullMemoryRaisesTheFloorInsteadOfForgettingReplays) {
  int64_t now = kNow;
  HelloReplayGuard guard([&now] { return now; }, /*max_nonces=*/2);
  auto nonce = [](uint8_t n) {
    Bytes32 b{};
    b[0] = n;
    return b;
  };
  ASSERT_TRUE(guard.Accept(kNow - 10, nonce(1)).ok());
  ASSERT_TRUE(guard.Accept(kNow - 5, nonce(2)).ok());
  EXPECT_EQ(guard.remembered(), 2u);
  ASSERT_TRUE(guard.Accept(kNow, nonce(3)).ok());  // Forgets nonce 1 (-10).
  EXPECT_EQ(guard.remembered(), 2u);
  // Nonce 1 replayed: forgotten, but below the floor.
  EXPECT_THAT(std::string(guard.Accept(kNow - 10, nonce(1)).message()),
              HasSubstr("replay memory is full"));
  EXPECT_THAT(std::string(guard.Accept(kNow - 5, nonce(2)).message()),
              HasSubstr("replayed"));
  // Full, and no newer than the oldest remembered (-5): refused, and
  // nothing is forgotten for it.
  EXPECT_FALSE(guard.Accept(kNow - 9, nonce(4)).ok());
  EXPECT_EQ(guard.remembered(), 2u);
  EXPECT_THAT(std::string(guard.Accept(kNow - 5, nonce(2)).message()),
              HasSubstr("replayed"));
  // Time passes: expired nonces are forgotten without moving the floor.
  now = kNow + 100;
  EXPECT_TRUE(guard.Accept(kNow + 99, nonce(5)).ok());
  EXPECT_EQ(guard.remembered(), 1u);
}

// ---- Small-order X25519 keys ------------------------------------------------

TEST(SmallOrder, ServerRefusesALowOrderClientKey) {
  for (const std::string& point : LowOrderPoints()) {
    SCOPED_TRACE(point);
    ClientHello hello;
    hello.mode = HandshakeMode::kFernet;
    hello.key_id = KeyIdOf(Psk()).value();
    hello.nonce[0] = static_cast<uint8_t>(point[0]);
    hello.public_key = Bytes32Of(point);
    ServerHandshake server = Server({Psk()});
    ServerHandshake::Reply reply =
        server.OnClientFrame(kHandshake, WithBinder(hello, Psk()));
    EXPECT_EQ(reply.status,
              absl::InvalidArgumentError(
                  "malformed handshake: invalid X25519 public key"));
    ASSERT_TRUE(reply.frame.has_value());
    EXPECT_EQ(reply.frame->type, FrameType::kRefusal);
  }
}

TEST(SmallOrder, ClientRejectsALowOrderServerKey) {
  for (const std::string& point : LowOrderPoints()) {
    SCOPED_TRACE(point);
    ServerHello hello;
    hello.mode = HandshakeMode::kFernet;
    hello.public_key = Bytes32Of(point);
    ClientHandshake client = Client(Psk());
    absl::Status status =
        client.OnServerFrame(kHandshake, EncodeServerHello(hello)).status();
    EXPECT_EQ(status, absl::DataLossError(
                          "malformed ServerHello: invalid X25519 public key"));
  }
}

// ---- State rules ------------------------------------------------------------

TEST(States, ClientErrorsAreSticky) {
  ClientHandshake client = Client(Psk());
  absl::Status first = client.OnServerFrame(kHandshake, "garbage").status();
  EXPECT_EQ(first.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      client.OnServerFrame(kHandshake, Unhex(kVectorServerHello)).status(),
      first);
}

TEST(States, ClientAfterDoneTakesOnlyALateRefusal) {
  ClientHandshake client = ClientHandshake::CreateInsecure().value();
  ServerHandshake server = ServerHandshake::CreateInsecure().value();
  Outcome out = RunHandshake(client, server);
  ASSERT_TRUE(out.client_done);
  // Insecure mode has no ClientFinished, hence no late refusal.
  EXPECT_EQ(
      client.OnServerFrame(kRefusal, EncodeRefusal(absl::UnknownError("x")))
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(client.done());

  ClientHandshake secure = Client(Psk());
  ServerHandshake secure_server = Server({Psk()});
  ASSERT_TRUE(RunHandshake(secure, secure_server).client_done);
  EXPECT_EQ(secure.OnServerFrame(kHandshake, "more").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(secure.done());
  EXPECT_EQ(
      secure.OnServerFrame(kRefusal, EncodeRefusal(absl::UnknownError("x")))
          .status(),
      absl::UnknownError("x"));
  EXPECT_TRUE(secure.failed());
  EXPECT_EQ(secure.keys(), nullptr);
}

TEST(States, ServerAfterFailureRepeatsItsStatusWithoutAFrame) {
  ServerHandshake server = Server({Psk()});
  ServerHandshake::Reply first = server.OnClientFrame(kHandshake, "x");
  EXPECT_TRUE(first.frame.has_value());
  ServerHandshake::Reply again =
      server.OnClientFrame(kHandshake, Client(Psk()).client_hello());
  EXPECT_EQ(again.status, first.status);
  EXPECT_FALSE(again.frame.has_value());
}

TEST(States, ServerAfterCompleteIsFailedPrecondition) {
  ClientHandshake client = Client(Psk());
  ServerHandshake server = Server({Psk()});
  ASSERT_TRUE(RunHandshake(client, server).server_complete);
  ServerHandshake::Reply reply = server.OnClientFrame(kHandshake, "late");
  EXPECT_EQ(reply.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(reply.frame.has_value());
  EXPECT_TRUE(server.complete());
}

TEST(States, MovedHandshakesKeepWorking) {
  ClientHandshake client = Client(Psk());
  ServerHandshake server = Server({Psk()});
  ClientHandshake moved_client = std::move(client);
  ServerHandshake moved_server = std::move(server);
  EXPECT_TRUE(RunHandshake(moved_client, moved_server).server_complete);
}

TEST(NoKeyMaterial, NoStatusOrRefusalContainsTheKey) {
  const FernetKey key = Psk();
  const std::string raw(key.raw());
  std::vector<absl::Status> statuses;
  {
    ClientHandshake client = Client(OtherKey());
    ServerHandshake server = Server({key});
    statuses.push_back(RunHandshake(client, server).server_status);
  }
  {
    ClientHandshake client = Client(key);
    ServerHandshake server = Server({key});
    Tamper tamper;
    tamper.server_hello = [](std::string* m) { (*m)[80] ^= 1; };
    Outcome out = RunHandshake(client, server, tamper);
    statuses.push_back(out.client_status);
  }
  {
    ClientHandshake client = Client(key);
    ServerHandshake server = Server({key});
    Tamper tamper;
    tamper.client_finished = [](std::string* m) { (*m)[0] ^= 1; };
    statuses.push_back(RunHandshake(client, server, tamper).server_status);
  }
  for (const absl::Status& s : statuses) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(kPsk)));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(raw.substr(0, 8))));
    EXPECT_THAT(std::string(s.message()),
                Not(HasSubstr(Hex(raw).substr(0, 16))));
  }
}

// ---- REFUSAL payload --------------------------------------------------------

TEST(Refusal, RoundTripsEveryErrorCode) {
  for (int code = 1; code <= 16; ++code) {
    SCOPED_TRACE(code);
    const auto c = static_cast<absl::StatusCode>(code);
    std::string payload = EncodeRefusal(c, "reason é");
    EXPECT_EQ(static_cast<uint8_t>(payload[0]), code);
    absl::StatusOr<Refusal> refusal = DecodeRefusal(payload);
    ASSERT_TRUE(refusal.ok()) << refusal.status();
    EXPECT_EQ(refusal->code, c);
    EXPECT_EQ(refusal->reason, "reason é");
    EXPECT_EQ(RefusalToStatus(payload), absl::Status(c, "reason é"));
  }
}

TEST(Refusal, OkAndUnknownCodesAreSentAsUnknown) {
  EXPECT_EQ(EncodeRefusal(absl::StatusCode::kOk, "x")[0], '\x02');
  EXPECT_EQ(EncodeRefusal(static_cast<absl::StatusCode>(17), "x")[0], '\x02');
  EXPECT_EQ(EncodeRefusal(static_cast<absl::StatusCode>(-1), "x")[0], '\x02');
  EXPECT_EQ(EncodeRefusal(absl::OkStatus()), std::string("\x02"));
}

TEST(Refusal, EmptyReasonsGetADefaultText) {
  EXPECT_EQ(
      RefusalToStatus(EncodeRefusal(absl::StatusCode::kUnauthenticated, "")),
      absl::UnauthenticatedError("the server did not accept this key"));
  EXPECT_EQ(RefusalToStatus(EncodeRefusal(absl::StatusCode::kUnavailable, "")),
            absl::UnavailableError(
                "the server refused the connection (no reason given)"));
  // The decoder itself keeps the empty reason.
  EXPECT_EQ(DecodeRefusal("\x10")->reason, "");
}

TEST(Refusal, LongReasonsAreCutAt512BytesOnACharacterBoundary) {
  EXPECT_EQ(
      EncodeRefusal(absl::StatusCode::kInternal, std::string(600, 'a')).size(),
      1u + 512u);
  EXPECT_EQ(
      EncodeRefusal(absl::StatusCode::kInternal, std::string(512, 'a')).size(),
      1u + 512u);
  // A 2-byte "é" that would end at byte 513 is dropped whole.
  std::string reason = std::string(511, 'a') + "é";
  std::string payload = EncodeRefusal(absl::StatusCode::kInternal, reason);
  EXPECT_EQ(payload.substr(1), std::string(511, 'a'));
  // A 3-byte "€" from byte 510 does not fit; one from 509 does.
  payload =
      EncodeRefusal(absl::StatusCode::kInternal, std::string(510, 'a') + "€");
  EXPECT_EQ(payload.size(), 1u + 510u);
  payload =
      EncodeRefusal(absl::StatusCode::kInternal, std::string(509, 'a') + "€x");
  EXPECT_EQ(payload.substr(1), std::string(509, 'a') + "€");
  // A 4-byte emoji.
  payload = EncodeRefusal(absl::StatusCode::kInternal,
                          std::string(509, 'a') + "\xF0\x9F\x94\x91");
  EXPECT_EQ(payload.size(), 1u + 509u);
  for (const std::string& p :
       {EncodeRefusal(absl::StatusCode::kInternal, std::string(1000, 'a')),
        EncodeRefusal(absl::StatusCode::kInternal, reason)}) {
    EXPECT_TRUE(DecodeRefusal(p).ok());
  }
}

TEST(Refusal, InvalidUtf8InAReasonIsSentAsQuestionMarks) {
  std::string payload =
      EncodeRefusal(absl::StatusCode::kInternal, std::string("a\xff"
                                                             "b\xc0\x80",
                                                             5));
  EXPECT_EQ(payload.substr(1), "a?b??");
  EXPECT_TRUE(DecodeRefusal(payload).ok());
}

TEST(Refusal, MalformedPayloadsAreDataLoss) {
  struct Case {
    const char* name;
    std::string payload;
  };
  const std::vector<Case> cases = {
      {"empty", ""},
      {"code 0 (OK)", std::string("\x00reason", 7)},
      {"code 17", "\x11reason"},
      {"code 255", "\xffreason"},
      {"reason of 513 bytes", "\x10" + std::string(513, 'a')},
      {"overlong NUL", "\x10\xc0\x80"},
      {"overlong slash", "\x10\xe0\x80\xaf"},
      {"surrogate", "\x10\xed\xa0\x80"},
      {"above U+10FFFF", "\x10\xf4\x90\x80\x80"},
      {"0xF5 lead byte", "\x10\xf5\x80\x80\x80"},
      {"truncated 3-byte", "\x10\xe2\x82"},
      {"lone continuation", "\x10\x80"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Refusal> refusal = DecodeRefusal(c.payload);
    EXPECT_EQ(refusal.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(refusal.status().message(), HasSubstr("malformed refusal"));
    EXPECT_EQ(RefusalToStatus(c.payload).code(), absl::StatusCode::kDataLoss);
  }
  // The largest valid refusal.
  EXPECT_TRUE(DecodeRefusal("\x10" + std::string(512, 'a')).ok());
  EXPECT_TRUE(DecodeRefusal("\x10\xf4\x8f\xbf\xbf").ok());  // U+10FFFF.
}

TEST(Refusal, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("é € \xF0\x9F\x94\x91 \xed\x9f\xbf \xee\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x8f\xbf\xbf"));  // Overlong 4-byte.
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));      // Surrogate.
  EXPECT_EQ(SanitizeUtf8("ab\xe2\x82", 10), "ab??");
  EXPECT_EQ(SanitizeUtf8("abc", 2), "ab");
}

}  // namespace
}  // namespace netstructer::transport
