// The PostgreSQL store's reads of metric histories (paged, visited, sampled) and dataset
// summaries; what it shares with the other engine is store/metrics_sql.h.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/util.h"
#include "store/metrics_sql.h"
#include "store/postgres/store_impl.h"
#include "store/runs_sql.h"
#include "store/validation.h"

namespace ringo::store::pg {

Result<MetricPage> PostgresStore::GetMetricHistory(const std::string& run_id,
                                                   const std::string& key, int64_t max_results,
                                                   const std::string& page_token) {
  MetricPage page;
  ASSIGN_OR_RETURN(
      page.next_page_token,
      VisitMetricHistory(run_id, key, max_results, page_token,
                         [&](double value, int64_t timestamp, int64_t step) {
                           page.metrics.push_back(Metric{key, value, timestamp, step});
                         }));
  return page;
}

// Streamed in chunks, each after the last point of the one before (keyset, in the primary key's
// order): libpq holds a whole result in memory, and a history runs to millions of points.
Result<std::string> PostgresStore::VisitMetricHistory(const std::string& run_id,
                                                      const std::string& key, int64_t max_results,
                                                      const std::string& page_token,
                                                      const PointVisitor& visit) {
  constexpr int64_t kChunk = 10000;
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(page_token));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  Db& db = *lease->db;
  RETURN_IF_ERROR(runs::CheckExists(db, run_id));
  ASSIGN_OR_RETURN(Stmt * first, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                            "WHERE run_id = ? AND key = ? ORDER BY step, "
                                            "timestamp, value, is_nan LIMIT ? OFFSET ?"));
  ASSIGN_OR_RETURN(Stmt * next, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                           "WHERE run_id = ? AND key = ? AND (step, timestamp, "
                                           "value, is_nan) > (?, ?, ?, ?) ORDER BY step, "
                                           "timestamp, value, is_nan LIMIT ?"));
  // One row beyond the page tells whether another page follows.
  const int64_t want = max_results > 0 ? max_results + 1 : INT64_MAX;
  int64_t rows = 0;
  std::string last[4];  // the last point read, as PostgreSQL printed it (exact for floats)
  for (bool more = true; more && rows < want;) {
    int64_t limit = std::min(kChunk, want - rows);
    StmtGuard g(rows == 0 ? *first : *next);
    g->Bind(1, run_id).Bind(2, key);
    if (rows == 0) {
      g->Bind(3, limit).Bind(4, offset);
    } else {
      for (int i = 0; i < 4; ++i) g->Bind(3 + i, last[i]);
      g->Bind(7, limit);
    }
    int64_t got = 0;
    Status s;
    while (g->Step(&s)) {
      ++got;
      if (max_results > 0 && rows == max_results) return EncodeOffsetToken(offset + max_results);
      ++rows;
      for (int i = 0; i < 4; ++i) last[i] = g->Text(i);
      visit(g->Int(3) ? std::nan("") : g->Double(2), g->Int(1), g->Int(0));
    }
    RETURN_IF_ERROR(s);
    more = got == limit;
  }
  return std::string();
}

Result<std::vector<RunMetric>> PostgresStore::GetMetricHistoryBulkInterval(
    const std::vector<std::string>& run_ids, const std::string& key,
    std::optional<int64_t> start_step, std::optional<int64_t> end_step,
    int64_t max_results) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::BulkInterval(*lease->db, run_ids, key, start_step, end_step, max_results);
}

Result<std::vector<DatasetSummary>> PostgresStore::SearchDatasets(
    const std::vector<std::string>& experiment_ids) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::SearchDatasets(*lease->db, experiment_ids);
}

Result<std::vector<RunMetric>> PostgresStore::GetLoggedModelMetrics(const std::string& model_id) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::LoggedModelMetrics(*lease->db, model_id);
}

}  // namespace ringo::store::pg
