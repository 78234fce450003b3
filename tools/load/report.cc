#include "netstructer/tools/load/report.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace netstructer::load {

namespace {

std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, c));
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string Bool(std::optional<bool> b) {
  return !b.has_value() ? "null" : *b ? "true" : "false";
}

// {"unary":F(unary),...} over the kinds.
template <typename F>
std::string PerKind(F f) {
  std::string out = "{";
  for (int i = 0; i < kKinds; ++i) {
    absl::StrAppend(&out, i ? "," : "", Quote(KindName(static_cast<Kind>(i))),
                    ":", f(i));
  }
  return out + "}";
}

std::string Verdict(const RssVerdict& v) {
  return absl::StrFormat(
      "{\"warmup\":%d,\"min_after\":%d,\"max_after\":%d,\"max_last_half\":%d,"
      "\"end\":%d,\"growth\":%.4f,\"flat\":%s}",
      v.warmup, v.min_after, v.max_after, v.max_last_half, v.end, v.growth,
      Bool(v.flat));
}

// Both flat: true; either growing: false; else (too short) null.
std::optional<bool> BothFlat(const LoadReport& r) {
  if (r.server.rss.flat == false || r.client.rss.flat == false) return false;
  if (!r.server.rss.flat.has_value() || !r.client.rss.flat.has_value()) {
    return std::nullopt;
  }
  return true;
}

}  // namespace

bool LoadReport::Passed() const {
  return run_error.empty() && !timed_out && total.errors == 0 &&
         total.mismatches == 0 && server_stats.errors() == 0 &&
         server_stats.mismatches() == 0 && disagreement.empty() &&
         server_exit == "ok" && BothFlat(*this) != false;
}

std::string ToJsonLine(const LoadReport& r) {
  const double window = r.seconds > 0 ? r.seconds : 1;
  std::string out = absl::StrCat(
      "{\"tool\":\"netstructer-load\",\"ok\":", Bool(r.Passed()),
      ",\"security\":", Quote(r.security), ",\"connections\":", r.connections,
      ",\"mix\":", PerKind([&](int i) { return absl::StrCat(r.mix[i]); }),
      ",\"threads\":", r.threads, ",\"unary_in_flight\":", r.unary_in_flight,
      ",\"seconds\":", r.seconds, ",\"warmup_s\":", r.warmup_seconds);
  absl::StrAppendFormat(&out, ",\"setup_s\":%.2f,\"drain_s\":%.2f", r.setup_s,
                        r.drain_s);
  absl::StrAppend(
      &out, ",\"calls\":",
      PerKind([&](int i) { return absl::StrCat(r.total.kinds[i].calls); }),
      ",\"messages\":",
      PerKind([&](int i) { return absl::StrCat(r.total.kinds[i].messages); }),
      ",\"bytes\":",
      PerKind([&](int i) { return absl::StrCat(r.total.kinds[i].bytes); }),
      ",\"calls_per_s\":", PerKind([&](int i) {
        return absl::StrFormat("%.1f", r.window.kinds[i].calls / window);
      }));
  absl::StrAppendFormat(&out, ",\"all_calls_per_s\":%.1f,\"mib_per_s\":%.2f",
                        r.window.calls() / window,
                        r.window.bytes() / window / 1048576.0);
  const Tally& t = r.total;
  absl::StrAppendFormat(
      &out, ",\"rounds\":{\"count\":%d,\"mean_s\":%.3f,\"max_s\":%.3f}",
      t.rounds, t.rounds > 0 ? t.round_s_total / t.rounds : 0.0, t.round_s_max);
  absl::StrAppend(
      &out, ",\"calls_per_second\":[", absl::StrJoin(r.calls_per_second, ","),
      "],\"errors\":", r.total.errors, ",\"mismatches\":", r.total.mismatches,
      ",\"failures\":[",
      absl::StrJoin(
          r.failures, ",",
          [](std::string* o, const std::string& f) { o->append(Quote(f)); }),
      "]");
  const ::load::StatsReply& s = r.server_stats;
  absl::StrAppend(
      &out, ",\"server\":{\"sessions_at_start\":", r.server_sessions_at_start,
      ",\"sessions_at_end\":", s.sessions(),
      ",\"bridge_sessions\":", s.bridge_sessions(), ",\"errors\":", s.errors(),
      ",\"mismatches\":", s.mismatches(),
      ",\"counts_agree\":", Bool(r.disagreement.empty()),
      ",\"disagreement\":", Quote(r.disagreement),
      ",\"exit\":", Quote(r.server_exit), "}");
  auto series = [&](const char* name, auto member) {
    absl::StrAppend(&out, ",\"", name, "\":{\"server\":[",
                    absl::StrJoin(r.server.*member, ","), "],\"client\":[",
                    absl::StrJoin(r.client.*member, ","), "]}");
  };
  series("rss_kib", &ProcessReport::rss_kib);
  series("heap_in_use_kib", &ProcessReport::heap_in_use_kib);
  series("heap_free_kib", &ProcessReport::heap_free_kib);
  absl::StrAppendFormat(&out, ",\"rss\":{\"tolerance\":%.3f", r.rss_tolerance);
  absl::StrAppend(&out, ",\"server\":", Verdict(r.server.rss),
                  ",\"client\":", Verdict(r.client.rss),
                  ",\"server_heap_in_use\":", Verdict(r.server.heap),
                  ",\"client_heap_in_use\":", Verdict(r.client.heap), "}");
  absl::StrAppend(&out, ",\"threads_max\":{\"server\":", r.server.threads_max,
                  ",\"client\":", r.client.threads_max, "}");
  absl::StrAppendFormat(&out, ",\"cpu_s\":{\"server\":%.2f,\"client\":%.2f}",
                        r.server.cpu_s, r.client.cpu_s);
  absl::StrAppend(&out, ",\"rss_flat\":", Bool(BothFlat(r)),
                  ",\"timed_out\":", Bool(r.timed_out),
                  ",\"run_error\":", Quote(r.run_error), "}");
  return out;
}

}  // namespace netstructer::load
