// Runs a program to completion for tests: feeds stdin, captures stdout and
// stderr byte for byte, returns the exit code.
#ifndef NETSTRUCTER_TESTS_TESTING_SUBPROCESS_H_
#define NETSTRUCTER_TESTS_TESTING_SUBPROCESS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netstructer::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal number if killed by a signal.
  std::string out;
  std::string err;
};

// INTERNAL only if the process could not be started or waited for.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         absl::string_view stdin_bytes = "");

// A path inside the test's runfiles (`TEST_SRCDIR/TEST_WORKSPACE/path`).
std::string RunfilePath(absl::string_view workspace_relative_path);

}  // namespace netstructer::testing

#endif  // NETSTRUCTER_TESTS_TESTING_SUBPROCESS_H_
