// The SQLite store's reads of metric histories (paged, visited, sampled) and dataset summaries.
#include <cmath>

#include "common/util.h"
#include "store/run_names.h"
#include "store/runs_sql.h"
#include "store/sqlite/store_impl.h"
#include "store/validation.h"

namespace ringo::store {

Result<MetricPage> SqliteStore::GetMetricHistory(const std::string& run_id, const std::string& key,
                                    int64_t max_results, const std::string& page_token) {
  MetricPage page;
  ASSIGN_OR_RETURN(
      page.next_page_token,
      VisitMetricHistory(run_id, key, max_results, page_token,
                         [&](double value, int64_t timestamp, int64_t step) {
                           page.metrics.push_back(Metric{key, value, timestamp, step});
                         }));
  return page;
}

Result<std::string> SqliteStore::VisitMetricHistory(const std::string& run_id, const std::string& key,
                                       int64_t max_results, const std::string& page_token,
                                       const PointVisitor& visit) {
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(page_token));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  Db& db = *lease->db;
  RETURN_IF_ERROR(runs::CheckExists(db, run_id));
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                        "WHERE run_id = ? AND key = ? ORDER BY step, timestamp "
                                        "LIMIT ? OFFSET ?"));
  StmtGuard g(*q);
  // One row beyond the page tells whether another page follows.
  int64_t limit = max_results > 0 ? max_results + 1 : -1;
  g->Bind(1, run_id).Bind(2, key).Bind(3, limit).Bind(4, offset);
  int64_t rows = 0;
  Status s;
  while (g->Step(&s)) {
    if (max_results > 0 && rows == max_results) return EncodeOffsetToken(offset + max_results);
    ++rows;
    visit(g->Int(3) ? std::nan("") : g->Double(2), g->Int(1), g->Int(0));
  }
  RETURN_IF_ERROR(s);
  return std::string();
}

Result<std::vector<RunMetric>> SqliteStore::GetMetricHistoryBulkInterval(
    const std::vector<std::string>& run_ids, const std::string& key,
    std::optional<int64_t> start_step, std::optional<int64_t> end_step,
    int64_t max_results) {
  if (max_results <= 0) return InvalidArgument("max_results must be positive");
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  Db& db = *lease->db;
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                        "WHERE run_id = ? AND key = ? AND step BETWEEN ? AND ? "
                                        "ORDER BY step, timestamp"));
  std::vector<RunMetric> out;
  for (const std::string& run_id : run_ids) {
    RETURN_IF_ERROR(runs::CheckExists(db, run_id));
    std::vector<Metric> points;
    {
      StmtGuard g(*q);
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

Result<std::vector<DatasetSummary>> SqliteStore::SearchDatasets(
    const std::vector<std::string>& experiment_ids) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  Db& db = *lease->db;
  ASSIGN_OR_RETURN(Stmt * q,
                   db.Prepare("SELECT DISTINCT d.name, d.digest, COALESCE(t.value, '') FROM "
                              "datasets d JOIN inputs i ON i.dataset_id = d.dataset_id LEFT "
                              "JOIN input_tags t ON t.run_id = i.run_id AND t.dataset_id = "
                              "i.dataset_id AND t.key = 'mlflow.data.context' WHERE "
                              "d.experiment_id = ? ORDER BY d.name, d.digest LIMIT 1000"));
  std::vector<DatasetSummary> out;
  for (const std::string& id_text : experiment_ids) {
    ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(id_text));
    StmtGuard g(*q);
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

Result<std::vector<RunMetric>> SqliteStore::GetLoggedModelMetrics(const std::string& model_id) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  ASSIGN_OR_RETURN(Stmt * q, lease->db->Prepare(
                                 "SELECT key, dataset_name, dataset_digest, step, timestamp, "
                                 "value, is_nan, run_id FROM model_metrics WHERE model_id = ? "
                                 "ORDER BY key, dataset_name, dataset_digest, step, timestamp"));
  StmtGuard g(*q);
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

}  // namespace ringo::store
