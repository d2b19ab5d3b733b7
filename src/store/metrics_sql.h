// SQL of metric reads shared by the SQL engines (sampled histories of several runs, dataset
// summaries, logged models' metrics): function templates over an engine's connection type `Db`
// (the vocabulary of registry_sql.h). Reading one history stays per engine. Private to store/
// and its engines.
#ifndef RINGO_STORE_METRICS_SQL_H_
#define RINGO_STORE_METRICS_SQL_H_

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/paging.h"
#include "store/runs_sql.h"
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
  ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                       "WHERE run_id = ? AND key = ? AND step BETWEEN ? AND ? "
                                       "ORDER BY step, timestamp"));
  std::vector<RunMetric> out;
  for (const std::string& run_id : run_ids) {
    RETURN_IF_ERROR(runs::CheckExists(db, run_id));
    std::vector<Metric> points;
    {
      typename Db::Guard g(*q);
      g->Bind(1, run_id)
          .Bind(2, key)
          .Bind(3, start_step.value_or(INT64_MIN))
          .Bind(4, end_step.value_or(INT64_MAX));
      Status s;
      while (g->Step(&s)) {
        points.push_back(
            Metric{key, g->Int(3) ? std::nan("") : g->Double(2), g->Int(1), g->Int(0)});
      }
      RETURN_IF_ERROR(s);
    }
    // Sample distinct steps evenly, always keeping the first and the last.
    std::vector<int64_t> steps;
    for (const Metric& m : points) {
      if (steps.empty() || steps.back() != m.step) steps.push_back(m.step);
    }
    std::vector<int64_t> keep;
    if (static_cast<int64_t>(steps.size()) <= max_results) {
      keep = steps;
    } else if (max_results == 1) {
      keep = {steps.front()};
    } else {
      for (int64_t i = 0; i < max_results; ++i) {
        size_t idx = static_cast<size_t>(i * int64_t(steps.size() - 1) / (max_results - 1));
        if (keep.empty() || keep.back() != steps[idx]) keep.push_back(steps[idx]);
      }
    }
    size_t k = 0;
    for (const Metric& m : points) {
      while (k < keep.size() && keep[k] < m.step) ++k;
      if (k < keep.size() && keep[k] == m.step) out.push_back(RunMetric{run_id, m});
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
