#include "netstructer/transport/message_assembler.h"

#include <string>

#include "gtest/gtest.h"
#include "netstructer/transport/frame_format.h"

namespace netstructer::transport {
namespace {

using Outcome = MessageAssembler::Outcome;

constexpr uint8_t kKind = 3;

std::string Header(uint64_t size, uint8_t kind = kKind) {
  std::string h(kMessageHeaderBytes, '\0');
  big_endian::Store64(size, h.data());
  h[8] = static_cast<char>(kind);
  return h;
}

AssemblerOptions Options() {
  AssemblerOptions o;
  o.kind_mask = uint32_t{1} << kKind;
  o.max_message_bytes = 100;
  return o;
}

TEST(MessageAssembler, AMessageInOneFrame) {
  MessageAssembler a(Options());
  auto r = a.Feed(Header(5) + "hello", true);
  ASSERT_EQ(r.outcome, Outcome::kComplete) << r.status;
  AssembledMessage m = a.Take();
  EXPECT_EQ(m.kind, kKind);
  EXPECT_EQ(m.size, 5u);
  EXPECT_EQ(m.memory, "hello");
  EXPECT_FALSE(a.active());
}

TEST(MessageAssembler, AMessageOverSeveralFramesThenTheNext) {
  MessageAssembler a(Options());
  EXPECT_EQ(a.Feed(Header(6) + "ab", false).outcome, Outcome::kIncomplete);
  EXPECT_TRUE(a.active());
  EXPECT_EQ(a.Feed("", false).outcome, Outcome::kIncomplete);
  EXPECT_EQ(a.Feed("cd", false).outcome, Outcome::kIncomplete);
  ASSERT_EQ(a.Feed("ef", true).outcome, Outcome::kComplete);
  EXPECT_EQ(a.Take().memory, "abcdef");
  ASSERT_EQ(a.Feed(Header(0), true).outcome, Outcome::kComplete);
  EXPECT_EQ(a.Take().size, 0u);
}

// Corruption cases: each is the peer's protocol error, DATA_LOSS.
TEST(MessageAssembler, MalformedInputIsThePeersError) {
  struct Case {
    const char* what;
    std::string first;
    bool first_ends;
    std::string second;  // Fed after `first` when not empty.
  };
  const Case cases[] = {
      {"short header", std::string(8, '\0'), true, ""},
      {"unknown kind", Header(1, 2) + "x", true, ""},
      {"kind 200", Header(1, 200) + "x", true, ""},
      {"longer than B", Header(2) + "abc", true, ""},
      {"longer in a later frame", Header(2) + "a", false, "bc"},
      {"shorter than B", Header(3) + "ab", true, ""},
  };
  for (const Case& c : cases) {
    MessageAssembler a(Options());
    MessageAssembler::Result r = a.Feed(c.first, c.first_ends);
    if (!c.second.empty()) {
      ASSERT_EQ(r.outcome, Outcome::kIncomplete) << c.what;
      r = a.Feed(c.second, true);
    }
    EXPECT_EQ(r.outcome, Outcome::kPeerError) << c.what;
    EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << c.what;
    EXPECT_FALSE(a.active()) << c.what;
  }
}

TEST(MessageAssembler, UnknownKindNamesTheStream) {
  AssemblerOptions o = Options();
  o.stream_name = " on a call stream";
  MessageAssembler a(o);
  EXPECT_EQ(a.Feed(Header(1, 1) + "x", true).status.message(),
            "unknown message kind on a call stream");
}

TEST(MessageAssembler, OverTheLimitIsRefusedAtItsHeader) {
  MessageAssembler a(Options());
  MessageAssembler::Result r = a.Feed(Header(101) + "x", false);
  EXPECT_EQ(r.outcome, Outcome::kTooLarge);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.status.message(),
            "message of 101 bytes exceeds max_message_bytes 100");
}

TEST(MessageAssembler, OverTheLimitIsDiscardedToItsEndWhenAsked) {
  AssemblerOptions o = Options();
  o.discard_oversized = true;
  MessageAssembler a(o);
  EXPECT_EQ(a.Feed(Header(150) + std::string(100, 'x'), false).outcome,
            Outcome::kIncomplete);
  ASSERT_EQ(a.Feed(std::string(50, 'y'), true).outcome, Outcome::kComplete);
  AssembledMessage m = a.Take();
  EXPECT_EQ(m.size, 150u);
  EXPECT_TRUE(m.memory.empty());  // Not kept.
  EXPECT_EQ(m.discarded.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(m.discarded.message(),
            "message of 150 bytes exceeds max_message_bytes 100; it was "
            "discarded");
  // The stream goes on.
  ASSERT_EQ(a.Feed(Header(2) + "ok", true).outcome, Outcome::kComplete);
  EXPECT_EQ(a.Take().memory, "ok");
}

TEST(MessageAssembler, AMessageOverTheThresholdGoesToAFile) {
  AssemblerOptions o = Options();
  o.memory_threshold_bytes = 4;
  MessageAssembler a(o);
  EXPECT_EQ(a.Feed(Header(10) + "01234", false).outcome, Outcome::kIncomplete);
  ASSERT_EQ(a.Feed("56789", true).outcome, Outcome::kComplete);
  AssembledMessage m = a.Take();
  ASSERT_TRUE(m.file.has_value());
  EXPECT_TRUE(m.memory.empty());
  absl::StatusOr<std::string> body = m.file->Read(0, 10);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "0123456789");
  // At the threshold it stays in memory.
  ASSERT_EQ(a.Feed(Header(4) + "abcd", true).outcome, Outcome::kComplete);
  EXPECT_FALSE(a.Take().file.has_value());
}

TEST(MessageAssembler, AFileThatCannotBeMadeIsALocalError) {
  AssemblerOptions o = Options();
  o.memory_threshold_bytes = 4;
  o.spill_directory = "/nonexistent-netstructer-dir";
  MessageAssembler a(o);
  MessageAssembler::Result r = a.Feed(Header(10) + "01234", false);
  EXPECT_EQ(r.outcome, Outcome::kStorageError);
  EXPECT_FALSE(r.status.ok());
  EXPECT_FALSE(a.active());
}

}  // namespace
}  // namespace netstructer::transport
