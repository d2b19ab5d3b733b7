// The SQLite engine's log-batch: params, metrics (as series chunks or rows, with their latest
// values and logged-model links) and tags, inside the writer's transaction.
#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <tuple>
#include <vector>

#include "store/runs_sql.h"
#include "store/series_sql.h"
#include "store/sqlite/store_impl.h"

namespace ringo::store {

namespace {

Status InsertParam(Db& db, const std::string& run_id, const Param& p) {
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT value FROM params WHERE run_id = ? AND key = ?"));
  {
    StmtGuard g(*q);
    g->Bind(1, run_id).Bind(2, p.key);
    Status s;
    if (g->Step(&s)) {
      if (g->Text(0) == p.value) return Status::Ok();
      return InvalidArgument("param '" + p.key + "' of run '" + run_id + "' was logged as '" +
                             std::string(g->Text(0)) + "' and cannot be changed to '" + p.value +
                             "': params are immutable");
    }
    RETURN_IF_ERROR(s);
  }
  ASSIGN_OR_RETURN(Stmt * ins,
                   db.Prepare("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)"));
  StmtGuard g(*ins);
  g->Bind(1, run_id).Bind(2, p.key).Bind(3, p.value);
  return g->Exec();
}

// The latest value of a key is the one at the highest step, then timestamp, then value.
Status UpsertLatest(Db& db, const std::string& run_id, const std::string& key,
                    const series::Point& p) {
  ASSIGN_OR_RETURN(Stmt * up,
                   db.Prepare("INSERT INTO latest_metrics (run_id, key, step, timestamp, value, "
                              "is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO "
                              "UPDATE SET step = excluded.step, timestamp = excluded.timestamp, "
                              "value = excluded.value, is_nan = excluded.is_nan WHERE "
                              "(excluded.step, excluded.timestamp, excluded.value) > (step, "
                              "timestamp, value)"));
  StmtGuard g(*up);
  g->Bind(1, run_id).Bind(2, key).Bind(3, p.step).Bind(4, p.timestamp);
  g->BindDouble(5, p.value).Bind(6, int64_t{p.is_nan});
  return g->Exec();
}

// A few points go to the row table (compacted into a chunk once kCompactAt gather), many of
// one key straight into chunks: a batch of 1,000 steps is one row, not 1,000.
Status InsertPoints(Db& db, const std::string& run_id, const std::string& key,
                    std::vector<series::Point> points) {
  series::SortUnique(&points);
  if (points.size() >= series::kDirectPoints) {
    RETURN_IF_ERROR(series::WriteChunks(db, run_id, key, points));
  } else {
    ASSIGN_OR_RETURN(Stmt * ins, db.Prepare("INSERT OR IGNORE INTO metrics (run_id, key, step, "
                                            "timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)"));
    for (const series::Point& p : points) {
      StmtGuard g(*ins);
      g->Bind(1, run_id).Bind(2, key).Bind(3, p.step).Bind(4, p.timestamp);
      g->BindDouble(5, p.value).Bind(6, int64_t{p.is_nan});
      RETURN_IF_ERROR(g->Exec());
    }
    if (series::NoteRowPoints(run_id, key, points.size())) {
      RETURN_IF_ERROR(series::Compact(db, run_id, key));
    }
  }
  auto latest = std::max_element(points.begin(), points.end(),
                                 [](const series::Point& a, const series::Point& b) {
                                   return std::tie(a.step, a.timestamp, a.value) <
                                          std::tie(b.step, b.timestamp, b.value);
                                 });
  return UpsertLatest(db, run_id, key, *latest);
}

// A metric logged for a logged model is also kept by model (MLflow 3's model metrics).
Status InsertModelMetric(Db& db, const std::string& run_id, const Metric& m) {
  bool is_nan = std::isnan(m.value);
  ASSIGN_OR_RETURN(Stmt * mm, db.Prepare("INSERT OR IGNORE INTO model_metrics (model_id, key, "
                                         "dataset_name, dataset_digest, step, timestamp, value, "
                                         "is_nan, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  StmtGuard g(*mm);
  g->Bind(1, m.model_id)
      .Bind(2, m.key)
      .Bind(3, m.dataset_name)
      .Bind(4, m.dataset_digest)
      .Bind(5, m.step)
      .Bind(6, m.timestamp)
      .BindDouble(7, is_nan ? 0.0 : m.value)
      .Bind(8, int64_t{is_nan})
      .Bind(9, run_id);
  return g->Exec();
}

// Groups a run's metrics by key (a loop logs runs of one key: no map lookup while the key
// repeats) and writes each key's points.
Status WriteMetrics(Db& db, const std::string& run_id, const std::vector<const Metric*>& metrics) {
  std::map<std::string_view, std::vector<series::Point>> by_key;
  std::vector<series::Point>* points = nullptr;
  std::string_view points_key;
  for (const Metric* m : metrics) {
    bool is_nan = std::isnan(m->value);
    if (points == nullptr || m->key != points_key) {
      points = &by_key[m->key];
      points_key = m->key;
    }
    points->push_back({m->step, m->timestamp, is_nan ? 0.0 : m->value, is_nan});
    if (!m->model_id.empty()) RETURN_IF_ERROR(InsertModelMetric(db, run_id, *m));
  }
  for (auto& [key, points] : by_key) {
    RETURN_IF_ERROR(InsertPoints(db, run_id, std::string(key), std::move(points)));
  }
  return Status::Ok();
}

}  // namespace

Status SqliteEngine::WriteBatch(Db& db, const std::string& run_id, const Batch& batch) {
  for (const Param& p : batch.params) RETURN_IF_ERROR(InsertParam(db, run_id, p));
  std::vector<const Metric*> metrics;
  metrics.reserve(batch.metrics.size());
  for (const Metric& m : batch.metrics) metrics.push_back(&m);
  RETURN_IF_ERROR(WriteMetrics(db, run_id, metrics));
  for (const Tag& t : batch.tags) RETURN_IF_ERROR(runs::UpsertTag(db, run_id, t));
  return Status::Ok();
}

// Single log-metrics under load arrive dozens per commit, mostly of one run and key: merged,
// their points are one row insert each, with the run checked and the latest value updated
// once per run and key.
Status SqliteEngine::WriteMetricWrites(Db& db, const std::vector<const MetricWrite*>& writes) {
  std::map<std::string_view, std::vector<const Metric*>> by_run;
  for (const MetricWrite* w : writes) {
    std::vector<const Metric*>& run = by_run[w->run_id];
    for (const Metric& m : w->batch->metrics) run.push_back(&m);
  }
  for (const auto& [run_id, metrics] : by_run) {
    std::string id(run_id);
    RETURN_IF_ERROR(runs::CheckActive(db, id));
    RETURN_IF_ERROR(WriteMetrics(db, id, metrics));
  }
  return Status::Ok();
}

}  // namespace ringo::store
