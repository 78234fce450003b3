#include "netstructer/transport/key_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace netstructer::transport {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKeyA[] = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
constexpr char kKeyB[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

std::string Write(const std::string& name, const std::string& text,
                  mode_t mode) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

TEST(KeyFile, PrimaryFirstCommentsAndBlankLinesIgnored) {
  absl::StatusOr<std::vector<FernetKey>> keys = ParseKeyFile(
      absl::StrCat("# rotated 2026-11-27\n\n  ", kKeyA, "  \n", kKeyB, "\n"));
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].Encode(), kKeyA);
  EXPECT_EQ((*keys)[1].Encode(), kKeyB);
}

TEST(KeyFile, NoKeyIsInvalidArgument) {
  EXPECT_EQ(ParseKeyFile("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKeyFile("# only a comment\n\n").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KeyFile, BadLineIsNamedButNotEchoed) {
  const std::string secretish = "c2VjcmV0LWJ1dC1ub3QtYS12YWxpZC1rZXktYXQtYWxs";
  absl::StatusOr<std::vector<FernetKey>> keys =
      ParseKeyFile(absl::StrCat(kKeyA, "\n", secretish, "\n"));
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(keys.status().message()), HasSubstr("line 2"));
  EXPECT_THAT(std::string(keys.status().message()), Not(HasSubstr(secretish)));
}

TEST(KeyFile, PrivateFileLoads) {
  const std::string path = Write("private.key", absl::StrCat(kKeyA, "\n"), 0600);
  absl::StatusOr<std::vector<FernetKey>> keys = LoadKeyFile(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->front().Encode(), kKeyA);
  EXPECT_TRUE(LoadKeyFile(Write("owner_only.key", kKeyA, 0400)).ok());
}

TEST(KeyFile, FileOthersCanAccessIsPermissionDeniedWithTheFix) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602, 0610}) {
    const std::string path =
        Write(absl::StrCat("open_", mode, ".key"), kKeyA, mode);
    absl::StatusOr<std::vector<FernetKey>> keys = LoadKeyFile(path);
    EXPECT_EQ(keys.status().code(), absl::StatusCode::kPermissionDenied)
        << std::oct << mode;
    EXPECT_THAT(std::string(keys.status().message()),
                HasSubstr(absl::StrCat("chmod 600 ", path)));
    EXPECT_THAT(std::string(keys.status().message()), Not(HasSubstr(kKeyA)));
  }
}

// The file is checked as opened, not by its path before opening it: a FIFO
// (mode 600, so a path check passes) would have blocked the read forever; a
// directory is refused too.
TEST(KeyFile, SomethingOtherThanARegularFileIsRefusedWithoutBlocking) {
  const std::string fifo = absl::StrCat(std::getenv("TEST_TMPDIR"), "/fifo.key");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  absl::StatusOr<std::vector<FernetKey>> keys = LoadKeyFile(fifo);
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(keys.status().message()), HasSubstr("not a regular file"));
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/dir.key");
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  EXPECT_THAT(std::string(LoadKeyFile(dir).status().message()),
              HasSubstr("not a regular file"));
}

// Another user's key file (readable only because the reader is root) is
// refused with the fix. The file is ours: the reader is told to expect
// another uid (the sandbox maps no other uid to chown it to).
TEST(KeyFile, AFileOfAnotherUserIsPermissionDeniedWithTheFix) {
  const std::string path = Write("other_user.key", kKeyA, 0600);
  const uid_t other = geteuid() + 1;
  absl::StatusOr<std::vector<FernetKey>> keys = LoadKeyFileOwnedBy(path, other);
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(keys.status().message()),
              HasSubstr(absl::StrCat("belongs to uid ", geteuid())));
  EXPECT_THAT(std::string(keys.status().message()),
              HasSubstr(absl::StrCat("chown ", other, " ", path)));
  EXPECT_TRUE(LoadKeyFileOwnedBy(path, geteuid()).ok());
}

TEST(KeyFile, MissingFileIsNotFound) {
  EXPECT_EQ(LoadKeyFile("/nonexistent/netstructer.key").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace netstructer::transport
