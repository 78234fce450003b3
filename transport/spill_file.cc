#include "netstructer/transport/spill_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

namespace netstructer::transport {

absl::StatusOr<SpillFile> SpillFile::Create(const std::string& directory) {
  std::string dir = directory;
  if (dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string path = absl::StrCat(dir, "/netstructer-spill-XXXXXX");
    std::vector<char> buf(path.begin(), path.end());
    buf.push_back('\0');
    fd = mkostemp(buf.data(), O_CLOEXEC);
    if (fd >= 0) unlink(buf.data());
  }
  if (fd < 0) {
    const int err = errno;
    return ErrnoStatus(err == ENOSPC || err == EMFILE || err == ENFILE
                           ? absl::StatusCode::kResourceExhausted
                           : absl::StatusCode::kUnavailable,
                       err,
                       absl::StrCat("cannot create a temporary file in ", dir));
  }
  return SpillFile(Socket(fd));
}

absl::Status SpillFile::Append(absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = pwrite(file_.fd(), bytes.data(), bytes.size(),
                             static_cast<off_t>(size_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno == ENOSPC || errno == EDQUOT
                             ? absl::StatusCode::kResourceExhausted
                             : absl::StatusCode::kUnavailable,
                         errno, "writing a temporary file");
    }
    size_ += static_cast<uint64_t>(n);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SpillFile::Read(uint64_t offset,
                                            size_t length) const {
  if (offset > size_ || length > size_ - offset) {
    return absl::OutOfRangeError("read past the end of a temporary file");
  }
  std::string out(length, '\0');
  size_t done = 0;
  while (done < length) {
    const ssize_t n = pread(file_.fd(), out.data() + done, length - done,
                            static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return ErrnoStatus(absl::StatusCode::kDataLoss, n < 0 ? errno : EIO,
                         "reading a temporary file");
    }
    done += static_cast<size_t>(n);
  }
  return out;
}

}  // namespace netstructer::transport
