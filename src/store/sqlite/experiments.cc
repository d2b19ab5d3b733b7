// The SQLite store's experiments: create, read, search, rename, delete and restore, tags, over
// store/experiments_sql.h.
#include "store/experiments_sql.h"
#include "store/sqlite/store_impl.h"
#include "store/validation.h"

namespace ringo::store {

void SqliteStore::CreateExperiment(std::string name, std::string artifact_location,
                                   std::vector<Tag> tags, DoneWith<std::string> done) {
  if (name.empty()) return done(InvalidArgument("experiment name must be a non-empty string"));
  for (const Tag& t : tags) {
    Status s = ValidateTag(t);
    if (!s.ok()) return done(s);
  }
  auto id = std::make_shared<int64_t>(0);
  engine_.Submit(
      [=, root = artifact_root_](Db& db) -> Status {
        ASSIGN_OR_RETURN(*id, experiments::Insert(db, name, artifact_location, tags, root));
        return Status::Ok();
      },
      [id, done](Status s) {
        if (!s.ok()) return done(s);
        done(std::to_string(*id));
      });
}

Result<Experiment> SqliteStore::GetExperiment(const std::string& experiment_id) {
  ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return experiments::Load(*lease->db, "experiment_id", id,
                           "No Experiment with id=" + experiment_id + " exists");
}

Result<Experiment> SqliteStore::GetExperimentByName(const std::string& name) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return experiments::Load(*lease->db, "name", name,
                           "Could not find experiment with name '" + name + "'");
}

Result<ExperimentPage> SqliteStore::SearchExperiments(const ExperimentSearch& search) {
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
  ASSIGN_OR_RETURN(SqlQuery query, CompileExperimentSearch(search, offset, kSqliteDialect));
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
    ASSIGN_OR_RETURN(Experiment e, experiments::Load(db, "experiment_id", id, "gone"));
    page.experiments.push_back(std::move(e));
  }
  return page;
}

void SqliteStore::RenameExperiment(std::string experiment_id, std::string new_name, Done done) {
  if (new_name.empty()) return done(InvalidArgument("experiment name must be a non-empty string"));
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit([=](Db& db) { return experiments::Rename(db, *id, new_name); }, std::move(done));
}

void SqliteStore::DeleteExperiment(std::string experiment_id, Done done) {
  SetExperimentStage(std::move(experiment_id), std::string(kDeleted), std::move(done));
}

void SqliteStore::RestoreExperiment(std::string experiment_id, Done done) {
  SetExperimentStage(std::move(experiment_id), std::string(kActive), std::move(done));
}

void SqliteStore::SetExperimentStage(std::string experiment_id, std::string stage, Done done) {
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit([=](Db& db) { return experiments::SetStage(db, *id, stage); }, std::move(done));
}

void SqliteStore::SetExperimentTag(std::string experiment_id, Tag tag, Done done) {
  Status v = ValidateTag(tag);
  if (!v.ok()) return done(v);
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit(
      [=](Db& db) -> Status {
        RETURN_IF_ERROR(experiments::CheckActive(db, *id));
        return experiments::UpsertTag(db, *id, tag);
      },
      std::move(done));
}

void SqliteStore::DeleteExperimentTag(std::string experiment_id, std::string key, Done done) {
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit(
      [=](Db& db) -> Status {
        RETURN_IF_ERROR(experiments::CheckActive(db, *id));
        return experiments::DeleteTag(db, *id, key);
      },
      std::move(done));
}

}  // namespace ringo::store
