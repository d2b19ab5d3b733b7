// The PostgreSQL store's runs: create, update, delete and restore, batches of params, metrics
// and tags, inputs, search; the SQL they share with the other engine is store/runs_sql.h.
#include "common/util.h"
#include "store/postgres/store_impl.h"
#include "store/runs_sql.h"
#include "store/validation.h"

namespace ringo::store::pg {

void PostgresStore::CreateRun(CreateRunRequest req, DoneWith<Run> done) {
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

Result<Run> PostgresStore::GetRun(const std::string& run_id) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return runs::Load(*lease->db, run_id);
}

void PostgresStore::UpdateRun(UpdateRunRequest req, DoneWith<RunInfo> done) {
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

void PostgresStore::DeleteRun(std::string run_id, Done done) {
  engine_.Submit([=](Db& db) { return runs::SetStage(db, run_id, std::string(kDeleted)); },
                 std::move(done));
}

void PostgresStore::RestoreRun(std::string run_id, Done done) {
  engine_.Submit([=](Db& db) { return runs::SetStage(db, run_id, std::string(kActive)); },
                 std::move(done));
}

void PostgresStore::LogBatch(std::string run_id, Batch batch, Done done) {
  Status v = ValidateBatch(batch);
  if (!v.ok()) return done(v);
  engine_.Submit(
      [this, run_id = std::move(run_id), batch = std::move(batch)](Db& db) -> Status {
        return WriteBatch(db, run_id, batch);
      },
      std::move(done));
}

void PostgresStore::AppendLoggedModel(std::string run_id, std::string model_json, Done done) {
  engine_.Submit([=](Db& db) { return runs::AppendLoggedModel(db, run_id, model_json); },
                 std::move(done));
}

void PostgresStore::DeleteTag(std::string run_id, std::string key, Done done) {
  engine_.Submit([=](Db& db) { return runs::DeleteTag(db, run_id, key); }, std::move(done));
}

void PostgresStore::LogInputs(std::string run_id, std::vector<DatasetInput> inputs, Done done) {
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

Result<RunPage> PostgresStore::SearchRuns(const RunSearch& search) {
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
  ASSIGN_OR_RETURN(SqlQuery query, CompileRunSearch(search, offset, kPostgresDialect));
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

}  // namespace ringo::store::pg
