// SQL of the model registry, shared by the SQL engines: function templates over an engine's
// connection type `Db`, which provides Prepare(sql) -> Result<Db::Statement*> (cached, `?`
// placeholders), Changes() (rows changed by the last statement) and the Statement and Guard
// types of its engine (Bind, Step, Exec, Int, Text). Searches go through registry_search.h.
// Private to store/ and its engines.
#ifndef RINGO_STORE_REGISTRY_SQL_H_
#define RINGO_STORE_REGISTRY_SQL_H_

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/util.h"
#include "store/registry_search.h"
#include "store/store.h"
#include "store/validation.h"

namespace ringo::store::registry {

// The registry's operations on one connection, inside the caller's transaction for writes.
// Failures as the Store interface documents them (kNotFound, kAlreadyExists,
// kInvalidArgument), or the engine's errors.
template <typename Db>
Status InsertModel(Db& db, const std::string& name, const std::string& description,
                   const std::vector<Tag>& tags);
template <typename Db>
Result<RegisteredModel> LoadModel(Db& db, const std::string& name);
template <typename Db>
Status RenameModel(Db& db, const std::string& name, const std::string& new_name);
template <typename Db>
Status UpdateModel(Db& db, const std::string& name, const std::string& description);
template <typename Db>
Status DeleteModel(Db& db, const std::string& name);
template <typename Db>
Status SetModelTag(Db& db, const std::string& name, const Tag& tag);
template <typename Db>
Status DeleteModelTag(Db& db, const std::string& name, const std::string& key);
template <typename Db>
Status SetAlias(Db& db, const std::string& name, const std::string& alias, int64_t version);
template <typename Db>
Status DeleteAlias(Db& db, const std::string& name, const std::string& alias);
template <typename Db>
Result<int64_t> AliasVersion(Db& db, const std::string& name, const std::string& alias);

// Inserts the next version of `v.name`; returns the number.
template <typename Db>
Result<int64_t> InsertVersion(Db& db, const ModelVersion& v);
template <typename Db>
Result<ModelVersion> LoadVersion(Db& db, const std::string& name, int64_t version);
template <typename Db>
Status UpdateVersion(Db& db, const std::string& name, int64_t version,
                     const std::string& description);
template <typename Db>
Status TransitionStage(Db& db, const std::string& name, int64_t version, const std::string& stage,
                       bool archive_existing);
template <typename Db>
Status DeleteVersion(Db& db, const std::string& name, int64_t version);
template <typename Db>
Status SetVersionTag(Db& db, const std::string& name, int64_t version, const Tag& tag);
template <typename Db>
Status DeleteVersionTag(Db& db, const std::string& name, int64_t version, const std::string& key);

template <typename Db>
Result<RegisteredModelPage> SearchModels(Db& db, const RegistrySearch& search);
template <typename Db>
Result<ModelVersionPage> SearchVersions(Db& db, const RegistrySearch& search);

// Helpers of the operations below.
namespace detail {

template <typename Db>
Status Exec(Db& db, std::string_view sql, const std::vector<std::string>& text_binds) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare(sql));
  typename Db::Guard g(*q);
  int i = 1;
  for (const auto& t : text_binds) g->Bind(i++, t);
  return g->Exec();
}

template <typename Db>
Status ModelExists(Db& db, const std::string& name) {
  ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT 1 FROM registered_models WHERE name = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, name);
  Status s;
  if (g->Step(&s)) return Status::Ok();
  RETURN_IF_ERROR(s);
  return NotFound("Registered Model with name=" + name + " not found");
}

template <typename Db>
Status VersionExists(Db& db, const std::string& name, int64_t version) {
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("SELECT 1 FROM model_versions WHERE name = ? AND version = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, name).Bind(2, version);
  Status s;
  if (g->Step(&s)) return Status::Ok();
  RETURN_IF_ERROR(s);
  return NotFound("Model Version (name=" + name + ", version=" + std::to_string(version) +
                  ") not found");
}

template <typename Db>
Status Touch(Db& db, const std::string& name) {
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("UPDATE registered_models SET last_updated_time = ? WHERE name = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, NowMillis()).Bind(2, name);
  return g->Exec();
}

}  // namespace detail

inline Status ValidateModelName(const std::string& name) {
  if (name.empty()) return InvalidArgument("registered model name must be a non-empty string");
  if (name.size() > 256)
    return InvalidArgument("registered model name is longer than 256 characters");
  for (unsigned char c : name) {
    if (c < 0x20 || c == '/' || c == '\\' || c == '%' || c == ':') {
      return InvalidArgument("invalid registered model name '" + name +
                             "': control characters and / \\ % : are not allowed");
    }
  }
  return Status::Ok();
}

template <typename Db>
Status InsertModel(Db& db, const std::string& name, const std::string& description,
                   const std::vector<Tag>& tags) {
  RETURN_IF_ERROR(ValidateModelName(name));
  if (detail::ModelExists(db, name).ok()) {
    return AlreadyExists("Registered Model (name=" + name + ") already exists.");
  }
  int64_t now = NowMillis();
  ASSIGN_OR_RETURN(auto* q, db.Prepare("INSERT INTO registered_models (name, creation_time, "
                                       "last_updated_time, description) VALUES (?, ?, ?, ?)"));
  {
    typename Db::Guard g(*q);
    g->Bind(1, name).Bind(2, now).Bind(3, now).Bind(4, description);
    RETURN_IF_ERROR(g->Exec());
  }
  for (const Tag& t : tags) RETURN_IF_ERROR(SetModelTag(db, name, t));
  return Status::Ok();
}

template <typename Db>
Result<RegisteredModel> LoadModel(Db& db, const std::string& name) {
  RegisteredModel m;
  {
    ASSIGN_OR_RETURN(auto* q,
                     db.Prepare("SELECT creation_time, last_updated_time, description FROM "
                                "registered_models WHERE name = ?"));
    typename Db::Guard g(*q);
    g->Bind(1, name);
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound("Registered Model with name=" + name + " not found");
    }
    m.name = name;
    m.creation_time = g->Int(0);
    m.last_updated_time = g->Int(1);
    m.description = g->Text(2);
  }
  Status s;
  {
    ASSIGN_OR_RETURN(
        auto* q,
        db.Prepare("SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key"));
    typename Db::Guard g(*q);
    g->Bind(1, name);
    while (g->Step(&s)) m.tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
    RETURN_IF_ERROR(s);
  }
  {
    ASSIGN_OR_RETURN(
        auto* q,
        db.Prepare(
            "SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias"));
    typename Db::Guard g(*q);
    g->Bind(1, name);
    while (g->Step(&s)) m.aliases.emplace_back(std::string(g->Text(0)), g->Int(1));
    RETURN_IF_ERROR(s);
  }
  // The newest version per stage, as MLflow reports latest_versions.
  std::vector<int64_t> latest;
  {
    ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT MAX(version) FROM model_versions WHERE name = ? "
                                         "GROUP BY current_stage ORDER BY 1"));
    typename Db::Guard g(*q);
    g->Bind(1, name);
    while (g->Step(&s)) latest.push_back(g->Int(0));
    RETURN_IF_ERROR(s);
  }
  for (int64_t v : latest) {
    ASSIGN_OR_RETURN(ModelVersion mv, LoadVersion(db, name, v));
    m.latest_versions.push_back(std::move(mv));
  }
  return m;
}

template <typename Db>
Status RenameModel(Db& db, const std::string& name, const std::string& new_name) {
  RETURN_IF_ERROR(ValidateModelName(new_name));
  RETURN_IF_ERROR(detail::ModelExists(db, name));
  if (name != new_name && detail::ModelExists(db, new_name).ok()) {
    return AlreadyExists("Registered Model (name=" + new_name + ") already exists.");
  }
  for (const char* table : {"registered_models", "registered_model_tags",
                            "registered_model_aliases", "model_versions", "model_version_tags"}) {
    RETURN_IF_ERROR(detail::Exec(db, std::string("UPDATE ") + table + " SET name = ? WHERE "
                                 "name = ?",
                         {new_name, name}));
  }
  return detail::Touch(db, new_name);
}

template <typename Db>
Status UpdateModel(Db& db, const std::string& name, const std::string& description) {
  RETURN_IF_ERROR(detail::ModelExists(db, name));
  RETURN_IF_ERROR(
      detail::Exec(db, "UPDATE registered_models SET description = ? WHERE name = ?",
                   {description, name}));
  return detail::Touch(db, name);
}

template <typename Db>
Status DeleteModel(Db& db, const std::string& name) {
  RETURN_IF_ERROR(detail::ModelExists(db, name));
  for (const char* table : {"registered_models", "registered_model_tags",
                            "registered_model_aliases", "model_versions", "model_version_tags"}) {
    RETURN_IF_ERROR(
        detail::Exec(db, std::string("DELETE FROM ") + table + " WHERE name = ?", {name}));
  }
  return Status::Ok();
}

template <typename Db>
Status SetModelTag(Db& db, const std::string& name, const Tag& tag) {
  RETURN_IF_ERROR(ValidateTag(tag));
  RETURN_IF_ERROR(detail::ModelExists(db, name));
  return detail::Exec(db,
              "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT "
              "(name, key) DO UPDATE SET value = excluded.value",
              {name, tag.key, tag.value});
}

template <typename Db>
Status DeleteModelTag(Db& db, const std::string& name, const std::string& key) {
  RETURN_IF_ERROR(detail::ModelExists(db, name));
  RETURN_IF_ERROR(
      detail::Exec(db, "DELETE FROM registered_model_tags WHERE name = ? AND key = ?",
                   {name, key}));
  if (db.Changes() == 0)
    return NotFound("no tag '" + key + "' on registered model " + name);
  return Status::Ok();
}

template <typename Db>
Status SetAlias(Db& db, const std::string& name, const std::string& alias, int64_t version) {
  if (alias.empty()) return InvalidArgument("alias must be a non-empty string");
  if (alias.size() > 255) return InvalidArgument("alias is longer than 255 characters");
  std::string lower = ToLower(alias);
  if (lower == "latest" || (lower.size() > 1 && lower[0] == 'v' && ParseInt64(lower.substr(1)))) {
    return InvalidArgument("'" + alias + "' is reserved and cannot be used as an alias");
  }
  RETURN_IF_ERROR(detail::VersionExists(db, name, version));
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("INSERT INTO registered_model_aliases (name, alias, version) VALUES "
                              "(?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = "
                              "excluded.version"));
  typename Db::Guard g(*q);
  g->Bind(1, name).Bind(2, alias).Bind(3, version);
  return g->Exec();
}

template <typename Db>
Status DeleteAlias(Db& db, const std::string& name, const std::string& alias) {
  RETURN_IF_ERROR(detail::ModelExists(db, name));
  RETURN_IF_ERROR(
      detail::Exec(db, "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?",
                   {name, alias}));
  if (db.Changes() == 0) {
    return NotFound("registered model " + name + " has no alias '" + alias + "'");
  }
  return Status::Ok();
}

template <typename Db>
Result<int64_t> AliasVersion(Db& db, const std::string& name, const std::string& alias) {
  ASSIGN_OR_RETURN(
      auto* q,
      db.Prepare("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, name).Bind(2, alias);
  Status s;
  if (g->Step(&s)) return g->Int(0);
  RETURN_IF_ERROR(s);
  return NotFound("registered model " + name + " has no alias '" + alias + "'");
}

template <typename Db>
Result<int64_t> InsertVersion(Db& db, const ModelVersion& v) {
  RETURN_IF_ERROR(detail::ModelExists(db, v.name));
  if (v.source.empty()) return InvalidArgument("Missing value for required parameter 'source'.");
  int64_t next = 1;
  {
    ASSIGN_OR_RETURN(
        auto* q,
        db.Prepare("SELECT last_version + 1 FROM registered_models WHERE name = ?"));
    typename Db::Guard g(*q);
    g->Bind(1, v.name);
    Status s;
    if (g->Step(&s)) next = g->Int(0);
    RETURN_IF_ERROR(s);
  }
  {
    // Numbers are never reused, even after the newest versions are deleted (as MLflow does).
    ASSIGN_OR_RETURN(auto* q,
                     db.Prepare("UPDATE registered_models SET last_version = ? WHERE name = ?"));
    typename Db::Guard g(*q);
    g->Bind(1, next).Bind(2, v.name);
    RETURN_IF_ERROR(g->Exec());
  }
  int64_t now = NowMillis();
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("INSERT INTO model_versions (name, version, creation_time, "
                              "last_updated_time, description, user_id, current_stage, "
                              "source, run_id, run_link, status, coreml, sha256, tree_sha256, "
                              "size, model_id) VALUES (?, ?, ?, ?, ?, ?, 'None', ?, ?, ?, "
                              "'READY', ?, ?, ?, ?, ?)"));
  {
    typename Db::Guard g(*q);
    g->Bind(1, v.name)
        .Bind(2, next)
        .Bind(3, now)
        .Bind(4, now)
        .Bind(5, v.description)
        .Bind(6, v.user_id)
        .Bind(7, v.source)
        .Bind(8, v.run_id)
        .Bind(9, v.run_link)
        .Bind(10, v.coreml)
        .Bind(11, v.sha256)
        .Bind(12, v.tree_sha256)
        .Bind(13, v.size)
        .Bind(14, v.model_id);
    RETURN_IF_ERROR(g->Exec());
  }
  for (const Tag& t : v.tags) RETURN_IF_ERROR(SetVersionTag(db, v.name, next, t));
  RETURN_IF_ERROR(detail::Touch(db, v.name));
  return next;
}

template <typename Db>
Result<ModelVersion> LoadVersion(Db& db, const std::string& name, int64_t version) {
  ModelVersion v;
  {
    ASSIGN_OR_RETURN(auto* q,
                     db.Prepare("SELECT creation_time, last_updated_time, description, user_id, "
                                "current_stage, source, run_id, run_link, status, coreml, "
                                "sha256, tree_sha256, size, model_id FROM model_versions "
                                "WHERE name = ? AND version = ?"));
    typename Db::Guard g(*q);
    g->Bind(1, name).Bind(2, version);
    Status s;
    if (!g->Step(&s)) {
      RETURN_IF_ERROR(s);
      return NotFound("Model Version (name=" + name + ", version=" + std::to_string(version) +
                      ") not found");
    }
    v.name = name;
    v.version = version;
    v.creation_time = g->Int(0);
    v.last_updated_time = g->Int(1);
    v.description = g->Text(2);
    v.user_id = g->Text(3);
    v.current_stage = g->Text(4);
    v.source = g->Text(5);
    v.run_id = g->Text(6);
    v.run_link = g->Text(7);
    v.status = g->Text(8);
    v.coreml = g->Text(9);
    v.sha256 = g->Text(10);
    v.tree_sha256 = g->Text(11);
    v.size = g->Int(12);
    v.model_id = g->Text(13);
  }
  Status s;
  {
    ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT key, value FROM model_version_tags WHERE name = "
                                         "? AND version = ? ORDER BY key"));
    typename Db::Guard g(*q);
    g->Bind(1, name).Bind(2, version);
    while (g->Step(&s)) v.tags.push_back(Tag{std::string(g->Text(0)), std::string(g->Text(1))});
    RETURN_IF_ERROR(s);
  }
  {
    ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT alias FROM registered_model_aliases WHERE name = "
                                         "? AND version = ? ORDER BY alias"));
    typename Db::Guard g(*q);
    g->Bind(1, name).Bind(2, version);
    while (g->Step(&s)) v.aliases.emplace_back(g->Text(0));
    RETURN_IF_ERROR(s);
  }
  return v;
}

template <typename Db>
Status UpdateVersion(Db& db, const std::string& name, int64_t version,
                     const std::string& description) {
  RETURN_IF_ERROR(detail::VersionExists(db, name, version));
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("UPDATE model_versions SET description = ?, last_updated_time = ? "
                              "WHERE name = ? AND version = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, description).Bind(2, NowMillis()).Bind(3, name).Bind(4, version);
  return g->Exec();
}

template <typename Db>
Status TransitionStage(Db& db, const std::string& name, int64_t version,
                       const std::string& stage_in, bool archive_existing) {
  static const std::map<std::string, std::string> kStages = {{"none", "None"},
                                                             {"staging", "Staging"},
                                                             {"production", "Production"},
                                                             {"archived", "Archived"}};
  auto it = kStages.find(ToLower(stage_in));
  if (it == kStages.end()) {
    return InvalidArgument("invalid model version stage '" + stage_in +
                           "': expected None, Staging, Production or Archived");
  }
  RETURN_IF_ERROR(detail::VersionExists(db, name, version));
  int64_t now = NowMillis();
  if (archive_existing && (it->second == "Staging" || it->second == "Production")) {
    ASSIGN_OR_RETURN(auto* q,
                     db.Prepare("UPDATE model_versions SET current_stage = 'Archived', "
                                "last_updated_time = ? WHERE name = ? AND current_stage = ? "
                                "AND version != ?"));
    typename Db::Guard g(*q);
    g->Bind(1, now).Bind(2, name).Bind(3, it->second).Bind(4, version);
    RETURN_IF_ERROR(g->Exec());
  }
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                              "WHERE name = ? AND version = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, it->second).Bind(2, now).Bind(3, name).Bind(4, version);
  RETURN_IF_ERROR(g->Exec());
  // A stage change is a change of the model, as MLflow counts it (a description edit is not).
  return detail::Touch(db, name);
}

template <typename Db>
Status DeleteVersion(Db& db, const std::string& name, int64_t version) {
  RETURN_IF_ERROR(detail::VersionExists(db, name, version));
  for (const char* sql : {"DELETE FROM model_versions WHERE name = ? AND version = ?",
                          "DELETE FROM model_version_tags WHERE name = ? AND version = ?",
                          "DELETE FROM registered_model_aliases WHERE name = ? AND version = ?"}) {
    ASSIGN_OR_RETURN(auto* q, db.Prepare(sql));
    typename Db::Guard g(*q);
    g->Bind(1, name).Bind(2, version);
    RETURN_IF_ERROR(g->Exec());
  }
  return detail::Touch(db, name);
}

template <typename Db>
Status SetVersionTag(Db& db, const std::string& name, int64_t version, const Tag& tag) {
  RETURN_IF_ERROR(ValidateTag(tag));
  RETURN_IF_ERROR(detail::VersionExists(db, name, version));
  ASSIGN_OR_RETURN(auto* q,
                   db.Prepare("INSERT INTO model_version_tags (name, version, key, value) VALUES "
                              "(?, ?, ?, ?) ON CONFLICT (name, version, key) DO UPDATE SET "
                              "value = excluded.value"));
  typename Db::Guard g(*q);
  g->Bind(1, name).Bind(2, version).Bind(3, tag.key).Bind(4, tag.value);
  return g->Exec();
}

template <typename Db>
Status DeleteVersionTag(Db& db, const std::string& name, int64_t version, const std::string& key) {
  RETURN_IF_ERROR(detail::VersionExists(db, name, version));
  ASSIGN_OR_RETURN(
      auto* q,
      db.Prepare("DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?"));
  typename Db::Guard g(*q);
  g->Bind(1, name).Bind(2, version).Bind(3, key);
  RETURN_IF_ERROR(g->Exec());
  if (db.Changes() == 0) {
    return NotFound("no tag '" + key + "' on model version " + name + "/" +
                    std::to_string(version));
  }
  return Status::Ok();
}

template <typename Db>
Result<RegisteredModelPage> SearchModels(Db& db, const RegistrySearch& search) {
  return SearchRegisteredModelsIn(search, [&db]() -> Result<std::vector<RegisteredModel>> {
    std::vector<std::string> names;
    {
      ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT name FROM registered_models ORDER BY name"));
      typename Db::Guard g(*q);
      Status s;
      while (g->Step(&s)) names.emplace_back(g->Text(0));
      RETURN_IF_ERROR(s);
    }
    std::vector<RegisteredModel> all;
    for (const std::string& n : names) {
      ASSIGN_OR_RETURN(RegisteredModel m, LoadModel(db, n));
      all.push_back(std::move(m));
    }
    return all;
  });
}

template <typename Db>
Result<ModelVersionPage> SearchVersions(Db& db, const RegistrySearch& search) {
  return SearchModelVersionsIn(search, [&db]() -> Result<std::vector<ModelVersion>> {
    std::vector<std::pair<std::string, int64_t>> keys;
    {
      ASSIGN_OR_RETURN(auto* q, db.Prepare("SELECT name, version FROM model_versions ORDER BY "
                                           "name, version"));
      typename Db::Guard g(*q);
      Status s;
      while (g->Step(&s)) keys.emplace_back(std::string(g->Text(0)), g->Int(1));
      RETURN_IF_ERROR(s);
    }
    std::vector<ModelVersion> all;
    for (const auto& [n, v] : keys) {
      ASSIGN_OR_RETURN(ModelVersion mv, LoadVersion(db, n, v));
      all.push_back(std::move(mv));
    }
    return all;
  });
}

}  // namespace ringo::store::registry

#endif  // RINGO_STORE_REGISTRY_SQL_H_
