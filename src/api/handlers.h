// What the route files of the API share (private to api/): response builders, proto3 JSON
// rendering of store types (empty fields omitted), the request fields every MLflow call reads,
// and the completions of handlers that finish on the store's writer thread.
#ifndef RINGO_API_HANDLERS_H_
#define RINGO_API_HANDLERS_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/api.h"
#include "api/request.h"
#include "artifacts/artifacts.h"
#include "common/json_writer.h"
#include "http/http.h"
#include "registry/registry.h"
#include "store/store.h"

namespace ringo::api {

using http::Access;
using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using store::Store;

// ---- responses ----
Response JsonResponse(std::string body);
Response EmptyObject();
Response TextResponse(std::string body);

// ---- proto3 JSON of store types ----
void WriteTags(JsonWriter& w, std::string_view key, const std::vector<store::Tag>& tags);
void WriteMetric(JsonWriter& w, const store::Metric& m, const std::string* run_id = nullptr);
void WriteExperiment(JsonWriter& w, const store::Experiment& e);
void WriteRunInfo(JsonWriter& w, const store::RunInfo& i);
// A model a run produced or used (MLflow 3's run outputs and model inputs), kept in the run's
// "run_outputs" / "run_model_inputs" document. Inputs have no step.
struct ModelOutput {
  std::string model_id;
  int64_t step = 0;
};
inline constexpr std::string_view kRunOutputs = "run_outputs";
inline constexpr std::string_view kRunModelInputs = "run_model_inputs";
// The models recorded in the run's document of `kind`; empty when none.
std::vector<ModelOutput> RunModels(Store* store, std::string_view kind, const std::string& run_id);
// Adds `models` to that document (runs/outputs, log-inputs' models).
Status AppendRunModels(Store* store, std::string_view kind, const std::string& run_id,
                       const std::vector<ModelOutput>& models);
struct RunModelLists {
  std::vector<ModelOutput> outputs, inputs;
};
void WriteRun(JsonWriter& w, const store::Run& run, const RunModelLists& models = {});
void WriteModelVersion(JsonWriter& w, const store::ModelVersion& v);
void WriteRegisteredModel(JsonWriter& w, const store::RegisteredModel& m);

// ---- request fields ----
// run_id, falling back to the deprecated run_uuid that clients also send.
Result<std::string> RunIdField(const Fields& f);
// What setting or deleting a tag or param names: its owner's id under `id_field` (the run's,
// by RunIdField, when empty), "key" (required) and, for ReadKeyValue, "value" (required, ""
// allowed).
struct KeyValue {
  std::string id;
  std::string key;
  std::string value;
};
Result<KeyValue> ReadKey(const Fields& f, std::string_view id_field = "");
Result<KeyValue> ReadKeyValue(const Fields& f, std::string_view id_field = "");
// [{"key", "value"}...]; kInvalidArgument for a missing key.
Result<std::vector<store::Tag>> ReadTags(const std::vector<simdjson::dom::element>& elems);
// The int64 field `key`, `fallback` when absent; kInvalidArgument "<key> must be between <min>
// and <max>" outside that range.
Result<int64_t> IntField(const Fields& f, std::string_view key, int64_t fallback, int64_t min,
                         int64_t max);
// run_view_type / view_type: ACTIVE_ONLY (default), DELETED_ONLY, ALL, or their numbers.
Result<store::ViewType> ReadViewType(const Fields& f);

// An artifact path from a request, cleaned (common/paths.h CleanRelativePath); any path it
// refuses is kInvalidArgument "Invalid path", MLflow's answer, which its tests match on.
Result<std::string> ArtifactPathField(std::string_view path);

// The filter, max_results, order_by and page_token fields every MLflow search takes, into any of
// the store's search requests (defaults as MLflow's client's).
template <typename Search>
Result<Search> ReadSearch(const Fields& f, int64_t default_max) {
  Search search;
  ASSIGN_OR_RETURN(search.filter, f.StringOr("filter", ""));
  ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
  search.max_results = max.value_or(default_max);
  ASSIGN_OR_RETURN(search.order_by, f.StringList("order_by"));
  ASSIGN_OR_RETURN(search.page_token, f.StringOr("page_token", ""));
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

// {"<key>": item}: the answer of MLflow's get, create and update calls. `key` is a literal.
template <typename Item, typename WriteItem>
Response ObjectResponse(std::string_view key, const Item& item, WriteItem write) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key(key);
  write(w, item);
  w.EndObject();
  return JsonResponse(std::move(body));
}

// ---- handlers that finish on the store's writer thread ----
// A store completion that answers ObjectResponse(key, ...) or the error.
template <typename Item, typename WriteItem>
store::DoneWith<Item> RespondObject(Responder res, std::string_view key, WriteItem write) {
  return [res, key, write](Result<Item> r) {
    res.Send(r.ok() ? ObjectResponse(key, *r, write) : HttpError(r.status()));
  };
}

// A store completion that answers {} or the error.
store::Done RespondEmpty(Responder responder);

// ---- artifacts ----
// Maps an MLflow artifact URI (mlflow-artifacts:, or file: beneath a local repository's root)
// onto a path relative to the root of `repo`.
Result<std::string> ArtifactRelative(const std::string& artifact_uri,
                                     const artifacts::Repository* repo);
// The run's artifact directory relative to the root of `repo`; kNotFound for an unknown run.
Result<std::string> RunArtifactRoot(Store* store, const artifacts::Repository* repo,
                                    const std::string& run_id);
// An artifacts/list answer: {"root_uri", "files": [{"path", "is_dir", "file_size"}]}, with paths
// relative to `root` (the listed tree's root in the repository).
Response FileListing(const std::string& root_uri, const std::string& root,
                     const std::vector<artifacts::FileInfo>& files);
// A run's artifact as a request names it (run_id and path fields): the path relative to the
// run's artifact root (cleaned), and the file in the repository. kInvalidArgument for a bad
// path, kNotFound for an unknown run.
struct RunArtifact {
  std::string rel;
  std::filesystem::path full;
};
Result<RunArtifact> ReadRunArtifact(const Request& req, Store* store,
                                    const artifacts::Repository* repo);
// The file at `full` for a GET or HEAD (FileResponse), typed by the name `rel`. Artifacts are
// whatever anyone with a write token uploaded: shown on the UI's origin, an HTML or SVG file
// could run script there. The sandbox gives it an opaque origin without scripts; images still
// display in <img>.
Response UntrustedFileResponse(const Request& req, const std::filesystem::path& full,
                               const std::string& rel);
// "a/b" from "a" and "b"; either may be empty.
std::string JoinRelative(const std::string& a, const std::string& b);

}  // namespace ringo::api

#endif  // RINGO_API_HANDLERS_H_
