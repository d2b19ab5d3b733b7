// The SQLite store's runs: create, update, delete and restore, batches of params, metrics
// and tags, inputs, search; the SQL they share with the other engine is store/runs_sql.h.
#include <cmath>

#include "common/util.h"
#include "store/runs_sql.h"
#include "store/sqlite/store_impl.h"
#include "store/validation.h"

namespace ringo::store {

void SqliteStore::CreateRun(CreateRunRequest req, DoneWith<Run> done) {
  for (const Tag& t : req.tags) {
    Status s = ValidateTag(t);
    if (!s.ok()) return done(s);
  }
  if (req.experiment_id.empty()) req.experiment_id = "0";
  auto exp_id = ParseExperimentId(req.experiment_id);
  if (!exp_id.ok()) return done(exp_id.status());
  auto run_id = std::make_shared<std::string>(NewId());
  engine_.Submit([=](Db& db) { return runs::Insert(db, *run_id, *exp_id, req); },
                 [this, run_id, done](Status s) {
                   if (!s.ok()) return done(s);
                   // Read back through the writer's view: the commit has happened.
                   done(runs::Load(engine_.writer_db(), *run_id));
                 });
}

Result<Run> SqliteStore::GetRun(const std::string& run_id) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return runs::Load(*lease->db, run_id);
}

void SqliteStore::UpdateRun(UpdateRunRequest req, DoneWith<RunInfo> done) {
  if (req.status && !IsRunStatus(*req.status)) {
    return done(InvalidArgument("invalid run status '" + *req.status +
                                "': expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"));
  }
  auto run_id = req.run_id;
  engine_.Submit([=](Db& db) { return runs::Update(db, req); },
                 [this, run_id, done](Status s) {
                   if (!s.ok()) return done(s);
                   auto run = runs::Load(engine_.writer_db(), run_id);
                   if (!run.ok()) return done(run.status());
                   done(std::move(run->info));
                 });
}

void SqliteStore::DeleteRun(std::string run_id, Done done) {
  engine_.Submit([=](Db& db) { return runs::SetStage(db, run_id, std::string(kDeleted)); },
                 std::move(done));
}

void SqliteStore::RestoreRun(std::string run_id, Done done) {
  engine_.Submit([=](Db& db) { return runs::SetStage(db, run_id, std::string(kActive)); },
                 std::move(done));
}

void SqliteStore::LogBatch(std::string run_id, Batch batch, Done done) {
  Status v = ValidateBatch(batch);
  if (!v.ok()) return done(v);
  engine_.Submit(
      [this, run_id = std::move(run_id), batch = std::move(batch)](Db& db) -> Status {
        RETURN_IF_ERROR(runs::CheckActive(db, run_id));
        for (const Param& p : batch.params) RETURN_IF_ERROR(InsertParam(db, run_id, p));
        for (const Metric& m : batch.metrics) RETURN_IF_ERROR(InsertMetric(db, run_id, m));
        for (const Tag& t : batch.tags) RETURN_IF_ERROR(runs::UpsertTag(db, run_id, t));
        return Status::Ok();
      },
      std::move(done));
}

void SqliteStore::AppendLoggedModel(std::string run_id, std::string model_json, Done done) {
  engine_.Submit([=](Db& db) { return runs::AppendLoggedModel(db, run_id, model_json); },
                 std::move(done));
}

void SqliteStore::DeleteTag(std::string run_id, std::string key, Done done) {
  engine_.Submit([=](Db& db) { return runs::DeleteTag(db, run_id, key); }, std::move(done));
}

void SqliteStore::LogInputs(std::string run_id, std::vector<DatasetInput> inputs, Done done) {
  for (const DatasetInput& in : inputs) {
    if (in.dataset.name.empty() || in.dataset.digest.empty() || in.dataset.source_type.empty() ||
        in.dataset.source.empty()) {
      return done(
          InvalidArgument("each dataset needs a non-empty name, digest, source_type and source"));
    }
    for (const Tag& t : in.tags) {
      Status s = ValidateTag(t);
      if (!s.ok()) return done(s);
    }
  }
  engine_.Submit(
      [run_id = std::move(run_id), inputs = std::move(inputs)](Db& db) {
        return runs::LogInputs(db, run_id, inputs);
      },
      std::move(done));
}

Result<RunPage> SqliteStore::SearchRuns(const RunSearch& search) {
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
  ASSIGN_OR_RETURN(SqlQuery query, CompileRunSearch(search, offset, kSqliteDialect));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  Db& db = *lease->db;
  ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(query.sql));
  BindAll(*stmt, query.binds);
  std::vector<std::string> ids;
  Status s;
  while (stmt->Step(&s)) ids.emplace_back(stmt->Text(0));
  RETURN_IF_ERROR(s);
  stmt.reset();
  RunPage page;
  if (static_cast<int64_t>(ids.size()) > search.max_results) {
    ids.pop_back();
    page.next_page_token = EncodeOffsetToken(offset + search.max_results);
  }
  page.runs.reserve(ids.size());
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(Run run, runs::Load(db, id));
    page.runs.push_back(std::move(run));
  }
  return page;
}

// Row by row: on SQLite a statement costs no round trip.
Status SqliteStore::InsertParam(Db& db, const std::string& run_id, const Param& p) {
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

Status SqliteStore::InsertMetric(Db& db, const std::string& run_id, const Metric& m) {
  bool is_nan = std::isnan(m.value);
  double value = is_nan ? 0.0 : m.value;
  ASSIGN_OR_RETURN(Stmt * ins, db.Prepare("INSERT OR IGNORE INTO metrics (run_id, key, step, "
                                          "timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)"));
  {
    StmtGuard g(*ins);
    g->Bind(1, run_id)
        .Bind(2, m.key)
        .Bind(3, m.step)
        .Bind(4, m.timestamp)
        .BindDouble(5, value)
        .Bind(6, int64_t{is_nan});
    RETURN_IF_ERROR(g->Exec());
  }
  // The latest value is the one at the highest step, then timestamp, then value.
  ASSIGN_OR_RETURN(Stmt * up,
                   db.Prepare("INSERT INTO latest_metrics (run_id, key, step, timestamp, value, "
                              "is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO "
                              "UPDATE SET step = excluded.step, timestamp = excluded.timestamp, "
                              "value = excluded.value, is_nan = excluded.is_nan WHERE "
                              "(excluded.step, excluded.timestamp, excluded.value) > (step, "
                              "timestamp, value)"));
  {
    StmtGuard g(*up);
    g->Bind(1, run_id)
        .Bind(2, m.key)
        .Bind(3, m.step)
        .Bind(4, m.timestamp)
        .BindDouble(5, value)
        .Bind(6, int64_t{is_nan});
    RETURN_IF_ERROR(g->Exec());
  }
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

}  // namespace ringo::store
