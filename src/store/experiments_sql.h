// SQL of experiments, shared by the SQL engines: function templates over an engine's connection
// type `Db` (the vocabulary of registry_sql.h: Prepare, Statement, Guard, Changes). Writes run
// in the caller's transaction. Private to store/ and its engines.
#ifndef RINGO_STORE_EXPERIMENTS_SQL_H_
#define RINGO_STORE_EXPERIMENTS_SQL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/util.h"
#include "store/store.h"

namespace ringo::store::experiments {

// The lifecycle stage of experiment `id`; kNotFound when there is none.
template <typename Db>
Result<std::string> Stage(Db& db, int64_t id) {
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, id);
  Status s;
  if (!g->Step(&s)) {
    RETURN_IF_ERROR(s);
    return NotFound("No Experiment with id=" + std::to_string(id) + " exists");
  }
  return std::string(g->Text(0));
}

// kInvalidArgument unless experiment `id` is active (writes to it need that).
template <typename Db>
Status CheckActive(Db& db, int64_t id) {
  ASSIGN_OR_RETURN(std::string stage, Stage(db, id));
  if (stage != "active") {
    // MLflow's wording, which its clients and tests match on.
    return InvalidArgument("The experiment " + std::to_string(id) +
                           " must be in the 'active' state. Current state is " + stage + ".");
  }
  return Status::Ok();
}

template <typename Db>
Status UpsertTag(Db& db, int64_t id, const Tag& t) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("INSERT INTO experiment_tags (experiment_id, key, value) "
                                       "VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO "
                                       "UPDATE SET value = excluded.value"));
  typename Db::Guard g(*q);
  g->Bind(1, id).Bind(2, t.key).Bind(3, t.value);
  return g->Exec();
}

// kNotFound when the tag is not there.
template <typename Db>
Status DeleteTag(Db& db, int64_t id, const std::string& key) {
  ASSIGN_OR_RETURN(auto* del, db.Prepare("DELETE FROM experiment_tags WHERE experiment_id = ? "
                                         "AND key = ?"));
  typename Db::Guard g(*del);
  g->Bind(1, id).Bind(2, key);
  RETURN_IF_ERROR(g->Exec());
  if (db.Changes() == 0) {
    return NotFound("no tag with key '" + key + "' on experiment " + std::to_string(id));
  }
  return Status::Ok();
}

// The Default experiment (id 0) of a new database, its artifacts under "<artifact_root>/0".
template <typename Db>
Status InsertDefault(Db& db, const std::string& artifact_root) {
  ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(
                                  "INSERT INTO experiments (experiment_id, name, "
                                  "artifact_location, lifecycle_stage, creation_time, "
                                  "last_update_time) VALUES (0, 'Default', ?, 'active', ?, ?)"));
  int64_t now = NowMillis();
  stmt->Bind(1, artifact_root + "/0").Bind(2, now).Bind(3, now);
  return stmt->Exec();
}

// Creates an experiment with the next id (ids count up from the largest, 0 being "Default");
// kAlreadyExists for a taken name, deleted experiments included, as MLflow. Without a location
// its artifacts go to "<artifact_root>/<id>". Returns the id.
template <typename Db>
Result<int64_t> Insert(Db& db, const std::string& name, const std::string& artifact_location,
                       const std::vector<Tag>& tags, const std::string& artifact_root) {
  {
    ASSIGN_OR_RETURN(auto* find,
                     db.Prepare("SELECT lifecycle_stage FROM experiments WHERE name = ?"));
    typename Db::Guard g(*find);
    g->Bind(1, name);
    Status s;
    if (g->Step(&s)) {
      std::string stage(g->Text(0));
      return AlreadyExists("experiment(name=" + name + ") already exists" +
                           (stage == "deleted" ? " in deleted state" : ""));
    }
    RETURN_IF_ERROR(s);
  }
  int64_t id = 0;
  {
    ASSIGN_OR_RETURN(auto* next,
                     db.Prepare("SELECT COALESCE(MAX(experiment_id), -1) + 1 FROM experiments"));
    typename Db::Guard g(*next);
    Status s;
    if (!g->Step(&s)) return s.ok() ? Internal("no next experiment id") : s;
    id = g->Int(0);
  }
  int64_t now = NowMillis();
  std::string location =
      artifact_location.empty() ? artifact_root + "/" + std::to_string(id) : artifact_location;
  {
    ASSIGN_OR_RETURN(auto* ins, db.Prepare("INSERT INTO experiments (experiment_id, name, "
                                           "artifact_location, lifecycle_stage, creation_time, "
                                           "last_update_time) VALUES (?, ?, ?, 'active', ?, ?)"));
    typename Db::Guard g(*ins);
    g->Bind(1, id).Bind(2, name).Bind(3, location).Bind(4, now).Bind(5, now);
    RETURN_IF_ERROR(g->Exec());
  }
  for (const Tag& t : tags) RETURN_IF_ERROR(UpsertTag(db, id, t));
  return id;
}

// kFailedPrecondition for a deleted experiment (MLflow's INVALID_STATE), kAlreadyExists for a
// name another experiment has.
template <typename Db>
Status Rename(Db& db, int64_t id, const std::string& new_name) {
  ASSIGN_OR_RETURN(std::string stage, Stage(db, id));
  if (stage != "active") {
    return FailedPrecondition("cannot rename a non-active experiment '" + std::to_string(id) +
                              "'");
  }
  {
    ASSIGN_OR_RETURN(auto* find,
                     db.Prepare("SELECT experiment_id FROM experiments WHERE name = ?"));
    typename Db::Guard g(*find);
    g->Bind(1, new_name);
    Status s;
    if (g->Step(&s) && g->Int(0) != id) {
      return AlreadyExists("experiment(name=" + new_name + ") already exists");
    }
    RETURN_IF_ERROR(s);
  }
  ASSIGN_OR_RETURN(auto* upd, db.Prepare("UPDATE experiments SET name = ?, last_update_time = ? "
                                         "WHERE experiment_id = ?"));
  typename Db::Guard g(*upd);
  g->Bind(1, new_name).Bind(2, NowMillis()).Bind(3, id);
  return g->Exec();
}

// Moves the experiment and, as MLflow does, its runs to `stage` ("active" or "deleted").
template <typename Db>
Status SetStage(Db& db, int64_t id, const std::string& stage) {
  RETURN_IF_ERROR(Stage(db, id).status());
  if (stage == "deleted" && id == 0) {
    return InvalidArgument("the default experiment (id 0) cannot be deleted");
  }
  int64_t now = NowMillis();
  {
    ASSIGN_OR_RETURN(auto* u, db.Prepare("UPDATE experiments SET lifecycle_stage = ?, "
                                         "last_update_time = ? WHERE experiment_id = ?"));
    typename Db::Guard g(*u);
    g->Bind(1, stage).Bind(2, now).Bind(3, id);
    RETURN_IF_ERROR(g->Exec());
  }
  // The cast types the CASE for PostgreSQL, which would otherwise take the time for text.
  ASSIGN_OR_RETURN(auto* r, db.Prepare("UPDATE runs SET lifecycle_stage = ?, deleted_time = "
                                       "CASE WHEN ? = 'deleted' THEN CAST(? AS bigint) ELSE NULL "
                                       "END WHERE experiment_id = ?"));
  typename Db::Guard g(*r);
  g->Bind(1, stage).Bind(2, stage).Bind(3, now).Bind(4, id);
  return g->Exec();
}

// The experiment whose `column` ("experiment_id" or "name") equals `key`, with its tags;
// kNotFound(not_found) when there is none.
template <typename Db, typename Key>
Result<Experiment> Load(Db& db, const char* column, const Key& key, const std::string& not_found) {
  std::string sql = std::string("SELECT experiment_id, name, artifact_location, lifecycle_stage, "
                                "creation_time, last_update_time FROM experiments WHERE ") +
                    column + " = ?";
  ASSIGN_OR_RETURN(auto* q, db.Prepare(sql));
  Experiment e;
  int64_t id = 0;
  {
    typename Db::Guard g(*q);
    g->Bind(1, key);
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound(not_found);
    }
    id = g->Int(0);
    e.experiment_id = std::to_string(id);
    e.name = g->Text(1);
    e.artifact_location = g->Text(2);
    e.lifecycle_stage = g->Text(3);
    e.creation_time = g->Int(4);
    e.last_update_time = g->Int(5);
  }
  ASSIGN_OR_RETURN(auto* t, db.Prepare("SELECT key, value FROM experiment_tags WHERE "
                                       "experiment_id = ? ORDER BY key"));
  typename Db::Guard g(*t);
  g->Bind(1, id);
  Status s;
  while (g->Step(&s)) e.tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
  RETURN_IF_ERROR(s);
  return e;
}

}  // namespace ringo::store::experiments

#endif  // RINGO_STORE_EXPERIMENTS_SQL_H_
