// The pieces of docs/PROTOCOL.md section 9, byte for byte (9.6 is checked
// here as written in the document).
#include "netstructer/rpc/call_wire.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netstructer/rpc/metadata.h"

namespace netstructer::rpc {
namespace {

std::string Hex(absl::string_view s) { return absl::BytesToHexString(s); }

TEST(CallWireTest, WorkedExampleUnaryRequest) {
  CallHeaders headers;
  headers.set_method("/greeter.Greeter/SayHello");
  // HelloRequest{name: "World"}: field 1, length 5.
  const std::string request = std::string("\x0a\x05", 2) + "World";
  const std::string payload =
      EncodePrefixed(headers) + MessageHeader(request.size()) + request;
  EXPECT_EQ(Hex(payload),
            "0000001b"
            "0a192f677265657465722e477265657465722f53617948656c6c6f"
            "000000000000000703"
            "0a05576f726c64");
}

TEST(CallWireTest, WorkedExampleUnaryResponse) {
  const std::string reply = std::string("\x0a\x0c", 2) + "Hello, World";
  const std::string payload = EncodePrefixed(TrailersFor(absl::OkStatus(), {})) +
                              MessageHeader(reply.size()) + reply;
  EXPECT_EQ(Hex(payload),
            "00000000"
            "000000000000000e03"
            "0a0c48656c6c6f2c20576f726c64");
}

TEST(CallWireTest, PrefixedRoundTripAndErrors) {
  CallTrailers t = TrailersFor(absl::NotFoundError("no such key"),
                               {{"retry-after", "5"}});
  const std::string payload = EncodePrefixed(t) + "rest";
  CallTrailers back;
  absl::StatusOr<absl::string_view> rest = ParsePrefixed(payload, &back);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*rest, "rest");
  EXPECT_EQ(StatusFrom(back), absl::NotFoundError("no such key"));
  absl::StatusOr<Metadata> md = FromWire(back.metadata());
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(*md, (Metadata{{"retry-after", "5"}}));

  CallTrailers junk;
  EXPECT_EQ(ParsePrefixed("", &junk).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParsePrefixed(std::string("\0\0\0\x09" "abc", 7), &junk).status().code(),
            absl::StatusCode::kDataLoss);
  CallTrailers bad_code;
  bad_code.set_code(17);
  EXPECT_EQ(StatusFrom(bad_code).code(), absl::StatusCode::kDataLoss);
}

TEST(CallWireTest, CancelPayload) {
  absl::Status carried;
  ASSERT_TRUE(
      DecodeCancel(EncodeCancel(absl::DeadlineExceededError("too late")), &carried)
          .ok());
  EXPECT_EQ(carried, absl::DeadlineExceededError("too late"));
  for (const std::string& bad :
       {std::string(), std::string(1, '\0') /* OK is no cancel */,
        std::string(1, '\x11') /* 17 */, "\x01" + std::string(5000, 'x')}) {
    EXPECT_EQ(DecodeCancel(bad, &carried).code(), absl::StatusCode::kDataLoss);
  }
  // A long reason is cut to the REFUSAL limit, at a UTF-8 boundary, when
  // sent; a reason that is not UTF-8 is refused when received.
  EXPECT_EQ(EncodeCancel(absl::CancelledError(std::string(9000, 'x'))).size(),
            1 + 512u);
  EXPECT_EQ(DecodeCancel("\x01\xff", &carried).code(),
            absl::StatusCode::kDataLoss);
}

TEST(CallWireTest, MetadataRules) {
  EXPECT_TRUE(ValidateMetadata({{"a-b_c.1", std::string("\0\xff", 2)}}).ok());
  EXPECT_FALSE(ValidateMetadata({{"", "x"}}).ok());
  EXPECT_FALSE(ValidateMetadata({{"Upper", "x"}}).ok());
  EXPECT_FALSE(ValidateMetadata({{"sp ace", "x"}}).ok());
  EXPECT_FALSE(ValidateMetadata({{std::string(129, 'k'), "x"}}).ok());
  EXPECT_FALSE(ValidateMetadata({{"big", std::string(64 * 1024, 'v')}}).ok());
  google::protobuf::RepeatedPtrField<MetadataEntry> entries;
  entries.Add()->set_key("BAD");
  EXPECT_EQ(FromWire(entries).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace netstructer::rpc
