// SQL of the model registry, on one connection (private to the PostgreSQL store).
#ifndef RINGO_STORE_POSTGRES_REGISTRY_SQL_H_
#define RINGO_STORE_POSTGRES_REGISTRY_SQL_H_

#include <string>
#include <vector>

#include "common/status.h"
#include "store/postgres/db.h"
#include "store/store.h"

namespace ringo::store::pg::registry {

Status ValidateModelName(const std::string& name);

Status InsertModel(Db& db, const std::string& name, const std::string& description,
                   const std::vector<Tag>& tags);
Result<RegisteredModel> LoadModel(Db& db, const std::string& name);
Status RenameModel(Db& db, const std::string& name, const std::string& new_name);
Status UpdateModel(Db& db, const std::string& name, const std::string& description);
Status DeleteModel(Db& db, const std::string& name);
Status SetModelTag(Db& db, const std::string& name, const Tag& tag);
Status DeleteModelTag(Db& db, const std::string& name, const std::string& key);
Status SetAlias(Db& db, const std::string& name, const std::string& alias, int64_t version);
Status DeleteAlias(Db& db, const std::string& name, const std::string& alias);
Result<int64_t> AliasVersion(Db& db, const std::string& name, const std::string& alias);

// Inserts the next version of `v.name`; returns the number.
Result<int64_t> InsertVersion(Db& db, const ModelVersion& v);
Result<ModelVersion> LoadVersion(Db& db, const std::string& name, int64_t version);
Status UpdateVersion(Db& db, const std::string& name, int64_t version,
                     const std::string& description);
Status TransitionStage(Db& db, const std::string& name, int64_t version, const std::string& stage,
                       bool archive_existing);
Status DeleteVersion(Db& db, const std::string& name, int64_t version);
Status SetVersionTag(Db& db, const std::string& name, int64_t version, const Tag& tag);
Status DeleteVersionTag(Db& db, const std::string& name, int64_t version, const std::string& key);

Result<RegisteredModelPage> SearchModels(Db& db, const RegistrySearch& search);
Result<ModelVersionPage> SearchVersions(Db& db, const RegistrySearch& search);

}  // namespace ringo::store::pg::registry

#endif  // RINGO_STORE_POSTGRES_REGISTRY_SQL_H_
