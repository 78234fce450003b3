// Replays a fuzz target's seed corpus as an ordinary test: every file under
// the directories (or files) named on the command line is passed once to
// LLVMFuzzerTestOneInput. Paths are relative to the test's runfiles root.
// Fails when no input was found, so an empty or misplaced corpus is visible.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::filesystem::path Resolve(const std::string& arg) {
  std::filesystem::path p(arg);
  if (std::filesystem::exists(p)) return p;
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir != nullptr && workspace != nullptr) {
    return std::filesystem::path(srcdir) / workspace / arg;
  }
  return p;
}

int RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 0;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;  // libFuzzer-style flags are ignored.
    std::filesystem::path root = Resolve(argv[i]);
    if (std::filesystem::is_directory(root)) {
      for (const auto& entry :
           std::filesystem::recursive_directory_iterator(root)) {
        if (entry.is_regular_file()) runs += RunFile(entry.path());
      }
    } else if (std::filesystem::is_regular_file(root)) {
      runs += RunFile(root);
    }
  }
  std::printf("replayed %d input(s)\n", runs);
  if (runs == 0) {
    std::fprintf(stderr, "no corpus inputs found\n");
    return 1;
  }
  return 0;
}
