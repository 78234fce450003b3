#include "netstructer/tools/load/process_stats.h"

#include <malloc.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace netstructer::load {

absl::StatusOr<ProcessSample> ReadProcessSample(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  ProcessSample sample;
  bool rss = false;
  bool threads = false;
  // Lines "VmRSS:\t   1234 kB" and "Threads:\t7".
  for (std::string line; std::getline(in, line);) {
    absl::string_view v = line;
    int64_t* field = nullptr;
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      field = &sample.rss_kib;
      rss = absl::ConsumeSuffix(&v, "kB");
    } else if (absl::ConsumePrefix(&v, "Threads:")) {
      field = &sample.threads;
      threads = true;
    } else {
      continue;
    }
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(v), field)) {
      return absl::InternalError(
          absl::StrCat("unexpected line in ", path, ": ", line));
    }
  }
  if (!rss || !threads) {
    return absl::InternalError(
        absl::StrCat(path, " has no VmRSS (kB) or no Threads"));
  }
  return sample;
}

HeapSample ReadOwnHeap() {
  const struct mallinfo2 m = mallinfo2();
  HeapSample h;
  h.in_use_kib = static_cast<int64_t>((m.uordblks + m.hblkhd) / 1024);
  h.free_kib = static_cast<int64_t>(m.fordblks / 1024);
  return h;
}

absl::Status RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit: ", strerror(errno)));
  }
  if (limit.rlim_cur == limit.rlim_max) return absl::OkStatus();
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("setrlimit: ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace netstructer::load
