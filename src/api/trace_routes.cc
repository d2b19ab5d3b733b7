// MLflow 2's trace records (/api/2.0/mlflow/traces...): start and end a trace, its info, tags,
// search and delete, kept as store documents (kind "trace", keyed by request id). The spans
// are not the server's: the client writes them to the trace's artifact location, as with
// MLflow's server. MLflow 3's tracing endpoints answer 501.
#include <algorithm>
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/handlers.h"
#include "api/routes.h"
#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::api {

namespace {

using nlohmann::json;

constexpr std::string_view kKind = "trace";

Status TraceNotFound(const std::string& id) {
  return NotFound("Trace with request_id '" + id + "' not found.");
}

Result<std::pair<json, int64_t>> LoadTrace(const Services& s, const std::string& id) {
  Result<store::Document> doc = s.store->GetDocument(std::string(kKind), id);
  if (!doc.ok()) return doc.status().code() == Code::kNotFound ? TraceNotFound(id) : doc.status();
  json j = json::parse(doc->value, nullptr, false);
  if (!j.is_object()) return Internal("trace " + id + " is unreadable");
  return std::make_pair(std::move(j), doc->revision);
}

// {"key", "value"} entries of a request into a JSON object (later keys win, as MLflow's dict).
Status MergeEntries(const Fields& f, std::string_view field, json* into) {
  ASSIGN_OR_RETURN(auto elems, f.Objects(field));
  for (simdjson::dom::element e : elems) {
    ASSIGN_OR_RETURN(auto key, Fields::String(e, "key"));
    ASSIGN_OR_RETURN(auto value, Fields::String(e, "value"));
    if (!key || key->empty()) return MissingField("key");
    (*into)[*key] = value.value_or("");
  }
  return Status::Ok();
}

void WriteEntries(JsonWriter& w, std::string_view key, const json& map) {
  w.Key(key).BeginArray();
  for (const auto& [k, v] : map.items()) {
    w.BeginObject().Field("key", k).Field("value", v.get<std::string>()).EndObject();
  }
  w.EndArray();
}

void WriteTraceInfo(JsonWriter& w, const json& t) {
  w.BeginObject()
      .Field("request_id", t.value("request_id", ""))
      .Field("experiment_id", t.value("experiment_id", ""))
      .Field("timestamp_ms", t.value("timestamp_ms", int64_t{0}))
      .Field("execution_time_ms", t.value("execution_time_ms", int64_t{0}))
      .Field("status", t.value("status", "TRACE_STATUS_UNSPECIFIED"));
  WriteEntries(w, "request_metadata", t.value("request_metadata", json::object()));
  WriteEntries(w, "tags", t.value("tags", json::object()));
  w.EndObject();
}

Response TraceInfoResponse(const json& t) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("trace_info");
  WriteTraceInfo(w, t);
  w.EndObject();
  return JsonResponse(std::move(body));
}

// Writes `t` over revision `revision` (0: a new trace) and answers its info.
void SaveTrace(const Services& s, json t, int64_t revision, const Responder& res) {
  std::string id = t["request_id"];
  s.store->PutDocument(std::string(kKind), id, t.dump(), revision, "",
                       [res, t](Result<int64_t> r) {
                         res.Send(r.ok() ? TraceInfoResponse(t) : HttpError(r.status()));
                       });
}

Result<std::string> TraceStatus(const Fields& f) {
  ASSIGN_OR_RETURN(std::string status, f.StringOr("status", "TRACE_STATUS_UNSPECIFIED"));
  for (std::string_view known : {"TRACE_STATUS_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS"}) {
    if (status == known) return status;
  }
  return InvalidArgument("Invalid value \"" + status + "\" for parameter 'status' supplied.");
}

Status StartTrace(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string experiment_id, f.RequiredString("experiment_id"));
  ASSIGN_OR_RETURN(auto timestamp, f.Int64("timestamp_ms"));
  json t = {{"experiment_id", experiment_id},
            {"timestamp_ms", timestamp.value_or(0)},
            {"execution_time_ms", 0},
            {"status", "IN_PROGRESS"},
            {"request_metadata", json::object()},
            {"tags", json::object()}};
  RETURN_IF_ERROR(MergeEntries(f, "request_metadata", &t["request_metadata"]));
  RETURN_IF_ERROR(MergeEntries(f, "tags", &t["tags"]));
  ASSIGN_OR_RETURN(store::Experiment e, s.store->GetExperiment(experiment_id));
  std::string id = NewId();
  t["request_id"] = id;
  // Where the client writes the spans, under the experiment's artifact location.
  t["tags"]["mlflow.artifactLocation"] = e.artifact_location + "/traces/" + id + "/artifacts";
  SaveTrace(s, std::move(t), 0, res);
  return Status::Ok();
}

Status EndTrace(const Services& s, Request& req, const Responder& res) {
  std::string id(req.PathParam("request_id"));
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto timestamp, f.Int64("timestamp_ms"));
  ASSIGN_OR_RETURN(std::string status, TraceStatus(f));
  ASSIGN_OR_RETURN(auto loaded, LoadTrace(s, id));
  auto& [t, revision] = loaded;
  t["execution_time_ms"] = timestamp.value_or(0) - t.value("timestamp_ms", int64_t{0});
  t["status"] = status;
  RETURN_IF_ERROR(MergeEntries(f, "request_metadata", &t["request_metadata"]));
  RETURN_IF_ERROR(MergeEntries(f, "tags", &t["tags"]));
  SaveTrace(s, std::move(t), revision, res);
  return Status::Ok();
}

Result<Response> GetTraceInfo(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(auto loaded, LoadTrace(s, std::string(req.PathParam("request_id"))));
  return TraceInfoResponse(loaded.first);
}

Status SetTraceTag(const Services& s, Request& req, const Responder& res) {
  std::string id(req.PathParam("request_id"));
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
  ASSIGN_OR_RETURN(std::string value, f.StringOr("value", ""));
  if (key.size() > 250) return InvalidArgument("Trace tag key '" + key + "' is longer than 250");
  ASSIGN_OR_RETURN(auto loaded, LoadTrace(s, id));
  auto& [t, revision] = loaded;
  t["tags"][key] = value;
  s.store->PutDocument(std::string(kKind), id, t.dump(), revision, "",
                       [res](Result<int64_t> r) {
                         res.Send(r.ok() ? EmptyObject() : HttpError(r.status()));
                       });
  return Status::Ok();
}

Status DeleteTraceTag(const Services& s, Request& req, const Responder& res) {
  std::string id(req.PathParam("request_id"));
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
  ASSIGN_OR_RETURN(auto loaded, LoadTrace(s, id));
  auto& [t, revision] = loaded;
  if (!t["tags"].contains(key)) {
    return NotFound("No trace tag with key '" + key + "' for trace with request_id '" + id + "'");
  }
  t["tags"].erase(key);
  s.store->PutDocument(std::string(kKind), id, t.dump(), revision, "",
                       [res](Result<int64_t> r) {
                         res.Send(r.ok() ? EmptyObject() : HttpError(r.status()));
                       });
  return Status::Ok();
}

// The traces of `experiment_ids`, newest first (then by id), as MLflow orders them by default.
Result<std::vector<json>> TracesOf(const Services& s,
                                   const std::vector<std::string>& experiment_ids) {
  ASSIGN_OR_RETURN(auto docs, s.store->ListDocuments(std::string(kKind), ""));
  std::vector<json> out;
  for (const store::Document& d : docs) {
    json t = json::parse(d.value, nullptr, false);
    if (!t.is_object()) continue;
    std::string exp = t.value("experiment_id", "");
    if (std::find(experiment_ids.begin(), experiment_ids.end(), exp) != experiment_ids.end()) {
      out.push_back(std::move(t));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    int64_t ta = a.value("timestamp_ms", int64_t{0}), tb = b.value("timestamp_ms", int64_t{0});
    if (ta != tb) return ta > tb;
    return a.value("request_id", "") < b.value("request_id", "");
  });
  return out;
}

Result<Response> SearchTraces(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto experiment_ids, f.StringList("experiment_ids"));
  if (experiment_ids.empty()) return MissingField("experiment_ids");
  ASSIGN_OR_RETURN(std::string filter, f.StringOr("filter", ""));
  if (!filter.empty()) {
    return InvalidArgument("Trace search filters are not supported by this server");
  }
  ASSIGN_OR_RETURN(auto order_by, f.StringList("order_by"));
  ASSIGN_OR_RETURN(int64_t max_results, IntField(f, "max_results", 100, 1, 500));
  ASSIGN_OR_RETURN(std::string token, f.StringOr("page_token", ""));
  int64_t offset = 0;
  if (!token.empty()) {
    ASSIGN_OR_RETURN(offset, store::DecodeOffsetToken(token));
  }
  ASSIGN_OR_RETURN(std::vector<json> traces, TracesOf(s, experiment_ids));
  for (const std::string& o : order_by) {
    std::string key = o.substr(0, o.find(' '));
    bool asc = ToLower(o).ends_with(" asc");
    if (key != "timestamp_ms" && key != "timestamp" && key != "execution_time_ms") {
      return InvalidArgument("Invalid order_by clause '" + o + "' for traces");
    }
    std::string field = key == "timestamp" ? "timestamp_ms" : key;
    std::stable_sort(traces.begin(), traces.end(), [&](const json& a, const json& b) {
      int64_t va = a.value(field, int64_t{0}), vb = b.value(field, int64_t{0});
      return asc ? va < vb : va > vb;
    });
  }
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("traces").BeginArray();
  size_t end = std::min(traces.size(), static_cast<size_t>(offset + max_results));
  for (size_t i = static_cast<size_t>(offset); i < end; ++i) WriteTraceInfo(w, traces[i]);
  w.EndArray();
  if (end < traces.size()) {
    w.Field("next_page_token", store::EncodeOffsetToken(static_cast<int64_t>(end)));
  }
  w.EndObject();
  return JsonResponse(std::move(body));
}

// Which traces of an experiment a delete-traces request names: the ones listed, or the oldest
// up to max_traces at or before max_timestamp_millis; MLflow's checks and words.
Result<std::vector<std::string>> TracesToDelete(const Services& s, const Fields& f,
                                                const std::string& experiment_id) {
  ASSIGN_OR_RETURN(auto max_ts, f.Int64("max_timestamp_millis"));
  ASSIGN_OR_RETURN(auto max_traces, f.Int64("max_traces"));
  ASSIGN_OR_RETURN(auto ids, f.StringList("request_ids"));
  if (!max_ts && ids.empty()) {
    return InvalidArgument("Either `max_timestamp_millis` or `request_ids` must be specified.");
  }
  if (max_ts && !ids.empty()) {
    return InvalidArgument(
        "Only one of `max_timestamp_millis` and `request_ids` can be specified.");
  }
  if (max_traces && !ids.empty()) {
    return InvalidArgument("`max_traces` can't be specified if `request_ids` is specified.");
  }
  if (max_traces && *max_traces <= 0) {
    return InvalidArgument("`max_traces` must be a positive integer, received " +
                           std::to_string(*max_traces) + ".");
  }
  ASSIGN_OR_RETURN(std::vector<json> traces, TracesOf(s, {experiment_id}));
  std::reverse(traces.begin(), traces.end());  // oldest first
  std::vector<std::string> out;
  for (const json& t : traces) {
    std::string id = t.value("request_id", "");
    bool named = max_ts ? t.value("timestamp_ms", int64_t{0}) <= *max_ts
                        : std::find(ids.begin(), ids.end(), id) != ids.end();
    if (named) out.push_back(id);
    if (max_traces && static_cast<int64_t>(out.size()) >= *max_traces) break;
  }
  return out;
}

Status DeleteTraces(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string experiment_id, f.RequiredString("experiment_id"));
  ASSIGN_OR_RETURN(std::vector<std::string> ids, TracesToDelete(s, f, experiment_id));
  auto respond = [res](int64_t n) {
    std::string body;
    JsonWriter(&body).BeginObject().Field("traces_deleted", n).EndObject();
    res.Send(JsonResponse(std::move(body)));
  };
  if (ids.empty()) {
    respond(0);
    return Status::Ok();
  }
  // One delete per trace; the answer counts those that went, once all have finished.
  struct Count {
    std::atomic<size_t> pending{0};
    std::atomic<int64_t> deleted{0};
  };
  auto count = std::make_shared<Count>();
  count->pending = ids.size();
  for (const std::string& id : ids) {
    s.store->DeleteDocument(std::string(kKind), id, -1, [count, respond](Status st) {
      if (st.ok()) ++count->deleted;
      if (--count->pending == 0) respond(count->deleted);
    });
  }
  return Status::Ok();
}

// MLflow 3's tracing and GenAI endpoints: a clear refusal in MLflow's format rather than a
// bare 404, so clients report what is missing.
Result<Response> TracesUnsupported(const Services&, const Request& req) {
  return http::JsonError(
      501, "NOT_IMPLEMENTED",
      "Tracing and GenAI endpoints are not supported by this server (" + req.path + ")");
}

}  // namespace

std::span<const Route> TraceRoutes() {
  static const std::vector<Route> routes = [] {
    using enum Method;
    using enum Access;
    std::vector<Route> out = {
        {kPost, "traces", kWrite, StartTrace},
        {kGet, "traces", kRead, SearchTraces},
        {kPost, "traces/delete-traces", kWrite, DeleteTraces},
        {kPatch, "traces/{request_id}", kWrite, EndTrace},
        {kGet, "traces/{request_id}/info", kRead, GetTraceInfo},
        {kPatch, "traces/{request_id}/tags", kWrite, SetTraceTag},
        {kDelete, "traces/{request_id}/tags", kWrite, DeleteTraceTag},
    };
    // Everything MLflow 3 serves under version 3.0 is GenAI (traces, evaluation datasets,
    // scorers, issues, the AI gateway, prompt optimization), as is OpenTelemetry's /v1/traces.
    static constexpr std::string_view kUnsupported[] = {
        "traces/*", "/api/3.0/mlflow/*", "/ajax-api/3.0/mlflow/*", "/v1/traces", "/v1/traces/*"};
    for (std::string_view path : kUnsupported) {
      for (Method m : {kGet, kPost, kPatch, kDelete}) {
        out.push_back({m, path, m == kGet ? kRead : kWrite, TracesUnsupported});
      }
    }
    return out;
  }();
  return routes;
}

}  // namespace ringo::api
