// MLflow's tracking API: experiments, runs, metrics, datasets.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "api/handlers.h"
#include "api/history_body.h"
#include "api/logged_models.h"
#include "api/routes.h"
#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::api {

namespace {

// MLflow 3's links of a logged metric: the logged model and the dataset it is about.
Status ReadMetricLinks(const Fields& f, store::Metric* m) {
  ASSIGN_OR_RETURN(auto model_id, f.String("model_id"));
  ASSIGN_OR_RETURN(auto dataset_name, f.String("dataset_name"));
  ASSIGN_OR_RETURN(auto dataset_digest, f.String("dataset_digest"));
  m->model_id = model_id.value_or("");
  m->dataset_name = dataset_name.value_or("");
  m->dataset_digest = dataset_digest.value_or("");
  return Status::Ok();
}

void WriteFullRun(JsonWriter& w, const store::Run& r) { WriteRun(w, r); }

// ---------------- experiments ----------------

Status CreateExperiment(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(auto location, f.String("artifact_location"));
  ASSIGN_OR_RETURN(auto tag_elems, f.Objects("tags"));
  ASSIGN_OR_RETURN(auto tags, ReadTags(tag_elems));
  // As MLflow's server does, a relative local path is taken against its working directory.
  std::string where = location.value_or("");
  if (!where.empty() && where[0] != '/' && where.find(':') == std::string::npos) {
    std::error_code ec;
    auto cwd = std::filesystem::current_path(ec);
    if (!ec) where = (cwd / where).lexically_normal().string();
  }
  s.store->CreateExperiment(
      name, std::move(where), std::move(tags), [res](Result<std::string> id) {
        if (!id.ok()) return res.Send(HttpError(id.status()));
        std::string body;
        JsonWriter(&body).BeginObject().Field("experiment_id", *id).EndObject();
        res.Send(JsonResponse(std::move(body)));
      });
  return Status::Ok();
}

Result<Response> GetExperiment(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
  ASSIGN_OR_RETURN(store::Experiment e, s.store->GetExperiment(id));
  return ObjectResponse("experiment", e, WriteExperiment);
}

Result<Response> GetExperimentByName(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("experiment_name"));
  ASSIGN_OR_RETURN(store::Experiment e, s.store->GetExperimentByName(name));
  return ObjectResponse("experiment", e, WriteExperiment);
}

Result<Response> SearchExperiments(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto search, ReadSearch<store::ExperimentSearch>(f, 1000));
  ASSIGN_OR_RETURN(search.view, ReadViewType(f));
  ASSIGN_OR_RETURN(store::ExperimentPage page, s.store->SearchExperiments(search));
  return PageResponse("experiments", page.experiments, page.next_page_token, WriteExperiment);
}

Status UpdateExperiment(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
  ASSIGN_OR_RETURN(auto name, f.String("new_name"));
  if (!name || name->empty()) {
    res.Send(EmptyObject());  // nothing to change
    return Status::Ok();
  }
  s.store->RenameExperiment(id, *name, RespondEmpty(res));
  return Status::Ok();
}

Status DeleteExperiment(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
  s.store->DeleteExperiment(id, RespondEmpty(res));
  return Status::Ok();
}

Status RestoreExperiment(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
  s.store->RestoreExperiment(id, RespondEmpty(res));
  return Status::Ok();
}

Status SetExperimentTag(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(KeyValue kv, ReadKeyValue(f, "experiment_id"));
  s.store->SetExperimentTag(kv.id, store::Tag{kv.key, kv.value}, RespondEmpty(res));
  return Status::Ok();
}

Status DeleteExperimentTag(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(KeyValue kv, ReadKey(f, "experiment_id"));
  s.store->DeleteExperimentTag(kv.id, kv.key, RespondEmpty(res));
  return Status::Ok();
}

// ---------------- runs ----------------

Status CreateRun(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  store::CreateRunRequest cr;
  ASSIGN_OR_RETURN(cr.experiment_id, f.StringOr("experiment_id", "0"));
  ASSIGN_OR_RETURN(cr.user_id, f.StringOr("user_id", ""));
  ASSIGN_OR_RETURN(cr.run_name, f.StringOr("run_name", ""));
  ASSIGN_OR_RETURN(auto start, f.Int64("start_time"));
  cr.start_time = start.value_or(0);
  ASSIGN_OR_RETURN(auto tag_elems, f.Objects("tags"));
  ASSIGN_OR_RETURN(cr.tags, ReadTags(tag_elems));
  s.store->CreateRun(std::move(cr), RespondObject<store::Run>(res, "run", WriteFullRun));
  return Status::Ok();
}

Result<Response> GetRun(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  ASSIGN_OR_RETURN(store::Run run, s.store->GetRun(id));
  RunModelLists models{RunModels(s.store, kRunOutputs, id),
                       RunModels(s.store, kRunModelInputs, id)};
  return ObjectResponse("run", run, [&](JsonWriter& w, const store::Run& r) {
    WriteRun(w, r, models);
  });
}

Status UpdateRun(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  store::UpdateRunRequest ur;
  ASSIGN_OR_RETURN(ur.run_id, RunIdField(f));
  ASSIGN_OR_RETURN(ur.status, f.String("status"));
  ASSIGN_OR_RETURN(ur.end_time, f.Int64("end_time"));
  ASSIGN_OR_RETURN(ur.run_name, f.String("run_name"));
  s.store->UpdateRun(std::move(ur), RespondObject<store::RunInfo>(res, "run_info", WriteRunInfo));
  return Status::Ok();
}

Status DeleteRun(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  s.store->DeleteRun(id, RespondEmpty(res));
  return Status::Ok();
}

Status RestoreRun(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  s.store->RestoreRun(id, RespondEmpty(res));
  return Status::Ok();
}

Status LogMetric(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
  ASSIGN_OR_RETURN(auto value, f.Double("value"));
  if (!value) return MissingField("value");
  ASSIGN_OR_RETURN(auto ts, f.Int64("timestamp"));
  if (!ts) return MissingField("timestamp");
  ASSIGN_OR_RETURN(auto step, f.Int64("step"));
  store::Batch b;
  store::Metric m{std::move(key), *value, *ts, step.value_or(0)};
  RETURN_IF_ERROR(ReadMetricLinks(f, &m));
  b.metrics.push_back(std::move(m));
  s.store->LogBatch(std::move(id), std::move(b), RespondEmpty(res));
  return Status::Ok();
}

// runs/log-parameter and runs/set-tag: one param or tag, logged as a batch of one into the
// batch's `kList`.
template <auto kList>
Status LogOne(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(KeyValue kv, ReadKeyValue(f));
  store::Batch b;
  (b.*kList).push_back({std::move(kv.key), std::move(kv.value)});
  s.store->LogBatch(std::move(kv.id), std::move(b), RespondEmpty(res));
  return Status::Ok();
}
constexpr RouteHandler::AsyncFn LogParam = LogOne<&store::Batch::params>;
constexpr RouteHandler::AsyncFn SetTag = LogOne<&store::Batch::tags>;

Status DeleteTag(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(KeyValue kv, ReadKey(f));
  s.store->DeleteTag(std::move(kv.id), std::move(kv.key), RespondEmpty(res));
  return Status::Ok();
}

// The metrics and params of a log-batch request, checked as MLflow checks them.
Status ReadBatchMetricsAndParams(const Fields& f, store::Batch* b) {
  ASSIGN_OR_RETURN(auto metrics, f.Objects("metrics"));
  b->metrics.reserve(metrics.size());
  for (size_t i = 0; i < metrics.size(); ++i) {
    simdjson::dom::element e = metrics[i];
    // MLflow names the element: "metrics[3].timestamp".
    auto missing = [i](const char* field) {
      return MissingField("metrics[" + std::to_string(i) + "]." + field);
    };
    static constexpr std::array<std::string_view, 7> kNames = {
        "key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest"};
    std::array<Fields::Found, 7> v = Fields::Find(e, kNames);
    ASSIGN_OR_RETURN(auto key, Fields::AsString(v[0], kNames[0]));
    if (!key || key->empty()) return missing("key");
    ASSIGN_OR_RETURN(auto value, Fields::AsDouble(v[1], kNames[1]));
    if (!value) return missing("value");
    ASSIGN_OR_RETURN(auto ts, Fields::AsInt64(v[2], kNames[2]));
    if (!ts) return missing("timestamp");
    ASSIGN_OR_RETURN(auto step, Fields::AsInt64(v[3], kNames[3]));
    store::Metric& m = b->metrics.emplace_back(
        store::Metric{std::move(*key), *value, *ts, step.value_or(0)});
    for (size_t link = 4; link < 7; ++link) {
      ASSIGN_OR_RETURN(auto text, Fields::AsString(v[link], kNames[link]));
      if (!text) continue;
      std::string* field[] = {&m.model_id, &m.dataset_name, &m.dataset_digest};
      *field[link - 4] = std::move(*text);
    }
  }
  ASSIGN_OR_RETURN(auto params, f.Objects("params"));
  for (auto e : params) {
    ASSIGN_OR_RETURN(auto key, Fields::String(e, "key"));
    if (!key || key->empty()) return MissingField("params.key");
    ASSIGN_OR_RETURN(auto value, Fields::String(e, "value"));
    if (!value) return MissingField("params.value");
    b->params.push_back(store::Param{std::move(*key), std::move(*value)});
  }
  return Status::Ok();
}

Status LogBatch(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  store::Batch b;
  RETURN_IF_ERROR(ReadBatchMetricsAndParams(f, &b));
  ASSIGN_OR_RETURN(auto tag_elems, f.Objects("tags"));
  ASSIGN_OR_RETURN(b.tags, ReadTags(tag_elems));
  s.store->LogBatch(std::move(id), std::move(b), RespondEmpty(res));
  return Status::Ok();
}

Status LogInputs(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  // MLflow 2 requires datasets; MLflow 3's clients may send model inputs alone.
  if (!f.Has("datasets") && !f.Has("models")) return MissingField("datasets");
  // MLflow 3's model inputs: logged models the run used, kept beside the run.
  ASSIGN_OR_RETURN(auto model_elems, f.Objects("models"));
  std::vector<ModelOutput> models;
  for (auto e : model_elems) {
    ASSIGN_OR_RETURN(auto model_id, Fields::String(e, "model_id"));
    if (!model_id || model_id->empty()) return MissingField("models.model_id");
    models.push_back({std::move(*model_id), 0});
  }
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
  if (!models.empty()) {  // the run and each model must exist, as in MLflow
    ASSIGN_OR_RETURN(store::Run run, s.store->GetRun(id));
    (void)run;
    for (const ModelOutput& m : models) RETURN_IF_ERROR(s.models->Get(m.model_id).status());
    RETURN_IF_ERROR(AppendRunModels(s.store, kRunModelInputs, id, models));
    if (inputs.empty()) {
      res.Send(EmptyObject());
      return Status::Ok();
    }
  }
  s.store->LogInputs(std::move(id), std::move(inputs), RespondEmpty(res));
  return Status::Ok();
}

// The record MLflow keeps of a logged model in the run's mlflow.log-model.history tag: the
// model's run, creation time, artifact path and uuid, and its flavors without their "config"
// (what MLflow's Model.get_tags_dict() keeps). Everything else a client sends is dropped.
Result<std::string> LogModelHistoryEntry(simdjson::dom::element model) {
  std::string out = "{";
  auto key = [&out](std::string_view k) {
    if (out.size() > 1) out += ',';
    AppendJsonString(&out, k);
    out += ':';
  };
  for (const char* field : {"run_id", "utc_time_created", "artifact_path", "model_uuid"}) {
    simdjson::dom::element v;
    if (model[field].get(v) != simdjson::SUCCESS) continue;
    key(field);
    out += simdjson::minify(v);
  }
  if (model["model_uuid"].error()) {  // MLflow gives a model without one a fresh uuid
    key("model_uuid");
    AppendJsonString(&out, NewId());
  }
  simdjson::dom::object flavors;
  if (model["flavors"].get(flavors) != simdjson::SUCCESS) {
    return InvalidArgument("model_json's 'flavors' must be a JSON object");
  }
  key("flavors");
  out += '{';
  bool first = true;
  for (auto [name, config] : flavors) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(&out, name);
    out += ':';
    simdjson::dom::object fields;
    if (config.get(fields) != simdjson::SUCCESS) {
      out += simdjson::minify(config);
      continue;
    }
    out += '{';
    bool first_field = true;
    for (auto [k, v] : fields) {
      if (k == "config") continue;
      if (!first_field) out += ',';
      first_field = false;
      AppendJsonString(&out, k);
      out += ':';
      out += simdjson::minify(v);
    }
    out += '}';
  }
  out += "}}";
  return out;
}

Status LogModel(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  ASSIGN_OR_RETURN(std::string model_json, f.RequiredString("model_json"));
  // MLflow accepts only a JSON object naming the model's artifact path, flavors, creation
  // time and run.
  ASSIGN_OR_RETURN(Fields model, Fields::FromJson(model_json));
  for (const char* field : {"artifact_path", "flavors", "utc_time_created", "run_id"}) {
    if (!model.Has(field)) {
      return InvalidArgument(std::string("model_json is missing the required field '") + field +
                             "'");
    }
  }
  ASSIGN_OR_RETURN(std::string entry, LogModelHistoryEntry(model.Root()));
  s.store->AppendLoggedModel(std::move(id), std::move(entry), RespondEmpty(res));
  return Status::Ok();
}

Result<Response> SearchRuns(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto search, ReadSearch<store::RunSearch>(f, 1000));
  ASSIGN_OR_RETURN(search.experiment_ids, f.StringList("experiment_ids"));
  ASSIGN_OR_RETURN(search.view, ReadViewType(f));
  ASSIGN_OR_RETURN(store::RunPage page, s.store->SearchRuns(search));
  return PageResponse("runs", page.runs, page.next_page_token, WriteFullRun);
}

// ---------------- metrics ----------------

// Histories of more points are streamed; a point's text must then fit the connection's 64 kB
// pieces many times over (a key's JSON is at most a few kB).
constexpr size_t kBufferedHistoryPoints = 4096;
constexpr size_t kMaxStreamedPointRoom = 16 * 1024;

Result<Response> GetMetricHistory(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  ASSIGN_OR_RETURN(std::string key, f.RequiredString("metric_key"));
  ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
  ASSIGN_OR_RETURN(auto token, f.String("page_token"));
  if (max && (*max < 1 || *max > 1000000)) {
    return InvalidArgument("Invalid value " + std::to_string(*max) +
                           " for parameter 'max_results' supplied: it must be between 1 "
                           "and 1000000");
  }
  ASSIGN_OR_RETURN(store::MetricPoints page, s.store->ReadMetricHistory(id, key, max.value_or(0),
                                                                       token.value_or("")));
  auto body = std::make_shared<HistoryBody>(key, std::move(page));
  Response r;
  if (body->points() <= kBufferedHistoryPoints || body->MinRoom() > kMaxStreamedPointRoom) {
    r.body = body->Rest();
    return r;
  }
  // Larger histories go out while they are formatted, in chunks.
  r.stream_length = http::kLengthUnknown;
  r.stream = [body](std::span<char> out) -> Result<size_t> { return body->Fill(out); };
  return r;
}

Result<Response> GetMetricHistoryBulkInterval(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto run_ids, f.StringList("run_ids"));
  if (run_ids.empty()) return MissingField("run_ids");
  // MLflow's limits and wording, which its clients and tests match on.
  if (run_ids.size() > 100) {
    return InvalidArgument(
        "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received " +
        std::to_string(run_ids.size()) + " run_ids.");
  }
  ASSIGN_OR_RETURN(std::string key, f.RequiredString("metric_key"));
  ASSIGN_OR_RETURN(auto start, f.Int64("start_step"));
  ASSIGN_OR_RETURN(auto end, f.Int64("end_step"));
  if (start.has_value() != end.has_value()) {
    return InvalidArgument(
        "If either start step or end step are specified, both must be specified.");
  }
  if (start && *start > *end) {
    return InvalidArgument("end_step must be greater than start_step. Found start_step=" +
                           std::to_string(*start) + " and end_step=" + std::to_string(*end) +
                           ".");
  }
  ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
  int64_t max_results = max.value_or(320);
  if (max_results < 1 || max_results > 2500) {
    return InvalidArgument("max_results must be between 1 and 2500.");
  }
  ASSIGN_OR_RETURN(auto points,
                   s.store->GetMetricHistoryBulkInterval(run_ids, key, start, end, max_results));
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
}

Result<Response> GetMetricHistoryBulk(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto run_ids, f.StringList("run_id"));
  if (run_ids.empty()) {
    return InvalidArgument("GetMetricHistoryBulk request must specify at least one run_id.");
  }
  if (run_ids.size() > 100) {
    return InvalidArgument(
        "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received " +
        std::to_string(run_ids.size()) + " run_ids.");
  }
  ASSIGN_OR_RETURN(auto metric_key, f.String("metric_key"));
  if (!metric_key || metric_key->empty()) {
    return InvalidArgument("GetMetricHistoryBulk request must specify a metric_key.");
  }
  const std::string& key = *metric_key;
  // As MLflow answers: grouped by run id in ascending order, whatever the request's.
  std::sort(run_ids.begin(), run_ids.end());
  run_ids.erase(std::unique(run_ids.begin(), run_ids.end()), run_ids.end());
  ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
  int64_t limit = max.value_or(25000);
  if (limit < 1) return InvalidArgument("max_results must be positive");
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("metrics").BeginArray();
  for (const std::string& id : run_ids) {
    ASSIGN_OR_RETURN(store::MetricPage page, s.store->GetMetricHistory(id, key, limit, ""));
    for (const auto& m : page.metrics) WriteMetric(w, m, &id);
  }
  w.EndArray().EndObject();
  return JsonResponse(std::move(body));
}

Result<Response> SearchDatasets(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto ids, f.StringList("experiment_ids"));
  if (ids.empty()) {
    return InvalidArgument("SearchDatasets request must specify at least one experiment_id.");
  }
  if (ids.size() > 20) {
    return InvalidArgument(
        "SearchDatasets request cannot specify more than 20 experiment_ids. Received " +
        std::to_string(ids.size()) + " experiment_ids.");
  }
  ASSIGN_OR_RETURN(auto summaries, s.store->SearchDatasets(ids));
  return PageResponse("dataset_summaries", summaries, "",
                      [](JsonWriter& w, const auto& d) {
                        w.BeginObject()
                            .Field("experiment_id", d.experiment_id)
                            .Field("name", d.name)
                            .Field("digest", d.digest);
                        if (!d.context.empty()) w.Field("context", d.context);
                        w.EndObject();
                      });
}

}  // namespace

// Searches are reads whichever method carries them: MLflow's clients POST them.
std::span<const Route> TrackingRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "experiments/create", kWrite, CreateExperiment},
      {kGet, "experiments/get", kRead, GetExperiment},
      {kGet, "experiments/get-by-name", kRead, GetExperimentByName},
      {kPost, "experiments/search", kRead, SearchExperiments},
      {kGet, "experiments/search", kRead, SearchExperiments},
      {kPost, "experiments/update", kWrite, UpdateExperiment},
      {kPost, "experiments/delete", kWrite, DeleteExperiment},
      {kPost, "experiments/restore", kWrite, RestoreExperiment},
      {kPost, "experiments/set-experiment-tag", kWrite, SetExperimentTag},
      {kPost, "experiments/delete-experiment-tag", kWrite, DeleteExperimentTag},
      {kPost, "runs/create", kWrite, CreateRun},
      {kGet, "runs/get", kRead, GetRun},
      {kPost, "runs/update", kWrite, UpdateRun},
      {kPost, "runs/delete", kWrite, DeleteRun},
      {kPost, "runs/restore", kWrite, RestoreRun},
      {kPost, "runs/log-metric", kWrite, LogMetric},
      {kPost, "runs/log-parameter", kWrite, LogParam},
      {kPost, "runs/set-tag", kWrite, SetTag},
      {kPost, "runs/delete-tag", kWrite, DeleteTag},
      {kPost, "runs/log-batch", kWrite, LogBatch},
      {kPost, "runs/log-inputs", kWrite, LogInputs},
      {kPost, "runs/log-model", kWrite, LogModel},
      {kPost, "runs/search", kRead, SearchRuns},
      {kGet, "runs/search", kRead, SearchRuns},
      {kGet, "metrics/get-history", kRead, GetMetricHistory},
      {kGet, "metrics/get-history-bulk-interval", kRead, GetMetricHistoryBulkInterval},
      {kGet, "metrics/get-history-bulk", kRead, GetMetricHistoryBulk},
      {kPost, "experiments/search-datasets", kRead, SearchDatasets},
  };
  return kRoutes;
}

}  // namespace ringo::api
