// The PostgreSQL store's runs: create, update, delete and restore, batches of params, metrics
// and tags, inputs, search.
#include <cmath>

#include "common/util.h"
#include "store/run_names.h"
#include "store/postgres/store_impl.h"
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
  engine_.Submit(
      [=, this](Db& db) mutable -> Status {
        ASSIGN_OR_RETURN(Stmt * find, db.Prepare("SELECT lifecycle_stage, artifact_location "
                                                 "FROM experiments WHERE experiment_id = ?"));
        std::string location;
        {
          StmtGuard g(*find);
          g->Bind(1, *exp_id);
          Status s;
          if (!g->Step(&s)) {
            RETURN_IF_ERROR(s);
            return NotFound("No Experiment with id=" + req.experiment_id + " exists");
          }
          if (g->Text(0) != kActive) {
            return InvalidArgument("the experiment " + req.experiment_id +
                                   " must be in the 'active' state");
          }
          location = std::string(g->Text(1));
        }
        // The run name lives in the run and in the mlflow.runName tag; either may be given.
        std::string name = req.run_name;
        for (const Tag& t : req.tags) {
          if (t.key == "mlflow.runName" && name.empty()) name = t.value;
        }
        if (name.empty()) name = GenerateRunName();
        bool has_name_tag = false;
        for (Tag& t : req.tags) {
          if (t.key == "mlflow.runName") {
            t.value = name;
            has_name_tag = true;
          }
        }
        if (!has_name_tag) req.tags.push_back({"mlflow.runName", name});
        std::string user = req.user_id;
        for (const Tag& t : req.tags) {
          if (t.key == "mlflow.user" && user.empty()) user = t.value;
        }
        while (!location.empty() && location.back() == '/') location.pop_back();
        std::string artifact_uri = location + "/" + *run_id + "/artifacts";
        int64_t start = req.start_time ? req.start_time : NowMillis();
        ASSIGN_OR_RETURN(Stmt * ins,
                         db.Prepare("INSERT INTO runs (run_id, experiment_id, name, user_id, "
                                    "status, start_time, end_time, artifact_uri, "
                                    "lifecycle_stage) VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, ?, "
                                    "'active')"));
        {
          StmtGuard g(*ins);
          g->Bind(1, *run_id)
              .Bind(2, *exp_id)
              .Bind(3, name)
              .Bind(4, user)
              .Bind(5, start)
              .Bind(6, artifact_uri);
          RETURN_IF_ERROR(g->Exec());
        }
        for (const Tag& t : req.tags) RETURN_IF_ERROR(UpsertTag(db, *run_id, t));
        return Status::Ok();
      },
      [this, run_id, done](Status s) {
        if (!s.ok()) return done(s);
        // Read back through the writer's view: the commit has happened.
        done(LoadRun(engine_.writer_db(), *run_id));
      });
}

Result<Run> PostgresStore::GetRun(const std::string& run_id) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return LoadRun(*lease->db, run_id);
}

void PostgresStore::UpdateRun(UpdateRunRequest req, DoneWith<RunInfo> done) {
  if (req.status && !IsRunStatus(*req.status)) {
    return done(InvalidArgument("invalid run status '" + *req.status +
                                "': expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"));
  }
  auto run_id = req.run_id;
  engine_.Submit(
      [=, this](Db& db) -> Status {
        RETURN_IF_ERROR(CheckRunActive(db, req.run_id));
        if (req.status) {
          ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE runs SET status = ? WHERE run_id = ?"));
          StmtGuard g(*u);
          g->Bind(1, *req.status).Bind(2, req.run_id);
          RETURN_IF_ERROR(g->Exec());
        }
        if (req.end_time) {
          ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE runs SET end_time = ? WHERE run_id = ?"));
          StmtGuard g(*u);
          g->Bind(1, *req.end_time).Bind(2, req.run_id);
          RETURN_IF_ERROR(g->Exec());
        }
        if (req.run_name && !req.run_name->empty()) {
          RETURN_IF_ERROR(UpsertTag(db, req.run_id, Tag{"mlflow.runName", *req.run_name}));
        }
        return Status::Ok();
      },
      [this, run_id, done](Status s) {
        if (!s.ok()) return done(s);
        auto run = LoadRun(engine_.writer_db(), run_id);
        if (!run.ok()) return done(run.status());
        done(std::move(run->info));
      });
}

void PostgresStore::DeleteRun(std::string run_id, Done done) {
  SetRunStage(std::move(run_id), std::string(kDeleted), std::move(done));
}

void PostgresStore::RestoreRun(std::string run_id, Done done) {
  SetRunStage(std::move(run_id), std::string(kActive), std::move(done));
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
  engine_.Submit(
      [this, run_id = std::move(run_id), model_json = std::move(model_json)](Db& db) -> Status {
        RETURN_IF_ERROR(CheckRunActive(db, run_id));
        const std::string key = "mlflow.log-model.history";
        std::string history;
        {
          ASSIGN_OR_RETURN(Stmt * q,
                           db.Prepare("SELECT value FROM tags WHERE run_id = ? AND key = ?"));
          StmtGuard g(*q);
          g->Bind(1, run_id).Bind(2, key);
          Status s;
          if (g->Step(&s)) history = std::string(g->Text(0));
          RETURN_IF_ERROR(s);
        }
        // The history is a JSON list; a value that is not one is replaced rather than extended.
        size_t close = history.find_last_of(']');
        bool is_list = !history.empty() && history.front() == '[' && close != std::string::npos;
        if (!is_list) {
          history = "[" + model_json + "]";
        } else {
          bool empty = history.find_first_not_of(" \t\r\n", 1) == close;
          history = history.substr(0, close) + (empty ? "" : ", ") + model_json + "]";
        }
        return UpsertTag(db, run_id, Tag{key, history});
      },
      std::move(done));
}

void PostgresStore::DeleteTag(std::string run_id, std::string key, Done done) {
  engine_.Submit(
      [this, run_id = std::move(run_id), key = std::move(key)](Db& db) -> Status {
        RETURN_IF_ERROR(CheckRunActive(db, run_id));
        ASSIGN_OR_RETURN(Stmt * del, db.Prepare("DELETE FROM tags WHERE run_id = ? AND key = ?"));
        StmtGuard g(*del);
        g->Bind(1, run_id).Bind(2, key);
        RETURN_IF_ERROR(g->Exec());
        if (db.Changes() == 0) {
          return NotFound("no tag with key '" + key + "' on run '" + run_id + "'");
        }
        return Status::Ok();
      },
      std::move(done));
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
      [this, run_id = std::move(run_id), inputs = std::move(inputs)](Db& db) -> Status {
        RETURN_IF_ERROR(CheckRunActive(db, run_id));
        int64_t experiment_id = 0;
        {
          ASSIGN_OR_RETURN(Stmt * q,
                           db.Prepare("SELECT experiment_id FROM runs WHERE run_id = ?"));
          StmtGuard g(*q);
          g->Bind(1, run_id);
          Status s;
          if (!g->Step(&s)) return s.ok() ? NotFound("Run with id=" + run_id + " not found") : s;
          experiment_id = g->Int(0);
        }
        for (const DatasetInput& in : inputs) {
          ASSIGN_OR_RETURN(std::string dataset_id, UpsertDataset(db, experiment_id, in.dataset));
          ASSIGN_OR_RETURN(Stmt * link, db.Prepare("INSERT INTO inputs (run_id, dataset_id) "
                                                   "VALUES (?, ?) ON CONFLICT DO NOTHING"));
          {
            StmtGuard g(*link);
            g->Bind(1, run_id).Bind(2, dataset_id);
            RETURN_IF_ERROR(g->Exec());
          }
          for (const Tag& t : in.tags) {
            ASSIGN_OR_RETURN(Stmt * tag,
                             db.Prepare("INSERT INTO input_tags (run_id, dataset_id, key, value) "
                                        "VALUES (?, ?, ?, ?) ON CONFLICT (run_id, dataset_id, "
                                        "key) DO UPDATE SET value = excluded.value"));
            StmtGuard g(*tag);
            g->Bind(1, run_id).Bind(2, dataset_id).Bind(3, t.key).Bind(4, t.value);
            RETURN_IF_ERROR(g->Exec());
          }
        }
        return Status::Ok();
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
    ASSIGN_OR_RETURN(Run run, LoadRun(db, id));
    page.runs.push_back(std::move(run));
  }
  return page;
}

Status PostgresStore::CheckRunExists(Db& db, const std::string& run_id) {
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT 1 FROM runs WHERE run_id = ?"));
  StmtGuard g(*q);
  g->Bind(1, run_id);
  Status s;
  if (g->Step(&s)) return Status::Ok();
  RETURN_IF_ERROR(s);
  return NotFound("Run with id=" + run_id + " not found");
}

Status PostgresStore::CheckRunActive(Db& db, const std::string& run_id) {
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT lifecycle_stage FROM runs WHERE run_id = ?"));
  StmtGuard g(*q);
  g->Bind(1, run_id);
  Status s;
  if (!g->Step(&s)) {
    RETURN_IF_ERROR(s);
    return NotFound("Run with id=" + run_id + " not found");
  }
  if (g->Text(0) != kActive) {
    return InvalidArgument("the run " + run_id + " must be in the 'active' state; it is '" +
                           std::string(g->Text(0)) + "'");
  }
  return Status::Ok();
}

void PostgresStore::SetRunStage(std::string run_id, std::string stage, Done done) {
  engine_.Submit(
      [=, this](Db& db) -> Status {
        RETURN_IF_ERROR(CheckRunExists(db, run_id));
        ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE runs SET lifecycle_stage = ?, deleted_time "
                                              "= ? WHERE run_id = ?"));
        StmtGuard g(*u);
        g->Bind(1, stage).Bind(3, run_id);
        if (stage == kDeleted) {
          g->Bind(2, NowMillis());
        } else {
          g->BindNull(2);
        }
        return g->Exec();
      },
      std::move(done));
}

Status PostgresStore::UpsertTag(Db& db, const std::string& run_id, const Tag& t) {
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                                        "ON CONFLICT (run_id, key) DO UPDATE SET value = "
                                        "excluded.value"));
  {
    StmtGuard g(*q);
    g->Bind(1, run_id).Bind(2, t.key).Bind(3, t.value);
    RETURN_IF_ERROR(g->Exec());
  }
  if (t.key == "mlflow.runName") {
    ASSIGN_OR_RETURN(Stmt * u, db.Prepare("UPDATE runs SET name = ? WHERE run_id = ?"));
    StmtGuard g(*u);
    g->Bind(1, t.value).Bind(2, run_id);
    RETURN_IF_ERROR(g->Exec());
  }
  return Status::Ok();
}

Result<std::string> PostgresStore::UpsertDataset(Db& db, int64_t experiment_id, const Dataset& d) {
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT dataset_id FROM datasets WHERE experiment_id = ? "
                                        "AND name = ? AND digest = ?"));
  {
    StmtGuard g(*q);
    g->Bind(1, experiment_id).Bind(2, d.name).Bind(3, d.digest);
    Status s;
    if (g->Step(&s)) return std::string(g->Text(0));
    RETURN_IF_ERROR(s);
  }
  std::string id = NewId();
  ASSIGN_OR_RETURN(Stmt * ins,
                   db.Prepare("INSERT INTO datasets (dataset_id, experiment_id, name, digest, "
                              "source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, "
                              "?, ?)"));
  StmtGuard g(*ins);
  g->Bind(1, id)
      .Bind(2, experiment_id)
      .Bind(3, d.name)
      .Bind(4, d.digest)
      .Bind(5, d.source_type)
      .Bind(6, d.source)
      .Bind(7, d.schema)
      .Bind(8, d.profile);
  RETURN_IF_ERROR(g->Exec());
  return id;
}

Result<Run> PostgresStore::LoadRun(Db& db, const std::string& run_id) {
  Run run;
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT experiment_id, name, user_id, status, "
                                        "start_time, end_time, artifact_uri, lifecycle_stage "
                                        "FROM runs WHERE run_id = ?"));
  {
    StmtGuard g(*q);
    g->Bind(1, run_id);
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound("Run with id=" + run_id + " not found");
    }
    RunInfo& i = run.info;
    i.run_id = run_id;
    i.experiment_id = std::to_string(g->Int(0));
    i.run_name = g->Text(1);
    i.user_id = g->Text(2);
    i.status = g->Text(3);
    i.start_time = g->Int(4);
    if (!g->IsNull(5)) i.end_time = g->Int(5);
    i.artifact_uri = g->Text(6);
    i.lifecycle_stage = g->Text(7);
  }
  Status s;
  {
    ASSIGN_OR_RETURN(Stmt * m, db.Prepare("SELECT key, value, timestamp, step, is_nan FROM "
                                          "latest_metrics WHERE run_id = ? ORDER BY key"));
    StmtGuard g(*m);
    g->Bind(1, run_id);
    while (g->Step(&s)) {
      run.metrics.push_back(Metric{std::string(g->Text(0)),
                                   g->Int(4) ? std::nan("") : g->Double(1), g->Int(2),
                                   g->Int(3)});
    }
    RETURN_IF_ERROR(s);
  }
  {
    ASSIGN_OR_RETURN(Stmt * p,
                     db.Prepare("SELECT key, value FROM params WHERE run_id = ? ORDER BY key"));
    StmtGuard g(*p);
    g->Bind(1, run_id);
    while (g->Step(&s))
      run.params.push_back(Param{std::string(g->Text(0)), std::string(g->Text(1))});
    RETURN_IF_ERROR(s);
  }
  {
    ASSIGN_OR_RETURN(Stmt * t,
                     db.Prepare("SELECT key, value FROM tags WHERE run_id = ? ORDER BY key"));
    StmtGuard g(*t);
    g->Bind(1, run_id);
    while (g->Step(&s)) run.tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
    RETURN_IF_ERROR(s);
  }
  {
    ASSIGN_OR_RETURN(Stmt * d,
                     db.Prepare("SELECT d.dataset_id, d.name, d.digest, d.source_type, d.source, "
                                "d.schema, d.profile FROM inputs i JOIN datasets d ON "
                                "d.dataset_id = i.dataset_id WHERE i.run_id = ? ORDER BY d.name, "
                                "d.digest"));
    std::vector<std::string> dataset_ids;
    {
      StmtGuard g(*d);
      g->Bind(1, run_id);
      while (g->Step(&s)) {
        dataset_ids.emplace_back(g->Text(0));
        DatasetInput in;
        in.dataset =
            Dataset{std::string(g->Text(1)), std::string(g->Text(2)), std::string(g->Text(3)),
                    std::string(g->Text(4)), std::string(g->Text(5)), std::string(g->Text(6))};
        run.inputs.push_back(std::move(in));
      }
      RETURN_IF_ERROR(s);
    }
    if (!dataset_ids.empty()) {
      ASSIGN_OR_RETURN(Stmt * it, db.Prepare("SELECT key, value FROM input_tags WHERE run_id = ? "
                                             "AND dataset_id = ? ORDER BY key"));
      for (size_t k = 0; k < dataset_ids.size(); ++k) {
        StmtGuard g(*it);
        g->Bind(1, run_id).Bind(2, dataset_ids[k]);
        while (g->Step(&s)) {
          run.inputs[k].tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
        }
        RETURN_IF_ERROR(s);
      }
    }
  }
  return run;
}

}  // namespace ringo::store::pg
