// Compression never mixes a call's metadata with its message bytes (CRIME,
// docs/SECURITY.md): an attacker who chooses part of a request and sees the
// lengths of the frames on the wire must learn nothing about a metadata value
// (an authorization token) from them. Measured on the wire, through a proxy,
// in insecure mode so that lengths are exact to the byte.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netstructer/client/channel.h"
#include "netstructer/tests/rpc/echo_fixture.h"
#include "netstructer/tests/testing/tcp_proxy.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/frame_header.h"
#include "netstructer/transport/mutex.h"
#include "tests/rpc/echo.ns.h"

namespace netstructer {
namespace {

using test::EchoFixture;
using test::EchoFixtureOptions;
using test::rpc::EchoReply;
using test::rpc::EchoRequest;
using test::rpc::Echo;
using transport::FrameType;

constexpr char kToken[] = "Bearer 7hJq2LmXz9VbR4tK";

// The client's frames as they went on the wire: type, flags and body length.
struct WireFrame {
  FrameType type;
  uint8_t flags;
  size_t length;
};

class Recorder {
 public:
  testing::TcpProxy::FrameRewriter Rewriter() {
    return [this](int, const std::string& frame) {
      // Insecure mode: the body is the inner frame (docs/PROTOCOL.md 3.1).
      absl::StatusOr<transport::FrameHeader> header =
          transport::DecodeFrameHeader(absl::string_view(frame).substr(4));
      if (header.ok()) {
        MutexLock lock(&mu_);
        frames_.push_back({header->type, header->flags, frame.size() - 4});
      }
      return frame;
    };
  }
  std::vector<WireFrame> Take() {
    MutexLock lock(&mu_);
    return std::exchange(frames_, {});
  }

 private:
  Mutex mu_;
  std::vector<WireFrame> frames_ ABSL_GUARDED_BY(mu_);
};

// One Unary call with the token in its metadata and `payload` as the
// request; returns the frames the client sent for it.
std::vector<WireFrame> CallWith(Echo::Stub& stub, Recorder& recorder,
                                const std::string& payload) {
  recorder.Take();
  CallOptions options;
  options.metadata.emplace_back("authorization", kToken);
  EchoRequest request;
  request.set_payload(payload);
  absl::StatusOr<EchoReply> reply = stub.Unary(request, options);
  EXPECT_TRUE(reply.ok()) << reply.status();
  if (reply.ok()) EXPECT_EQ(reply->payload(), payload);
  return recorder.Take();
}

// A request that repeats an attacker's guess of the token.
std::string Guess(absl::string_view token_guess) {
  std::string out;
  while (out.size() < 8192) absl::StrAppend(&out, "authorization: ", token_guess, ";");
  return out;
}

TEST(CompressionSecretsTest, AHeadersFrameLengthDoesNotDependOnTheRequest) {
  EchoFixtureOptions options;
  options.secure = false;
  EchoFixture f(options);
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<testing::TcpProxy>> proxy =
      testing::TcpProxy::Start(f.server().address(), recorder.Rewriter());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ChannelOptions channel_options;
  channel_options.link.insecure = true;
  absl::StatusOr<std::shared_ptr<Channel>> channel =
      Channel::Create((*proxy)->address(), channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  Echo::Stub stub(*channel);

  // The wrong guess has the token's form (same length, no repeated
  // substring of 4 bytes, none shared with the token), so both requests
  // compress alike on their own; only a match against the metadata could
  // tell them apart.
  const std::string wrong = "Bearer Qw8Np3Yc5Gd6Fs1A";
  ASSERT_EQ(wrong.size(), std::string(kToken).size());
  const std::vector<WireFrame> right_guess = CallWith(stub, recorder, Guess(kToken));
  const std::vector<WireFrame> wrong_guess = CallWith(stub, recorder, Guess(wrong));
  auto headers_of = [](const std::vector<WireFrame>& frames) -> const WireFrame* {
    for (const WireFrame& f : frames) {
      if (f.type == FrameType::kHeaders) return &f;
    }
    return nullptr;
  };
  const WireFrame* right = headers_of(right_guess);
  const WireFrame* other = headers_of(wrong_guess);
  ASSERT_NE(right, nullptr);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(right->length, other->length);
  EXPECT_EQ(right->flags & transport::kFlagCompressed, 0);
  // Every frame of the two calls has the same length, one for one: nothing
  // on the wire tells the right guess from the wrong one.
  ASSERT_EQ(right_guess.size(), wrong_guess.size());
  for (size_t i = 0; i < right_guess.size(); ++i) {
    EXPECT_EQ(right_guess[i].type, wrong_guess[i].type) << i;
    EXPECT_EQ(right_guess[i].length, wrong_guess[i].length) << i;
  }
  // The message itself is still compressed, in DATA frames of its own.
  size_t data_bytes = 0;
  bool compressed = false;
  for (const WireFrame& f : right_guess) {
    if (f.type != FrameType::kData) continue;
    data_bytes += f.length;
    compressed = compressed || (f.flags & transport::kFlagCompressed) != 0;
  }
  EXPECT_TRUE(compressed);
  EXPECT_LT(data_bytes, 2048u);
}

}  // namespace
}  // namespace netstructer
