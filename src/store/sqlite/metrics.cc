// The SQLite store's reads of metric histories (paged, visited, sampled) and dataset summaries;
// what it shares with the other engine is store/metrics_sql.h.
#include <cmath>

#include "common/util.h"
#include "store/metrics_sql.h"
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
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::BulkInterval(*lease->db, run_ids, key, start_step, end_step, max_results);
}

Result<std::vector<DatasetSummary>> SqliteStore::SearchDatasets(
    const std::vector<std::string>& experiment_ids) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::SearchDatasets(*lease->db, experiment_ids);
}

Result<std::vector<RunMetric>> SqliteStore::GetLoggedModelMetrics(const std::string& model_id) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::LoggedModelMetrics(*lease->db, model_id);
}

}  // namespace ringo::store
