// MLflow REST API handlers, the artifact proxy, health and metrics.
#include "api/api.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <thread>

#include "api/auth.h"
#include "api/deploy_handlers.h"
#include "api/request.h"
#include "api/ui_assets.h"
#include "common/hash.h"
#include "common/json_writer.h"
#include "common/paths.h"
#include "common/util.h"
#include "coreml/coreml.h"

namespace ringo::api {

namespace {

using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using store::Store;

constexpr const char* kVersion = "0.1.0";

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

void WriteMetric(JsonWriter& w, const store::Metric& m, const std::string* run_id = nullptr) {
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

void WriteRun(JsonWriter& w, const store::Run& run) {
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
  w.EndObject();
  w.EndObject();
}

void WriteModelVersion(JsonWriter& w, const store::ModelVersion& v) {
  w.BeginObject()
      .Field("name", v.name)
      .Field("version", std::to_string(v.version))
      .Field("creation_timestamp", v.creation_time)
      .Field("last_updated_timestamp", v.last_updated_time)
      .Field("current_stage", v.current_stage);
  if (!v.description.empty()) w.Field("description", v.description);
  if (!v.user_id.empty()) w.Field("user_id", v.user_id);
  w.Field("source", v.source);
  if (!v.run_id.empty()) w.Field("run_id", v.run_id);
  w.Field("status", v.status);
  if (!v.run_link.empty()) w.Field("run_link", v.run_link);
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

// The filter, max_results, order_by and page_token fields every MLflow search takes, into any of
// the store's search requests (defaults as MLflow's client's).
template <typename Search>
Result<Search> ReadSearch(const Fields& f, int64_t default_max) {
  Search search;
  ASSIGN_OR_RETURN(auto filter, f.String("filter"));
  search.filter = filter.value_or("");
  ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
  search.max_results = max.value_or(default_max);
  ASSIGN_OR_RETURN(search.order_by, f.StringList("order_by"));
  ASSIGN_OR_RETURN(auto token, f.String("page_token"));
  search.page_token = token.value_or("");
  return search;
}

// A search response: the items under `key` (omitted when empty, as proto3 JSON does) and the
// next page token.
template <typename Item, typename WriteItem>
Response PageResponse(std::string_view key, const std::vector<Item>& items,
                      const std::string& token, WriteItem write) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  if (!items.empty()) {
    w.Key(key).BeginArray();
    for (const auto& item : items) write(w, item);
    w.EndArray();
  }
  if (!token.empty()) w.Field("next_page_token", token);
  w.EndObject();
  return JsonResponse(std::move(body));
}

// For handlers that may finish on the store's writer thread: a failure before the write is
// queued is answered here; afterwards the write's completion answers through the Responder.
using AsyncHandler = std::function<Status(Request&, const Responder&)>;

http::Handler Async(AsyncHandler h) {
  return [h = std::move(h)](Request& req, Responder responder) {
    Status s = h(req, responder);
    if (!s.ok()) responder.Send(HttpError(s));
  };
}

store::Done RespondEmpty(Responder responder) {
  return [responder](Status s) { responder.Send(s.ok() ? EmptyObject() : HttpError(s)); };
}

// Maps an MLflow artifact URI onto a path relative to the repository root.
// Maps an MLflow artifact URI onto a path relative to the repository root.
Result<std::string> ArtifactRelative(const std::string& artifact_uri) {
  return artifacts::ArtifactUriPath(artifact_uri);
}

std::string JoinRelative(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

// Finds the Core ML model a version's source points at (a .mlmodel/.mlpackage, or a directory
// holding one) in the artifact store and records its summary, digest and size. Sources outside
// the store (s3://, file:) are registered as they are, unread.
Status DescribeCoreMLSource(store::Store* st, artifacts::LocalRepository* repo,
                            store::ModelVersion* v) {
  if (v->source.find("..") != std::string::npos) {
    return InvalidArgument("invalid model version source '" + v->source + "': '..' is not allowed");
  }
  if (v->source.rfind("runs:/", 0) == 0 && v->run_id.empty()) {
    v->run_id = v->source.substr(6, v->source.find('/', 6) - 6);
  }
  auto found = deploy::ResolveModelSource(st, repo, v->source);
  if (!found.ok()) {
    // Sources outside the store, or without a Core ML model, are registered unread.
    if (found.status().code() == Code::kFailedPrecondition) return Status::Ok();
    return found.status();
  }
  const std::filesystem::path& model_path = *found;
  auto model = coreml::Load(model_path);
  if (!model.ok()) {
    return InvalidArgument("model version source '" + v->source +
                           "' holds an unreadable Core ML model: " + model.status().message());
  }
  coreml::Info info = coreml::Inspect(*model, model_path);
  v->coreml = coreml::InfoToJson(info);
  v->size = info.file_size;
  // One name per digest: a file's is its SHA-256; a package directory's is a tree hash.
  std::error_code ec;
  bool dir = std::filesystem::is_directory(model_path, ec);
  ASSIGN_OR_RETURN(std::string digest, HashPath(model_path));
  (dir ? v->tree_sha256 : v->sha256) = std::move(digest);
  return Status::Ok();
}

}  // namespace

http::Response HttpError(const Status& s) {
  switch (s.code()) {
    case Code::kOk:
      return EmptyObject();
    case Code::kInvalidArgument:
      return http::JsonError(400, "INVALID_PARAMETER_VALUE", s.message());
    case Code::kNotFound:
      return http::JsonError(404, "RESOURCE_DOES_NOT_EXIST", s.message());
    case Code::kAlreadyExists:
      return http::JsonError(400, "RESOURCE_ALREADY_EXISTS", s.message());
    case Code::kFailedPrecondition:
      return http::JsonError(400, "INVALID_STATE", s.message());
    case Code::kPermissionDenied:
      return http::JsonError(403, "PERMISSION_DENIED", s.message());
    case Code::kUnavailable:
      return http::JsonError(503, "TEMPORARILY_UNAVAILABLE", s.message());
    case Code::kInternal:
      return http::JsonError(500, "INTERNAL_ERROR", s.message());
  }
  return http::JsonError(500, "INTERNAL_ERROR", s.message());
}

void Api::Register(http::Router& router) {
  Store* st = store_;
  artifacts::LocalRepository* repo = artifacts_;

  // Every MLflow endpoint is served under both API prefixes, as MLflow's server does.
  auto both = [&router](Method m, const std::string& path, http::Handler h) {
    router.Add(m, "/api/2.0/mlflow/" + path, h);
    router.Add(m, "/ajax-api/2.0/mlflow/" + path, std::move(h));
  };

  // ---------------- experiments ----------------
  both(Method::kPost, "experiments/create",
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(auto location, f.String("artifact_location"));
         ASSIGN_OR_RETURN(auto tag_elems, f.Objects("tags"));
         ASSIGN_OR_RETURN(auto tags, ReadTags(tag_elems));
         st->CreateExperiment(
             name, location.value_or(""), std::move(tags), [res](Result<std::string> id) {
               if (!id.ok()) return res.Send(HttpError(id.status()));
               std::string body;
               JsonWriter(&body).BeginObject().Field("experiment_id", *id).EndObject();
               res.Send(JsonResponse(std::move(body)));
             });
         return Status::Ok();
       }));

  auto get_experiment = Sync([st](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
    ASSIGN_OR_RETURN(store::Experiment e, st->GetExperiment(id));
    std::string body;
    JsonWriter w(&body);
    w.BeginObject().Key("experiment");
    WriteExperiment(w, e);
    w.EndObject();
    return JsonResponse(std::move(body));
  });
  both(Method::kGet, "experiments/get", get_experiment);

  both(Method::kGet, "experiments/get-by-name", Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("experiment_name"));
         ASSIGN_OR_RETURN(store::Experiment e, st->GetExperimentByName(name));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject().Key("experiment");
         WriteExperiment(w, e);
         w.EndObject();
         return JsonResponse(std::move(body));
       }));

  auto search_experiments = Sync([st](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(auto search, ReadSearch<store::ExperimentSearch>(f, 1000));
    ASSIGN_OR_RETURN(search.view, ReadViewType(f));
    ASSIGN_OR_RETURN(store::ExperimentPage page, st->SearchExperiments(search));
    return PageResponse("experiments", page.experiments, page.next_page_token, WriteExperiment);
  });
  both(Method::kPost, "experiments/search", search_experiments);
  both(Method::kGet, "experiments/search", search_experiments);

  both(Method::kPost, "experiments/update",
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
         ASSIGN_OR_RETURN(auto name, f.String("new_name"));
         if (!name || name->empty()) {
           res.Send(EmptyObject());  // nothing to change
           return Status::Ok();
         }
         st->RenameExperiment(id, *name, RespondEmpty(res));
         return Status::Ok();
       }));

  for (bool del : {true, false}) {
    both(Method::kPost, del ? "experiments/delete" : "experiments/restore",
         Async([st, del](Request& req, const Responder& res) -> Status {
           ASSIGN_OR_RETURN(Fields f, ReadFields(req));
           ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
           if (del) {
             st->DeleteExperiment(id, RespondEmpty(res));
           } else {
             st->RestoreExperiment(id, RespondEmpty(res));
           }
           return Status::Ok();
         }));
  }

  both(Method::kPost, "experiments/set-experiment-tag",
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.String("value"));
         if (!value) return MissingField("value");
         st->SetExperimentTag(id, store::Tag{key, *value}, RespondEmpty(res));
         return Status::Ok();
       }));

  both(Method::kPost, "experiments/delete-experiment-tag",
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         st->DeleteExperimentTag(id, key, RespondEmpty(res));
         return Status::Ok();
       }));

  // ---------------- runs ----------------
  both(Method::kPost, "runs/create", Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         store::CreateRunRequest cr;
         ASSIGN_OR_RETURN(auto exp, f.String("experiment_id"));
         cr.experiment_id = exp.value_or("0");
         ASSIGN_OR_RETURN(auto user, f.String("user_id"));
         cr.user_id = user.value_or("");
         ASSIGN_OR_RETURN(auto name, f.String("run_name"));
         cr.run_name = name.value_or("");
         ASSIGN_OR_RETURN(auto start, f.Int64("start_time"));
         cr.start_time = start.value_or(0);
         ASSIGN_OR_RETURN(auto tag_elems, f.Objects("tags"));
         ASSIGN_OR_RETURN(cr.tags, ReadTags(tag_elems));
         st->CreateRun(std::move(cr), [res](Result<store::Run> r) {
           if (!r.ok()) return res.Send(HttpError(r.status()));
           std::string body;
           JsonWriter w(&body);
           w.BeginObject().Key("run");
           WriteRun(w, *r);
           w.EndObject();
           res.Send(JsonResponse(std::move(body)));
         });
         return Status::Ok();
       }));

  both(Method::kGet, "runs/get", Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(store::Run run, st->GetRun(id));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject().Key("run");
         WriteRun(w, run);
         w.EndObject();
         return JsonResponse(std::move(body));
       }));

  both(Method::kPost, "runs/update", Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         store::UpdateRunRequest ur;
         ASSIGN_OR_RETURN(ur.run_id, RunIdField(f));
         ASSIGN_OR_RETURN(ur.status, f.String("status"));
         ASSIGN_OR_RETURN(ur.end_time, f.Int64("end_time"));
         ASSIGN_OR_RETURN(ur.run_name, f.String("run_name"));
         st->UpdateRun(std::move(ur), [res](Result<store::RunInfo> info) {
           if (!info.ok()) return res.Send(HttpError(info.status()));
           std::string body;
           JsonWriter w(&body);
           w.BeginObject().Key("run_info");
           WriteRunInfo(w, *info);
           w.EndObject();
           res.Send(JsonResponse(std::move(body)));
         });
         return Status::Ok();
       }));

  for (bool del : {true, false}) {
    both(Method::kPost, del ? "runs/delete" : "runs/restore",
         Async([st, del](Request& req, const Responder& res) -> Status {
           ASSIGN_OR_RETURN(Fields f, ReadFields(req));
           ASSIGN_OR_RETURN(std::string id, RunIdField(f));
           if (del) {
             st->DeleteRun(id, RespondEmpty(res));
           } else {
             st->RestoreRun(id, RespondEmpty(res));
           }
           return Status::Ok();
         }));
  }

  both(Method::kPost, "runs/log-metric", Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.Double("value"));
         if (!value) return MissingField("value");
         ASSIGN_OR_RETURN(auto ts, f.Int64("timestamp"));
         if (!ts) return MissingField("timestamp");
         ASSIGN_OR_RETURN(auto step, f.Int64("step"));
         store::Batch b;
         b.metrics.push_back(store::Metric{std::move(key), *value, *ts, step.value_or(0)});
         st->LogBatch(std::move(id), std::move(b), RespondEmpty(res));
         return Status::Ok();
       }));

  both(Method::kPost, "runs/log-parameter",
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.String("value"));
         if (!value) return MissingField("value");
         store::Batch b;
         b.params.push_back(store::Param{std::move(key), std::move(*value)});
         st->LogBatch(std::move(id), std::move(b), RespondEmpty(res));
         return Status::Ok();
       }));

  both(Method::kPost, "runs/set-tag", Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.String("value"));
         if (!value) return MissingField("value");
         store::Batch b;
         b.tags.push_back(store::Tag{std::move(key), std::move(*value)});
         st->LogBatch(std::move(id), std::move(b), RespondEmpty(res));
         return Status::Ok();
       }));

  both(Method::kPost, "runs/delete-tag", Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         st->DeleteTag(std::move(id), std::move(key), RespondEmpty(res));
         return Status::Ok();
       }));

  both(Method::kPost, "runs/log-batch", Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         store::Batch b;
         ASSIGN_OR_RETURN(auto metrics, f.Objects("metrics"));
         b.metrics.reserve(metrics.size());
         for (auto e : metrics) {
           ASSIGN_OR_RETURN(auto key, Fields::String(e, "key"));
           if (!key || key->empty()) return MissingField("metrics.key");
           ASSIGN_OR_RETURN(auto value, Fields::Double(e, "value"));
           if (!value) return MissingField("metrics.value");
           ASSIGN_OR_RETURN(auto ts, Fields::Int64(e, "timestamp"));
           if (!ts) return MissingField("metrics.timestamp");
           ASSIGN_OR_RETURN(auto step, Fields::Int64(e, "step"));
           b.metrics.push_back(store::Metric{std::move(*key), *value, *ts, step.value_or(0)});
         }
         ASSIGN_OR_RETURN(auto params, f.Objects("params"));
         for (auto e : params) {
           ASSIGN_OR_RETURN(auto key, Fields::String(e, "key"));
           if (!key || key->empty()) return MissingField("params.key");
           ASSIGN_OR_RETURN(auto value, Fields::String(e, "value"));
           if (!value) return MissingField("params.value");
           b.params.push_back(store::Param{std::move(*key), std::move(*value)});
         }
         ASSIGN_OR_RETURN(auto tag_elems, f.Objects("tags"));
         ASSIGN_OR_RETURN(b.tags, ReadTags(tag_elems));
         st->LogBatch(std::move(id), std::move(b), RespondEmpty(res));
         return Status::Ok();
       }));

  both(Method::kPost, "runs/log-inputs", Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(auto datasets, f.Objects("datasets"));
         std::vector<store::DatasetInput> inputs;
         for (auto e : datasets) {
           store::DatasetInput in;
           ASSIGN_OR_RETURN(auto tag_elems, Fields::Objects(e, "tags"));
           ASSIGN_OR_RETURN(in.tags, ReadTags(tag_elems));
           simdjson::dom::element d;
           if (e.at_key("dataset").get(d) != simdjson::SUCCESS || !d.is_object()) {
             return MissingField("datasets.dataset");
           }
           std::string* fields[] = {&in.dataset.name,   &in.dataset.digest, &in.dataset.source_type,
                                    &in.dataset.source, &in.dataset.schema, &in.dataset.profile};
           const char* names[] = {"name", "digest", "source_type", "source", "schema", "profile"};
           for (int i = 0; i < 6; ++i) {
             ASSIGN_OR_RETURN(auto v, Fields::String(d, names[i]));
             *fields[i] = v.value_or("");
           }
           inputs.push_back(std::move(in));
         }
         st->LogInputs(std::move(id), std::move(inputs), RespondEmpty(res));
         return Status::Ok();
       }));

  both(Method::kPost, "runs/log-model", Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(std::string model_json, f.RequiredString("model_json"));
         // MLflow accepts only a JSON object naming the model's artifact path, flavors, creation
         // time and run.
         ASSIGN_OR_RETURN(Fields model, Fields::FromJson(model_json));
         for (const char* field : {"artifact_path", "flavors", "utc_time_created", "run_id"}) {
           if (!model.Has(field)) {
             return InvalidArgument(std::string("model_json is missing the required field '") +
                                    field + "'");
           }
         }
         st->AppendLoggedModel(std::move(id), model.Minified(), RespondEmpty(res));
         return Status::Ok();
       }));

  auto search_runs = Sync([st](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(auto search, ReadSearch<store::RunSearch>(f, 1000));
    ASSIGN_OR_RETURN(search.experiment_ids, f.StringList("experiment_ids"));
    ASSIGN_OR_RETURN(search.view, ReadViewType(f));
    ASSIGN_OR_RETURN(store::RunPage page, st->SearchRuns(search));
    return PageResponse("runs", page.runs, page.next_page_token, WriteRun);
  });
  both(Method::kPost, "runs/search", search_runs);
  both(Method::kGet, "runs/search", search_runs);

  // ---------------- metrics ----------------
  both(Method::kGet, "metrics/get-history", Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("metric_key"));
         ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
         ASSIGN_OR_RETURN(auto token, f.String("page_token"));
         if (max && (*max < 1 || *max > 1000000)) {
           return InvalidArgument("invalid value " + std::to_string(*max) +
                                  " for parameter 'max_results': it must be between 1 and 1000000");
         }
         // Histories run to millions of points: the key's JSON is written once and each point
         // appended straight from the store's cursor, rather than through the general writer.
         std::string prefix = "{\"key\":";
         AppendJsonString(&prefix, key);
         prefix += ",\"value\":";
         std::string body = "{\"metrics\":[";
         size_t empty_size = body.size();
         ASSIGN_OR_RETURN(std::string next, st->VisitMetricHistory(
                                                id, key, max.value_or(0), token.value_or(""),
                                                [&](double value, int64_t timestamp, int64_t step) {
                                                  if (body.size() != empty_size) body += ',';
                                                  body += prefix;
                                                  AppendJsonDouble(&body, value);
                                                  body += ",\"timestamp\":";
                                                  AppendJsonInt(&body, timestamp);
                                                  body += ",\"step\":";
                                                  AppendJsonInt(&body, step);
                                                  body += '}';
                                                }));
         // Proto3 JSON omits an empty list.
         if (body.size() == empty_size) {
           body = "{";
         } else {
           body += ']';
         }
         if (!next.empty()) {
           if (body.size() > 1) body += ',';
           body += "\"next_page_token\":";
           AppendJsonString(&body, next);
         }
         body += '}';
         return JsonResponse(std::move(body));
       }));

  both(Method::kGet, "metrics/get-history-bulk-interval",
       Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(auto run_ids, f.StringList("run_ids"));
         if (run_ids.empty()) return MissingField("run_ids");
         if (run_ids.size() > 100) {
           return InvalidArgument("at most 100 run_ids may be requested at once; got " +
                                  std::to_string(run_ids.size()));
         }
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("metric_key"));
         ASSIGN_OR_RETURN(auto start, f.Int64("start_step"));
         ASSIGN_OR_RETURN(auto end, f.Int64("end_step"));
         if (start.has_value() != end.has_value()) {
           return InvalidArgument("start_step and end_step must be given together");
         }
         if (start && *start > *end) {
           return InvalidArgument("end_step must be greater than or equal to start_step");
         }
         ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
         int64_t max_results = max.value_or(320);
         if (max_results < 1 || max_results > 1000000) {
           return InvalidArgument(
               "invalid value for parameter 'max_results': it must be between 1 "
               "and 1000000");
         }
         ASSIGN_OR_RETURN(auto points,
                          st->GetMetricHistoryBulkInterval(run_ids, key, start, end, max_results));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject();
         if (!points.empty()) {
           w.Key("metrics").BeginArray();
           for (const auto& p : points) WriteMetric(w, p.metric, &p.run_id);
           w.EndArray();
         }
         w.EndObject();
         return JsonResponse(std::move(body));
       }));

  both(Method::kGet, "metrics/get-history-bulk", Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(auto run_ids, f.StringList("run_id"));
         if (run_ids.empty()) return MissingField("run_id");
         if (run_ids.size() > 100) {
           return InvalidArgument("at most 100 run ids may be requested at once");
         }
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("metric_key"));
         ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
         int64_t limit = max.value_or(25000);
         if (limit < 1) return InvalidArgument("max_results must be positive");
         std::string body;
         JsonWriter w(&body);
         w.BeginObject().Key("metrics").BeginArray();
         for (const std::string& id : run_ids) {
           ASSIGN_OR_RETURN(store::MetricPage page, st->GetMetricHistory(id, key, limit, ""));
           for (const auto& m : page.metrics) WriteMetric(w, m, &id);
         }
         w.EndArray().EndObject();
         return JsonResponse(std::move(body));
       }));

  both(Method::kPost, "experiments/search-datasets",
       Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(auto ids, f.StringList("experiment_ids"));
         if (ids.empty()) return MissingField("experiment_ids");
         if (ids.size() > 20) return InvalidArgument("at most 20 experiment_ids are allowed");
         ASSIGN_OR_RETURN(auto summaries, st->SearchDatasets(ids));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject();
         if (!summaries.empty()) {
           w.Key("dataset_summaries").BeginArray();
           for (const auto& d : summaries) {
             w.BeginObject()
                 .Field("experiment_id", d.experiment_id)
                 .Field("name", d.name)
                 .Field("digest", d.digest);
             if (!d.context.empty()) w.Field("context", d.context);
             w.EndObject();
           }
           w.EndArray();
         }
         w.EndObject();
         return JsonResponse(std::move(body));
       }));

  // ---------------- artifacts through the tracking API ----------------
  // The run's artifact directory relative to the repository root.
  auto run_artifact_root = [st](const std::string& run_id) -> Result<std::string> {
    ASSIGN_OR_RETURN(store::Run run, st->GetRun(run_id));
    return ArtifactRelative(run.info.artifact_uri);
  };

  both(Method::kGet, "artifacts/list",
       Sync([repo, run_artifact_root, st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(auto path, f.String("path"));
         ASSIGN_OR_RETURN(std::string rel, CleanRelativePath(path.value_or("")));
         ASSIGN_OR_RETURN(store::Run run, st->GetRun(id));
         ASSIGN_OR_RETURN(std::string root, run_artifact_root(id));
         bool is_file = false;
         ASSIGN_OR_RETURN(auto files, repo->List(JoinRelative(root, rel), &is_file));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject().Field("root_uri", run.info.artifact_uri);
         if (!files.empty()) {
           w.Key("files").BeginArray();
           for (const auto& fi : files) {
             // Paths are relative to the run's artifact root.
             std::string p = fi.path.substr(std::min(fi.path.size(), root.size() + 1));
             w.BeginObject().Field("path", p).FieldBool("is_dir", fi.is_dir);
             if (!fi.is_dir) w.Field("file_size", fi.file_size);
             w.EndObject();
           }
           w.EndArray();
         }
         w.EndObject();
         return JsonResponse(std::move(body));
       }));

  auto get_artifact = Sync([repo, run_artifact_root](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(std::string id, RunIdField(f));
    ASSIGN_OR_RETURN(std::string path, f.RequiredString("path"));
    ASSIGN_OR_RETURN(std::string rel, CleanRelativePath(path));
    ASSIGN_OR_RETURN(std::string root, run_artifact_root(id));
    ASSIGN_OR_RETURN(auto full, repo->Resolve(JoinRelative(root, rel)));
    Response r = http::FileResponse(req, full.string(), artifacts::GuessContentType(rel));
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
  });
  router.Add(Method::kGet, "/ajax-api/2.0/mlflow/get-artifact", get_artifact);
  router.Add(Method::kGet, "/get-artifact", get_artifact);

  auto upload_artifact =
      Async([repo, run_artifact_root](Request& req, const Responder& res) -> Status {
        ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
        ASSIGN_OR_RETURN(std::string id, RunIdField(f));
        ASSIGN_OR_RETURN(std::string path, f.RequiredString("path"));
        ASSIGN_OR_RETURN(std::string rel, CleanRelativePath(path));
        if (rel.empty()) return InvalidArgument("path must name a file");
        ASSIGN_OR_RETURN(std::string root, run_artifact_root(id));
        RETURN_IF_ERROR(repo->PutFile(JoinRelative(root, rel), req.body_file));
        res.Send(EmptyObject());
        return Status::Ok();
      });
  router.AddPrefix(Method::kPost, "/ajax-api/2.0/mlflow/upload-artifact", upload_artifact, true);

  // ---------------- mlflow-artifacts proxy ----------------
  const std::string kProxy = "/api/2.0/mlflow-artifacts/artifacts";
  auto list_proxy = Sync([repo](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
    ASSIGN_OR_RETURN(auto path, f.String("path"));
    ASSIGN_OR_RETURN(std::string rel, CleanRelativePath(path.value_or("")));
    bool is_file = false;
    ASSIGN_OR_RETURN(auto files, repo->List(rel, &is_file));
    std::string body;
    JsonWriter w(&body);
    w.BeginObject();
    if (!files.empty()) {
      w.Key("files").BeginArray();
      for (const auto& fi : files) {
        size_t slash = fi.path.rfind('/');
        std::string name = slash == std::string::npos ? fi.path : fi.path.substr(slash + 1);
        w.BeginObject().Field("path", name).FieldBool("is_dir", fi.is_dir);
        if (!fi.is_dir) w.Field("file_size", fi.file_size);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    return JsonResponse(std::move(body));
  });
  router.Add(Method::kGet, kProxy, list_proxy);
  router.Add(Method::kGet, kProxy + "/", list_proxy);

  // The suffix after ".../artifacts/" is percent-decoded once; encoded separators or dots
  // then meet the same checks as literal ones.
  auto proxy_path = [](const Request& req) -> Result<std::string> {
    std::string_view suffix = req.route_suffix;
    auto decoded = PercentDecode(suffix, false);
    if (!decoded) return InvalidArgument("malformed percent-encoding in artifact path");
    if (decoded->find('\0') != std::string::npos) {
      return InvalidArgument("invalid artifact path: NUL bytes are not allowed");
    }
    return CleanRelativePath(*decoded);
  };

  router.AddPrefix(
      Method::kGet, kProxy + "/", Sync([repo, proxy_path](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(std::string rel, proxy_path(req));
        if (rel.empty()) return InvalidArgument("artifact path must name a file");
        ASSIGN_OR_RETURN(auto full, repo->Resolve(rel));
        std::error_code ec;
        if (std::filesystem::is_directory(full, ec)) {
          return InvalidArgument("artifact path '" + rel + "' is a directory; list it with ?path=");
        }
        size_t slash = rel.rfind('/');
        std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
        Response r = http::FileResponse(req, full.string(), artifacts::GuessContentType(name));
        if (r.status == 404) return NotFound("artifact '" + rel + "' not found");
        r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + "\"");
        r.headers.emplace_back("X-Content-Type-Options", "nosniff");
        return r;
      }));

  router.AddPrefix(
      Method::kPut, kProxy + "/",
      [repo, proxy_path](Request& req, Responder res) {
        auto rel = proxy_path(req);
        Status s = rel.ok() ? (rel->empty() ? InvalidArgument("artifact path must name a file")
                                            : repo->PutFile(*rel, req.body_file))
                            : rel.status();
        res.Send(s.ok() ? EmptyObject() : HttpError(s));
      },
      /*stream_body=*/true);

  router.AddPrefix(Method::kDelete, kProxy + "/",
                   Sync([repo, proxy_path](const Request& req) -> Result<Response> {
                     ASSIGN_OR_RETURN(std::string rel, proxy_path(req));
                     RETURN_IF_ERROR(repo->Delete(rel));
                     return EmptyObject();
                   }));

  // Multipart upload needs an object store behind the proxy; the client falls back to a
  // single PUT when the error message says it is unsupported.
  // The client posts to mpu/<op>/<artifact path>.
  for (const char* op : {"create", "complete", "abort"}) {
    auto unsupported = Sync([](const Request&) -> Result<Response> {
      return http::JsonError(501, "NOT_IMPLEMENTED",
                             "Multipart upload is not supported for the current "
                             "artifact repository");
    });
    router.Add(Method::kPost, std::string("/api/2.0/mlflow-artifacts/mpu/") + op, unsupported);
    router.AddPrefix(Method::kPost, std::string("/api/2.0/mlflow-artifacts/mpu/") + op + "/",
                     unsupported);
  }

  // ---------------- operations ----------------
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
    if (!v || *v < 1)
      return InvalidArgument("invalid model version '" + text + "': expected a positive integer");
    return *v;
  };
  auto read_tags = [](const Fields& f) -> Result<std::vector<store::Tag>> {
    ASSIGN_OR_RETURN(auto elems, f.Objects("tags"));
    return ReadTags(elems);
  };

  both(Method::kPost, "registered-models/create",
       Async([st, model_response, read_tags](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(auto description, f.String("description"));
         ASSIGN_OR_RETURN(auto tags, read_tags(f));
         st->CreateRegisteredModel(name, description.value_or(""), std::move(tags),
                                   [res, model_response](Result<store::RegisteredModel> m) {
                                     model_response("registered_model")(std::move(m), res);
                                   });
         return Status::Ok();
       }));
  both(Method::kGet, "registered-models/get", Sync([st](const Request& req) -> Result<Response> {
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
  both(Method::kPost, "registered-models/rename",
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
  both(Method::kPatch, "registered-models/update",
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
  both(Method::kDelete, "registered-models/delete",
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
  both(Method::kGet, "registered-models/search", search_models);
  both(Method::kPost, "registered-models/search", search_models);
  both(Method::kPost, "registered-models/set-tag",
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.String("value"));
         if (!value) return MissingField("value");
         st->SetRegisteredModelTag(name, store::Tag{key, *value}, RespondEmpty(res));
         return Status::Ok();
       }));
  both(Method::kDelete, "registered-models/delete-tag",
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         st->DeleteRegisteredModelTag(name, key, RespondEmpty(res));
         return Status::Ok();
       }));
  both(Method::kPost, "registered-models/alias",
       Async([st, version_field](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         st->SetRegisteredModelAlias(name, alias, version, RespondEmpty(res));
         return Status::Ok();
       }));
  both(Method::kDelete, "registered-models/alias",
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(std::string alias, f.RequiredString("alias"));
         st->DeleteRegisteredModelAlias(name, alias, RespondEmpty(res));
         return Status::Ok();
       }));
  both(Method::kGet, "registered-models/alias", Sync([st](const Request& req) -> Result<Response> {
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
  both(Method::kPost, "registered-models/get-latest-versions", latest_versions);
  both(Method::kGet, "registered-models/get-latest-versions", latest_versions);

  both(Method::kPost, "model-versions/create",
       Async([st, repo, version_response, read_tags](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         store::ModelVersion v;
         ASSIGN_OR_RETURN(v.name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(v.source, f.RequiredString("source"));
         ASSIGN_OR_RETURN(auto run_id, f.String("run_id"));
         v.run_id = run_id.value_or("");
         ASSIGN_OR_RETURN(auto run_link, f.String("run_link"));
         v.run_link = run_link.value_or("");
         ASSIGN_OR_RETURN(auto description, f.String("description"));
         v.description = description.value_or("");
         ASSIGN_OR_RETURN(v.tags, read_tags(f));
         RETURN_IF_ERROR(DescribeCoreMLSource(st, repo, &v));
         st->CreateModelVersion(std::move(v),
                                [res, version_response](Result<store::ModelVersion> r) {
                                  version_response(std::move(r), res);
                                });
         return Status::Ok();
       }));
  both(Method::kGet, "model-versions/get",
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
  both(Method::kPatch, "model-versions/update",
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
  both(Method::kPost, "model-versions/transition-stage",
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
  both(Method::kDelete, "model-versions/delete",
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
  both(Method::kGet, "model-versions/search", search_versions);
  both(Method::kPost, "model-versions/search", search_versions);
  both(Method::kGet, "model-versions/get-download-uri",
       Sync([st, version_field](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(store::ModelVersion v, st->GetModelVersion(name, version));
         std::string body;
         JsonWriter(&body).BeginObject().Field("artifact_uri", v.source).EndObject();
         return JsonResponse(std::move(body));
       }));
  both(Method::kPost, "model-versions/set-tag",
       Async([st, version_field](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.String("value"));
         if (!value) return MissingField("value");
         st->SetModelVersionTag(name, version, store::Tag{key, *value}, RespondEmpty(res));
         return Status::Ok();
       }));
  both(Method::kDelete, "model-versions/delete-tag",
       Async([st, version_field](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
         ASSIGN_OR_RETURN(int64_t version, version_field(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         st->DeleteModelVersionTag(name, version, key, RespondEmpty(res));
         return Status::Ok();
       }));
  // What ringo read from a version's Core ML source (interface, spec version, size, and either
  // the file's sha256 or the package directory's tree_sha256).
  router.Add(Method::kGet, "/api/ringo/v1/model-versions/coreml",
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
               body += ",\"size\":" + std::to_string(v.size) + ",\"coreml\":" + v.coreml + "}";
               return JsonResponse(std::move(body));
             }));

  // ---------------- ringo's own endpoints (the UI) ----------------
  // A long metric series reduced to `buckets` buckets over x (step or wall time), keeping each
  // bucket's min, max, first and last value, so a chart of a million points draws from a few
  // thousand and still shows every spike.
  router.Add(
      Method::kGet, "/api/ringo/v1/metrics/downsample",
      Sync([st](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(Fields f, ReadFields(req));
        ASSIGN_OR_RETURN(std::string id, RunIdField(f));
        ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
        ASSIGN_OR_RETURN(auto buckets_opt, f.Int64("buckets"));
        int64_t buckets = buckets_opt.value_or(1000);
        if (buckets < 1 || buckets > 100000) {
          return InvalidArgument("buckets must be between 1 and 100000");
        }
        ASSIGN_OR_RETURN(auto x_opt, f.String("x"));
        std::string x = x_opt.value_or("step");
        if (x != "step" && x != "time") return InvalidArgument("x must be step or time");
        ASSIGN_OR_RETURN(auto start, f.Double("start"));
        ASSIGN_OR_RETURN(auto end, f.Double("end"));
        bool by_time = x == "time";
        std::vector<std::pair<double, double>> points;
        ASSIGN_OR_RETURN(
            std::string unused,
            st->VisitMetricHistory(id, key, 0, "", [&](double value, int64_t ts, int64_t step) {
              double px = by_time ? double(ts) : double(step);
              if (start && px < *start) return;
              if (end && px > *end) return;
              points.emplace_back(px, value);
            }));
        (void)unused;
        if (by_time) {
          std::stable_sort(points.begin(), points.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        std::string body;
        JsonWriter w(&body);
        w.BeginObject().Field("total", static_cast<int64_t>(points.size()));
        w.Key("points").BeginArray();
        if (!points.empty()) {
          double lo = points.front().first, hi = points.back().first;
          double width = (hi - lo) / double(buckets);
          size_t i = 0;
          while (i < points.size()) {
            int64_t b =
                width > 0 ? std::min<int64_t>(buckets - 1, int64_t((points[i].first - lo) / width))
                          : 0;
            double mn = points[i].second, mx = points[i].second;
            double first = points[i].second, last = points[i].second, bx = points[i].first;
            int64_t count = 0;
            for (; i < points.size(); ++i) {
              int64_t pb = width > 0 ? std::min<int64_t>(buckets - 1,
                                                         int64_t((points[i].first - lo) / width))
                                     : 0;
              if (pb != b) break;
              double v = points[i].second;
              // NaN is carried by first/last only; min/max describe the finite range.
              if (!std::isnan(v)) {
                if (std::isnan(mn) || v < mn) mn = v;
                if (std::isnan(mx) || v > mx) mx = v;
              }
              last = v;
              ++count;
            }
            w.BeginObject()
                .Field("x", bx)
                .Field("min", mn)
                .Field("max", mx)
                .Field("first", first)
                .Field("last", last)
                .Field("count", count)
                .EndObject();
          }
        }
        w.EndArray().EndObject();
        return JsonResponse(std::move(body));
      }));

  // The model card of a Core ML artifact (.mlmodel file or .mlpackage directory) of a run.
  router.Add(Method::kGet, "/api/ringo/v1/coreml/inspect",
             Sync([repo, run_artifact_root](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string id, RunIdField(f));
               ASSIGN_OR_RETURN(std::string path, f.RequiredString("path"));
               ASSIGN_OR_RETURN(std::string rel, CleanRelativePath(path));
               ASSIGN_OR_RETURN(std::string root, run_artifact_root(id));
               ASSIGN_OR_RETURN(auto full, repo->Resolve(JoinRelative(root, rel)));
               auto model = coreml::Load(full);
               if (!model.ok()) {
                 if (model.status().code() == Code::kNotFound)
                   return NotFound("artifact '" + rel + "' not found");
                 return InvalidArgument("artifact '" + rel +
                                        "' is not a Core ML model: " + model.status().message());
               }
               coreml::Info info = coreml::Inspect(*model, full);
               std::string body = coreml::InfoToJson(info);
               std::vector<std::string> problems = coreml::Validate(*model);
               body.pop_back();  // reopen the object to add the validation verdict
               while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
               std::string extra = ",\"valid\":";
               extra += problems.empty() ? "true" : "false";
               extra += ",\"problems\":[";
               for (size_t i = 0; i < problems.size(); ++i) {
                 if (i) extra += ',';
                 AppendJsonString(&extra, problems[i]);
               }
               body += extra + "]}";
               return JsonResponse(std::move(body));
             }));

  if (deploy_) waiters_ = RegisterDeploy(router, deploy_);

  // ---------------- tokens ----------------
  auth_ = std::make_shared<Auth>(st);
  router.SetGuard([auth = auth_](const Request& req) { return auth->Check(req); });
  // The first token may be created by whoever reaches the server (it listens on loopback by
  // default); once one exists, this needs an admin token like every management call.
  router.Add(Method::kPost, "/api/ringo/v1/tokens",
             Sync([auth = auth_](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string scope, f.RequiredString("scope"));
               ASSIGN_OR_RETURN(auto name, f.String("name"));
               ASSIGN_OR_RETURN(std::string token, auth->Create(scope, name.value_or("")));
               std::string body;
               JsonWriter(&body)
                   .BeginObject()
                   .Field("token", token)
                   .Field("scope", scope)
                   .Field("name", name.value_or(""))
                   .EndObject();
               return JsonResponse(std::move(body));
             }));

  // ---------------- web UI ----------------
  // index.html at / (routing happens in the URL hash); hashed assets are immutable.
  auto ui_file = [](const std::string& path) -> const UiAsset* {
    for (const UiAsset* a = UiAssets(); a->path; ++a) {
      if (path == a->path) return a;
    }
    return nullptr;
  };
  auto serve_ui = Sync([ui_file](const Request& req) -> Result<Response> {
    std::string path = req.path == "/" ? "/index.html" : req.path;
    const UiAsset* a = ui_file(path);
    if (!a) {
      if (path == "/index.html") {
        Response r = TextResponse(
            "The web UI is not part of this build (it is built when Node.js and npm are present "
            "at build time). The MLflow REST API is at /api/2.0/mlflow/.\n");
        r.status = 404;
        return r;
      }
      return NotFound("no UI file at " + req.path);
    }
    Response r;
    r.content_type = a->content_type;
    r.body.assign(reinterpret_cast<const char*>(a->data), a->size);
    r.headers.emplace_back("Cache-Control", path == "/index.html"
                                                ? "no-cache"
                                                : "public, max-age=31536000, immutable");
    return r;
  });
  router.Add(Method::kGet, "/", serve_ui);
  router.Add(Method::kGet, "/index.html", serve_ui);
  router.AddPrefix(Method::kGet, "/assets/", serve_ui);
  router.Add(Method::kGet, "/favicon.svg", serve_ui);

  router.Add(Method::kGet, "/health", Sync([](const Request&) -> Result<Response> {
               return TextResponse(std::string("OK"));
             }));
  router.Add(Method::kGet, "/version", Sync([](const Request&) -> Result<Response> {
               return TextResponse(std::string(kVersion));
             }));
  router.Add(Method::kGet, "/metrics", Sync([this, st](const Request&) -> Result<Response> {
               Response r;
               r.content_type = "text/plain; version=0.0.4";
               if (http::Server* server = server_.load()) {
                 r.body += server->metrics().PrometheusText();
                 r.body +=
                     "# TYPE ringo_http_open_connections gauge\nringo_http_open_connections " +
                     std::to_string(server->open_connections()) + "\n";
               }
               store::StoreStats s = st->Stats();
               r.body +=
                   "# HELP ringo_store_write_queue_depth Writes waiting for the writer thread.\n"
                   "# TYPE ringo_store_write_queue_depth gauge\n"
                   "ringo_store_write_queue_depth " +
                   std::to_string(s.write_queue_depth) +
                   "\n"
                   "# HELP ringo_store_commits_total Transactions committed by the writer.\n"
                   "# TYPE ringo_store_commits_total counter\n"
                   "ringo_store_commits_total " +
                   std::to_string(s.commits) +
                   "\n"
                   "# TYPE ringo_store_writes_total counter\n"
                   "ringo_store_writes_total{result=\"committed\"} " +
                   std::to_string(s.writes_committed) +
                   "\n"
                   "ringo_store_writes_total{result=\"failed\"} " +
                   std::to_string(s.writes_failed) + "\n";
               return r;
             }));
}

void Api::Shutdown() {
  // The answers are written by the I/O threads; the server closes every connection when it
  // stops, so give them a moment to go out first.
  if (waiters_ && waiters_->Shutdown() > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

}  // namespace ringo::api
