// MLflow 3's logged models over REST (logged-models/...) and runs/outputs, which MLflow 3
// clients call to log, find and register models.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "api/handlers.h"
#include "api/logged_models.h"
#include "api/routes.h"
#include "common/paths.h"
#include "common/util.h"

namespace ringo::api {

namespace {

using nlohmann::json;

Response ModelResponse(const LoggedModel& m) {
  return JsonResponse("{\"model\":" + LoggedModelJson(m) + "}");
}

// key/value objects of `key` ("tags", "params"); kInvalidArgument for a missing key.
Result<std::map<std::string, std::string>> KeyValues(const Fields& f, std::string_view key) {
  ASSIGN_OR_RETURN(auto elems, f.Objects(key));
  ASSIGN_OR_RETURN(std::vector<store::Tag> pairs, ReadTags(elems));
  std::map<std::string, std::string> out;
  for (auto& t : pairs) out[t.key] = std::move(t.value);
  return out;
}

// A LoggedModelStatus as its name or its number.
Result<std::string> StatusField(const Fields& f) {
  ASSIGN_OR_RETURN(auto text, f.String("status"));
  if (!text) return MissingField("status");
  for (size_t i = 0; i < std::size(kLoggedModelStatuses); ++i) {
    if (*text == kLoggedModelStatuses[i] || *text == std::to_string(i)) {
      return std::string(kLoggedModelStatuses[i]);
    }
  }
  return InvalidArgument("Invalid value '" + *text + "' for parameter 'status' supplied.");
}

Result<LoggedModelSearch> ReadModelSearch(const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  LoggedModelSearch s;
  ASSIGN_OR_RETURN(s.experiment_ids, f.StringList("experiment_ids"));
  ASSIGN_OR_RETURN(s.filter, f.StringOr("filter", ""));
  ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
  s.max_results = max.value_or(100);
  ASSIGN_OR_RETURN(s.page_token, f.StringOr("page_token", ""));
  ASSIGN_OR_RETURN(auto orders, f.Objects("order_by"));
  for (auto o : orders) {
    ASSIGN_OR_RETURN(auto field, Fields::String(o, "field_name"));
    if (!field || field->empty()) return MissingField("order_by.field_name");
    bool ascending = true;
    simdjson::dom::element v;
    if (o.at_key("ascending").get(v) == simdjson::SUCCESS) {
      bool b = true;
      if (v.get_bool().get(b) == simdjson::SUCCESS) ascending = b;
    }
    ASSIGN_OR_RETURN(auto dataset_name, Fields::String(o, "dataset_name"));
    ASSIGN_OR_RETURN(auto dataset_digest, Fields::String(o, "dataset_digest"));
    s.order_by.push_back({*field, ascending, dataset_name.value_or(""), dataset_digest.value_or("")});
  }
  ASSIGN_OR_RETURN(auto datasets, f.Objects("datasets"));
  for (auto d : datasets) {
    ASSIGN_OR_RETURN(auto name, Fields::String(d, "dataset_name"));
    if (!name || name->empty()) return MissingField("datasets.dataset_name");
    ASSIGN_OR_RETURN(auto digest, Fields::String(d, "dataset_digest"));
    s.datasets.push_back({*name, digest.value_or("")});
  }
  return s;
}

std::string ModelId(const Request& req) { return std::string(req.PathParam("model_id")); }

// Applies `change` to the model the path names and answers {}, as MLflow does for these calls.
Result<Response> ChangeModel(const Services& s, const Request& req,
                             const std::function<Status(LoggedModel&)>& change) {
  ASSIGN_OR_RETURN(LoggedModel m, s.models->Update(ModelId(req), change));
  (void)m;
  return EmptyObject();
}

Result<Response> CreateLoggedModel(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  LoggedModel m;
  ASSIGN_OR_RETURN(m.experiment_id, f.RequiredString("experiment_id"));
  ASSIGN_OR_RETURN(m.name, f.StringOr("name", ""));
  ASSIGN_OR_RETURN(m.model_type, f.StringOr("model_type", ""));
  ASSIGN_OR_RETURN(m.source_run_id, f.StringOr("source_run_id", ""));
  ASSIGN_OR_RETURN(m.tags, KeyValues(f, "tags"));
  ASSIGN_OR_RETURN(m.params, KeyValues(f, "params"));
  ASSIGN_OR_RETURN(LoggedModel created, s.models->Create(std::move(m)));
  return ModelResponse(created);
}

Result<Response> SearchLoggedModels(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(LoggedModelSearch search, ReadModelSearch(req));
  ASSIGN_OR_RETURN(auto page, s.models->Search(search));
  std::string body = "{";
  if (!page.first.empty()) {
    body += "\"models\":[";
    for (size_t i = 0; i < page.first.size(); ++i) {
      if (i) body += ',';
      body += LoggedModelJson(page.first[i]);
    }
    body += "]";
  }
  if (!page.second.empty()) {
    if (body.size() > 1) body += ',';
    body += "\"next_page_token\":";
    AppendJsonString(&body, page.second);
  }
  return JsonResponse(body + "}");
}

Result<Response> GetLoggedModel(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(LoggedModel m, s.models->Get(ModelId(req)));
  return ModelResponse(m);
}

// Finalize: the client uploads the files, then marks the model READY (or UPLOAD_FAILED).
Result<Response> FinalizeLoggedModel(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string status, StatusField(f));
  ASSIGN_OR_RETURN(LoggedModel m, s.models->Update(ModelId(req), [&](LoggedModel& m) {
    m.status = status;
    return Status::Ok();
  }));
  return ModelResponse(m);
}

Result<Response> DeleteLoggedModel(const Services& s, const Request& req) {
  return ChangeModel(s, req, [](LoggedModel& m) {
    m.deleted = true;
    return Status::Ok();
  });
}

// Sets the key/value objects of the request's `field` in the model's `map`, keeping the others.
Result<Response> MergeKeyValues(const Services& s, const Request& req, std::string_view field,
                                std::map<std::string, std::string> LoggedModel::*map) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto values, KeyValues(f, field));
  return ChangeModel(s, req, [&](LoggedModel& m) {
    for (auto& [k, v] : values) (m.*map)[k] = v;
    return Status::Ok();
  });
}

Result<Response> SetLoggedModelTags(const Services& s, const Request& req) {
  return MergeKeyValues(s, req, "tags", &LoggedModel::tags);
}

Result<Response> DeleteLoggedModelTag(const Services& s, const Request& req) {
  auto key = PercentDecode(req.PathParam("tag_key"), false);
  if (!key) return InvalidArgument("malformed percent-encoding in the tag key");
  return ChangeModel(s, req, [&](LoggedModel& m) -> Status {
    if (m.tags.erase(*key) == 0) {
      return NotFound("No tag with key '" + *key + "' found for logged model.");
    }
    return Status::Ok();
  });
}

Result<Response> LogLoggedModelParams(const Services& s, const Request& req) {
  return MergeKeyValues(s, req, "params", &LoggedModel::params);
}

Result<Response> ListLoggedModelArtifacts(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(LoggedModel m, s.models->Get(ModelId(req)));
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto path, f.String("artifact_directory_path"));
  ASSIGN_OR_RETURN(std::string rel, CleanRelativePath(path.value_or("")));
  ASSIGN_OR_RETURN(std::string root, ArtifactRelative(m.artifact_uri, s.artifacts));
  bool is_file = false;
  auto files = s.artifacts->List(JoinRelative(root, rel), &is_file);
  // Nothing uploaded yet is an empty listing, not an error.
  return FileListing(m.artifact_uri, root,
                     files.ok() ? *files : std::vector<artifacts::FileInfo>());
}

// One file of a logged model's artifacts (MLflow's UI reads MLmodel this way), served as
// get-artifact serves a run's.
Result<Response> GetLoggedModelArtifact(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(LoggedModel m, s.models->Get(ModelId(req)));
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string path, f.RequiredString("artifact_file_path"));
  ASSIGN_OR_RETURN(std::string rel, ArtifactPathField(path));
  if (rel.empty()) return InvalidArgument("Invalid path");
  ASSIGN_OR_RETURN(std::string root, ArtifactRelative(m.artifact_uri, s.artifacts));
  ASSIGN_OR_RETURN(std::filesystem::path full, s.artifacts->Resolve(JoinRelative(root, rel)));
  return UntrustedFileResponse(req, full, rel);
}

// The models a run produced, kept beside the run as a document.
Result<Response> LogRunOutputs(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string run_id, RunIdField(f));
  ASSIGN_OR_RETURN(store::Run run, s.store->GetRun(run_id));
  (void)run;
  ASSIGN_OR_RETURN(auto elems, f.Objects("models"));
  std::vector<ModelOutput> outputs;
  for (auto e : elems) {
    ASSIGN_OR_RETURN(auto id, Fields::String(e, "model_id"));
    ASSIGN_OR_RETURN(auto step, Fields::Int64(e, "step"));
    if (!id || id->empty()) return MissingField("models.model_id");
    outputs.push_back({std::move(*id), step.value_or(0)});
  }
  for (const ModelOutput& o : outputs) RETURN_IF_ERROR(s.models->Get(o.model_id).status());
  RETURN_IF_ERROR(AppendRunModels(s.store, kRunOutputs, run_id, outputs));
  return EmptyObject();
}

}  // namespace

std::span<const Route> LoggedModelRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "logged-models", kWrite, CreateLoggedModel},
      {kPost, "logged-models/search", kRead, SearchLoggedModels},
      {kGet, "logged-models/{model_id}", kRead, GetLoggedModel},
      {kPatch, "logged-models/{model_id}", kWrite, FinalizeLoggedModel},
      {kDelete, "logged-models/{model_id}", kWrite, DeleteLoggedModel},
      {kPatch, "logged-models/{model_id}/tags", kWrite, SetLoggedModelTags},
      {kDelete, "logged-models/{model_id}/tags/{tag_key}", kWrite, DeleteLoggedModelTag},
      {kPost, "logged-models/{model_id}/params", kWrite, LogLoggedModelParams},
      {kGet, "logged-models/{model_id}/artifacts/directories", kRead, ListLoggedModelArtifacts},
      {kGet, "logged-models/{model_id}/artifacts/files", kRead, GetLoggedModelArtifact},
      {kPost, "runs/outputs", kWrite, LogRunOutputs},
  };
  return kRoutes;
}

}  // namespace ringo::api
