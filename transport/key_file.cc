#include "transport/key_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace netstructer::transport {

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
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("key file ", path, " not found"));
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot read key file ", path, ": ", std::strerror(err)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "key file %s is accessible by others (mode %04o); a pre-shared key "
        "must be private: run `chmod 600 %s`",
        path, st.st_mode & 07777, path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read key file ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<std::vector<FernetKey>> keys = ParseKeyFile(ss.str());
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", keys.status().message()));
  }
  return keys;
}

}  // namespace netstructer::transport
