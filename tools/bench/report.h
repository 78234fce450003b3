// One benchmark result as the JSON line shared/bench/WORKLOADS.md specifies
// ("Output line"): the required fields, then the recommended ones.
#ifndef NETSTRUCTER_TOOLS_BENCH_REPORT_H_
#define NETSTRUCTER_TOOLS_BENCH_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace netstructer::bench {

// Value type.
struct WorkloadResult {
  std::string workload;  // "W1" .. "W4"
  std::string security;  // "fernet" or "insecure"
  size_t payload_bytes = 0;
  int concurrency = 1;
  uint64_t calls = 0;  // W4: messages sent.
  double seconds = 0;
  double mib_per_s = 0;
  // Per call, microseconds, calls completed in the window; empty (W4) means
  // p50_us and p99_us are null.
  std::vector<double> latencies_us;
  std::string bytes_counted;
  std::string client_api;
  std::string server_api;
  std::string compression;
  std::string content;  // "random" or "protobuf_like"
  double client_cpu_s = 0;
  double server_cpu_s = 0;
  int64_t server_peak_rss_kib = -1;  // -1: unknown (printed as null).
  // A workload's own fields (W5, W6, W6idle), appended in this order: a
  // name and its JSON literal (a number, or a quoted string of ours).
  std::vector<std::pair<std::string, std::string>> extra_fields;
};

// `{"system":"netstructer",...}` without a newline. Sorts latencies_us.
// qps = calls / seconds; cpu_us_per_call = (client + server CPU) / calls.
// The string fields must not need JSON escaping (they are ours).
std::string ToJsonLine(WorkloadResult& result);

}  // namespace netstructer::bench

#endif  // NETSTRUCTER_TOOLS_BENCH_REPORT_H_
