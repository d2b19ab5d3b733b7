// SQL of runs, shared by the SQL engines: function templates over an engine's connection type
// `Db` (the vocabulary of registry_sql.h: Prepare, Statement, Guard, Changes). Writes run in the
// caller's transaction. How a log-batch is written and how runs are searched stay per engine.
// Private to store/ and its engines.
#ifndef RINGO_STORE_RUNS_SQL_H_
#define RINGO_STORE_RUNS_SQL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/util.h"
#include "store/run_names.h"
#include "store/store.h"

namespace ringo::store::runs {

// kNotFound when there is no run `run_id`.
template <typename Db>
Status CheckExists(Db& db, const std::string& run_id) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT 1 FROM runs WHERE run_id = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, run_id);
  Status s;
  if (g->Step(&s)) return Status::Ok();
  RETURN_IF_ERROR(s);
  return NotFound("Run with id=" + run_id + " not found");
}

// kNotFound for an unknown run, kInvalidArgument unless it is active (writes need that).
template <typename Db>
Status CheckActive(Db& db, const std::string& run_id) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT lifecycle_stage FROM runs WHERE run_id = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, run_id);
  Status s;
  if (!g->Step(&s)) {
    RETURN_IF_ERROR(s);
    return NotFound("Run with id=" + run_id + " not found");
  }
  if (g->Text(0) != "active") {
    // MLflow's wording, which its clients and tests match on.
    return InvalidArgument("The run " + run_id + " must be in the 'active' state. Current state is " +
                           std::string(g->Text(0)) + ".");
  }
  return Status::Ok();
}

// Sets a tag; mlflow.runName also renames the run, whose name lives in both places.
template <typename Db>
Status UpsertTag(Db& db, const std::string& run_id, const Tag& t) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                                       "ON CONFLICT (run_id, key) DO UPDATE SET value = "
                                       "excluded.value"));
  {
    typename Db::Guard g(*q);
    g->Bind(1, run_id).Bind(2, t.key).Bind(3, t.value);
    RETURN_IF_ERROR(g->Exec());
  }
  if (t.key == "mlflow.runName") {
    ASSIGN_OR_RETURN(auto* u, db.Prepare("UPDATE runs SET name = ? WHERE run_id = ?"));
    typename Db::Guard g(*u);
    g->Bind(1, t.value).Bind(2, run_id);
    RETURN_IF_ERROR(g->Exec());
  }
  return Status::Ok();
}

// The id of the experiment's dataset with d's name and digest, created when new.
template <typename Db>
Result<std::string> UpsertDataset(Db& db, int64_t experiment_id, const Dataset& d) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT dataset_id FROM datasets WHERE experiment_id = ? "
                                       "AND name = ? AND digest = ?"));
  {
    typename Db::Guard g(*q);
    g->Bind(1, experiment_id).Bind(2, d.name).Bind(3, d.digest);
    Status s;
    if (g->Step(&s)) return std::string(g->Text(0));
    RETURN_IF_ERROR(s);
  }
  std::string id = NewId();
  ASSIGN_OR_RETURN(auto* ins,
                   db.Prepare("INSERT INTO datasets (dataset_id, experiment_id, name, digest, "
                              "source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, "
                              "?, ?)"));
  typename Db::Guard g(*ins);
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

// Creates run `run_id` from `req` (validated by the caller) in an active experiment: the name
// comes from the request or its mlflow.runName tag or is generated, and is kept in both; the
// user likewise from mlflow.user. kNotFound for an unknown experiment.
template <typename Db>
Status Insert(Db& db, const std::string& run_id, int64_t experiment_id, CreateRunRequest req) {
  std::string location;
  {
    ASSIGN_OR_RETURN(auto* find, db.Prepare("SELECT lifecycle_stage, artifact_location FROM "
                                            "experiments WHERE experiment_id = ?"));
    typename Db::Guard g(*find);
    g->Bind(1, experiment_id);
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound("No Experiment with id=" + req.experiment_id + " exists");
    }
    if (g->Text(0) != "active") {
      return InvalidArgument("the experiment " + req.experiment_id +
                             " must be in the 'active' state");
    }
    location = std::string(g->Text(1));
  }
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
  std::string artifact_uri = location + "/" + run_id + "/artifacts";
  int64_t start = req.start_time ? req.start_time : NowMillis();
  {
    ASSIGN_OR_RETURN(auto* ins, db.Prepare("INSERT INTO runs (run_id, experiment_id, name, "
                                           "user_id, status, start_time, end_time, "
                                           "artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, "
                                           "'RUNNING', ?, NULL, ?, 'active')"));
    typename Db::Guard g(*ins);
    g->Bind(1, run_id).Bind(2, experiment_id).Bind(3, name).Bind(4, user);
    g->Bind(5, start).Bind(6, artifact_uri);
    RETURN_IF_ERROR(g->Exec());
  }
  for (const Tag& t : req.tags) RETURN_IF_ERROR(UpsertTag(db, run_id, t));
  return Status::Ok();
}

// Applies what `req` sets (status validated by the caller) to an active run.
template <typename Db>
Status Update(Db& db, const UpdateRunRequest& req) {
  RETURN_IF_ERROR(CheckActive(db, req.run_id));
  if (req.status) {
    ASSIGN_OR_RETURN(auto* u, db.Prepare("UPDATE runs SET status = ? WHERE run_id = ?"));
    typename Db::Guard g(*u);
    g->Bind(1, *req.status).Bind(2, req.run_id);
    RETURN_IF_ERROR(g->Exec());
  }
  if (req.end_time) {
    ASSIGN_OR_RETURN(auto* u, db.Prepare("UPDATE runs SET end_time = ? WHERE run_id = ?"));
    typename Db::Guard g(*u);
    g->Bind(1, *req.end_time).Bind(2, req.run_id);
    RETURN_IF_ERROR(g->Exec());
  }
  if (req.run_name && !req.run_name->empty()) {
    RETURN_IF_ERROR(UpsertTag(db, req.run_id, Tag{"mlflow.runName", *req.run_name}));
  }
  return Status::Ok();
}

// Moves a run to `stage` ("active" or "deleted", which records when).
template <typename Db>
Status SetStage(Db& db, const std::string& run_id, const std::string& stage) {
  RETURN_IF_ERROR(CheckExists(db, run_id));
  ASSIGN_OR_RETURN(auto* u, db.Prepare("UPDATE runs SET lifecycle_stage = ?, deleted_time = ? "
                                       "WHERE run_id = ?"));
  typename Db::Guard g(*u);
  g->Bind(1, stage).Bind(3, run_id);
  if (stage == "deleted") {
    g->Bind(2, NowMillis());
  } else {
    g->BindNull(2);
  }
  return g->Exec();
}

// kNotFound when the active run has no such tag.
template <typename Db>
Status DeleteTag(Db& db, const std::string& run_id, const std::string& key) {
  RETURN_IF_ERROR(CheckActive(db, run_id));
  ASSIGN_OR_RETURN(auto* del, db.Prepare("DELETE FROM tags WHERE run_id = ? AND key = ?"));
  typename Db::Guard g(*del);
  g->Bind(1, run_id).Bind(2, key);
  RETURN_IF_ERROR(g->Exec());
  if (db.Changes() == 0) {
    return NotFound("No tag with name: " + key + " in run with id " + run_id);
  }
  return Status::Ok();
}

// Links the (validated) dataset inputs and their tags to an active run.
template <typename Db>
Status LogInputs(Db& db, const std::string& run_id, const std::vector<DatasetInput>& inputs) {
  RETURN_IF_ERROR(CheckActive(db, run_id));
  int64_t experiment_id = 0;
  {
    ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT experiment_id FROM runs WHERE run_id = ?"));
    typename Db::Guard g(*q);
    g->Bind(1, run_id);
    Status s;
    if (!g->Step(&s)) return s.ok() ? NotFound("Run with id=" + run_id + " not found") : s;
    experiment_id = g->Int(0);
  }
  for (const DatasetInput& in : inputs) {
    ASSIGN_OR_RETURN(std::string dataset_id, UpsertDataset(db, experiment_id, in.dataset));
    {
      ASSIGN_OR_RETURN(auto* link, db.Prepare("INSERT INTO inputs (run_id, dataset_id) VALUES "
                                              "(?, ?) ON CONFLICT DO NOTHING"));
      typename Db::Guard g(*link);
      g->Bind(1, run_id).Bind(2, dataset_id);
      RETURN_IF_ERROR(g->Exec());
    }
    for (const Tag& t : in.tags) {
      ASSIGN_OR_RETURN(auto* tag, db.Prepare("INSERT INTO input_tags (run_id, dataset_id, key, "
                                             "value) VALUES (?, ?, ?, ?) ON CONFLICT (run_id, "
                                             "dataset_id, key) DO UPDATE SET value = "
                                             "excluded.value"));
      typename Db::Guard g(*tag);
      g->Bind(1, run_id).Bind(2, dataset_id).Bind(3, t.key).Bind(4, t.value);
      RETURN_IF_ERROR(g->Exec());
    }
  }
  return Status::Ok();
}

// Appends `model_json` to the JSON list in the active run's mlflow.log-model.history tag; a
// value that is not a list is replaced rather than extended.
template <typename Db>
Status AppendLoggedModel(Db& db, const std::string& run_id, const std::string& model_json) {
  RETURN_IF_ERROR(CheckActive(db, run_id));
  const std::string key = "mlflow.log-model.history";
  std::string history;
  {
    ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT value FROM tags WHERE run_id = ? AND key = ?"));
    typename Db::Guard g(*q);
    g->Bind(1, run_id).Bind(2, key);
    Status s;
    if (g->Step(&s)) history = std::string(g->Text(0));
    RETURN_IF_ERROR(s);
  }
  size_t close = history.find_last_of(']');
  bool is_list = !history.empty() && history.front() == '[' && close != std::string::npos;
  if (!is_list) {
    history = "[" + model_json + "]";
  } else {
    bool empty = history.find_first_not_of(" \t\r\n", 1) == close;
    history = history.substr(0, close) + (empty ? "" : ", ") + model_json + "]";
  }
  return UpsertTag(db, run_id, Tag{key, history});
}

}  // namespace ringo::store::runs

#endif  // RINGO_STORE_RUNS_SQL_H_
