// Runs Debian's /usr/bin/python3 (where python3-cryptography, python3-lz4 and
// python3-protobuf live) as an independent peer for interop tests.
#ifndef NETSTRUCTER_TESTS_TESTING_PYTHON_H_
#define NETSTRUCTER_TESTS_TESTING_PYTHON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netstructer::testing {

// Runs `script` with /usr/bin/python3, feeding `stdin_bytes` on standard
// input; returns standard output byte for byte. A non-zero exit status is
// INTERNAL with the exit code and stderr in the message.
absl::StatusOr<std::string> RunPython(absl::string_view script,
                                      absl::string_view stdin_bytes = "");

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_PYTHON_H_
