// The sending half of the stream machinery (OutgoingMessage, SendWindow),
// checked against its receiving half (MessageAssembler): every cut it makes
// reassembles to the message it was given.
#include "netstructer/transport/outgoing_message.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "netstructer/transport/frame_format.h"
#include "netstructer/transport/message_assembler.h"
#include "netstructer/transport/send_window.h"

namespace netstructer::transport {
namespace {

constexpr uint8_t kKind = 2;

std::string Header(uint64_t size) {
  std::string h(kMessageHeaderBytes, '\0');
  big_endian::Store64(size, h.data());
  h[8] = static_cast<char>(kKind);
  return h;
}

// Cuts the whole message into fragments of `budget`.
std::vector<std::string> Cut(OutgoingMessage& m, size_t budget) {
  std::vector<std::string> fragments;
  while (!m.done()) {
    std::string scratch;
    const size_t n = m.NextSize(budget);
    fragments.emplace_back(m.Take(n, &scratch));
    EXPECT_EQ(fragments.back().size(), n);
  }
  return fragments;
}

TEST(OutgoingMessage, FragmentsJoinToTheHeaderAndBothPartsOfTheBody) {
  const std::string prefix("\x00\x05" "hello", 7);
  const std::string rest(1000, 'r');
  for (size_t budget : {1u, 9u, 10u, 64u, 333u, 1009u, 5000u}) {
    OutgoingMessage m(kKind, prefix, rest);
    EXPECT_EQ(m.size(), 9 + prefix.size() + rest.size());
    EXPECT_EQ(m.body_size(), prefix.size() + rest.size());
    std::vector<std::string> fragments = Cut(m, budget);
    std::string joined;
    for (const std::string& f : fragments) joined += f;
    EXPECT_EQ(joined, Header(prefix.size() + rest.size()) + prefix + rest)
        << "budget " << budget;
    // The first holds the whole header (PROTOCOL.md 8.1); every other
    // fragment is within the budget.
    ASSERT_FALSE(fragments.empty());
    EXPECT_GE(fragments[0].size(), kMessageHeaderBytes);
    for (size_t i = 1; i < fragments.size(); ++i) {
      EXPECT_LE(fragments[i].size(), budget) << "budget " << budget;
      EXPECT_GT(fragments[i].size(), 0u);
    }
  }
}

TEST(OutgoingMessage, FragmentsInsideOnePartAreViewsOfTheCallersBytes) {
  const std::string prefix(100, 'p');
  const std::string rest(300, 'r');
  OutgoingMessage m(kKind, prefix, rest);
  std::string scratch;
  // Header and the start of the prefix: joined, so copied into scratch.
  absl::string_view first = m.Take(50, &scratch);
  EXPECT_EQ(first.data(), scratch.data());
  // Inside the prefix: a view of it.
  scratch.clear();
  absl::string_view in_prefix = m.Take(50, &scratch);
  EXPECT_TRUE(scratch.empty());
  EXPECT_EQ(in_prefix.data(), prefix.data() + 41);
  // Across the prefix's end into the rest: copied.
  absl::string_view across = m.Take(20, &scratch);
  EXPECT_EQ(across, std::string(9, 'p') + std::string(11, 'r'));
  // Inside the rest: a view of it.
  scratch.clear();
  absl::string_view in_rest = m.Take(1000, &scratch);
  EXPECT_TRUE(scratch.empty());
  EXPECT_EQ(in_rest.data(), rest.data() + 11);
  EXPECT_EQ(in_rest.size(), 289u);  // No more than is left.
  EXPECT_TRUE(m.done());
}

TEST(OutgoingMessage, BytesGoAfterWhatTheCallerPutFirst) {
  const std::string rest = "body";
  OutgoingMessage m(kKind, "", rest);
  std::string frame = "HEADERS-PREFIX";
  absl::string_view payload = m.Take(m.NextSize(100), &frame);
  EXPECT_EQ(payload, "HEADERS-PREFIX" + Header(4) + "body");
  EXPECT_EQ(payload.data(), frame.data());
  // A caller's prefix with no message bytes: the prefix alone.
  OutgoingMessage none;
  std::string trailers = "TRAILERS";
  EXPECT_EQ(none.Take(0, &trailers), "TRAILERS");
}

TEST(OutgoingMessage, NoMessageIsDoneAtOnce) {
  OutgoingMessage none;
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.body_size(), 0u);
  EXPECT_TRUE(none.done());
  EXPECT_EQ(none.NextSize(100), 0u);
  std::string scratch;
  EXPECT_TRUE(none.Take(0, &scratch).empty());
  EXPECT_TRUE(scratch.empty());
}

TEST(OutgoingMessage, AnEmptyBodyIsItsHeaderAlone) {
  OutgoingMessage m(kKind, "", "");
  EXPECT_EQ(m.NextSize(1), kMessageHeaderBytes);
  std::string scratch;
  EXPECT_EQ(m.Take(kMessageHeaderBytes, &scratch), Header(0));
  EXPECT_TRUE(m.done());
}

// A sender that stopped for credit keeps only sent() and goes on with a new
// OutgoingMessage over the same bytes (CallStream::SendWithoutWaiting).
TEST(OutgoingMessage, ResumesFromWhereItStopped) {
  const std::string rest(777, 'x');
  for (size_t stop_after : {0u, 1u, 3u, 7u}) {
    std::string joined;
    uint64_t sent = 0;
    {
      OutgoingMessage m(kKind, "", rest);
      for (size_t i = 0; i < stop_after && !m.done(); ++i) {
        std::string scratch;
        joined += std::string(m.Take(m.NextSize(100), &scratch));
      }
      sent = m.sent();
    }
    OutgoingMessage resumed(kKind, "", rest);
    resumed.ResumeAt(sent);
    EXPECT_EQ(resumed.sent(), sent);
    for (const std::string& f : Cut(resumed, 100)) joined += f;
    EXPECT_EQ(joined, Header(rest.size()) + rest) << "stopped after " << stop_after;
  }
}

// What the sender cuts, the receiver's machinery reassembles: END_MESSAGE
// on the last fragment only, the sizes adding up to 9 + B.
TEST(OutgoingMessage, TheAssemblerReassemblesEveryCut) {
  AssemblerOptions options;
  options.kind_mask = uint32_t{1} << kKind;
  const std::string prefix("\x00\x03" "abc", 5);
  std::string rest;
  for (int i = 0; i < 5000; ++i) rest.push_back(static_cast<char>(i * 7));
  for (size_t budget : {1u, 16u, 100u, 4096u, 1u << 20}) {
    MessageAssembler assembler(options);
    OutgoingMessage m(kKind, prefix, rest);
    MessageAssembler::Result r{MessageAssembler::Outcome::kIncomplete, {}};
    while (!m.done()) {
      std::string scratch;
      absl::string_view bytes = m.Take(m.NextSize(budget), &scratch);
      r = assembler.Feed(bytes, m.done());
      if (!m.done()) {
        ASSERT_EQ(r.outcome, MessageAssembler::Outcome::kIncomplete) << r.status;
      }
    }
    ASSERT_EQ(r.outcome, MessageAssembler::Outcome::kComplete) << r.status;
    AssembledMessage out = assembler.Take();
    EXPECT_EQ(out.kind, kKind);
    EXPECT_EQ(out.memory, prefix + rest) << "budget " << budget;
  }
}

TEST(SendWindow, CreditIsTakenAndGranted) {
  SendWindow w(1000);
  EXPECT_TRUE(w.Allows(1000));
  EXPECT_FALSE(w.Allows(1001));
  w.Take(600);
  EXPECT_EQ(w.credit(), 400);
  EXPECT_FALSE(w.Allows(401));
  EXPECT_TRUE(w.Grant(601));
  EXPECT_TRUE(w.Allows(1001));
}

TEST(SendWindow, ABadIncrementIsRefusedAndChangesNothing) {
  SendWindow w(1000);
  EXPECT_FALSE(w.Grant(0));
  EXPECT_FALSE(w.Grant(0x80000000u));  // Above 2^31 - 1 on its own.
  EXPECT_FALSE(w.Grant(kMaxWindowIncrement - 999));  // 2^31 in all.
  EXPECT_EQ(w.credit(), 1000);
  EXPECT_TRUE(w.Grant(kMaxWindowIncrement - 1000));  // Exactly 2^31 - 1.
  EXPECT_EQ(w.credit(), int64_t{kMaxWindowIncrement});
}

}  // namespace
}  // namespace netstructer::transport
