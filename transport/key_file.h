// Key files: the pre-shared Fernet keys of a client or server, one per line
// (the primary first, older keys after it, for rotation), `#` comments and
// blank lines ignored. Like ssh with private keys, a key file that anyone but
// its owner can read or write is refused.
#ifndef NETSTRUCTER_TRANSPORT_KEY_FILE_H_
#define NETSTRUCTER_TRANSPORT_KEY_FILE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "netstructer/transport/fernet.h"

namespace netstructer::transport {

// Parses the text of a key file. INVALID_ARGUMENT naming the line for a bad
// key (never echoing it) or for a file with no key.
absl::StatusOr<std::vector<FernetKey>> ParseKeyFile(absl::string_view text);

// Reads and parses `path`, checking what it opened (fstat on the opened
// descriptor, so the file cannot change between check and read). NOT_FOUND
// if it does not exist; PERMISSION_DENIED with the fix if it is not a
// regular file, if its mode grants any access to group or others ("chmod
// 600 PATH"), or if it belongs to another user than this process's
// effective one ("chown UID PATH"); INVALID_ARGUMENT as ParseKeyFile, or
// for a file over 1 MiB.
absl::StatusOr<std::vector<FernetKey>> LoadKeyFile(const std::string& path);

// LoadKeyFile requiring `owner` instead of the effective uid (tests: the
// sandbox maps no other uid a file could be given to).
absl::StatusOr<std::vector<FernetKey>> LoadKeyFileOwnedBy(const std::string& path,
                                                          uid_t owner);

}  // namespace netstructer::transport

#endif  // NETSTRUCTER_TRANSPORT_KEY_FILE_H_
