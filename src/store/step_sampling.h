// Which steps a bulk-interval metric history returns: the sampling both engines share.
#ifndef RINGO_STORE_STEP_SAMPLING_H_
#define RINGO_STORE_STEP_SAMPLING_H_

#include <cstdint>
#include <set>
#include <vector>

namespace ringo::store {

// The steps to return for charts of several runs, as MLflow samples them: of the distinct steps
// of all runs together (already clipped to the requested range), every stride-th one in ascending
// order, stride = max(1, count / max_results); then the last of them, and the last step of each
// run, so every run's line reaches its end (the result may exceed max_results by those). All
// steps when there are max_results or fewer. `run_steps` holds each run's steps, any order,
// duplicates allowed; max_results must be positive.
std::set<int64_t> SampleSteps(const std::vector<std::vector<int64_t>>& run_steps,
                              int64_t max_results);

}  // namespace ringo::store

#endif  // RINGO_STORE_STEP_SAMPLING_H_
