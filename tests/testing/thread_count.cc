#include "netstructer/tests/testing/thread_count.h"

#include <fstream>
#include <string>

#include "absl/strings/numbers.h"

namespace netstructer::test {

int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) {
      int n = 0;
      return absl::SimpleAtoi(line.substr(8), &n) ? n : -1;
    }
  }
  return -1;
}

}  // namespace netstructer::test
