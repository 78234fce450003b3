#include "netstructer/tests/testing/python.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "netstructer/tests/testing/subprocess.h"

namespace netstructer::testing {

absl::StatusOr<std::string> RunPython(absl::string_view script,
                                      absl::string_view stdin_bytes) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string script_path =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/script_", getpid(), "_",
                   counter++, ".py");
  {
    std::ofstream out(script_path, std::ios::binary);
    out.write(script.data(), static_cast<std::streamsize>(script.size()));
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", script_path));
  }
  absl::StatusOr<ProcessResult> result =
      RunProcess({"/usr/bin/python3", "-I", script_path}, stdin_bytes);
  std::remove(script_path.c_str());
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat(
        "python3 exited with ", result->exit_code, ": ", result->err));
  }
  return std::move(result->out);
}

}  // namespace netstructer::testing
