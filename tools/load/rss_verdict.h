// "RSS flat after warm-up": the verdict on one process's per-second RSS
// samples. The baseline is the sample at the end of warm-up; the run is
// flat when no sample in the second half of the run exceeds it by more
// than the tolerance. A leak of even a few bytes per call grows without
// bound over a soak; allocator caches and pools fill during warm-up and
// then stay put, which is what the tolerance allows for.
#ifndef NETSTRUCTER_TOOLS_LOAD_RSS_VERDICT_H_
#define NETSTRUCTER_TOOLS_LOAD_RSS_VERDICT_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace netstructer::load {

// Value type. KiB throughout.
struct RssVerdict {
  int64_t warmup = 0;     // The sample at the end of warm-up.
  int64_t min_after = 0;  // Over the samples after it.
  int64_t max_after = 0;
  int64_t max_last_half = 0;  // Over the second half of the run.
  int64_t end = 0;            // The last sample.
  double growth = 0;          // max_last_half / warmup - 1.
  // nullopt: too short to judge (fewer samples after warm-up than in it).
  std::optional<bool> flat;
};

// `samples[k]` is the reading k seconds into the run; `warmup_samples` the
// index of the end of warm-up. REQUIRES: samples not empty.
RssVerdict JudgeRss(const std::vector<int64_t>& samples, size_t warmup_samples,
                    double tolerance);

}  // namespace netstructer::load

#endif  // NETSTRUCTER_TOOLS_LOAD_RSS_VERDICT_H_
