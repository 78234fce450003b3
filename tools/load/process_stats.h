// What the load test reads of a process: resident memory and threads from
// /proc/PID/status, sampled once a second; and the descriptor limit both
// processes raise (each connection costs the client a socket and its
// Bridge's event loop descriptors; the server a socket).
#ifndef NETSTRUCTER_TOOLS_LOAD_PROCESS_STATS_H_
#define NETSTRUCTER_TOOLS_LOAD_PROCESS_STATS_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace netstructer::load {

// One reading of /proc/PID/status. Value type.
struct ProcessSample {
  int64_t rss_kib = 0;  // VmRSS
  int64_t threads = 0;  // Threads
};

// NOT_FOUND once the process is gone; INTERNAL if a field is missing.
absl::StatusOr<ProcessSample> ReadProcessSample(pid_t pid);

// This process's malloc heap (glibc mallinfo2, every arena), KiB: what the
// program holds, and what malloc holds free. In-use flat while RSS grows
// means the allocator's high-water mark or fragmentation, not a leak.
// Value type.
struct HeapSample {
  int64_t in_use_kib = 0;
  int64_t free_kib = 0;
};
HeapSample ReadOwnHeap();

// Raises RLIMIT_NOFILE's soft limit to its hard limit.
absl::Status RaiseOpenFileLimit();

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_PROCESS_STATS_H_
