// What the route files share: responses, proto3 JSON rendering of store types, MLflow's common
// request fields, the async adapter.
#include "api/handlers.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/paths.h"
#include "common/util.h"

namespace ringo::api {

Response JsonResponse(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}

Response EmptyObject() { return JsonResponse("{}"); }

Response TextResponse(std::string body) {
  Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// ---------------- rendering (proto3 JSON: empty fields omitted) ----------------

void WriteTags(JsonWriter& w, std::string_view key, const std::vector<store::Tag>& tags) {
  if (tags.empty()) return;
  w.Key(key).BeginArray();
  for (const auto& t : tags)
    w.BeginObject().Field("key", t.key).Field("value", t.value).EndObject();
  w.EndArray();
}

void WriteMetric(JsonWriter& w, const store::Metric& m, const std::string* run_id) {
  w.BeginObject()
      .Field("key", m.key)
      .Field("value", m.value)
      .Field("timestamp", m.timestamp)
      .Field("step", m.step);
  if (run_id) w.Field("run_id", *run_id);
  w.EndObject();
}

void WriteExperiment(JsonWriter& w, const store::Experiment& e) {
  w.BeginObject()
      .Field("experiment_id", e.experiment_id)
      .Field("name", e.name)
      .Field("artifact_location", e.artifact_location)
      .Field("lifecycle_stage", e.lifecycle_stage)
      .Field("last_update_time", e.last_update_time)
      .Field("creation_time", e.creation_time);
  WriteTags(w, "tags", e.tags);
  w.EndObject();
}

void WriteRunInfo(JsonWriter& w, const store::RunInfo& i) {
  w.BeginObject()
      .Field("run_id", i.run_id)
      .Field("run_uuid", i.run_id)
      .Field("run_name", i.run_name)
      .Field("experiment_id", i.experiment_id)
      .Field("user_id", i.user_id)
      .Field("status", i.status)
      .Field("start_time", i.start_time);
  if (i.end_time) w.Field("end_time", *i.end_time);
  w.Field("artifact_uri", i.artifact_uri).Field("lifecycle_stage", i.lifecycle_stage).EndObject();
}

void WriteRun(JsonWriter& w, const store::Run& run, const RunModelLists& models) {
  w.BeginObject().Key("info");
  WriteRunInfo(w, run.info);
  w.Key("data").BeginObject();
  if (!run.metrics.empty()) {
    w.Key("metrics").BeginArray();
    for (const auto& m : run.metrics) WriteMetric(w, m);
    w.EndArray();
  }
  if (!run.params.empty()) {
    w.Key("params").BeginArray();
    for (const auto& p : run.params) {
      w.BeginObject().Field("key", p.key).Field("value", p.value).EndObject();
    }
    w.EndArray();
  }
  WriteTags(w, "tags", run.tags);
  w.EndObject();
  w.Key("inputs").BeginObject();
  if (!run.inputs.empty()) {
    w.Key("dataset_inputs").BeginArray();
    for (const auto& in : run.inputs) {
      w.BeginObject();
      WriteTags(w, "tags", in.tags);
      w.Key("dataset")
          .BeginObject()
          .Field("name", in.dataset.name)
          .Field("digest", in.dataset.digest)
          .Field("source_type", in.dataset.source_type)
          .Field("source", in.dataset.source);
      if (!in.dataset.schema.empty()) w.Field("schema", in.dataset.schema);
      if (!in.dataset.profile.empty()) w.Field("profile", in.dataset.profile);
      w.EndObject().EndObject();
    }
    w.EndArray();
  }
  if (!models.inputs.empty()) {
    w.Key("model_inputs").BeginArray();
    for (const ModelOutput& m : models.inputs) {
      w.BeginObject().Field("model_id", m.model_id).EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  if (!models.outputs.empty()) {
    w.Key("outputs").BeginObject().Key("model_outputs").BeginArray();
    for (const ModelOutput& o : models.outputs) {
      w.BeginObject().Field("model_id", o.model_id).Field("step", o.step).EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndObject();
}

void WriteModelVersion(JsonWriter& w, const store::ModelVersion& v) {
  w.BeginObject()
      .Field("name", v.name)
      .Field("version", std::to_string(v.version))
      .Field("creation_timestamp", v.creation_time)
      .Field("last_updated_timestamp", v.last_updated_time)
      .Field("current_stage", v.current_stage);
  // MLflow's server always sends a version's description ("" when none); its clients read an
  // absent one as None.
  w.Field("description", v.description);
  if (!v.user_id.empty()) w.Field("user_id", v.user_id);
  w.Field("source", v.source);
  if (!v.run_id.empty()) w.Field("run_id", v.run_id);
  w.Field("status", v.status);
  if (!v.run_link.empty()) w.Field("run_link", v.run_link);
  if (!v.model_id.empty()) w.Field("model_id", v.model_id);
  WriteTags(w, "tags", v.tags);
  if (!v.aliases.empty()) {
    w.Key("aliases").BeginArray();
    for (const auto& a : v.aliases) w.String(a);
    w.EndArray();
  }
  w.EndObject();
}

void WriteRegisteredModel(JsonWriter& w, const store::RegisteredModel& m) {
  w.BeginObject()
      .Field("name", m.name)
      .Field("creation_timestamp", m.creation_time)
      .Field("last_updated_timestamp", m.last_updated_time);
  if (!m.description.empty()) w.Field("description", m.description);
  if (!m.latest_versions.empty()) {
    w.Key("latest_versions").BeginArray();
    for (const auto& v : m.latest_versions) WriteModelVersion(w, v);
    w.EndArray();
  }
  WriteTags(w, "tags", m.tags);
  if (!m.aliases.empty()) {
    w.Key("aliases").BeginArray();
    for (const auto& [alias, version] : m.aliases) {
      w.BeginObject().Field("alias", alias).Field("version", std::to_string(version)).EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

// ---------------- request helpers ----------------

// run_id, falling back to the deprecated run_uuid that clients also send.
Result<std::string> RunIdField(const Fields& f) {
  ASSIGN_OR_RETURN(std::optional<std::string> id, f.String("run_id"));
  if (!id || id->empty()) {
    ASSIGN_OR_RETURN(id, f.String("run_uuid"));
  }
  if (!id || id->empty()) return MissingField("run_id");
  return *id;
}

Result<KeyValue> ReadKey(const Fields& f, std::string_view id_field) {
  KeyValue kv;
  if (id_field.empty()) {
    ASSIGN_OR_RETURN(kv.id, RunIdField(f));
  } else {
    ASSIGN_OR_RETURN(kv.id, f.RequiredString(id_field));
  }
  ASSIGN_OR_RETURN(kv.key, f.RequiredString("key"));
  return kv;
}

Result<KeyValue> ReadKeyValue(const Fields& f, std::string_view id_field) {
  ASSIGN_OR_RETURN(KeyValue kv, ReadKey(f, id_field));
  ASSIGN_OR_RETURN(auto value, f.String("value"));
  if (!value) return MissingField("value");
  kv.value = std::move(*value);
  return kv;
}

Result<std::vector<store::Tag>> ReadTags(const std::vector<simdjson::dom::element>& elems) {
  std::vector<store::Tag> tags;
  for (auto e : elems) {
    ASSIGN_OR_RETURN(auto key, Fields::String(e, "key"));
    ASSIGN_OR_RETURN(auto value, Fields::String(e, "value"));
    if (!key || key->empty()) return MissingField("key");
    tags.push_back(store::Tag{*key, value.value_or("")});
  }
  return tags;
}

Result<int64_t> IntField(const Fields& f, std::string_view key, int64_t fallback, int64_t min,
                         int64_t max) {
  ASSIGN_OR_RETURN(auto value, f.Int64(key));
  int64_t v = value.value_or(fallback);
  if (v < min || v > max) {
    return InvalidArgument(std::string(key) + " must be between " + std::to_string(min) +
                           " and " + std::to_string(max));
  }
  return v;
}

Result<store::ViewType> ReadViewType(const Fields& f) {
  ASSIGN_OR_RETURN(auto v, f.String("run_view_type"));
  if (!v) {
    ASSIGN_OR_RETURN(v, f.String("view_type"));
  }
  if (!v || v->empty() || *v == "ACTIVE_ONLY" || *v == "1") return store::ViewType::kActiveOnly;
  if (*v == "DELETED_ONLY" || *v == "2") return store::ViewType::kDeletedOnly;
  if (*v == "ALL" || *v == "3") return store::ViewType::kAll;
  return InvalidArgument("invalid view type '" + *v +
                         "': expected ACTIVE_ONLY, DELETED_ONLY or ALL");
}

store::Done RespondEmpty(Responder responder) {
  return [responder](Status s) { responder.Send(s.ok() ? EmptyObject() : HttpError(s)); };
}

// Maps an MLflow artifact URI onto a path relative to the repository root.
Result<std::string> ArtifactRelative(const std::string& artifact_uri,
                                     const artifacts::Repository* repo) {
  return artifacts::ArtifactUriPath(artifact_uri, repo->FileUri());
}

Response UntrustedFileResponse(const Request& req, const std::filesystem::path& full,
                               const std::string& rel) {
  Response r = http::FileResponse(req, full.string(), artifacts::GuessContentType(rel));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Content-Security-Policy", "sandbox");
  return r;
}

std::string JoinRelative(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

Response FileListing(const std::string& root_uri, const std::string& root,
                     const std::vector<artifacts::FileInfo>& files) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Field("root_uri", root_uri);
  if (!files.empty()) {
    w.Key("files").BeginArray();
    for (const auto& fi : files) {
      std::string p = fi.path.substr(std::min(fi.path.size(), root.size() + 1));
      w.BeginObject().Field("path", p).FieldBool("is_dir", fi.is_dir);
      if (!fi.is_dir) w.Field("file_size", fi.file_size);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return JsonResponse(std::move(body));
}

Status AppendRunModels(Store* store, std::string_view kind, const std::string& run_id,
                       const std::vector<ModelOutput>& models) {
  const std::string k(kind);
  nlohmann::json list = nlohmann::json::array();
  if (auto doc = store->GetDocument(k, run_id); doc.ok()) {
    list = nlohmann::json::parse(doc->value, nullptr, false);
    if (!list.is_array()) list = nlohmann::json::array();
  }
  for (const ModelOutput& m : models) {
    if (kind == kRunOutputs) {
      list.push_back({{"model_id", m.model_id}, {"step", m.step}});
    } else {
      list.push_back({{"model_id", m.model_id}});
    }
  }
  return store::Wait([&](store::Done done) {
    store->PutDocument(k, run_id, list.dump(), -1, "",
                       [done](Result<int64_t> r) { done(r.ok() ? Status::Ok() : r.status()); });
  });
}

std::vector<ModelOutput> RunModels(Store* store, std::string_view kind, const std::string& run_id) {
  std::vector<ModelOutput> out;
  auto doc = store->GetDocument(std::string(kind), run_id);
  if (!doc.ok()) return out;
  auto j = nlohmann::json::parse(doc->value, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& o : j) {
    if (o.is_object()) out.push_back({o.value("model_id", ""), o.value("step", int64_t{0})});
  }
  return out;
}

Result<std::string> ArtifactPathField(std::string_view path) {
  Result<std::string> rel = CleanRelativePath(path);
  // Bytes that are no UTF-8 get the reason; every other refusal MLflow's two words.
  if (!rel.ok() && IsValidUtf8(path)) return InvalidArgument("Invalid path");
  return rel;
}

Result<RunArtifact> ReadRunArtifact(const Request& req, Store* store,
                                    const artifacts::Repository* repo) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  ASSIGN_OR_RETURN(std::string path, f.RequiredString("path"));
  RunArtifact a;
  ASSIGN_OR_RETURN(a.rel, ArtifactPathField(path));
  ASSIGN_OR_RETURN(std::string root, RunArtifactRoot(store, repo, id));
  ASSIGN_OR_RETURN(a.full, repo->Resolve(JoinRelative(root, a.rel)));
  return a;
}

Result<std::string> RunArtifactRoot(store::Store* store, const artifacts::Repository* repo,
                                    const std::string& run_id) {
  ASSIGN_OR_RETURN(store::Run run, store->GetRun(run_id));
  return ArtifactRelative(run.info.artifact_uri, repo);
}

}  // namespace ringo::api
