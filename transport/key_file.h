// Key files: the pre-shared Fernet keys of a client or server, one per line
// (the primary first, older keys after it, for rotation), `#` comments and
// blank lines ignored. Like ssh with private keys, a key file that anyone but
// its owner can read or write is refused.
#ifndef NETSTRUCTER_TRANSPORT_KEY_FILE_H_
#define NETSTRUCTER_TRANSPORT_KEY_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transport/fernet.h"

namespace netstructer::transport {

// Parses the text of a key file. INVALID_ARGUMENT naming the line for a bad
// key (never echoing it) or for a file with no key.
absl::StatusOr<std::vector<FernetKey>> ParseKeyFile(absl::string_view text);

// Reads and parses `path`. NOT_FOUND if it does not exist; PERMISSION_DENIED
// with the fix ("chmod 600 PATH") if its mode grants any access to group or
// others; INVALID_ARGUMENT as ParseKeyFile.
absl::StatusOr<std::vector<FernetKey>> LoadKeyFile(const std::string& path);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_KEY_FILE_H_
