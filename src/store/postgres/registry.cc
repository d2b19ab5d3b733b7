// The PostgreSQL store's model registry methods over store/registry_sql.h.
#include "common/util.h"
#include "store/registry_sql.h"
#include "store/postgres/store_impl.h"

namespace ringo::store::pg {

void PostgresStore::CreateRegisteredModel(std::string name, std::string description,
                                          std::vector<Tag> tags, DoneWith<RegisteredModel> done) {
  SubmitThenLoad<RegisteredModel>(
      [=](Db& db) { return registry::InsertModel(db, name, description, tags); },
      [=](Db& db) { return registry::LoadModel(db, name); }, std::move(done));
}

Result<RegisteredModel> PostgresStore::GetRegisteredModel(const std::string& name) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return registry::LoadModel(*lease->db, name);
}

void PostgresStore::RenameRegisteredModel(std::string name, std::string new_name,
                           DoneWith<RegisteredModel> done) {
  SubmitThenLoad<RegisteredModel>(
      [=](Db& db) { return registry::RenameModel(db, name, new_name); },
      [=](Db& db) { return registry::LoadModel(db, new_name); }, std::move(done));
}

void PostgresStore::UpdateRegisteredModel(std::string name, std::string description,
                           DoneWith<RegisteredModel> done) {
  SubmitThenLoad<RegisteredModel>(
      [=](Db& db) { return registry::UpdateModel(db, name, description); },
      [=](Db& db) { return registry::LoadModel(db, name); }, std::move(done));
}

void PostgresStore::DeleteRegisteredModel(std::string name, Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteModel(db, name); }, std::move(done));
}

Result<RegisteredModelPage> PostgresStore::SearchRegisteredModels(const RegistrySearch& search) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return registry::SearchModels(*lease->db, search);
}

void PostgresStore::SetRegisteredModelTag(std::string name, Tag tag, Done done) {
  engine_.Submit([=](Db& db) { return registry::SetModelTag(db, name, tag); }, std::move(done));
}

void PostgresStore::DeleteRegisteredModelTag(std::string name, std::string key, Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteModelTag(db, name, key); }, std::move(done));
}

void PostgresStore::SetRegisteredModelAlias(std::string name, std::string alias, int64_t version,
                             Done done) {
  engine_.Submit([=](Db& db) { return registry::SetAlias(db, name, alias, version); },
                 std::move(done));
}

void PostgresStore::DeleteRegisteredModelAlias(std::string name, std::string alias, Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteAlias(db, name, alias); }, std::move(done));
}

void PostgresStore::CreateModelVersion(ModelVersion version, DoneWith<ModelVersion> done) {
  auto number = std::make_shared<int64_t>(0);
  SubmitThenLoad<ModelVersion>(
      [=](Db& db) -> Status {
        ASSIGN_OR_RETURN(*number, registry::InsertVersion(db, version));
        return Status::Ok();
      },
      [=](Db& db) { return registry::LoadVersion(db, version.name, *number); }, std::move(done));
}

Result<ModelVersion> PostgresStore::GetModelVersion(const std::string& name, int64_t version) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return registry::LoadVersion(*lease->db, name, version);
}

Result<ModelVersion> PostgresStore::GetModelVersionByAlias(const std::string& name,
                                            const std::string& alias) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  ASSIGN_OR_RETURN(int64_t v, registry::AliasVersion(*lease->db, name, alias));
  return registry::LoadVersion(*lease->db, name, v);
}

void PostgresStore::UpdateModelVersion(std::string name, int64_t version, std::string description,
                        DoneWith<ModelVersion> done) {
  SubmitThenLoad<ModelVersion>(
      [=](Db& db) { return registry::UpdateVersion(db, name, version, description); },
      [=](Db& db) { return registry::LoadVersion(db, name, version); }, std::move(done));
}

void PostgresStore::TransitionModelVersionStage(std::string name, int64_t version,
                                                std::string stage, bool archive_existing,
                                                DoneWith<ModelVersion> done) {
  SubmitThenLoad<ModelVersion>(
      [=](Db& db) {
        return registry::TransitionStage(db, name, version, stage, archive_existing);
      },
      [=](Db& db) { return registry::LoadVersion(db, name, version); }, std::move(done));
}

void PostgresStore::DeleteModelVersion(std::string name, int64_t version, Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteVersion(db, name, version); },
                 std::move(done));
}

Result<ModelVersionPage> PostgresStore::SearchModelVersions(const RegistrySearch& search) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return registry::SearchVersions(*lease->db, search);
}

void PostgresStore::SetModelVersionTag(std::string name, int64_t version, Tag tag, Done done) {
  engine_.Submit([=](Db& db) { return registry::SetVersionTag(db, name, version, tag); },
         std::move(done));
}

void PostgresStore::DeleteModelVersionTag(std::string name, int64_t version, std::string key,
                           Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteVersionTag(db, name, version, key); },
         std::move(done));
}

}  // namespace ringo::store::pg
