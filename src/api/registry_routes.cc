// MLflow's model registry: registered models, versions, aliases, stages, tags; and what ringo
// read from a version's Core ML source.
#include <filesystem>

#include "api/handlers.h"
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

}  // namespace

void RegisterRegistry(http::Router& router, Store* st, artifacts::Repository* repo,
                      registry::MlflowWebhooks* hooks) {
  // ---------------- model registry (MLflow's API) ----------------
  auto model_response = [](const char* field) {
    return [field](Result<store::RegisteredModel> m, const Responder& res) {
      if (!m.ok()) return res.Send(HttpError(m.status()));
      std::string body;
      JsonWriter w(&body);
      w.BeginObject().Key(field);
      WriteRegisteredModel(w, *m);
      w.EndObject();
      res.Send(JsonResponse(std::move(body)));
    };
  };
  auto version_response = [](Result<store::ModelVersion> v, const Responder& res) {
    if (!v.ok()) return res.Send(HttpError(v.status()));
    std::string body;
    JsonWriter w(&body);
    w.BeginObject().Key("model_version");
    WriteModelVersion(w, *v);
    w.EndObject();
    res.Send(JsonResponse(std::move(body)));
  };
  auto version_field = [](const Fields& f) -> Result<int64_t> {
    ASSIGN_OR_RETURN(std::string text, f.RequiredString("version"));
    auto v = ParseInt64(text);
    // MLflow's wording, which its clients and tests match on.
    if (!v) return InvalidArgument("Parameter 'version' must be an integer, got '" + text + "'.");
    if (*v < 1)
      return InvalidArgument("invalid model version '" + text + "': expected a positive integer");
    return *v;
  };
  auto read_tags = [](const Fields& f) -> Result<std::vector<store::Tag>> {
    ASSIGN_OR_RETURN(auto elems, f.Objects("tags"));
    return ReadTags(elems);
  };

  AddMlflow(router, Method::kPost, "registered-models/create", Access::kWrite,
       Async([st, hooks, model_response, read_tags](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(auto description, f.String("description"));
         ASSIGN_OR_RETURN(auto tags, read_tags(f));
         st->CreateRegisteredModel(name, description.value_or(""), std::move(tags),
                                   [res, hooks, model_response](Result<store::RegisteredModel> m) {
                                     if (m.ok()) {
                                       hooks->Fire({"registered_model", "created"},
                                                   ModelCreatedData(*m));
                                     }
                                     model_response("registered_model")(std::move(m), res);
                                   });
         return Status::Ok();
       }));
  AddMlflow(router, Method::kGet, "registered-models/get", Access::kRead, Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(store::RegisteredModel m, st->GetRegisteredModel(name));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject().Key("registered_model");
         WriteRegisteredModel(w, m);
         w.EndObject();
         return JsonResponse(std::move(body));
       }));
  AddMlflow(router, Method::kPost, "registered-models/rename", Access::kWrite,
       Async([st, model_response](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string new_name, f.RequiredString("new_name"));
         st->RenameRegisteredModel(name, new_name,
                                   [res, model_response](Result<store::RegisteredModel> m) {
                                     model_response("registered_model")(std::move(m), res);
                                   });
         return Status::Ok();
       }));
  AddMlflow(router, Method::kPatch, "registered-models/update", Access::kWrite,
       Async([st, model_response](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(auto description, f.String("description"));
         st->UpdateRegisteredModel(name, description.value_or(""),
                                   [res, model_response](Result<store::RegisteredModel> m) {
                                     model_response("registered_model")(std::move(m), res);
                                   });
         return Status::Ok();
       }));
  AddMlflow(router, Method::kDelete, "registered-models/delete", Access::kWrite,
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         st->DeleteRegisteredModel(name, RespondEmpty(res));
         return Status::Ok();
       }));
  auto search_models = Sync([st](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(auto search, ReadSearch<store::RegistrySearch>(f, 100));
    ASSIGN_OR_RETURN(store::RegisteredModelPage page, st->SearchRegisteredModels(search));
    return PageResponse("registered_models", page.models, page.next_page_token,
                        WriteRegisteredModel);
  });
  AddMlflow(router, Method::kGet, "registered-models/search", Access::kRead, search_models);
  AddMlflow(router, Method::kPost, "registered-models/search", Access::kRead, search_models);
  AddMlflow(router, Method::kPost, "registered-models/set-tag", Access::kWrite,
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.String("value"));
         if (!value) return MissingField("value");
         st->SetRegisteredModelTag(name, store::Tag{key, *value}, RespondEmpty(res));
         return Status::Ok();
       }));
  AddMlflow(router, Method::kDelete, "registered-models/delete-tag", Access::kWrite,
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         st->DeleteRegisteredModelTag(name, key, RespondEmpty(res));
         return Status::Ok();
       }));
  AddMlflow(router, Method::kPost, "registered-models/alias", Access::kWrite,
       Async([st, hooks, version_field](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         st->SetRegisteredModelAlias(
             name, alias, version,
             RespondEmptyAndFire(res, hooks, {"model_version_alias", "created"},
                                 VersionData(name, 0, {{"alias", alias},
                                                       {"version", std::to_string(version)}})));
         return Status::Ok();
       }));
  AddMlflow(router, Method::kDelete, "registered-models/alias", Access::kWrite,
       Async([st, hooks](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
         st->DeleteRegisteredModelAlias(
             name, alias,
             RespondEmptyAndFire(res, hooks, {"model_version_alias", "deleted"},
                                 VersionData(name, 0, {{"alias", alias}})));
         return Status::Ok();
       }));
  AddMlflow(router, Method::kGet, "registered-models/alias", Access::kRead, Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
         ASSIGN_OR_RETURN(store::ModelVersion v, st->GetModelVersionByAlias(name, alias));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject().Key("model_version");
         WriteModelVersion(w, v);
         w.EndObject();
         return JsonResponse(std::move(body));
       }));
  auto latest_versions = Sync([st](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
    ASSIGN_OR_RETURN(auto stages, f.StringList("stages"));
    ASSIGN_OR_RETURN(store::RegisteredModel m, st->GetRegisteredModel(name));
    std::string body;
    JsonWriter w(&body);
    w.BeginObject();
    w.Key("model_versions").BeginArray();
    for (const auto& v : m.latest_versions) {
      bool wanted = stages.empty();
      for (const auto& s : stages) wanted |= ToLower(s) == ToLower(v.current_stage);
      if (wanted) WriteModelVersion(w, v);
    }
    w.EndArray().EndObject();
    return JsonResponse(std::move(body));
  });
  AddMlflow(router, Method::kPost, "registered-models/get-latest-versions", Access::kRead, latest_versions);
  AddMlflow(router, Method::kGet, "registered-models/get-latest-versions", Access::kRead, latest_versions);

  AddMlflow(router, Method::kPost, "model-versions/create", Access::kWrite,
       Async([st, repo, hooks, version_response, read_tags](Request& req,
                                                            const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         store::ModelVersion v;
         ASSIGN_OR_RETURN(v.name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(v.source, f.RequiredString("source"));
         ASSIGN_OR_RETURN(auto run_id, f.String("run_id"));
         v.run_id = run_id.value_or("");
         ASSIGN_OR_RETURN(auto run_link, f.String("run_link"));
         v.run_link = run_link.value_or("");
         ASSIGN_OR_RETURN(auto model_id, f.String("model_id"));
         v.model_id = model_id.value_or("");
         ASSIGN_OR_RETURN(auto description, f.String("description"));
         v.description = description.value_or("");
         ASSIGN_OR_RETURN(v.tags, read_tags(f));
         RETURN_IF_ERROR(registry::CheckSourceRules(
             v.source, v.run_id, [st](const std::string& id) -> Result<std::string> {
               ASSIGN_OR_RETURN(store::Run run, st->GetRun(id));
               return run.info.artifact_uri;
             }));
         RETURN_IF_ERROR(registry::DescribeSource(st, repo, &v));
         st->CreateModelVersion(std::move(v),
                                [res, hooks, version_response](Result<store::ModelVersion> r) {
                                  if (r.ok()) {
                                    hooks->Fire({"model_version", "created"},
                                                VersionCreatedData(*r));
                                  }
                                  version_response(std::move(r), res);
                                });
         return Status::Ok();
       }));
  AddMlflow(router, Method::kGet, "model-versions/get", Access::kRead,
       Sync([st, version_field](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(store::ModelVersion v, st->GetModelVersion(name, version));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject().Key("model_version");
         WriteModelVersion(w, v);
         w.EndObject();
         return JsonResponse(std::move(body));
       }));
  AddMlflow(router, Method::kPatch, "model-versions/update", Access::kWrite,
       Async([st, version_field, version_response](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(auto description, f.String("description"));
         st->UpdateModelVersion(name, version, description.value_or(""),
                                [res, version_response](Result<store::ModelVersion> r) {
                                  version_response(std::move(r), res);
                                });
         return Status::Ok();
       }));
  AddMlflow(router, Method::kPost, "model-versions/transition-stage", Access::kWrite,
       Async([st, version_field, version_response](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(std::string stage, f.RequiredString("stage"));
         ASSIGN_OR_RETURN(auto archive, f.Bool("archive_existing_versions"));
         bool archive_existing = archive.value_or(false);
         st->TransitionModelVersionStage(name, version, stage, archive_existing,
                                         [res, version_response](Result<store::ModelVersion> r) {
                                           version_response(std::move(r), res);
                                         });
         return Status::Ok();
       }));
  AddMlflow(router, Method::kDelete, "model-versions/delete", Access::kWrite,
       Async([st, version_field](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         st->DeleteModelVersion(name, version, RespondEmpty(res));
         return Status::Ok();
       }));
  auto search_versions = Sync([st](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(auto search, ReadSearch<store::RegistrySearch>(f, 10000));
    ASSIGN_OR_RETURN(store::ModelVersionPage page, st->SearchModelVersions(search));
    return PageResponse("model_versions", page.versions, page.next_page_token, WriteModelVersion);
  });
  AddMlflow(router, Method::kGet, "model-versions/search", Access::kRead, search_versions);
  AddMlflow(router, Method::kPost, "model-versions/search", Access::kRead, search_versions);
  AddMlflow(router, Method::kGet, "model-versions/get-download-uri", Access::kRead,
       Sync([st, version_field](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(store::ModelVersion v, st->GetModelVersion(name, version));
         // A copied version's files are where the original's are, as MLflow records them.
         std::string uri = registry::OriginalSource(st, v.source);
         std::string body;
         JsonWriter(&body).BeginObject().Field("artifact_uri", uri).EndObject();
         return JsonResponse(std::move(body));
       }));
  AddMlflow(router, Method::kPost, "model-versions/set-tag", Access::kWrite,
       Async([st, hooks, version_field](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.String("value"));
         if (!value) return MissingField("value");
         st->SetModelVersionTag(name, version, store::Tag{key, *value},
                                RespondEmptyAndFire(res, hooks, {"model_version_tag", "set"},
                                                    VersionData(name, version,
                                                                {{"key", key}, {"value", *value}})));
         return Status::Ok();
       }));
  AddMlflow(router, Method::kDelete, "model-versions/delete-tag", Access::kWrite,
       Async([st, hooks, version_field](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         st->DeleteModelVersionTag(name, version, key,
                                   RespondEmptyAndFire(res, hooks, {"model_version_tag", "deleted"},
                                                       VersionData(name, version, {{"key", key}})));
         return Status::Ok();
       }));
  // A file of a version's model, as MLflow's registry pages preview it.
  auto version_artifact = Sync([st, repo, version_field](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
    ASSIGN_OR_RETURN(int64_t version, version_field(f));
    ASSIGN_OR_RETURN(std::string path, f.RequiredString("path"));
    ASSIGN_OR_RETURN(std::string rel, ArtifactPathField(path));
    ASSIGN_OR_RETURN(store::ModelVersion v, st->GetModelVersion(name, version));
    ASSIGN_OR_RETURN(std::string root, registry::SourceArtifactPath(st, v.source));
    ASSIGN_OR_RETURN(std::filesystem::path full, repo->Resolve(JoinRelative(root, rel)));
    Response r = http::FileResponse(req, full.string(), artifacts::GuessContentType(rel));
    // Uploaded by anyone with a write token: no script on the UI's origin (as get-artifact).
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Content-Security-Policy", "sandbox");
    return r;
  });
  router.Add(Method::kGet, "/model-versions/get-artifact", Access::kRead, version_artifact);
  router.Add(Method::kGet, "/ajax-api/2.0/mlflow/model-versions/get-artifact", Access::kRead,
             version_artifact);

  // What ringo read from a version's Core ML source (interface, spec version, size, and either
  // the file's sha256 or the package directory's tree_sha256).
  router.Add(Method::kGet, "/api/ringo/v1/model-versions/coreml", Access::kRead,
             Sync([st, version_field](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
               ASSIGN_OR_RETURN(int64_t version, version_field(f));
               ASSIGN_OR_RETURN(store::ModelVersion v, st->GetModelVersion(name, version));
               if (v.coreml.empty()) {
                 return NotFound("model version " + name + "/" + std::to_string(version) +
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
             }));
}

}  // namespace ringo::api
