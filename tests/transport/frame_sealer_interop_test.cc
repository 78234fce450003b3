// docs/PROTOCOL.md implemented independently in Python (struct, lz4.block,
// cryptography.fernet), checked against FrameSealer/FrameOpener both ways:
// sequence numbers, types, flags, compression and Fernet.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "netstructer/tests/testing/python.h"
#include "netstructer/transport/frame_codec.h"
#include "netstructer/transport/frame_sealer.h"

namespace netstructer::transport {
namespace {

using ::netstructer::testing::RunPython;

constexpr char kKey[] = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
constexpr int64_t kNow = 1700000000;

// The Python side of the protocol: parse or build a stream of frames.
constexpr char kPythonProtocol[] = R"(
import base64, struct, sys, lz4.block
from cryptography.fernet import Fernet
KEY = b"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
f = Fernet(KEY)
def b64(tok): return base64.urlsafe_b64encode(tok)
def unb64(txt): return base64.urlsafe_b64decode(txt)

def parse(stream, secure):
    out, pos, expect = [], 0, 0
    while pos < len(stream):
        (n,) = struct.unpack_from(">I", stream, pos); pos += 4
        body = stream[pos:pos + n]; pos += n
        assert len(body) == n, "truncated"
        inner = f.decrypt(b64(body)) if secure else body
        seq, sid, typ, flags, res = struct.unpack_from(">QIBBH", inner, 0)
        assert seq == expect and res == 0, (seq, expect, res)
        expect += 1
        payload = inner[16:]
        if flags & 1:
            (size,) = struct.unpack_from(">I", payload, 0)
            payload = lz4.block.decompress(payload[4:], uncompressed_size=size)
            assert len(payload) == size
        out.append((sid, typ, flags, payload))
    return out

def build(frames, secure):
    stream = b""
    for seq, (sid, typ, flags, payload, compress) in enumerate(frames):
        if compress:
            block = struct.pack(">I", len(payload)) + lz4.block.compress(payload, store_size=False)
            payload, flags = block, flags | 1
        inner = struct.pack(">QIBBH", seq, sid, typ, flags, 0) + payload
        body = unb64(f.encrypt(inner)) if secure else inner
        stream += struct.pack(">I", len(body)) + body
    return stream
)";

std::string Compressible(size_t n) {
  std::string s;
  while (s.size() < n) s += "session token latency queue stream frame buffer ";
  s.resize(n);
  return s;
}

class FrameInterop : public ::testing::TestWithParam<bool> {};

TEST_P(FrameInterop, PythonParsesOurFrames) {
  const bool secure = GetParam();
  FernetKey key = FernetKey::Parse(kKey).value();
  FrameSealer sealer = secure ? FrameSealer::Secure(key) : FrameSealer::Insecure();
  struct Case {
    uint32_t stream;
    FrameType type;
    uint8_t flags;
    std::string payload;
    bool expect_compressed;
  };
  const std::vector<Case> cases = {
      {0, FrameType::kPing, 0, "12345678", false},
      {1, FrameType::kHeaders, 0, "method", false},
      {1, FrameType::kData, kFlagEndMessage, Compressible(20000), true},
      {1, FrameType::kData, kFlagEndMessage | kFlagEndStream, "", false},
      {7, FrameType::kTrailers, kFlagEndStream, std::string(3000, '\xff'), true},
      {7, FrameType::kData, 0, std::string(900, '\xff'), false},  // < threshold
  };
  std::string stream;
  for (const Case& c : cases) {
    ASSERT_TRUE(sealer.Seal(c.stream, c.type, c.flags, c.payload, true, kNow, &stream).ok());
  }
  const std::string script = absl::StrCat(kPythonProtocol, R"(
stream = sys.stdin.buffer.read()
for sid, typ, flags, payload in parse(stream, )", secure ? "True" : "False", R"():
    print(sid, typ, flags, len(payload), payload.hex()[:16])
)");
  absl::StatusOr<std::string> out = RunPython(script, stream);
  ASSERT_TRUE(out.ok()) << out.status();
  std::string expected;
  for (const Case& c : cases) {
    // Compressed frames show flag 1 on the wire in Python's view.
    uint8_t flags = c.flags;
    if (c.expect_compressed) flags |= kFlagCompressed;
    absl::StrAppend(&expected, c.stream, " ", static_cast<int>(c.type), " ",
                    static_cast<int>(flags), " ", c.payload.size(), " ",
                    absl::BytesToHexString(c.payload.substr(0, 8)), "\n");
  }
  EXPECT_EQ(*out, expected);
}

TEST_P(FrameInterop, WeOpenPythonsFrames) {
  const bool secure = GetParam();
  const std::string script = absl::StrCat(kPythonProtocol, R"(
frames = [(0, 6, 8, b"pong", False),
          (3, 1, 0, b"headers", False),
          (3, 2, 4, b"abc" * 5000, True),
          (3, 2, 6, bytes(range(256)) * 4, False)]
sys.stdout.buffer.write(build(frames, )", secure ? "True" : "False", R"())
)");
  absl::StatusOr<std::string> stream = RunPython(script);
  ASSERT_TRUE(stream.ok()) << stream.status();
  FrameDecoder decoder;
  decoder.Feed(*stream);
  FernetKey key = FernetKey::Parse(kKey).value();
  FrameOpener opener = secure ? FrameOpener::Secure(key) : FrameOpener::Insecure();
  std::vector<OpenedFrame> frames;
  for (;;) {
    absl::StatusOr<std::optional<std::string>> body = decoder.Next();
    ASSERT_TRUE(body.ok()) << body.status();
    if (!body->has_value()) break;
    absl::StatusOr<OpenedFrame> f = opener.Open(**body);
    ASSERT_TRUE(f.ok()) << f.status();
    frames.push_back(*f);
  }
  ASSERT_TRUE(decoder.Finish().ok());
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].header.type, FrameType::kPing);
  EXPECT_EQ(frames[0].header.flags, kFlagAck);
  EXPECT_EQ(frames[0].payload, "pong");
  EXPECT_EQ(frames[1].header.stream_id, 3u);
  EXPECT_EQ(frames[1].payload, "headers");
  std::string abc;
  for (int i = 0; i < 5000; ++i) abc += "abc";
  EXPECT_EQ(frames[2].payload, abc);
  EXPECT_EQ(frames[2].header.flags, kFlagEndMessage);
  EXPECT_EQ(frames[3].header.flags, kFlagEndMessage | kFlagEndStream);
  EXPECT_EQ(frames[3].payload.size(), 1024u);
}

INSTANTIATE_TEST_SUITE_P(SecureAndInsecure, FrameInterop, ::testing::Bool());

}  // namespace
}  // namespace netstructer::transport
