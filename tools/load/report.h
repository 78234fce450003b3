// A load run's figures and its verdict, printed as one JSON line
// (README.md lists the fields).
#ifndef NETSTRUCTER_TOOLS_LOAD_REPORT_H_
#define NETSTRUCTER_TOOLS_LOAD_REPORT_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "netstructer/tools/load/counters.h"
#include "netstructer/tools/load/rss_verdict.h"
#include "tools/load/load.pb.h"

namespace netstructer::load {

// One process's side. Value type.
struct ProcessReport {
  std::vector<int64_t> rss_kib;  // Sample k: k seconds into the window.
  // malloc's view at the same instants (process_stats.h HeapSample).
  std::vector<int64_t> heap_in_use_kib;
  std::vector<int64_t> heap_free_kib;
  int64_t threads_max = 0;
  double cpu_s = 0;  // Over the window.
  RssVerdict rss;
  // The same judgement of heap_in_use_kib: informative (a leak shows here
  // first), not part of Passed().
  RssVerdict heap;
};

// Value type.
struct LoadReport {
  std::string security;
  int connections = 0;
  std::array<int, kKinds> mix{};  // Connections per kind.
  int threads = 0;
  int unary_in_flight = 0;
  double seconds = 0;
  double warmup_seconds = 0;
  double rss_tolerance = 0;
  double setup_s = 0;  // Linking every connection.
  double drain_s = 0;  // From the end of the window to the last response.
  Tally window;        // At the end of the window: the rates.
  Tally total;         // After the drain: the counts.
  std::vector<uint64_t> calls_per_second;
  std::vector<std::string> failures;  // The first few, client side.
  // The server's counters after the drain, and whether they agree with
  // the client's (`disagreement` says where, else empty).
  ::load::StatsReply server_stats;
  uint64_t server_sessions_at_start = 0;
  std::string disagreement;
  std::string server_exit;  // "ok" or why not.
  ProcessReport server;
  ProcessReport client;
  bool timed_out = false;
  // Non-empty: the run could not complete (linking, sampling, the hard
  // limit); what it says.
  std::string run_error;

  // Zero errors and mismatches on both sides, counts that agree, a clean
  // server exit, neither RSS series growing, no time-out.
  bool Passed() const;
};

// `{"tool":"netstructer-load",...}`, without a newline.
std::string ToJsonLine(const LoadReport& report);

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_REPORT_H_
