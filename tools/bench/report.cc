#include "netstructer/tools/bench/report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "netstructer/tools/bench/measure.h"

namespace netstructer::bench {

std::string ToJsonLine(WorkloadResult& r) {
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  const std::string latency =
      r.latencies_us.empty()
          ? std::string("\"p50_us\":null,\"p99_us\":null")
          : absl::StrFormat("\"p50_us\":%.1f,\"p99_us\":%.1f",
                            NearestRank(r.latencies_us, 0.50),
                            NearestRank(r.latencies_us, 0.99));
  const double qps = r.seconds > 0 ? r.calls / r.seconds : 0;
  const double cpu_us_per_call =
      r.calls > 0 ? (r.client_cpu_s + r.server_cpu_s) / r.calls * 1e6 : 0;
  const std::string rss = r.server_peak_rss_kib >= 0
                              ? absl::StrCat(r.server_peak_rss_kib)
                              : std::string("null");
  std::string extra;
  for (const auto& [name, value] : r.extra_fields) {
    absl::StrAppend(&extra, ",\"", name, "\":", value);
  }
  return absl::StrFormat(
      "{\"system\":\"netstructer\",\"workload\":\"%s\",\"security\":\"%s\","
      "\"payload_bytes\":%d,\"concurrency\":%d,\"calls\":%d,\"seconds\":%.3f,"
      "\"qps\":%.1f,\"mib_per_s\":%.2f,%s,\"bytes_counted\":\"%s\","
      "\"client_api\":\"%s\",\"server_api\":\"%s\",\"compression\":\"%s\","
      "\"content\":\"%s\",\"client_cpu_s\":%.3f,\"server_cpu_s\":%.3f,"
      "\"cpu_us_per_call\":%.1f,\"server_peak_rss_kib\":%s%s}",
      r.workload, r.security, r.payload_bytes, r.concurrency, r.calls,
      r.seconds, qps, r.mib_per_s, latency, r.bytes_counted, r.client_api,
      r.server_api, r.compression, r.content, r.client_cpu_s, r.server_cpu_s,
      cpu_us_per_call, rss, extra);
}

}  // namespace netstructer::bench
