#include "netstructer/tools/load/rss_verdict.h"

#include <algorithm>

namespace netstructer::load {

RssVerdict JudgeRss(const std::vector<int64_t>& samples, size_t warmup_samples,
                    double tolerance) {
  RssVerdict v;
  const size_t n = samples.size();
  const size_t w = std::min(warmup_samples, n - 1);
  v.warmup = samples[w];
  v.end = samples.back();
  v.min_after = *std::min_element(samples.begin() + w, samples.end());
  v.max_after = *std::max_element(samples.begin() + w, samples.end());
  const size_t half = std::max(w, (n - 1) / 2);
  v.max_last_half = *std::max_element(samples.begin() + half, samples.end());
  v.growth = v.warmup > 0
                 ? static_cast<double>(v.max_last_half) / v.warmup - 1.0
                 : 0.0;
  // The second half must lie wholly after warm-up to say anything.
  if (n - 1 >= 2 * w && w > 0) v.flat = v.growth <= tolerance;
  return v;
}

}  // namespace netstructer::load
