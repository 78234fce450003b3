#include "netstructer/transport/frame_sealer.h"

#include <array>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "netstructer/transport/frame_codec.h"

namespace netstructer::transport {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1700000000;

FernetKey Key() {
  return FernetKey::Parse("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").value();
}

std::string Compressible(size_t n) {
  std::string s;
  while (s.size() < n) s += "request response server client stream frame ";
  s.resize(n);
  return s;
}

std::string Random(size_t n) {
  std::string s(n, '\0');
  uint64_t x = 42;
  for (size_t i = 0; i < n; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s[i] = static_cast<char>((x * 2685821657736338717ULL) >> 56);
  }
  return s;
}

// Splits a byte stream into bodies with FrameDecoder.
std::vector<std::string> Bodies(const std::string& stream) {
  FrameDecoder decoder;
  decoder.Feed(stream);
  std::vector<std::string> bodies;
  for (;;) {
    absl::StatusOr<std::optional<std::string>> body = decoder.Next();
    EXPECT_TRUE(body.ok()) << body.status();
    if (!body.ok() || !body->has_value()) break;
    bodies.push_back(**body);
  }
  EXPECT_TRUE(decoder.Finish().ok());
  return bodies;
}

struct Pair {
  FrameSealer sealer;
  FrameOpener opener;
};

Pair MakePair(bool secure) {
  if (secure) return {FrameSealer::Secure(Key()), FrameOpener::Secure(Key())};
  return {FrameSealer::Insecure(), FrameOpener::Insecure()};
}

class FrameSealerModes : public ::testing::TestWithParam<bool> {};

TEST_P(FrameSealerModes, RoundTripsFramesInOrder) {
  Pair p = MakePair(GetParam());
  const std::vector<std::string> payloads = {"", "a", Compressible(5000),
                                             Random(5000), std::string(70000, 'z')};
  std::string stream;
  for (size_t i = 0; i < payloads.size(); ++i) {
    ASSERT_TRUE(p.sealer
                    .Seal(static_cast<uint32_t>(i), FrameType::kData,
                          kFlagEndMessage, payloads[i], true, kNow, &stream)
                    .ok());
  }
  EXPECT_EQ(p.sealer.next_sequence(), payloads.size());
  std::vector<std::string> bodies = Bodies(stream);
  ASSERT_EQ(bodies.size(), payloads.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    absl::StatusOr<OpenedFrame> f = p.opener.Open(bodies[i]);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->header.sequence, i);
    EXPECT_EQ(f->header.stream_id, i);
    EXPECT_EQ(f->header.type, FrameType::kData);
    EXPECT_EQ(f->header.flags, kFlagEndMessage);  // COMPRESSED undone.
    EXPECT_EQ(f->payload, payloads[i]);
  }
}

TEST_P(FrameSealerModes, CompressesOnlyWhenAllowedAndSmaller) {
  Pair p = MakePair(GetParam());
  const std::string text = Compressible(16384);
  std::string compressed, plain, random, small;
  ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, text, true, kNow, &compressed).ok());
  ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, text, false, kNow, &plain).ok());
  ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, Random(16384), true, kNow, &random).ok());
  ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, Compressible(512), true, kNow, &small).ok());
  const size_t overhead = GetParam() ? FernetTokenBytes(kFrameHeaderBytes + 16384)
                                     : kFrameHeaderBytes + 16384;
  EXPECT_LT(compressed.size(), plain.size() / 2);
  EXPECT_EQ(plain.size(), kLengthPrefixBytes + overhead);
  EXPECT_EQ(random.size(), kLengthPrefixBytes + overhead);  // Would not shrink.
  // Below the threshold: never compressed.
  EXPECT_EQ(small.size(), kLengthPrefixBytes + (GetParam()
                                                    ? FernetTokenBytes(kFrameHeaderBytes + 512)
                                                    : kFrameHeaderBytes + 512));
  for (const std::string& body : Bodies(compressed + plain + random + small)) {
    EXPECT_TRUE(p.opener.Open(body).ok());
  }
}

// A batch is what the same frames sealed one by one would be: sealed side
// by side (transport/work_pool.h), appended in sequence order, each
// announced as it lands, and readable by the same opener in one stream with
// frames sealed one by one before and after it.
TEST_P(FrameSealerModes, BatchesAreSealedInOrderAndInterleaveWithSingleFrames) {
  Pair p = MakePair(GetParam());
  std::vector<std::string> payloads;
  for (int i = 0; i < 12; ++i) {
    payloads.push_back(i % 3 == 0 ? Compressible(64 << 10)
                                  : Random((16 << 10) + 1000 * i));
  }
  std::vector<FrameToSeal> frames;
  for (size_t i = 0; i < payloads.size(); ++i) {
    frames.push_back({static_cast<uint32_t>(i + 1), FrameType::kData,
                      kFlagEndMessage, payloads[i], true});
  }
  std::string stream;
  ASSERT_TRUE(p.sealer.Seal(99, FrameType::kData, 0, "before", true, kNow,
                            &stream).ok());
  std::vector<size_t> sizes_seen;
  ASSERT_TRUE(p.sealer
                  .SealBatch(frames, /*max_lanes=*/4, kNow, &stream,
                             [&] { sizes_seen.push_back(stream.size()); })
                  .ok());
  ASSERT_TRUE(p.sealer.Seal(99, FrameType::kData, 0, "after", true, kNow,
                            &stream).ok());
  EXPECT_EQ(p.sealer.next_sequence(), payloads.size() + 2);
  ASSERT_EQ(sizes_seen.size(), payloads.size());
  for (size_t i = 1; i < sizes_seen.size(); ++i) {
    EXPECT_LT(sizes_seen[i - 1], sizes_seen[i]);  // One frame at a time.
  }
  std::vector<std::string> bodies = Bodies(stream);
  ASSERT_EQ(bodies.size(), payloads.size() + 2);
  for (size_t i = 0; i < bodies.size(); ++i) {
    absl::StatusOr<OpenedFrame> f = p.opener.Open(bodies[i]);
    ASSERT_TRUE(f.ok()) << i << ": " << f.status();
    EXPECT_EQ(f->header.sequence, i);
    if (i == 0 || i == bodies.size() - 1) {
      EXPECT_EQ(f->payload, i == 0 ? "before" : "after");
      continue;
    }
    EXPECT_EQ(f->header.stream_id, i);
    EXPECT_EQ(f->header.flags, kFlagEndMessage);
    EXPECT_EQ(f->payload, payloads[i - 1]);
  }
  if (!GetParam()) {
    // Insecure frames have no IV: byte for byte those of Seal.
    FrameSealer serial = FrameSealer::Insecure();
    std::string expected;
    ASSERT_TRUE(serial.Seal(99, FrameType::kData, 0, "before", true, kNow,
                            &expected).ok());
    for (const FrameToSeal& f : frames) {
      ASSERT_TRUE(serial.Seal(f.stream_id, f.type, f.flags, f.payload, true,
                              kNow, &expected).ok());
    }
    ASSERT_TRUE(serial.Seal(99, FrameType::kData, 0, "after", true, kNow,
                            &expected).ok());
    EXPECT_EQ(stream, expected);
  }
}

// A frame that cannot be sealed ends the batch there: the frames before it
// are appended, nothing after, and the next frame takes its sequence number.
TEST_P(FrameSealerModes, ABatchStopsAtItsFirstBadFrame) {
  Pair p = MakePair(GetParam());
  const std::string good = Random(32 << 10);
  const std::string too_big(kProtocolMaxFrameBytes + 1, 'x');
  const std::vector<FrameToSeal> frames = {
      {1, FrameType::kData, 0, good, false},
      {1, FrameType::kData, 0, good, false},
      {1, FrameType::kData, 0, too_big, false},
      {1, FrameType::kData, 0, good, false}};
  std::string stream;
  int appended = 0;
  absl::Status s = p.sealer.SealBatch(frames, 4, kNow, &stream,
                                      [&] { ++appended; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("exceeds the protocol maximum"));
  EXPECT_EQ(appended, 2);
  EXPECT_EQ(p.sealer.next_sequence(), 2u);
  ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, "next", false, kNow,
                            &stream).ok());
  std::vector<std::string> bodies = Bodies(stream);
  ASSERT_EQ(bodies.size(), 3u);
  for (size_t i = 0; i < bodies.size(); ++i) {
    absl::StatusOr<OpenedFrame> f = p.opener.Open(bodies[i]);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->payload, i < 2 ? good : "next");
  }
  // Bad flags: nothing sealed, no sequence number used.
  const std::vector<FrameToSeal> bad_flags = {
      {1, FrameType::kData, 0, good, false},
      {1, FrameType::kData, kFlagCompressed, good, false}};
  EXPECT_EQ(p.sealer.SealBatch(bad_flags, 4, kNow, &stream, [] {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.sealer.next_sequence(), 3u);
}

// Incompressible payloads are mostly not offered to lz4 after a while; a
// compressible one is again within kMaxSkippedFrames + 1 frames, and from
// then on every one. Either way every frame opens to its payload.
TEST_P(FrameSealerModes, IncompressiblePayloadsStopBeingOfferedToLz4) {
  Pair p = MakePair(GetParam());
  const std::string random = Random(16 << 10);
  const std::string text = Compressible(16 << 10);
  std::string stream;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, random, true, kNow,
                              &stream).ok());
  }
  const uint64_t random_attempts = p.sealer.compression_attempts();
  EXPECT_GE(random_attempts, uint64_t{FrameSealer::kFailuresBeforeSkipping});
  EXPECT_LT(random_attempts, 40u);  // 8, then one per skipped run.
  // Text: sent as is while the skipping lasts, compressed from the first
  // offer on.
  std::vector<size_t> sizes;
  for (int i = 0; i < FrameSealer::kMaxSkippedFrames + 20; ++i) {
    std::string one;
    ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, text, true, kNow,
                              &one).ok());
    sizes.push_back(one.size());
    stream += one;
  }
  size_t first_small = sizes.size();
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < text.size() / 2) {
      first_small = i;
      break;
    }
  }
  ASSERT_LE(first_small, size_t{FrameSealer::kMaxSkippedFrames});
  for (size_t i = first_small; i < sizes.size(); ++i) {
    EXPECT_LT(sizes[i], text.size() / 2) << i;
  }
  // Compression not allowed: never offered, never counted.
  const uint64_t before = p.sealer.compression_attempts();
  ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, text, false, kNow,
                            &stream).ok());
  EXPECT_EQ(p.sealer.compression_attempts(), before);
  size_t n = 0;
  for (const std::string& body : Bodies(stream)) {
    absl::StatusOr<OpenedFrame> f = p.opener.Open(body);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->payload, n < 1000 ? random : text);
    ++n;
  }
  EXPECT_EQ(n, 1000u + FrameSealer::kMaxSkippedFrames + 20 + 1);
}

// A batch decides its frames' lz4 offers up front; its failures do not
// lengthen the skipping more than one failure would (the skips after it
// grow 2, 4, 8, ... as after single frames, not straight to the maximum).
TEST_P(FrameSealerModes, ABatchOfFailuresLengthensTheSkippingOnce) {
  Pair p = MakePair(GetParam());
  const std::string random = Random(16 << 10);
  std::string stream;
  for (int i = 0; i < FrameSealer::kFailuresBeforeSkipping; ++i) {
    ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, random, true, kNow,
                              &stream).ok());
  }
  ASSERT_EQ(p.sealer.compression_attempts(),
            uint64_t{FrameSealer::kFailuresBeforeSkipping});
  // Skipping one now: the batch's first frame is not offered, the other 15
  // are (decided up front) and fail.
  const std::vector<FrameToSeal> frames(
      16, FrameToSeal{1, FrameType::kData, 0, random, true});
  ASSERT_TRUE(p.sealer.SealBatch(frames, 4, kNow, &stream, [] {}).ok());
  const uint64_t after_batch = p.sealer.compression_attempts();
  EXPECT_EQ(after_batch, uint64_t{FrameSealer::kFailuresBeforeSkipping} + 15);
  // Then single frames skip 2, 4, 8, 16, 32, 64, 64 between offers: in 200
  // frames, offers at the 3rd, 8th, 17th, 34th, 67th, 132nd and 197th.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, random, true, kNow,
                              &stream).ok());
  }
  EXPECT_EQ(p.sealer.compression_attempts() - after_batch, 7u);
  for (const std::string& body : Bodies(stream)) {
    absl::StatusOr<OpenedFrame> f = p.opener.Open(body);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->payload, random);
  }
}

TEST_P(FrameSealerModes, ReplayedFrameIsDataLossAndSticky) {
  Pair p = MakePair(GetParam());
  std::string stream;
  ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, "one", true, kNow, &stream).ok());
  ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, "two", true, kNow, &stream).ok());
  std::vector<std::string> b = Bodies(stream);
  ASSERT_TRUE(p.opener.Open(b[0]).ok());
  absl::StatusOr<OpenedFrame> replay = p.opener.Open(b[0]);
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(replay.status().message()), HasSubstr("out of sequence"));
  // The connection is finished: even the genuine next frame is refused.
  EXPECT_EQ(p.opener.Open(b[1]).status().code(), absl::StatusCode::kDataLoss);
}

TEST_P(FrameSealerModes, ReorderedOrDroppedFrameIsDataLoss) {
  for (int skip : {0, 1}) {
    Pair p = MakePair(GetParam());
    std::string stream;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(p.sealer.Seal(1, FrameType::kData, 0, "x", true, kNow, &stream).ok());
    }
    std::vector<std::string> b = Bodies(stream);
    if (skip == 1) ASSERT_TRUE(p.opener.Open(b[0]).ok());
    // Reordered (frame 1 before 0) or dropped (frame 1 missing, 2 arrives).
    absl::StatusOr<OpenedFrame> f = p.opener.Open(b[2]);
    EXPECT_EQ(f.status().code(), absl::StatusCode::kDataLoss);
  }
}

INSTANTIATE_TEST_SUITE_P(SecureAndInsecure, FrameSealerModes, ::testing::Bool());

TEST(FrameSealer, TamperedFrameDeliversNothingAndPoisonsTheOpener) {
  FrameSealer sealer = FrameSealer::Secure(Key());
  std::string stream;
  ASSERT_TRUE(sealer.Seal(1, FrameType::kData, 0, "secret", true, kNow, &stream).ok());
  ASSERT_TRUE(sealer.Seal(1, FrameType::kData, 0, "next", true, kNow, &stream).ok());
  std::vector<std::string> b = Bodies(stream);
  for (size_t i = 0; i < b[0].size(); ++i) {
    FrameOpener opener = FrameOpener::Secure(Key());
    std::string bad = b[0];
    bad[i] ^= 0x20;
    absl::StatusOr<OpenedFrame> f = opener.Open(bad);
    ASSERT_EQ(f.status().code(), absl::StatusCode::kDataLoss) << i;
    EXPECT_EQ(f.status().message(), "invalid token");
    EXPECT_FALSE(opener.Open(b[1]).ok());
  }
}

TEST(FrameSealer, WrongKeyIsInvalidToken) {
  FrameSealer sealer = FrameSealer::Secure(FernetKey::Generate().value());
  FrameOpener opener = FrameOpener::Secure(Key());
  std::string stream;
  ASSERT_TRUE(sealer.Seal(1, FrameType::kData, 0, "x", true, kNow, &stream).ok());
  EXPECT_EQ(opener.Open(Bodies(stream)[0]).status().message(), "invalid token");
}

// A frame whose compressed payload declares 1 GiB: the limit is checked
// before any allocation, and only after authentication.
std::string BombInner() {
  FrameHeader h;
  h.sequence = 0;
  h.stream_id = 1;
  h.type = FrameType::kData;
  h.flags = kFlagCompressed;
  std::string inner = EncodeFrameHeader(h);
  char size[4];
  big_endian::Store32(1u << 30, size);
  inner.append(size, 4);
  inner += std::string(64, '\0');
  return inner;
}

TEST(FrameSealer, DeclaredDecompressedSizeOverLimitIsResourceExhausted) {
  FrameOpener insecure = FrameOpener::Insecure();
  absl::StatusOr<OpenedFrame> f = insecure.Open(BombInner());
  EXPECT_EQ(f.status().code(), absl::StatusCode::kResourceExhausted);

  Fernet fernet(Key());
  FrameOpener secure = FrameOpener::Secure(Key());
  std::string token = fernet.Seal(BombInner(), kNow).value();
  EXPECT_EQ(secure.Open(token).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(FrameSealer, UnauthenticatedBombIsRejectedBeforeDecompression) {
  Fernet fernet(Key());
  std::string token = fernet.Seal(BombInner(), kNow).value();
  token.back() ^= 1;
  FrameOpener opener = FrameOpener::Secure(Key());
  // DATA_LOSS from the HMAC, not RESOURCE_EXHAUSTED from the lz4 size check.
  absl::StatusOr<OpenedFrame> f = opener.Open(token);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(f.status().message(), "invalid token");
}

TEST(FrameSealer, BadFlagsAreInvalidArgumentAndUseNoSequenceNumber) {
  FrameSealer sealer = FrameSealer::Insecure();
  std::string out;
  EXPECT_EQ(sealer.Seal(1, FrameType::kData, kFlagCompressed, "x", true, kNow, &out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sealer.Seal(1, FrameType::kData, 0x80, "x", true, kNow, &out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sealer.next_sequence(), 0u);
}

TEST(FrameSealer, MaxPayloadFitsTheDecoderLimit) {
  for (bool secure : {false, true}) {
    for (size_t limit : {size_t{200}, size_t{4096}, kDefaultMaxFrameBytes}) {
      const size_t n = FrameSealer::MaxPayloadBytes(secure, limit);
      FrameSealer sealer = secure ? FrameSealer::Secure(Key()) : FrameSealer::Insecure();
      std::string stream;
      ASSERT_TRUE(sealer.Seal(1, FrameType::kData, 0, Random(n), true, kNow, &stream).ok());
      EXPECT_LE(stream.size() - kLengthPrefixBytes, limit);
      // One more byte would not fit.
      std::string bigger;
      ASSERT_TRUE(sealer.Seal(1, FrameType::kData, 0, Random(n + 1), false, kNow, &bigger).ok());
      EXPECT_GT(bigger.size() - kLengthPrefixBytes, limit) << secure << " " << limit;
    }
  }
}

// docs/PROTOCOL.md section 6, byte for byte.
TEST(FrameSealer, ProtocolVector) {
  const std::string frame = absl::HexStringToBytes(
      "0000005980000000001dc09eb0000102030405060708090a0b0c0d0e0ffd0d1b24f9b6"
      "87dc0f5911c4ac7c0686166e3b759e1a1d8e58835d8055228e460bf074c13b26f0abed"
      "5dd59adc3d73d66900b3bbdee7f616ff53cf71a800a62b");
  FrameHeader h;
  h.sequence = 0;
  h.stream_id = 1;
  h.type = FrameType::kData;
  h.flags = kFlagEndMessage;
  const std::string inner = EncodeFrameHeader(h) + "hello";
  EXPECT_EQ(absl::BytesToHexString(inner),
            "0000000000000000000000010204000068656c6c6f");
  std::array<uint8_t, kFernetIvBytes> iv;
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<uint8_t>(i);
  std::string token;
  ASSERT_TRUE(Fernet(Key()).SealTo(inner, 499162800, &token, &iv).ok());
  std::string wire;
  ASSERT_TRUE(AppendFrame(token, &wire).ok());
  EXPECT_EQ(absl::BytesToHexString(wire), absl::BytesToHexString(frame));
  EXPECT_EQ(TokenToBase64(token),
            "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD_0NGyT5tofcD1kRxKx8BoYWbjt1nhodjliDXYBVIo5GC_"
            "B0wTsm8KvtXdWa3D1z1mkAs7ve5_YW_1PPcagApis=");

  FrameOpener opener = FrameOpener::Secure(Key());
  std::vector<std::string> bodies = Bodies(frame);
  ASSERT_EQ(bodies.size(), 1u);
  absl::StatusOr<OpenedFrame> f = opener.Open(bodies[0]);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->header, h);
  EXPECT_EQ(f->payload, "hello");
}

}  // namespace
}  // namespace netstructer::transport
