// The PostgreSQL store's experiments: create, read, search, rename, delete and restore, tags.
#include <cmath>

#include "common/util.h"
#include "store/run_names.h"
#include "store/postgres/store_impl.h"
#include "store/validation.h"

namespace ringo::store::pg {

void PostgresStore::CreateExperiment(std::string name, std::string artifact_location,
                                     std::vector<Tag> tags, DoneWith<std::string> done) {
  if (name.empty()) {
    done(InvalidArgument("experiment name must be a non-empty string"));
    return;
  }
  for (const Tag& t : tags) {
    Status s = ValidateTag(t);
    if (!s.ok()) return done(s);
  }
  auto id = std::make_shared<int64_t>(0);
  engine_.Submit(
      [=, this](Db& db) -> Status {
        ASSIGN_OR_RETURN(Stmt * find,
                         db.Prepare("SELECT lifecycle_stage FROM experiments WHERE name = ?"));
        {
          StmtGuard g(*find);
          g->Bind(1, name);
          Status s;
          if (g->Step(&s)) {
            std::string stage(g->Text(0));
            return AlreadyExists("experiment(name=" + name + ") already exists" +
                                 (stage == kDeleted ? " in deleted state" : ""));
          }
          RETURN_IF_ERROR(s);
        }
        ASSIGN_OR_RETURN(
            Stmt * next,
            db.Prepare("SELECT COALESCE(MAX(experiment_id), -1) + 1 FROM experiments"));
        {
          StmtGuard g(*next);
          Status s;
          if (!g->Step(&s)) return s.ok() ? Internal("no next experiment id") : s;
          *id = g->Int(0);
        }
        int64_t now = NowMillis();
        std::string location = artifact_location.empty()
                                   ? "mlflow-artifacts:/" + std::to_string(*id)
                                   : artifact_location;
        ASSIGN_OR_RETURN(Stmt * ins,
                         db.Prepare("INSERT INTO experiments (experiment_id, name, "
                                    "artifact_location, lifecycle_stage, creation_time, "
                                    "last_update_time) VALUES (?, ?, ?, 'active', ?, ?)"));
        {
          StmtGuard g(*ins);
          g->Bind(1, *id).Bind(2, name).Bind(3, location).Bind(4, now).Bind(5, now);
          RETURN_IF_ERROR(g->Exec());
        }
        for (const Tag& t : tags) RETURN_IF_ERROR(UpsertExperimentTag(db, *id, t));
        return Status::Ok();
      },
      [id, done](Status s) {
        if (s.ok()) {
          done(std::to_string(*id));
        } else {
          done(s);
        }
      });
}

Result<Experiment> PostgresStore::GetExperiment(const std::string& experiment_id) {
  ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return LoadExperiment(*lease->db, "experiment_id = ?", SqlValue(id),
                        "No Experiment with id=" + experiment_id + " exists");
}

Result<Experiment> PostgresStore::GetExperimentByName(const std::string& name) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return LoadExperiment(*lease->db, "name = ?", SqlValue(name),
                        "Could not find experiment with name '" + name + "'");
}

Result<ExperimentPage> PostgresStore::SearchExperiments(const ExperimentSearch& search) {
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
  ASSIGN_OR_RETURN(SqlQuery query, CompileExperimentSearch(search, offset, kPostgresDialect));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  Db& db = *lease->db;
  ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(query.sql));
  BindAll(*stmt, query.binds);
  std::vector<int64_t> ids;
  Status s;
  while (stmt->Step(&s)) ids.push_back(stmt->Int(0));
  RETURN_IF_ERROR(s);
  ExperimentPage page;
  if (static_cast<int64_t>(ids.size()) > search.max_results) {
    ids.pop_back();
    page.next_page_token = EncodeOffsetToken(offset + search.max_results);
  }
  for (int64_t id : ids) {
    ASSIGN_OR_RETURN(Experiment e, LoadExperiment(db, "experiment_id = ?", SqlValue(id), "gone"));
    page.experiments.push_back(std::move(e));
  }
  return page;
}

void PostgresStore::RenameExperiment(std::string experiment_id, std::string new_name, Done done) {
  if (new_name.empty())
    return done(InvalidArgument("experiment name must be a non-empty string"));
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit(
      [=, this](Db& db) -> Status {
        ASSIGN_OR_RETURN(std::string stage, ExperimentStage(db, *id));
        if (stage != kActive) {
          // MLflow answers INVALID_STATE here, not INVALID_PARAMETER_VALUE.
          return FailedPrecondition("cannot rename a non-active experiment '" + experiment_id +
                                    "'");
        }
        ASSIGN_OR_RETURN(Stmt * find,
                         db.Prepare("SELECT experiment_id FROM experiments WHERE name = ?"));
        {
          StmtGuard g(*find);
          g->Bind(1, new_name);
          Status s;
          if (g->Step(&s) && g->Int(0) != *id) {
            return AlreadyExists("experiment(name=" + new_name + ") already exists");
          }
          RETURN_IF_ERROR(s);
        }
        ASSIGN_OR_RETURN(Stmt * upd, db.Prepare("UPDATE experiments SET name = ?, "
                                                "last_update_time = ? WHERE experiment_id = ?"));
        StmtGuard g(*upd);
        g->Bind(1, new_name).Bind(2, NowMillis()).Bind(3, *id);
        return g->Exec();
      },
      std::move(done));
}

void PostgresStore::DeleteExperiment(std::string experiment_id, Done done) {
  SetExperimentStage(std::move(experiment_id), std::string(kDeleted), std::move(done));
}

void PostgresStore::RestoreExperiment(std::string experiment_id, Done done) {
  SetExperimentStage(std::move(experiment_id), std::string(kActive), std::move(done));
}

void PostgresStore::SetExperimentTag(std::string experiment_id, Tag tag, Done done) {
  Status v = ValidateTag(tag);
  if (!v.ok()) return done(v);
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit(
      [=, this](Db& db) -> Status {
        ASSIGN_OR_RETURN(std::string stage, ExperimentStage(db, *id));
        if (stage != kActive) {
          return InvalidArgument("the experiment " + experiment_id +
                                 " must be in the 'active' state; it is '" + stage + "'");
        }
        return UpsertExperimentTag(db, *id, tag);
      },
      std::move(done));
}

void PostgresStore::DeleteExperimentTag(std::string experiment_id, std::string key, Done done) {
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit(
      [=, this](Db& db) -> Status {
        ASSIGN_OR_RETURN(std::string stage, ExperimentStage(db, *id));
        if (stage != kActive) {
          return InvalidArgument("the experiment " + experiment_id +
                                 " must be in the 'active' state; it is '" + stage + "'");
        }
        ASSIGN_OR_RETURN(Stmt * del, db.Prepare("DELETE FROM experiment_tags WHERE "
                                                "experiment_id = ? AND key = ?"));
        StmtGuard g(*del);
        g->Bind(1, *id).Bind(2, key);
        RETURN_IF_ERROR(g->Exec());
        if (db.Changes() == 0) {
          return NotFound("no tag with key '" + key + "' on experiment " + experiment_id);
        }
        return Status::Ok();
      },
      std::move(done));
}

Result<std::string> PostgresStore::ExperimentStage(Db& db, int64_t id) {
  ASSIGN_OR_RETURN(Stmt * q,
                   db.Prepare("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?"));
  StmtGuard g(*q);
  g->Bind(1, id);
  Status s;
  if (!g->Step(&s)) {
    RETURN_IF_ERROR(s);
    return NotFound("No Experiment with id=" + std::to_string(id) + " exists");
  }
  return std::string(g->Text(0));
}

void PostgresStore::SetExperimentStage(std::string experiment_id, std::string stage, Done done) {
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit(
      [=, this](Db& db) -> Status {
        ASSIGN_OR_RETURN(std::string current, ExperimentStage(db, *id));
        if (stage == kDeleted && *id == 0) {
          return InvalidArgument("the default experiment (id 0) cannot be deleted");
        }
        (void)current;
        int64_t now = NowMillis();
        ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE experiments SET lifecycle_stage = ?, "
                                              "last_update_time = ? WHERE experiment_id = ?"));
        {
          StmtGuard g(*u);
          g->Bind(1, stage).Bind(2, now).Bind(3, *id);
          RETURN_IF_ERROR(g->Exec());
        }
        // As MLflow does, deleting an experiment deletes its runs and restoring restores them.
        ASSIGN_OR_RETURN(Stmt * r, db.Prepare("UPDATE runs SET lifecycle_stage = ?, deleted_time "
                                              "= CASE WHEN ? = 'deleted' THEN CAST(? AS bigint) "
                                              "ELSE NULL END "
                                              "WHERE experiment_id = ?"));
        StmtGuard g(*r);
        g->Bind(1, stage).Bind(2, stage).Bind(3, now).Bind(4, *id);
        return g->Exec();
      },
      std::move(done));
}

Status PostgresStore::UpsertExperimentTag(Db& db, int64_t id, const Tag& t) {
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("INSERT INTO experiment_tags (experiment_id, key, value) "
                                        "VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO "
                                        "UPDATE SET value = excluded.value"));
  StmtGuard g(*q);
  g->Bind(1, id).Bind(2, t.key).Bind(3, t.value);
  return g->Exec();
}

Result<Experiment> PostgresStore::LoadExperiment(Db& db, const char* where, const SqlValue& key,
                                  const std::string& not_found) {
  std::string sql = std::string(
                        "SELECT experiment_id, name, artifact_location, "
                        "lifecycle_stage, creation_time, last_update_time FROM "
                        "experiments WHERE ") +
                    where;
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare(sql));
  Experiment e;
  {
    StmtGuard g(*q);
    BindAll(*g, {key});
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound(not_found);
    }
    e.experiment_id = std::to_string(g->Int(0));
    e.name = g->Text(1);
    e.artifact_location = g->Text(2);
    e.lifecycle_stage = g->Text(3);
    e.creation_time = g->Int(4);
    e.last_update_time = g->Int(5);
  }
  ASSIGN_OR_RETURN(Stmt * t, db.Prepare("SELECT key, value FROM experiment_tags WHERE "
                                        "experiment_id = ? ORDER BY key"));
  StmtGuard g(*t);
  g->Bind(1, *ParseInt64(e.experiment_id));
  Status s;
  while (g->Step(&s)) e.tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
  RETURN_IF_ERROR(s);
  return e;
}

}  // namespace ringo::store::pg
