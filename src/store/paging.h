// Page tokens and result limits shared by every search of every engine: a token is opaque to
// clients and carries the offset of the next page, the form MLflow's own server uses.
#ifndef RINGO_STORE_PAGING_H_
#define RINGO_STORE_PAGING_H_

#include <cstdint>
#include <string>

#include "common/status.h"

namespace ringo::store {

std::string EncodeOffsetToken(int64_t offset);
// The offset a token carries; 0 for the empty token; kInvalidArgument for anything else.
Result<int64_t> DecodeOffsetToken(const std::string& token);

// kInvalidArgument unless 1 <= max_results <= limit, in MLflow's words.
Status CheckMaxResults(int64_t max_results, int64_t limit);

// An experiment id as the engines key it: a non-negative integer.
Result<int64_t> ParseExperimentId(const std::string& id);

}  // namespace ringo::store

#endif  // RINGO_STORE_PAGING_H_
