// The SQLite engine's log-batch: params, metrics (with their latest values and logged-model
// links) and tags written row by row inside the writer's transaction.
#include <cmath>

#include "store/runs_sql.h"
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

Status InsertMetric(Db& db, const std::string& run_id, const Metric& m) {
  bool is_nan = std::isnan(m.value);
  double value = is_nan ? 0.0 : m.value;
  // The history row and the latest value take the same six values.
  auto insert_point = [&](Stmt& stmt) {
    StmtGuard g(stmt);
    g->Bind(1, run_id)
        .Bind(2, m.key)
        .Bind(3, m.step)
        .Bind(4, m.timestamp)
        .BindDouble(5, value)
        .Bind(6, int64_t{is_nan});
    return g->Exec();
  };
  ASSIGN_OR_RETURN(Stmt * ins, db.Prepare("INSERT OR IGNORE INTO metrics (run_id, key, step, "
                                          "timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)"));
  RETURN_IF_ERROR(insert_point(*ins));
  // The latest value is the one at the highest step, then timestamp, then value.
  ASSIGN_OR_RETURN(Stmt * up,
                   db.Prepare("INSERT INTO latest_metrics (run_id, key, step, timestamp, value, "
                              "is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO "
                              "UPDATE SET step = excluded.step, timestamp = excluded.timestamp, "
                              "value = excluded.value, is_nan = excluded.is_nan WHERE "
                              "(excluded.step, excluded.timestamp, excluded.value) > (step, "
                              "timestamp, value)"));
  RETURN_IF_ERROR(insert_point(*up));
  if (m.model_id.empty()) return Status::Ok();
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
      .BindDouble(7, value)
      .Bind(8, int64_t{is_nan})
      .Bind(9, run_id);
  return g->Exec();
}

}  // namespace

Status SqliteEngine::WriteBatch(Db& db, const std::string& run_id, const Batch& batch) {
  for (const Param& p : batch.params) RETURN_IF_ERROR(InsertParam(db, run_id, p));
  for (const Metric& m : batch.metrics) RETURN_IF_ERROR(InsertMetric(db, run_id, m));
  for (const Tag& t : batch.tags) RETURN_IF_ERROR(runs::UpsertTag(db, run_id, t));
  return Status::Ok();
}

}  // namespace ringo::store
