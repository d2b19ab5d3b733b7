// Step sampling for bulk-interval metric histories.
#include "store/step_sampling.h"

#include <algorithm>

namespace ringo::store {

std::set<int64_t> SampleSteps(const std::vector<std::vector<int64_t>>& run_steps,
                              int64_t max_results) {
  std::set<int64_t> all;
  for (const auto& steps : run_steps) all.insert(steps.begin(), steps.end());
  if (int64_t(all.size()) <= max_results) return all;
  std::vector<int64_t> sorted(all.begin(), all.end());
  size_t stride = std::max<size_t>(1, sorted.size() / size_t(max_results));
  std::set<int64_t> keep;
  for (size_t i = 0; i < sorted.size(); i += stride) keep.insert(sorted[i]);
  keep.insert(sorted.back());
  for (const auto& steps : run_steps) {
    if (!steps.empty()) keep.insert(*std::max_element(steps.begin(), steps.end()));
  }
  return keep;
}

}  // namespace ringo::store
