// Page tokens and result limits shared by every search.
#include "store/paging.h"

#include "common/util.h"

namespace ringo::store {

std::string EncodeOffsetToken(int64_t offset) {
  return Base64Encode("{\"offset\": " + std::to_string(offset) + "}");
}

Result<int64_t> DecodeOffsetToken(const std::string& token) {
  if (token.empty()) return int64_t{0};
  auto decoded = Base64Decode(token);
  if (decoded) {
    size_t colon = decoded->find(':');
    size_t end = decoded->find('}');
    if (colon != std::string::npos && end != std::string::npos && end > colon) {
      std::string num = decoded->substr(colon + 1, end - colon - 1);
      size_t b = num.find_first_not_of(' '), e = num.find_last_not_of(' ');
      if (b != std::string::npos) {
        auto v = ParseInt64(num.substr(b, e - b + 1));
        if (v && *v >= 0) return *v;
      }
    }
  }
  return InvalidArgument("invalid page_token '" + token + "'");
}

Status CheckMaxResults(int64_t max_results, int64_t limit) {
  if (max_results <= 0 || max_results > limit) {
    // MLflow's wording, which its clients and tests match on.
    return InvalidArgument("Invalid value " + std::to_string(max_results) +
                           " for parameter 'max_results' supplied: it must be between 1 and " +
                           std::to_string(limit));
  }
  return Status::Ok();
}

Result<int64_t> ParseExperimentId(const std::string& id) {
  auto v = ParseInt64(id);
  if (!v || *v < 0) {
    return InvalidArgument("invalid experiment id '" + id + "': expected a non-negative integer");
  }
  return *v;
}

}  // namespace ringo::store
