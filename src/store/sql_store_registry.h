// SqlStore's model registry, documents and event logs. Included only by an engine's
// instantiating file (see sql_store.h).
#ifndef RINGO_STORE_SQL_STORE_REGISTRY_H_
#define RINGO_STORE_SQL_STORE_REGISTRY_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/util.h"
#include "store/documents_sql.h"
#include "store/registry_sql.h"
#include "store/sql_store.h"
#include "store/validation.h"

namespace ringo::store {

template <typename E>
void SqlStore<E>::CreateRegisteredModel(std::string name, std::string description,
                                        std::vector<Tag> tags, DoneWith<RegisteredModel> done) {
  SubmitThenLoad<RegisteredModel>(
      [=](Db& db) { return registry::InsertModel(db, name, description, tags); },
      [=](Db& db) { return registry::LoadModel(db, name); }, std::move(done));
}

template <typename E>
Result<RegisteredModel> SqlStore<E>::GetRegisteredModel(const std::string& name) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return registry::LoadModel(*lease->db, name);
}

template <typename E>
void SqlStore<E>::RenameRegisteredModel(std::string name, std::string new_name,
                                        DoneWith<RegisteredModel> done) {
  SubmitThenLoad<RegisteredModel>(
      [=](Db& db) { return registry::RenameModel(db, name, new_name); },
      [=](Db& db) { return registry::LoadModel(db, new_name); }, std::move(done));
}

template <typename E>
void SqlStore<E>::UpdateRegisteredModel(std::string name, std::string description,
                                        DoneWith<RegisteredModel> done) {
  SubmitThenLoad<RegisteredModel>(
      [=](Db& db) { return registry::UpdateModel(db, name, description); },
      [=](Db& db) { return registry::LoadModel(db, name); }, std::move(done));
}

template <typename E>
void SqlStore<E>::DeleteRegisteredModel(std::string name, Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteModel(db, name); }, std::move(done));
}

template <typename E>
Result<RegisteredModelPage> SqlStore<E>::SearchRegisteredModels(const RegistrySearch& search) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return registry::SearchModels(*lease->db, search);
}

template <typename E>
void SqlStore<E>::SetRegisteredModelTag(std::string name, Tag tag, Done done) {
  engine_.Submit([=](Db& db) { return registry::SetModelTag(db, name, tag); }, std::move(done));
}

template <typename E>
void SqlStore<E>::DeleteRegisteredModelTag(std::string name, std::string key, Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteModelTag(db, name, key); }, std::move(done));
}

template <typename E>
void SqlStore<E>::SetRegisteredModelAlias(std::string name, std::string alias, int64_t version,
                                          Done done) {
  engine_.Submit([=](Db& db) { return registry::SetAlias(db, name, alias, version); },
                 std::move(done));
}

template <typename E>
void SqlStore<E>::DeleteRegisteredModelAlias(std::string name, std::string alias, Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteAlias(db, name, alias); }, std::move(done));
}

template <typename E>
void SqlStore<E>::CreateModelVersion(ModelVersion version, DoneWith<ModelVersion> done) {
  auto number = std::make_shared<int64_t>(0);
  SubmitThenLoad<ModelVersion>(
      [=](Db& db) -> Status {
        ASSIGN_OR_RETURN(*number, registry::InsertVersion(db, version));
        return Status::Ok();
      },
      [=](Db& db) { return registry::LoadVersion(db, version.name, *number); }, std::move(done));
}

template <typename E>
Result<ModelVersion> SqlStore<E>::GetModelVersion(const std::string& name, int64_t version) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return registry::LoadVersion(*lease->db, name, version);
}

template <typename E>
Result<ModelVersion> SqlStore<E>::GetModelVersionByAlias(const std::string& name,
                                                         const std::string& alias) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  ASSIGN_OR_RETURN(int64_t v, registry::AliasVersion(*lease->db, name, alias));
  return registry::LoadVersion(*lease->db, name, v);
}

template <typename E>
void SqlStore<E>::UpdateModelVersion(std::string name, int64_t version, std::string description,
                                     DoneWith<ModelVersion> done) {
  SubmitThenLoad<ModelVersion>(
      [=](Db& db) { return registry::UpdateVersion(db, name, version, description); },
      [=](Db& db) { return registry::LoadVersion(db, name, version); }, std::move(done));
}

template <typename E>
void SqlStore<E>::TransitionModelVersionStage(std::string name, int64_t version, std::string stage,
                                              bool archive_existing, DoneWith<ModelVersion> done) {
  SubmitThenLoad<ModelVersion>(
      [=](Db& db) {
        return registry::TransitionStage(db, name, version, stage, archive_existing);
      },
      [=](Db& db) { return registry::LoadVersion(db, name, version); }, std::move(done));
}

template <typename E>
void SqlStore<E>::DeleteModelVersion(std::string name, int64_t version, Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteVersion(db, name, version); },
                 std::move(done));
}

template <typename E>
Result<ModelVersionPage> SqlStore<E>::SearchModelVersions(const RegistrySearch& search) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return registry::SearchVersions(*lease->db, search);
}

template <typename E>
void SqlStore<E>::SetModelVersionTag(std::string name, int64_t version, Tag tag, Done done) {
  engine_.Submit([=](Db& db) { return registry::SetVersionTag(db, name, version, tag); },
         std::move(done));
}

template <typename E>
void SqlStore<E>::DeleteModelVersionTag(std::string name, int64_t version, std::string key,
                                        Done done) {
  engine_.Submit([=](Db& db) { return registry::DeleteVersionTag(db, name, version, key); },
         std::move(done));
}

template <typename E>
void SqlStore<E>::PutDocument(std::string kind, std::string key, std::string value,
                              int64_t expected_revision, std::string event,
                              DoneWith<int64_t> done) {
  auto revision = std::make_shared<int64_t>(0);
  engine_.Submit(
      [=](Db& db) -> Status {
        ASSIGN_OR_RETURN(*revision,
                         documents::Put(db, kind, key, value, expected_revision, event));
        return Status::Ok();
      },
      [revision, done](Status s) {
        if (!s.ok()) return done(s);
        done(*revision);
      });
}

template <typename E>
void SqlStore<E>::DeleteDocument(std::string kind, std::string key, int64_t expected_revision,
                                 Done done) {
  engine_.Submit([=](Db& db) { return documents::Delete(db, kind, key, expected_revision); },
                 std::move(done));
}

template <typename E>
Result<Document> SqlStore<E>::GetDocument(const std::string& kind, const std::string& key) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return documents::Get(*lease->db, kind, key);
}

template <typename E>
Result<std::vector<Document>> SqlStore<E>::ListDocuments(const std::string& kind,
                                                         const std::string& prefix) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return documents::List(*lease->db, kind, prefix);
}

template <typename E>
void SqlStore<E>::AppendEvent(std::string kind, std::string key, std::string value, Done done) {
  engine_.Submit([=](Db& db) { return documents::AppendEvent(db, kind, key, value); },
                 std::move(done));
}

template <typename E>
Result<std::vector<Event>> SqlStore<E>::ListEvents(const std::string& kind, const std::string& key,
                                                   int64_t after_seq, int64_t limit) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return documents::ListEvents(*lease->db, kind, key, after_seq, limit);
}

}  // namespace ringo::store

#endif  // RINGO_STORE_SQL_STORE_REGISTRY_H_
