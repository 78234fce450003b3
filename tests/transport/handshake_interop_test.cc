// docs/PROTOCOL.md section 7 implemented independently in Python (hashlib,
// hmac, cryptography's X25519 and HKDFExpand, cryptography.fernet), checked
// against our state machines: the worked example recomputed from its
// randoms, a Python client against our ServerHandshake, a Python server
// against our ClientHandshake (each with fresh randoms and a secure frame
// under the session keys in both directions), and REFUSAL payloads.
//
// Python runs once per step (RunPython is stdin -> stdout), so its side of
// a handshake passes its ephemeral private key from one step to the next on
// stdout: fine for a test, never for real.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "netstructer/tests/testing/python.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_sealer.h"
#include "netstructer/transport/handshake.h"
#include "netstructer/transport/handshake_crypto.h"
#include "netstructer/transport/handshake_messages.h"
#include "netstructer/transport/hello_replay_guard.h"

namespace netstructer::transport {
namespace {

using ::netstructer::testing::RunPython;

constexpr char kPsk[] = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
constexpr int64_t kNow = 1700000000;

// The Python side: the key schedule and both roles, from the specification.
constexpr char kPythonHandshake[] = R"(
import base64, hashlib, hmac, os, struct, sys, time
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

PSK = base64.urlsafe_b64decode(b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
MAGIC = b"NSH2"
FERNET = b"\x01"

def sha256(b): return hashlib.sha256(b).digest()
def mac(key, msg): return hmac.new(key, msg, hashlib.sha256).digest()
def extract(salt, ikm): return mac(salt, ikm)           # RFC 5869 2.2
def expand(prk, info): return HKDFExpand(hashes.SHA256(), 32, info).derive(prk)
def key_id(psk): return mac(psk, b"netstructer key id v1")[:8]
def binder_key(psk): return mac(psk, b"netstructer v2 binder key")
def public(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
def exchange(priv, pub):
    ss = X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(pub))
    assert ss != bytes(32), "small-order key"
    return ss

def schedule(psk, ss, ch, sh_head):
    assert len(ch) == 117 and len(sh_head) == 69
    s = {"ss": ss}
    s["prk"] = extract(psk, ss)
    s["th1"] = sha256(ch + sh_head)
    s["server_finished_key"] = expand(s["prk"], b"netstructer v1 server finished")
    s["server_finished"] = mac(s["server_finished_key"], s["th1"])
    s["th2"] = sha256(ch + sh_head + s["server_finished"])
    s["client_finished_key"] = expand(s["prk"], b"netstructer v1 client finished")
    s["client_finished"] = mac(s["client_finished_key"], s["th2"])
    s["c2s"] = expand(s["prk"], b"netstructer v1 c2s" + s["th2"])
    s["s2c"] = expand(s["prk"], b"netstructer v1 s2c" + s["th2"])
    return s

def client_hello(psk, nonce, priv, t=None):
    t = int(time.time()) if t is None else t
    head = MAGIC + FERNET + key_id(psk) + nonce + public(priv) + struct.pack(">Q", t)
    return head + mac(binder_key(psk), head)

def server_hello(psk, ch, nonce, priv, now=None):
    assert len(ch) == 117 and ch[:4] == MAGIC and ch[4:5] == FERNET, "malformed"
    assert hmac.compare_digest(ch[5:13], key_id(psk)), "unknown key id"
    assert hmac.compare_digest(ch[85:], mac(binder_key(psk), ch[:85])), "bad binder"
    now = int(time.time()) if now is None else now
    assert abs(struct.unpack(">Q", ch[77:85])[0] - now) <= 60, "stale hello"
    head = MAGIC + FERNET + nonce + public(priv)
    s = schedule(psk, exchange(priv, ch[45:77]), ch, head)
    return head + s["server_finished"], s

def client_finish(psk, priv, ch, sh):
    assert len(sh) == 101 and sh[:5] == MAGIC + FERNET, "malformed ServerHello"
    s = schedule(psk, exchange(priv, sh[37:69]), ch, sh[:69])
    assert hmac.compare_digest(s["server_finished"], sh[69:]), "bad server finished"
    return s

def refusal(code, reason):
    r = reason.encode("utf-8")
    assert 1 <= code <= 16 and len(r) <= 512
    return bytes([code]) + r

def seal(key, seq, stream, typ, flags, payload):
    inner = struct.pack(">QIBBH", seq, stream, typ, flags, 0) + payload
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(inner).decode()

def open_(key, token_b64):
    inner = Fernet(base64.urlsafe_b64encode(key)).decrypt(token_b64)
    seq, stream, typ, flags, res = struct.unpack_from(">QIBBH", inner, 0)
    return seq, stream, typ, flags, inner[16:]

def lines(): return dict(l.split(" ", 1) for l in sys.stdin.read().split("\n") if l)
def out(name, value):
    if isinstance(value, bytes): value = value.hex()
    print(name, value)
)";

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}
std::string Hex(const Bytes32& bytes) { return Hex(AsView(bytes)); }
std::string Unhex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// Python's "name value" lines.
std::map<std::string, std::string> Parse(absl::string_view text) {
  std::map<std::string, std::string> values;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    values[kv.first] = kv.second;
  }
  return values;
}

std::map<std::string, std::string> Python(absl::string_view script,
                                          absl::string_view stdin_text = "") {
  absl::StatusOr<std::string> out =
      RunPython(absl::StrCat(kPythonHandshake, script), stdin_text);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? Parse(*out) : std::map<std::string, std::string>{};
}

FernetKey Psk() { return FernetKey::Parse(kPsk).value(); }

HandshakeRandom Counting(uint8_t nonce_first, uint8_t private_first) {
  HandshakeRandom random;
  for (uint8_t i = 0; i < 32; ++i) {
    random.nonce[i] = static_cast<uint8_t>(nonce_first + i);
    random.x25519_private.data()[i] = static_cast<uint8_t>(private_first + i);
  }
  return random;
}

FrameHeader Header(FrameType type) {
  FrameHeader header;
  header.type = type;
  return header;
}

// The body of the single frame in `wire`.
std::string OnlyBody(const std::string& wire) {
  FrameDecoder decoder;
  decoder.Feed(wire);
  return decoder.Next().value().value();
}

TEST(HandshakeInterop, PythonRecomputesTheWorkedExample) {
  const std::map<std::string, std::string> py = Python(R"(
cn, cp = bytes(range(0x00, 0x20)), bytes(range(0x20, 0x40))
sn, sp = bytes(range(0x40, 0x60)), bytes(range(0x60, 0x80))
ch = client_hello(PSK, cn, cp, 1700000000)
sh, s = server_hello(PSK, ch, sn, sp, 1700000000)
c = client_finish(PSK, cp, ch, sh)
assert c == s
out("key_id", key_id(PSK)); out("client_hello", ch); out("server_hello", sh)
out("binder_key", binder_key(PSK)); out("binder", ch[85:])
for k in ("ss", "prk", "th1", "th2", "server_finished_key", "server_finished",
          "client_finished_key", "client_finished"):
    out(k, s[k])
out("c2s", base64.urlsafe_b64encode(s["c2s"]).decode())
out("s2c", base64.urlsafe_b64encode(s["s2c"]).decode())
)");
  ASSERT_EQ(py.size(), 15u);

  // Ours, through the state machines.
  const HandshakeRandom client_random = Counting(0x00, 0x20);
  const HandshakeRandom server_random = Counting(0x40, 0x60);
  ClientHandshake client =
      ClientHandshake::Create(Psk(), &client_random, kNow).value();
  ServerHandshake server =
      ServerHandshake::Create(
          HandshakeKeyRing::Create({Psk()}).value(), &server_random,
          std::make_shared<HelloReplayGuard>([] { return kNow; }))
          .value();
  ServerHandshake::Reply sh = server.OnClientFrame(
      Header(FrameType::kHandshake), client.client_hello());
  ASSERT_TRUE(sh.status.ok()) << sh.status;
  std::optional<std::string> cf =
      client.OnServerFrame(Header(FrameType::kHandshake), sh.frame->payload)
          .value();
  ASSERT_TRUE(cf.has_value());
  ASSERT_TRUE(
      server.OnClientFrame(Header(FrameType::kHandshake), *cf).status.ok());

  const KeyId id = KeyIdOf(Psk()).value();
  EXPECT_EQ(py.at("key_id"),
            Hex(absl::string_view(reinterpret_cast<const char*>(id.data()),
                                  id.size())));
  EXPECT_EQ(py.at("client_hello"), Hex(client.client_hello()));
  EXPECT_EQ(py.at("binder_key"), Hex(BinderKeyOf(Psk()).value().view()));
  EXPECT_EQ(py.at("binder"), Hex(client.client_hello().substr(85)));
  EXPECT_EQ(py.at("server_hello"), Hex(sh.frame->payload));
  EXPECT_EQ(py.at("client_finished"), Hex(*cf));
  EXPECT_EQ(py.at("c2s"), client.keys()->c2s.Encode());
  EXPECT_EQ(py.at("s2c"), client.keys()->s2c.Encode());
  EXPECT_EQ(py.at("c2s"), server.keys()->c2s.Encode());
  EXPECT_EQ(py.at("s2c"), server.keys()->s2c.Encode());

  // And every intermediate of our key schedule.
  const std::string& server_hello = sh.frame->payload;
  Bytes32 server_public{};
  std::copy(server_hello.begin() + kServerHelloPublicKeyOffset,
            server_hello.begin() + kServerHelloFinishedOffset,
            server_public.begin());
  const Secret32 ss =
      X25519SharedSecret(client_random.x25519_private, server_public).value();
  KeySchedule ks =
      DeriveKeySchedule(Psk(), ss, client.client_hello(),
                        absl::string_view(sh.frame->payload).substr(0, 69))
          .value();
  EXPECT_EQ(py.at("ss"), Hex(ss.view()));
  EXPECT_EQ(py.at("prk"), Hex(ks.prk.view()));
  EXPECT_EQ(py.at("th1"), Hex(ks.th1));
  EXPECT_EQ(py.at("th2"), Hex(ks.th2));
  EXPECT_EQ(py.at("server_finished_key"), Hex(ks.server_finished_key.view()));
  EXPECT_EQ(py.at("server_finished"), Hex(ks.server_finished));
  EXPECT_EQ(py.at("client_finished_key"), Hex(ks.client_finished_key.view()));
  EXPECT_EQ(py.at("client_finished"), Hex(ks.client_finished));
}

TEST(HandshakeInterop, PythonClientAgainstOurServer) {
  // Step 1: Python's ClientHello from fresh randoms.
  const std::map<std::string, std::string> hello = Python(R"(
nonce, priv = os.urandom(32), os.urandom(32)
out("private", priv); out("client_hello", client_hello(PSK, nonce, priv))
)");
  ASSERT_EQ(hello.count("client_hello"), 1u);
  const FernetKey older = FernetKey::Generate().value();
  ServerHandshake server =
      ServerHandshake::Create(HandshakeKeyRing::Create({older, Psk()}).value())
          .value();
  ServerHandshake::Reply sh = server.OnClientFrame(
      Header(FrameType::kHandshake), Unhex(hello.at("client_hello")));
  ASSERT_TRUE(sh.status.ok()) << sh.status;
  EXPECT_EQ(server.key_index(), std::optional<size_t>(1));

  // Step 2: Python checks our ServerHello, finishes, and sends a secure
  // frame under c2s.
  const std::map<std::string, std::string> finish = Python(
      R"(
v = lines()
ch, sh = bytes.fromhex(v["client_hello"]), bytes.fromhex(v["server_hello"])
s = client_finish(PSK, bytes.fromhex(v["private"]), ch, sh)
out("client_finished", s["client_finished"])
out("c2s", base64.urlsafe_b64encode(s["c2s"]).decode())
out("s2c", base64.urlsafe_b64encode(s["s2c"]).decode())
out("token", seal(s["c2s"], 0, 1, 2, 4, b"hello from python"))
)",
      absl::StrCat("private ", hello.at("private"), "\nclient_hello ",
                   hello.at("client_hello"), "\nserver_hello ",
                   Hex(sh.frame->payload), "\n"));
  ASSERT_EQ(finish.count("client_finished"), 1u);
  ServerHandshake::Reply done = server.OnClientFrame(
      Header(FrameType::kHandshake), Unhex(finish.at("client_finished")));
  ASSERT_TRUE(done.status.ok()) << done.status;
  ASSERT_TRUE(server.complete());
  EXPECT_EQ(finish.at("c2s"), server.keys()->c2s.Encode());
  EXPECT_EQ(finish.at("s2c"), server.keys()->s2c.Encode());

  FrameOpener opener = FrameOpener::Secure(server.keys()->c2s);
  absl::StatusOr<OpenedFrame> frame =
      opener.Open(TokenFromBase64(finish.at("token")).value());
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->header.stream_id, 1u);
  EXPECT_EQ(frame->header.type, FrameType::kData);
  EXPECT_EQ(frame->payload, "hello from python");

  // Step 3: Python opens our answer under s2c.
  FrameSealer sealer = FrameSealer::Secure(server.keys()->s2c);
  std::string wire;
  ASSERT_TRUE(sealer
                  .Seal(1, FrameType::kData, kFlagEndMessage, "hello from C++",
                        false, kNow, &wire)
                  .ok());
  const std::map<std::string, std::string> opened = Python(
      R"(
v = lines()
seq, stream, typ, flags, payload = open_(base64.urlsafe_b64decode(v["s2c"]), v["token"].encode())
out("frame", "%d %d %d %d %s" % (seq, stream, typ, flags, payload.decode()))
)",
      absl::StrCat("s2c ", finish.at("s2c"), "\ntoken ",
                   TokenToBase64(OnlyBody(wire)), "\n"));
  EXPECT_EQ(opened.at("frame"), "0 1 2 4 hello from C++");
}

TEST(HandshakeInterop, PythonServerAgainstOurClient) {
  ClientHandshake client = ClientHandshake::Create(Psk()).value();
  // Step 1: Python answers our ClientHello with fresh randoms.
  const std::map<std::string, std::string> hello = Python(
      R"(
v = lines()
nonce, priv = os.urandom(32), os.urandom(32)
sh, s = server_hello(PSK, bytes.fromhex(v["client_hello"]), nonce, priv)
out("private", priv); out("server_hello", sh)
)",
      absl::StrCat("client_hello ", Hex(client.client_hello()), "\n"));
  ASSERT_EQ(hello.count("server_hello"), 1u);
  absl::StatusOr<std::optional<std::string>> cf = client.OnServerFrame(
      Header(FrameType::kHandshake), Unhex(hello.at("server_hello")));
  ASSERT_TRUE(cf.ok()) << cf.status();
  ASSERT_TRUE(cf->has_value());

  // Step 2: Python checks our ClientFinished and opens a frame under c2s.
  FrameSealer sealer = FrameSealer::Secure(client.keys()->c2s);
  std::string wire;
  ASSERT_TRUE(sealer
                  .Seal(1, FrameType::kData, kFlagEndMessage, "request", false,
                        kNow, &wire)
                  .ok());
  const std::map<std::string, std::string> done = Python(
      R"(
v = lines()
ch = bytes.fromhex(v["client_hello"])
sh = bytes.fromhex(v["server_hello"])
priv = bytes.fromhex(v["private"])
head = sh[:69]
assert hmac.compare_digest(ch[85:], mac(binder_key(PSK), ch[:85])), "bad binder"
s = schedule(PSK, exchange(priv, ch[45:77]), ch, head)
assert hmac.compare_digest(s["client_finished"], bytes.fromhex(v["client_finished"])), "bad client finished"
out("c2s", base64.urlsafe_b64encode(s["c2s"]).decode())
out("s2c", base64.urlsafe_b64encode(s["s2c"]).decode())
seq, stream, typ, flags, payload = open_(s["c2s"], v["token"].encode())
out("frame", "%d %d %d %d %s" % (seq, stream, typ, flags, payload.decode()))
)",
      absl::StrCat("client_hello ", Hex(client.client_hello()),
                   "\nserver_hello ", hello.at("server_hello"), "\nprivate ",
                   hello.at("private"), "\nclient_finished ", Hex(**cf),
                   "\ntoken ", TokenToBase64(OnlyBody(wire)), "\n"));
  EXPECT_EQ(done.at("c2s"), client.keys()->c2s.Encode());
  EXPECT_EQ(done.at("s2c"), client.keys()->s2c.Encode());
  EXPECT_EQ(done.at("frame"), "0 1 2 4 request");
}

TEST(HandshakeInterop, PythonRejectsATamperedServerHelloAsWeDo) {
  // Our server's ServerHello with its finished flipped: Python's client
  // refuses it too (its assertion fails, so the script exits non-zero).
  const std::map<std::string, std::string> hello = Python(R"(
nonce, priv = os.urandom(32), os.urandom(32)
out("private", priv); out("client_hello", client_hello(PSK, nonce, priv))
)");
  ServerHandshake server =
      ServerHandshake::Create(HandshakeKeyRing::Create({Psk()}).value())
          .value();
  ServerHandshake::Reply sh = server.OnClientFrame(
      Header(FrameType::kHandshake), Unhex(hello.at("client_hello")));
  ASSERT_TRUE(sh.status.ok());
  std::string tampered = sh.frame->payload;
  tampered[100] ^= 1;
  absl::StatusOr<std::string> result =
      RunPython(absl::StrCat(kPythonHandshake, R"(
v = lines()
client_finish(PSK, bytes.fromhex(v["private"]), bytes.fromhex(v["client_hello"]),
              bytes.fromhex(v["server_hello"]))
)"),
                absl::StrCat("private ", hello.at("private"), "\nclient_hello ",
                             hello.at("client_hello"), "\nserver_hello ",
                             Hex(tampered), "\n"));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("bad server finished"),
            absl::string_view::npos)
      << result.status();
}

// The binder (PROTOCOL.md 7.2, 7.6), computed by Python: a hello with the
// right key id whose binder is not under the key is refused as an unknown
// key, and the same hello sent twice is refused the second time.
TEST(HandshakeInterop, OurServerChecksPythonsBinderAndRefusesAReplay) {
  const std::map<std::string, std::string> py = Python(R"(
ch = client_hello(PSK, os.urandom(32), os.urandom(32))
out("hello", ch); out("forged", ch[:85] + mac(bytes(32), ch[:85]))
)");
  ASSERT_EQ(py.size(), 2u);
  auto guard = std::make_shared<HelloReplayGuard>();
  auto server = [&] {
    return ServerHandshake::Create(HandshakeKeyRing::Create({Psk()}).value(),
                                   nullptr, guard)
        .value();
  };
  ServerHandshake forged = server();
  EXPECT_EQ(forged.OnClientFrame(Header(FrameType::kHandshake),
                                 Unhex(py.at("forged")))
                .status,
            absl::UnauthenticatedError("the server did not accept this key"));
  ServerHandshake first = server();
  EXPECT_TRUE(first.OnClientFrame(Header(FrameType::kHandshake),
                                  Unhex(py.at("hello")))
                  .status.ok());
  ServerHandshake replayed = server();
  const absl::Status again =
      replayed.OnClientFrame(Header(FrameType::kHandshake), Unhex(py.at("hello")))
          .status;
  EXPECT_EQ(again.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(again.message().find("replayed"), absl::string_view::npos) << again;
}

TEST(HandshakeInterop, RefusalsBothWays) {
  const std::string ours = EncodeRefusal(absl::StatusCode::kPermissionDenied,
                                         "rejected by the accept policy: π");
  const std::map<std::string, std::string> py = Python(
      R"(
v = lines()
p = bytes.fromhex(v["refusal"])
out("decoded", "%d %s" % (p[0], p[1:].decode("utf-8")))
out("theirs", refusal(16, "clé inconnue"))
)",
      absl::StrCat("refusal ", Hex(ours), "\n"));
  EXPECT_EQ(py.at("decoded"), "7 rejected by the accept policy: π");
  EXPECT_EQ(RefusalToStatus(Unhex(py.at("theirs"))),
            absl::UnauthenticatedError("clé inconnue"));
  // Python's refusal, as our client receives it in place of a ServerHello.
  ClientHandshake client = ClientHandshake::Create(Psk()).value();
  EXPECT_EQ(
      client.OnServerFrame(Header(FrameType::kRefusal), Unhex(py.at("theirs")))
          .status(),
      absl::UnauthenticatedError("clé inconnue"));
}

}  // namespace
}  // namespace netstructer::transport
