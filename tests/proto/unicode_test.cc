// UTF-8 and printability helpers (proto/unicode.h).
#include "netstructer/proto/unicode.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace netstructer::unicode {
namespace {

TEST(Utf8, DecodesEachSequenceLength) {
  const std::string text = "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  const std::vector<char32_t> expected = {0x41, 0xE9, 0x20AC, 0x1F600};
  size_t pos = 0;
  for (char32_t want : expected) {
    char32_t cp = 0;
    ASSERT_TRUE(DecodeUtf8(text, &pos, &cp));
    EXPECT_EQ(cp, want);
  }
  EXPECT_EQ(pos, text.size());
}

TEST(Utf8, RejectsMalformedSequencesAtTheirFirstByte) {
  const std::vector<std::pair<std::string, size_t>> cases = {
      {"\x80", 0},              // Lone continuation byte.
      {"a\xc3", 1},             // Truncated.
      {"ab\xe2\x82", 2},        // Truncated.
      {"\xc0\x80", 0},          // Overlong NUL.
      {"\xc1\xbf", 0},          // Overlong.
      {"\xe0\x80\xaf", 0},      // Overlong.
      {"\xf0\x80\x80\xaf", 0},  // Overlong.
      {"\xed\xa0\x80", 0},      // Surrogate U+D800.
      {"\xed\xbf\xbf", 0},      // Surrogate U+DFFF.
      {"\xf4\x90\x80\x80", 0},  // U+110000.
      {"\xf5\x80\x80\x80", 0},  // Never valid.
      {"\xff", 0},
      {"ok\xc3\x28", 2},  // Bad continuation.
  };
  for (const auto& [text, offset] : cases) {
    EXPECT_EQ(FindInvalidUtf8(text), offset) << text.size();
  }
  EXPECT_EQ(FindInvalidUtf8("\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf"),
            absl::string_view::npos);  // U+D7FF, U+E000, U+10FFFF.
}

TEST(Utf8, EncodeDecodeRoundTripForEveryScalarValue) {
  for (char32_t cp = 0; cp <= kMaxCodePoint; ++cp) {
    if (IsSurrogate(cp)) continue;
    std::string text;
    AppendUtf8(cp, &text);
    size_t pos = 0;
    char32_t decoded = 0;
    ASSERT_TRUE(DecodeUtf8(text, &pos, &decoded)) << cp;
    ASSERT_EQ(decoded, cp);
    ASSERT_EQ(pos, text.size());
  }
}

TEST(IsPrintable, AsciiLatin1AndKnownCases) {
  EXPECT_TRUE(IsPrintable(' '));
  EXPECT_TRUE(IsPrintable('~'));
  EXPECT_FALSE(IsPrintable('\n'));
  EXPECT_FALSE(IsPrintable(0x7F));
  EXPECT_FALSE(IsPrintable(0x85));  // C1 control.
  EXPECT_FALSE(IsPrintable(0xA0));  // NO-BREAK SPACE (Zs).
  EXPECT_TRUE(IsPrintable(0xA1));
  EXPECT_FALSE(IsPrintable(0xAD));  // SOFT HYPHEN (Cf).
  EXPECT_TRUE(IsPrintable(0xE9));
  EXPECT_FALSE(IsPrintable(0x2028));  // LINE SEPARATOR (Zl).
  EXPECT_FALSE(IsPrintable(0xFEFF));  // BOM (Cf).
  EXPECT_FALSE(IsPrintable(0xE000));  // Private use (Co).
  EXPECT_TRUE(IsPrintable(0x1F600));
  EXPECT_FALSE(IsPrintable(0x10FFFF));
  EXPECT_FALSE(IsPrintable(0x110000));
}

}  // namespace
}  // namespace netstructer::unicode
