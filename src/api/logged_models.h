// MLflow 3's logged models: records kept as store documents, their search, their JSON
// (private to api/).
#ifndef RINGO_API_LOGGED_MODELS_H_
#define RINGO_API_LOGGED_MODELS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace ringo::api {

// MLflow's LoggedModelStatus names; kept as MLflow spells them in JSON.
inline constexpr const char* kLoggedModelStatuses[] = {
    "LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED"};

struct LoggedModel {
  std::string model_id;  // "m-" + 32 hex
  std::string experiment_id;
  std::string name;
  std::string model_type;
  std::string source_run_id;
  std::string status = "LOGGED_MODEL_PENDING";
  std::string status_message;
  std::string artifact_uri;
  int64_t creation_time = 0;
  int64_t last_updated_time = 0;
  bool deleted = false;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> params;
  // Metrics logged with this model's id (read from the store's metrics, not the document).
  std::vector<store::RunMetric> metrics;
};

// The search request of logged-models/search.
struct LoggedModelSearch {
  std::vector<std::string> experiment_ids;
  std::string filter;  // e.g. "name = 'm' AND tags.t LIKE 'a%'"
  struct Order {
    // name, model_type, status, creation_timestamp, last_updated_timestamp, or metrics.<key>
    // (of the dataset given, else of any; models without it last)
    std::string field;
    bool ascending = true;
    std::string dataset_name{}, dataset_digest{};
  };
  std::vector<Order> order_by;  // default: creation time, newest first
  int64_t max_results = 100;
  std::string page_token;
  // Only metrics of these datasets count in the filter (empty: every metric).
  std::vector<std::pair<std::string, std::string>> datasets;  // name, digest ("" = any)
};

// Logged models in the store's documents (kind "logged_model", keyed by model id). Writes are
// read-modify-write with the document revision, retried on a concurrent change. Thread-safe
// as the store is.
class LoggedModels {
 public:
  explicit LoggedModels(store::Store* store) : store_(store) {}

  // Creates a PENDING model in `experiment` (which must exist and be active) with its artifact
  // location under the experiment's: <location>/models/<model_id>/artifacts. An empty name gets
  // a generated one, as MLflow does. kNotFound for an unknown experiment.
  Result<LoggedModel> Create(LoggedModel model);
  // kNotFound ("Logged model with ID '...' not found.") when unknown, or deleted unless
  // `allow_deleted`.
  Result<LoggedModel> Get(const std::string& model_id, bool allow_deleted = false);
  // Applies `change` to the stored model and writes it back; the model as written.
  Result<LoggedModel> Update(const std::string& model_id,
                             const std::function<Status(LoggedModel&)>& change);
  // One page of models, filtered and ordered; the next page token or "".
  Result<std::pair<std::vector<LoggedModel>, std::string>> Search(const LoggedModelSearch& s);

 private:
  store::Store* store_;
};

// Checks a filter of logged-models/search and tells whether `m` matches it: conditions on
// name, model_type, status, source_run_id, model_id (=, !=, LIKE, ILIKE, IN), creation_time,
// last_updated_time, metrics.<key> (numeric comparators, against the model's metrics of
// `datasets` when given), tags.<key>, params.<key>, joined by AND. kInvalidArgument naming
// what cannot be parsed.
Result<bool> MatchesLoggedModelFilter(
    const LoggedModel& m, const std::string& filter,
    const std::vector<std::pair<std::string, std::string>>& datasets = {});

// {"info": {...}, "data": {...}} as MLflow's LoggedModel in proto3 JSON.
std::string LoggedModelJson(const LoggedModel& m);

}  // namespace ringo::api

#endif  // RINGO_API_LOGGED_MODELS_H_
