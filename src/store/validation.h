// MLflow's validation rules for keys, values and batch sizes (private to store/ and api/).
#ifndef RINGO_STORE_VALIDATION_H_
#define RINGO_STORE_VALIDATION_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/store.h"

namespace ringo::store {

inline constexpr size_t kMaxKeyLength = 250;
inline constexpr size_t kMaxParamValueLength = 6000;
inline constexpr size_t kMaxTagValueLength = 8000;
inline constexpr size_t kMaxMetricsPerBatch = 1000;
inline constexpr size_t kMaxParamsPerBatch = 100;
inline constexpr size_t kMaxTagsPerBatch = 100;
inline constexpr size_t kMaxEntitiesPerBatch = 1000;
inline constexpr int64_t kMaxSearchResults = 50000;

Status ValidateParam(const Param& p);
Status ValidateTag(const Tag& t);
// Sizes, keys and values of a log-batch request (kInvalidArgument naming the first problem).
Status ValidateBatch(const Batch& b);
bool IsRunStatus(std::string_view s);

}  // namespace ringo::store

#endif  // RINGO_STORE_VALIDATION_H_
