// SQL of metric reads shared by the SQL engines (sampled histories of several runs, dataset
// summaries, logged models' metrics): function templates over an engine's connection type `Db`
// (the vocabulary of registry_sql.h). Reading one history stays per engine. Private to store/
// and its engines.
#ifndef RINGO_STORE_METRICS_SQL_H_
#define RINGO_STORE_METRICS_SQL_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/paging.h"
#include "store/runs_sql.h"
#include "store/series_sql.h"
#include "store/step_sampling.h"
#include "store/store.h"

namespace ringo::store::metrics {

// Store::GetMetricHistoryBulkInterval's contract.
template <typename Db>
Result<std::vector<RunMetric>> BulkInterval(Db& db, const std::vector<std::string>& run_ids,
                                            const std::string& key,
                                            std::optional<int64_t> start_step,
                                            std::optional<int64_t> end_step,
                                            int64_t max_results) {
  if (max_results <= 0) return InvalidArgument("max_results must be positive");
  std::vector<std::vector<Metric>> points(run_ids.size());
  for (size_t r = 0; r < run_ids.size(); ++r) {
    RETURN_IF_ERROR(runs::CheckExists(db, run_ids[r]));
    ASSIGN_OR_RETURN(std::vector<series::Point> read,
                     series::Read(db, run_ids[r], key,
                                  start_step.value_or(std::numeric_limits<int64_t>::min()),
                                  end_step.value_or(std::numeric_limits<int64_t>::max())));
    for (const series::Point& p : read) {
      points[r].push_back(Metric{key, p.is_nan ? std::nan("") : p.value, p.timestamp, p.step});
    }
  }
  // One sample of steps across all runs (store/step_sampling.h), so their charts line up.
  std::vector<std::vector<int64_t>> steps(run_ids.size());
  for (size_t r = 0; r < run_ids.size(); ++r) {
    for (const Metric& m : points[r]) steps[r].push_back(m.step);
  }
  std::set<int64_t> keep = SampleSteps(steps, max_results);
  std::vector<RunMetric> out;
  for (size_t r = 0; r < run_ids.size(); ++r) {
    for (const Metric& m : points[r]) {
      if (keep.count(m.step)) out.push_back(RunMetric{run_ids[r], m});
    }
  }
  return out;
}

// Store::SearchDatasets's contract.
template <typename Db>
Result<std::vector<DatasetSummary>> SearchDatasets(Db& db,
                                                   const std::vector<std::string>& experiment_ids) {
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("SELECT DISTINCT d.name, d.digest, COALESCE(t.value, '') FROM "
                              "datasets d JOIN inputs i ON i.dataset_id = d.dataset_id LEFT "
                              "JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = "
                              "i.dataset_id AND t.key = 'mlflow.data.context' WHERE "
                              "d.experiment_id = ? ORDER BY d.name, d.digest LIMIT 1000"));
  std::vector<DatasetSummary> out;
  for (const std::string& id_text : experiment_ids) {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(id_text));
    typename Db::Guard g(*q);
    g->Bind(1, id);
    Status s;
    while (g->Step(&s)) {
      out.push_back(DatasetSummary{id_text, std::string(g->Text(0)), std::string(g->Text(1)),
                                   std::string(g->Text(2))});
    }
    RETURN_IF_ERROR(s);
  }
  return out;
}

// Store::GetLoggedModelMetrics's contract.
template <typename Db>
Result<std::vector<RunMetric>> LoggedModelMetrics(Db& db, const std::string& model_id) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare(
                                 "SELECT key, dataset_name, dataset_digest, step, timestamp, "
                                 "value, is_nan, run_id FROM model_metrics WHERE model_id = ? "
                                 "ORDER BY key, dataset_name, dataset_digest, step, timestamp"));
  typename Db::Guard g(*q);
  g->Bind(1, model_id);
  std::vector<RunMetric> out;
  Status s;
  while (g->Step(&s)) {
    Metric m{std::string(g->Text(0)), g->Int(6) ? std::nan("") : g->Double(5), g->Int(4),
             g->Int(3),              model_id, std::string(g->Text(1)), std::string(g->Text(2))};
    // Rows come in order within each (key, dataset): the last of a group is its latest.
    bool same_group = !out.empty() && out.back().metric.key == m.key &&
                      out.back().metric.dataset_name == m.dataset_name &&
                      out.back().metric.dataset_digest == m.dataset_digest;
    if (same_group) out.pop_back();
    out.push_back(RunMetric{std::string(g->Text(7)), std::move(m)});
  }
  RETURN_IF_ERROR(s);
  return out;
}

}  // namespace ringo::store::metrics

#endif  // RINGO_STORE_METRICS_SQL_H_
