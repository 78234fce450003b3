#include "netstructer/transport/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace netstructer::transport {
namespace {

// A key file holds a few keys and comments; 1 MiB is far beyond any real one
// and keeps a wrong path (a log, a device) from being read whole.
constexpr off_t kMaxKeyFileBytes = off_t{1} << 20;

}  // namespace

absl::StatusOr<std::vector<FernetKey>> ParseKeyFile(absl::string_view text) {
  std::vector<FernetKey> keys;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    absl::StatusOr<FernetKey> key = FernetKey::Parse(line);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, " of the key file: ", key.status().message()));
    }
    keys.push_back(*key);
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "the key file holds no key (make one with `netstructer keygen`)");
  }
  return keys;
}

absl::StatusOr<std::vector<FernetKey>> LoadKeyFile(const std::string& path) {
  return LoadKeyFileOwnedBy(path, geteuid());
}

absl::StatusOr<std::vector<FernetKey>> LoadKeyFileOwnedBy(const std::string& path,
                                                          uid_t owner) {
  // Open first, then check what was opened (fstat): checking the path and
  // opening it after would let the file change in between. O_NONBLOCK: a
  // FIFO in its place must not block the open; it is refused below.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("key file ", path, " not found"));
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot read key file ", path, ": ", std::strerror(err)));
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot read key file ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::PermissionDeniedError(
        absl::StrCat("key file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "key file %s is accessible by others (mode %04o); a pre-shared key "
        "must be private: run `chmod 600 %s`",
        path, st.st_mode & 07777, path));
  }
  // Another user's file (even mode 600, readable here because we are root)
  // is theirs to change: a key must belong to whoever relies on it.
  if (st.st_uid != owner) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "key file %s belongs to uid %d, not to this process's uid %d; a "
        "pre-shared key must be owned by its user: run `chown %d %s`",
        path, st.st_uid, owner, owner, path));
  }
  if (st.st_size > kMaxKeyFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", path, " has ", st.st_size, " bytes; a key file has at most ",
        kMaxKeyFileBytes));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot read key file ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > static_cast<size_t>(kMaxKeyFileBytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("key file ", path, " grew past ", kMaxKeyFileBytes,
                       " bytes while being read"));
    }
  }
  absl::StatusOr<std::vector<FernetKey>> keys = ParseKeyFile(text);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", keys.status().message()));
  }
  return keys;
}

}  // namespace netstructer::transport
