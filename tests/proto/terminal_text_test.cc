#include "netstructer/proto/terminal_text.h"

#include <string>

#include "gtest/gtest.h"

namespace netstructer {
namespace {

TEST(EscapeForTerminal, PrintableTextIsUnchanged) {
  EXPECT_EQ(EscapeForTerminal("frame of 12 bytes: ok"), "frame of 12 bytes: ok");
  EXPECT_EQ(EscapeForTerminal("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x99\x82");
  EXPECT_EQ(EscapeForTerminal(""), "");
}

TEST(EscapeForTerminal, EveryControlIsEscaped) {
  // An escape sequence that would clear the screen, a forged log line.
  EXPECT_EQ(EscapeForTerminal("\x1b[2J\x1b]0;owned\x07"),
            "\\x1b[2J\\x1b]0;owned\\x07");
  EXPECT_EQ(EscapeForTerminal("a\nnetstructer: session ended\r"),
            "a\\x0anetstructer: session ended\\x0d");
  EXPECT_EQ(EscapeForTerminal(std::string("\0\x7f", 2)), "\\x00\\x7f");
  for (int c = 0; c < 0x20; ++c) {
    const std::string escaped = EscapeForTerminal(std::string(1, static_cast<char>(c)));
    EXPECT_EQ(escaped.size(), 4u) << c;
    EXPECT_EQ(escaped.substr(0, 2), "\\x") << c;
  }
  // C1 controls (U+0080-U+009F), among them CSI U+009B.
  EXPECT_EQ(EscapeForTerminal("\xc2\x9b" "31m"), "\\u009b31m");
  EXPECT_EQ(EscapeForTerminal("\xc2\x80\xc2\x9f\xc2\xa0"), "\\u0080\\u009f\xc2\xa0");
}

TEST(EscapeForTerminal, InvalidUtf8AndBackslashesAreUnambiguous) {
  // A raw C1 byte (a terminal in an 8-bit mode reads 0x9b as CSI).
  EXPECT_EQ(EscapeForTerminal("\x9b" "31m"), "\\x9b31m");
  EXPECT_EQ(EscapeForTerminal("\xff\xc3"), "\\xff\\xc3");
  EXPECT_EQ(EscapeForTerminal("\\x1b"), "\\\\x1b");
}

TEST(StatusForTerminal, NamesTheCodeAndEscapesTheMessage) {
  EXPECT_EQ(StatusForTerminal(absl::UnavailableError("bye\n\x1b[1m")),
            "UNAVAILABLE: bye\\x0a\\x1b[1m");
  EXPECT_EQ(StatusForTerminal(absl::OkStatus()), "OK");
}

}  // namespace
}  // namespace netstructer
