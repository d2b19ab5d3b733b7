// MLflow's model registry: registered models, versions, aliases, stages, tags; and what ringo
// read from a version's Core ML source.
#include <filesystem>

#include "api/handlers.h"
#include "api/logged_models.h"
#include "api/routes.h"
#include "common/hash.h"
#include "common/json_writer.h"
#include "common/paths.h"
#include "common/util.h"
#include "coreml/coreml.h"
#include "registry/registry.h"

namespace ringo::api {

namespace {

using Event = registry::WebhookEvent;

// A store completion that answers {} or the error, and fires `event` with `data` on success.
store::Done RespondEmptyAndFire(Responder res, registry::MlflowWebhooks* hooks, Event event,
                                std::string data) {
  return [res, hooks, event = std::move(event), data = std::move(data)](Status s) {
    res.Send(s.ok() ? EmptyObject() : HttpError(s));
    if (s.ok()) hooks->Fire(event, data);
  };
}

// {"name": ..., "version": "N", ...more}: the data of MLflow's model version events.
std::string VersionData(const std::string& name, int64_t version,
                        std::initializer_list<std::pair<const char*, std::string>> more) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Field("name", name);
  if (version > 0) w.Field("version", std::to_string(version));
  for (const auto& [k, v] : more) w.Field(k, v);
  w.EndObject();
  return body;
}

void WriteTagMap(JsonWriter& w, const std::vector<store::Tag>& tags) {
  w.Key("tags").BeginObject();
  for (const store::Tag& t : tags) w.Field(t.key, t.value);
  w.EndObject();
}

std::string ModelCreatedData(const store::RegisteredModel& m) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Field("name", m.name);
  WriteTagMap(w, m.tags);
  w.Field("description", m.description).EndObject();
  return body;
}

std::string VersionCreatedData(const store::ModelVersion& v) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject()
      .Field("name", v.name)
      .Field("version", std::to_string(v.version))
      .Field("source", v.source)
      .Field("run_id", v.run_id);
  WriteTagMap(w, v.tags);
  w.Field("description", v.description).EndObject();
  return body;
}

// A version as requests name it: "name" and "version" (a positive integer as a string).
struct NameVersion {
  std::string name;
  int64_t version = 0;
};
Result<NameVersion> ReadNameVersion(const Fields& f, const Request& req) {
  NameVersion nv;
  ASSIGN_OR_RETURN(nv.name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string text, f.RequiredString("version"));
  auto v = ParseInt64(text);
  // MLflow's wording (MLflow 2's for its clients), which clients and tests match on.
  if (!v && MlflowClientMajor(req) == 2) {
    return InvalidArgument("Model version must be an integer, got '" + text + "'");
  }
  if (!v) return InvalidArgument("Parameter 'version' must be an integer, got '" + text + "'.");
  if (*v < 1) {
    return InvalidArgument("invalid model version '" + text + "': expected a positive integer");
  }
  nv.version = *v;
  return nv;
}

Result<std::vector<store::Tag>> ReadTagsField(const Fields& f) {
  ASSIGN_OR_RETURN(auto elems, f.Objects("tags"));
  return ReadTags(elems);
}

store::DoneWith<store::RegisteredModel> RespondModel(const Responder& res) {
  return RespondObject<store::RegisteredModel>(res, "registered_model", WriteRegisteredModel);
}

store::DoneWith<store::ModelVersion> RespondVersion(const Responder& res) {
  return RespondObject<store::ModelVersion>(res, "model_version", WriteModelVersion);
}

// ---------------- registered models ----------------

Status CreateRegisteredModel(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(auto description, f.String("description"));
  ASSIGN_OR_RETURN(auto tags, ReadTagsField(f));
  s.store->CreateRegisteredModel(
      name, description.value_or(""), std::move(tags),
      [respond = RespondModel(res), hooks = s.hooks](Result<store::RegisteredModel> m) {
        if (m.ok()) hooks->Fire({"registered_model", "created"}, ModelCreatedData(*m));
        respond(std::move(m));
      });
  return Status::Ok();
}

Result<Response> GetRegisteredModel(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(store::RegisteredModel m, s.store->GetRegisteredModel(name));
  return ObjectResponse("registered_model", m, WriteRegisteredModel);
}

Status RenameRegisteredModel(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string new_name, f.RequiredString("new_name"));
  s.store->RenameRegisteredModel(name, new_name, RespondModel(res));
  return Status::Ok();
}

Status UpdateRegisteredModel(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(auto description, f.String("description"));
  s.store->UpdateRegisteredModel(name, description.value_or(""), RespondModel(res));
  return Status::Ok();
}

Status DeleteRegisteredModel(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  s.store->DeleteRegisteredModel(name, RespondEmpty(res));
  return Status::Ok();
}

Result<Response> SearchRegisteredModels(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto search, ReadSearch<store::RegistrySearch>(f, 100));
  ASSIGN_OR_RETURN(store::RegisteredModelPage page, s.store->SearchRegisteredModels(search));
  return PageResponse("registered_models", page.models, page.next_page_token,
                      WriteRegisteredModel);
}

Status SetRegisteredModelTag(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(KeyValue kv, ReadKeyValue(f, "name"));
  s.store->SetRegisteredModelTag(kv.id, store::Tag{kv.key, kv.value}, RespondEmpty(res));
  return Status::Ok();
}

Status DeleteRegisteredModelTag(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(KeyValue kv, ReadKey(f, "name"));
  s.store->DeleteRegisteredModelTag(kv.id, kv.key, RespondEmpty(res));
  return Status::Ok();
}

Status SetAlias(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  s.store->SetRegisteredModelAlias(
      name, alias, nv.version,
      RespondEmptyAndFire(res, s.hooks, {"model_version_alias", "created"},
                          VersionData(name, 0, {{"alias", alias},
                                                {"version", std::to_string(nv.version)}})));
  return Status::Ok();
}

Status DeleteAlias(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
  s.store->DeleteRegisteredModelAlias(
      name, alias,
      RespondEmptyAndFire(res, s.hooks, {"model_version_alias", "deleted"},
                          VersionData(name, 0, {{"alias", alias}})));
  return Status::Ok();
}

Result<Response> GetVersionByAlias(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
  ASSIGN_OR_RETURN(store::ModelVersion v, s.store->GetModelVersionByAlias(name, alias));
  return ObjectResponse("model_version", v, WriteModelVersion);
}

Result<Response> GetLatestVersions(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(auto stages, f.StringList("stages"));
  ASSIGN_OR_RETURN(store::RegisteredModel m, s.store->GetRegisteredModel(name));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("model_versions").BeginArray();
  for (const auto& v : m.latest_versions) {
    bool wanted = stages.empty();
    for (const auto& stage : stages) wanted |= ToLower(stage) == ToLower(v.current_stage);
    if (wanted) WriteModelVersion(w, v);
  }
  w.EndArray().EndObject();
  return JsonResponse(std::move(body));
}

// ---------------- model versions ----------------

// A version made of a logged model is also listed on the logged model, in its
// mlflow.modelVersions tag as MLflow writes it (a JSON list of {"name", "version"}).
Status CreateVersionOfLoggedModel(const Services& s, store::ModelVersion v,
                                  const Responder& res) {
  std::string model_id = v.model_id;
  ASSIGN_OR_RETURN(store::ModelVersion made,
                   store::WaitFor<store::ModelVersion>([&](store::DoneWith<store::ModelVersion> d) {
                     s.store->CreateModelVersion(std::move(v), std::move(d));
                   }));
  s.hooks->Fire({"model_version", "created"}, VersionCreatedData(made));
  auto listed = s.models->Update(model_id, [&made](LoggedModel& m) {
    std::string& tag = m.tags["mlflow.modelVersions"];
    if (tag.size() < 2 || tag.back() != ']') tag = "[]";
    tag.pop_back();
    if (tag.size() > 1) tag += ", ";
    tag += "{\"name\": ";
    AppendJsonString(&tag, made.name);
    tag += ", \"version\": " + std::to_string(made.version) + "}]";
    return Status::Ok();
  });
  // The version stands whatever became of the logged model meanwhile.
  if (!listed.ok() && listed.status().code() != Code::kNotFound) return listed.status();
  RespondVersion(res)(std::move(made));
  return Status::Ok();
}

Status CreateModelVersion(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  store::ModelVersion v;
  ASSIGN_OR_RETURN(v.name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(v.source, f.RequiredString("source"));
  ASSIGN_OR_RETURN(v.run_id, f.StringOr("run_id", ""));
  ASSIGN_OR_RETURN(v.run_link, f.StringOr("run_link", ""));
  ASSIGN_OR_RETURN(v.model_id, f.StringOr("model_id", ""));
  ASSIGN_OR_RETURN(v.description, f.StringOr("description", ""));
  ASSIGN_OR_RETURN(v.tags, ReadTagsField(f));
  Store* st = s.store;
  LoggedModels* models = s.models;
  // A local source must lie in the files of the run it names, or (MLflow 3) of the logged model.
  const bool of_model = !v.model_id.empty();
  RETURN_IF_ERROR(registry::CheckSourceRules(
      v.source, of_model ? v.model_id : v.run_id,
      [st, models, of_model](const std::string& id) -> Result<std::string> {
        if (of_model) {
          ASSIGN_OR_RETURN(LoggedModel m, models->Get(id));
          return m.artifact_uri;
        }
        ASSIGN_OR_RETURN(store::Run run, st->GetRun(id));
        return run.info.artifact_uri;
      },
      of_model ? "model_id" : "run_id"));
  RETURN_IF_ERROR(registry::DescribeSource(st, s.artifacts, &v));
  if (of_model) return CreateVersionOfLoggedModel(s, std::move(v), res);
  st->CreateModelVersion(std::move(v), [respond = RespondVersion(res),
                                        hooks = s.hooks](Result<store::ModelVersion> r) {
    if (r.ok()) hooks->Fire({"model_version", "created"}, VersionCreatedData(*r));
    respond(std::move(r));
  });
  return Status::Ok();
}

Result<Response> GetModelVersion(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  ASSIGN_OR_RETURN(store::ModelVersion v, s.store->GetModelVersion(nv.name, nv.version));
  return ObjectResponse("model_version", v, WriteModelVersion);
}

Status UpdateModelVersion(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  ASSIGN_OR_RETURN(auto description, f.String("description"));
  s.store->UpdateModelVersion(nv.name, nv.version, description.value_or(""), RespondVersion(res));
  return Status::Ok();
}

Status TransitionStage(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  ASSIGN_OR_RETURN(std::string stage, f.RequiredString("stage"));
  ASSIGN_OR_RETURN(auto archive, f.Bool("archive_existing_versions"));
  s.store->TransitionModelVersionStage(nv.name, nv.version, stage, archive.value_or(false),
                                       RespondVersion(res));
  return Status::Ok();
}

Status DeleteModelVersion(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  s.store->DeleteModelVersion(nv.name, nv.version, RespondEmpty(res));
  return Status::Ok();
}

Result<Response> SearchModelVersions(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto search, ReadSearch<store::RegistrySearch>(f, 10000));
  ASSIGN_OR_RETURN(store::ModelVersionPage page, s.store->SearchModelVersions(search));
  return PageResponse("model_versions", page.versions, page.next_page_token, WriteModelVersion);
}

Result<Response> GetDownloadUri(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  ASSIGN_OR_RETURN(store::ModelVersion v, s.store->GetModelVersion(nv.name, nv.version));
  // A copied version's files are where the original's are, as MLflow records them.
  std::string uri = registry::OriginalSource(s.store, v.source);
  std::string body;
  JsonWriter(&body).BeginObject().Field("artifact_uri", uri).EndObject();
  return JsonResponse(std::move(body));
}

Status SetVersionTag(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  ASSIGN_OR_RETURN(KeyValue kv, ReadKeyValue(f, "name"));
  s.store->SetModelVersionTag(
      nv.name, nv.version, store::Tag{kv.key, kv.value},
      RespondEmptyAndFire(res, s.hooks, {"model_version_tag", "set"},
                          VersionData(nv.name, nv.version,
                                      {{"key", kv.key}, {"value", kv.value}})));
  return Status::Ok();
}

Status DeleteVersionTag(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  ASSIGN_OR_RETURN(KeyValue kv, ReadKey(f, "name"));
  s.store->DeleteModelVersionTag(
      nv.name, nv.version, kv.key,
      RespondEmptyAndFire(res, s.hooks, {"model_version_tag", "deleted"},
                          VersionData(nv.name, nv.version, {{"key", kv.key}})));
  return Status::Ok();
}

// A file of a version's model, as MLflow's registry pages preview it.
Result<Response> GetVersionArtifact(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  ASSIGN_OR_RETURN(std::string path, f.RequiredString("path"));
  ASSIGN_OR_RETURN(std::string rel, ArtifactPathField(path));
  ASSIGN_OR_RETURN(store::ModelVersion v, s.store->GetModelVersion(nv.name, nv.version));
  ASSIGN_OR_RETURN(std::string root, registry::SourceArtifactPath(s.store, s.artifacts, v.source));
  ASSIGN_OR_RETURN(std::filesystem::path full, s.artifacts->Resolve(JoinRelative(root, rel)));
  return UntrustedFileResponse(req, full, rel);
}

// What ringo read from a version's Core ML source (interface, spec version, size, and either
// the file's sha256 or the package directory's tree_sha256).
Result<Response> GetCoremlSummary(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(NameVersion nv, ReadNameVersion(f, req));
  ASSIGN_OR_RETURN(store::ModelVersion v, s.store->GetModelVersion(nv.name, nv.version));
  if (v.coreml.empty()) {
    return NotFound("model version " + nv.name + "/" + std::to_string(nv.version) +
                    " has no Core ML source ringo could read");
  }
  std::string body = "{\"name\":";
  AppendJsonString(&body, v.name);
  body += ",\"version\":\"" + std::to_string(v.version) + "\"";
  if (!v.sha256.empty()) {
    body += ",\"sha256\":";
    AppendJsonString(&body, v.sha256);
  }
  if (!v.tree_sha256.empty()) {
    body += ",\"tree_sha256\":";
    AppendJsonString(&body, v.tree_sha256);
  }
  // A broken model's record is {"problem": ...}: answered as the problem alone.
  bool problem = v.coreml.rfind("{\"problem\":", 0) == 0;
  if (problem) return JsonResponse(body + "," + v.coreml.substr(1));
  body += ",\"size\":" + std::to_string(v.size) + ",\"coreml\":" + v.coreml + "}";
  return JsonResponse(std::move(body));
}

}  // namespace

// Searches are reads whichever method carries them: MLflow's clients POST them.
std::span<const Route> RegistryRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "registered-models/create", kWrite, CreateRegisteredModel},
      {kGet, "registered-models/get", kRead, GetRegisteredModel},
      {kPost, "registered-models/rename", kWrite, RenameRegisteredModel},
      {kPatch, "registered-models/update", kWrite, UpdateRegisteredModel},
      {kDelete, "registered-models/delete", kWrite, DeleteRegisteredModel},
      {kGet, "registered-models/search", kRead, SearchRegisteredModels},
      {kPost, "registered-models/search", kRead, SearchRegisteredModels},
      {kPost, "registered-models/set-tag", kWrite, SetRegisteredModelTag},
      {kDelete, "registered-models/delete-tag", kWrite, DeleteRegisteredModelTag},
      {kPost, "registered-models/alias", kWrite, SetAlias},
      {kDelete, "registered-models/alias", kWrite, DeleteAlias},
      {kGet, "registered-models/alias", kRead, GetVersionByAlias},
      {kPost, "registered-models/get-latest-versions", kRead, GetLatestVersions},
      {kGet, "registered-models/get-latest-versions", kRead, GetLatestVersions},
      {kPost, "model-versions/create", kWrite, CreateModelVersion},
      {kGet, "model-versions/get", kRead, GetModelVersion},
      {kPatch, "model-versions/update", kWrite, UpdateModelVersion},
      {kPost, "model-versions/transition-stage", kWrite, TransitionStage},
      {kDelete, "model-versions/delete", kWrite, DeleteModelVersion},
      {kGet, "model-versions/search", kRead, SearchModelVersions},
      {kPost, "model-versions/search", kRead, SearchModelVersions},
      {kGet, "model-versions/get-download-uri", kRead, GetDownloadUri},
      {kPost, "model-versions/set-tag", kWrite, SetVersionTag},
      {kDelete, "model-versions/delete-tag", kWrite, DeleteVersionTag},
      // Where MLflow's web UI fetches previews: not under /api/2.0/mlflow/.
      {kGet, "/model-versions/get-artifact", kRead, GetVersionArtifact},
      {kGet, "/ajax-api/2.0/mlflow/model-versions/get-artifact", kRead, GetVersionArtifact},
      {kGet, "/api/ringo/v1/model-versions/coreml", kRead, GetCoremlSummary},
  };
  return kRoutes;
}

}  // namespace ringo::api
