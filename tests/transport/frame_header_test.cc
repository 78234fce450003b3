// Specification of the 16-byte inner frame header (docs/PROTOCOL.md,
// "Frames").
#include "netstructer/transport/frame_header.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {
namespace {

using std::string_literals::operator""s;

constexpr FrameType kAllTypes[] = {
    FrameType::kHeaders, FrameType::kData,         FrameType::kTrailers,
    FrameType::kCancel,  FrameType::kWindowUpdate, FrameType::kPing,
    FrameType::kGoAway,  FrameType::kRefusal,      FrameType::kHandshake,
};

TEST(FrameHeader, EncodesTheDocumentedLayoutBigEndian) {
  FrameHeader header;
  header.sequence = 0x0102030405060708;
  header.stream_id = 0x0A0B0C0D;
  header.type = FrameType::kData;
  header.flags = kFlagCompressed | kFlagEndMessage;
  EXPECT_EQ(EncodeFrameHeader(header),
            "\x01\x02\x03\x04\x05\x06\x07\x08"
            "\x0A\x0B\x0C\x0D"
            "\x02\x05\x00\x00"s);
}

TEST(FrameHeader, TypeValuesAreThoseOfTheProtocol) {
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kHeaders), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kData), 0x02);
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kTrailers), 0x03);
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kCancel), 0x04);
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kWindowUpdate), 0x05);
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kPing), 0x06);
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kGoAway), 0x07);
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kRefusal), 0x08);
  EXPECT_EQ(static_cast<uint8_t>(FrameType::kHandshake), 0x09);
  EXPECT_EQ(kFlagCompressed, 0x01);
  EXPECT_EQ(kFlagEndStream, 0x02);
  EXPECT_EQ(kFlagEndMessage, 0x04);
  EXPECT_EQ(kFlagAck, 0x08);
}

TEST(FrameHeader, EveryTypeAndFlagCombinationRoundTrips) {
  int cases = 0;
  for (FrameType type : kAllTypes) {
    for (int flags = 0; flags <= kKnownFlagsMask; ++flags) {
      FrameHeader header;
      header.sequence = 0xFEDCBA9876543210u + static_cast<uint64_t>(flags);
      header.stream_id = 0xFFFFFFFFu - static_cast<uint32_t>(type);
      header.type = type;
      header.flags = static_cast<uint8_t>(flags);
      const std::string plaintext = EncodeFrameHeader(header) + "payload";
      absl::StatusOr<FrameHeader> decoded = DecodeFrameHeader(plaintext);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(*decoded, header);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 9 * 16);
}

TEST(FrameHeader, ArrayAndStringEncodingsAgree) {
  FrameHeader header{7, 3, FrameType::kPing, kFlagAck};
  char out[kFrameHeaderBytes];
  EncodeFrameHeader(header, out);
  EXPECT_EQ(absl::string_view(out, sizeof(out)), EncodeFrameHeader(header));
}

TEST(FrameHeader, HeaderWithoutPayloadIsValid) {
  FrameHeader header{0, kConnectionStreamId, FrameType::kGoAway, 0};
  absl::StatusOr<FrameHeader> decoded =
      DecodeFrameHeader(EncodeFrameHeader(header));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, header);
}

TEST(FrameHeader, ExtremeValuesRoundTrip) {
  FrameHeader header{UINT64_MAX, UINT32_MAX, FrameType::kHandshake,
                     kKnownFlagsMask};
  absl::StatusOr<FrameHeader> decoded =
      DecodeFrameHeader(EncodeFrameHeader(header));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, header);
}

TEST(FrameHeader, TypeNames) {
  EXPECT_EQ(FrameTypeName(FrameType::kWindowUpdate), "WINDOW_UPDATE");
  EXPECT_EQ(FrameTypeName(FrameType::kGoAway), "GOAWAY");
  EXPECT_EQ(FrameTypeName(static_cast<FrameType>(0x0A)), "UNKNOWN");
}

// A valid header (DATA, END_MESSAGE) with one byte replaced.
std::string Corrupt(size_t offset, char value) {
  std::string bytes =
      EncodeFrameHeader({1, 2, FrameType::kData, kFlagEndMessage});
  bytes[offset] = value;
  return bytes;
}

struct InvalidHeaderCase {
  const char* name;
  std::string bytes;
  const char* message_part;
};

TEST(FrameHeader, InvalidHeadersAreDataLoss) {
  const std::string valid =
      EncodeFrameHeader({1, 2, FrameType::kData, kFlagEndMessage});
  const std::vector<InvalidHeaderCase> cases = {
      {"empty", "", "shorter than the 16-byte frame header"},
      {"one byte", "\x02", "shorter than the 16-byte frame header"},
      {"15 bytes", valid.substr(0, 15),
       "shorter than the 16-byte frame header"},
      {"type 0x00", Corrupt(kTypeOffset, '\x00'), "unknown frame type 0x00"},
      {"type 0x0A", Corrupt(kTypeOffset, '\x0A'), "unknown frame type 0x0a"},
      {"type 0xFF", Corrupt(kTypeOffset, '\xFF'), "unknown frame type 0xff"},
      {"flag 0x10", Corrupt(kFlagsOffset, '\x10'), "reserved flag bits set"},
      {"flag 0x80", Corrupt(kFlagsOffset, '\x80'), "reserved flag bits set"},
      {"flags 0xFF", Corrupt(kFlagsOffset, '\xFF'), "reserved flag bits set"},
      {"reserved high byte", Corrupt(kReservedOffset, '\x01'),
       "reserved header field is 0x0100"},
      {"reserved low byte", Corrupt(kReservedOffset + 1, '\x01'),
       "reserved header field is 0x0001"},
      {"reserved 0xFFFF", valid.substr(0, kReservedOffset) + "\xFF\xFF",
       "reserved header field is 0xffff"},
  };
  for (const InvalidHeaderCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<FrameHeader> decoded = DecodeFrameHeader(c.bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(decoded.status().message().find(c.message_part),
              absl::string_view::npos)
        << decoded.status();
  }
  // Sanity: the uncorrupted header decodes.
  EXPECT_TRUE(DecodeFrameHeader(valid).ok());
}

TEST(FrameHeader, EverySingleInvalidTypeByteIsRejected) {
  for (int type = 0; type <= 0xFF; ++type) {
    absl::StatusOr<FrameHeader> decoded =
        DecodeFrameHeader(Corrupt(kTypeOffset, static_cast<char>(type)));
    const bool valid = type >= kMinFrameType && type <= kMaxFrameType;
    EXPECT_EQ(decoded.ok(), valid) << "type " << type;
    if (!valid) {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

TEST(FrameHeader, EveryReservedFlagBitIsRejected) {
  for (int flags = 0; flags <= 0xFF; ++flags) {
    absl::StatusOr<FrameHeader> decoded =
        DecodeFrameHeader(Corrupt(kFlagsOffset, static_cast<char>(flags)));
    const bool valid = (flags & ~kKnownFlagsMask) == 0;
    EXPECT_EQ(decoded.ok(), valid) << "flags " << flags;
    if (!valid) {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

}  // namespace
}  // namespace netstructer::transport
