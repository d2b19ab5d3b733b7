// MLflow's tracking API: experiments, runs, metrics, datasets.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <type_traits>

#include "api/handlers.h"
#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::api {

namespace {

// MLflow 3's links of a metric: the logged model and the dataset it is about.
template <typename Source>
Status ReadMetricLinks(const Source& source, store::Metric* m) {
  auto get = [&](std::string_view key) {
    if constexpr (std::is_same_v<Source, Fields>) {
      return source.String(key);
    } else {
      return Fields::String(source, key);
    }
  };
  ASSIGN_OR_RETURN(auto model_id, get("model_id"));
  ASSIGN_OR_RETURN(auto dataset_name, get("dataset_name"));
  ASSIGN_OR_RETURN(auto dataset_digest, get("dataset_digest"));
  m->model_id = model_id.value_or("");
  m->dataset_name = dataset_name.value_or("");
  m->dataset_digest = dataset_digest.value_or("");
  return Status::Ok();
}

}  // namespace

void RegisterTracking(http::Router& router, Store* st) {
  // ---------------- experiments ----------------
  AddMlflow(router, Method::kPost, "experiments/create", Access::kWrite,
       Async([st](Request& req, const Responder& res) -> Status {
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
         st->CreateExperiment(
             name, std::move(where), std::move(tags), [res](Result<std::string> id) {
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
  AddMlflow(router, Method::kGet, "experiments/get", Access::kRead, get_experiment);

  AddMlflow(router, Method::kGet, "experiments/get-by-name", Access::kRead, Sync([st](const Request& req) -> Result<Response> {
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
  AddMlflow(router, Method::kPost, "experiments/search", Access::kRead, search_experiments);
  AddMlflow(router, Method::kGet, "experiments/search", Access::kRead, search_experiments);

  AddMlflow(router, Method::kPost, "experiments/update", Access::kWrite,
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
    AddMlflow(router, Method::kPost, del ? "experiments/delete" : "experiments/restore", Access::kWrite,
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

  AddMlflow(router, Method::kPost, "experiments/set-experiment-tag", Access::kWrite,
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         ASSIGN_OR_RETURN(auto value, f.String("value"));
         if (!value) return MissingField("value");
         st->SetExperimentTag(id, store::Tag{key, *value}, RespondEmpty(res));
         return Status::Ok();
       }));

  AddMlflow(router, Method::kPost, "experiments/delete-experiment-tag", Access::kWrite,
       Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, f.RequiredString("experiment_id"));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         st->DeleteExperimentTag(id, key, RespondEmpty(res));
         return Status::Ok();
       }));

  // ---------------- runs ----------------
  AddMlflow(router, Method::kPost, "runs/create", Access::kWrite, Async([st](Request& req, const Responder& res) -> Status {
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

  AddMlflow(router, Method::kGet, "runs/get", Access::kRead, Sync([st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(store::Run run, st->GetRun(id));
         std::string body;
         JsonWriter w(&body);
         w.BeginObject().Key("run");
         WriteRun(w, run, RunOutputs(st, id));
         w.EndObject();
         return JsonResponse(std::move(body));
       }));

  AddMlflow(router, Method::kPost, "runs/update", Access::kWrite, Async([st](Request& req, const Responder& res) -> Status {
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
    AddMlflow(router, Method::kPost, del ? "runs/delete" : "runs/restore", Access::kWrite,
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

  AddMlflow(router, Method::kPost, "runs/log-metric", Access::kWrite, Async([st](Request& req, const Responder& res) -> Status {
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
         st->LogBatch(std::move(id), std::move(b), RespondEmpty(res));
         return Status::Ok();
       }));

  AddMlflow(router, Method::kPost, "runs/log-parameter", Access::kWrite,
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

  AddMlflow(router, Method::kPost, "runs/set-tag", Access::kWrite, Async([st](Request& req, const Responder& res) -> Status {
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

  AddMlflow(router, Method::kPost, "runs/delete-tag", Access::kWrite, Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
         st->DeleteTag(std::move(id), std::move(key), RespondEmpty(res));
         return Status::Ok();
       }));

  AddMlflow(router, Method::kPost, "runs/log-batch", Access::kWrite, Async([st](Request& req, const Responder& res) -> Status {
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
           if (!ts) {
             // MLflow names the whole list as the invalid value.
             return InvalidArgument("Invalid value " + f.Minified("metrics") +
                                    " for parameter 'metrics' supplied: each metric needs a "
                                    "timestamp");
           }
           ASSIGN_OR_RETURN(auto step, Fields::Int64(e, "step"));
           store::Metric m{std::move(*key), *value, *ts, step.value_or(0)};
           RETURN_IF_ERROR(ReadMetricLinks(e, &m));
           b.metrics.push_back(std::move(m));
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

  AddMlflow(router, Method::kPost, "runs/log-inputs", Access::kWrite, Async([st](Request& req, const Responder& res) -> Status {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         // MLflow 2 requires datasets; MLflow 3's clients may send model inputs alone.
         if (!f.Has("datasets") && !f.Has("models")) return MissingField("datasets");
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

  AddMlflow(router, Method::kPost, "runs/log-model", Access::kWrite, Async([st](Request& req, const Responder& res) -> Status {
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
         std::string json = model.Minified();
         // MLflow's clients leave mlflow_version out and MLflow's server stamps it; the version
         // of the client that wrote the model (its User-Agent) keeps the record equal to the
         // MLmodel file that client wrote.
         std::string_view agent = req.Header("user-agent");
         constexpr std::string_view kAgent = "mlflow-python-client/";
         if (!model.Has("mlflow_version") && agent.substr(0, kAgent.size()) == kAgent) {
           std::string_view version = agent.substr(kAgent.size());
           version = version.substr(0, version.find(' '));
           if (!version.empty() && json.size() > 2) {
             json.pop_back();
             json += ",\"mlflow_version\":";
             AppendJsonString(&json, version);
             json += '}';
           }
         }
         st->AppendLoggedModel(std::move(id), std::move(json), RespondEmpty(res));
         return Status::Ok();
       }));

  auto search_runs = Sync([st](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(auto search, ReadSearch<store::RunSearch>(f, 1000));
    ASSIGN_OR_RETURN(search.experiment_ids, f.StringList("experiment_ids"));
    ASSIGN_OR_RETURN(search.view, ReadViewType(f));
    ASSIGN_OR_RETURN(store::RunPage page, st->SearchRuns(search));
    return PageResponse("runs", page.runs, page.next_page_token,
                        [](JsonWriter& w, const store::Run& r) { WriteRun(w, r); });
  });
  AddMlflow(router, Method::kPost, "runs/search", Access::kRead, search_runs);
  AddMlflow(router, Method::kGet, "runs/search", Access::kRead, search_runs);

  // ---------------- metrics ----------------
  AddMlflow(router, Method::kGet, "metrics/get-history", Access::kRead, Sync([st](const Request& req) -> Result<Response> {
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

  AddMlflow(router, Method::kGet, "metrics/get-history-bulk-interval", Access::kRead,
       Sync([st](const Request& req) -> Result<Response> {
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
                                  std::to_string(*start) + " and end_step=" +
                                  std::to_string(*end) + ".");
         }
         ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
         int64_t max_results = max.value_or(320);
         if (max_results < 1 || max_results > 2500) {
           return InvalidArgument("max_results must be between 1 and 2500.");
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

  AddMlflow(router, Method::kGet, "metrics/get-history-bulk", Access::kRead, Sync([st](const Request& req) -> Result<Response> {
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
           ASSIGN_OR_RETURN(store::MetricPage page, st->GetMetricHistory(id, key, limit, ""));
           for (const auto& m : page.metrics) WriteMetric(w, m, &id);
         }
         w.EndArray().EndObject();
         return JsonResponse(std::move(body));
       }));

  AddMlflow(router, Method::kPost, "experiments/search-datasets", Access::kRead,
       Sync([st](const Request& req) -> Result<Response> {
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
}

}  // namespace ringo::api
