// MLflow's prompt lab (runs/create-promptlab-run): one call that records an evaluated prompt
// as a finished run with its parameters, MLflow's prompt-lab tags, a pyfunc model of the
// prompt (flavor mlflow.promptlab) and the evaluation table the web UI shows. And the prompt
// lab's gateway proxy, as far as ringo serves it.
#include <cstdlib>
#include <ctime>
#include <memory>

#include "api/handlers.h"
#include "api/routes.h"
#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::api {

namespace {

// The request, read and checked in full before anything is written.
struct PromptlabRequest {
  store::CreateRunRequest run;
  std::string prompt_template;
  std::vector<store::Param> prompt_parameters;
  std::string model_route;
  std::vector<store::Param> model_parameters;
  std::string model_input;
  std::string model_output;
  std::vector<store::Param> model_output_parameters;
  std::string mlflow_version;
};

// MLflow's check: a missing or empty field is refused with its words.
Status Require(std::string_view field, bool present) {
  if (present) return Status::Ok();
  return InvalidArgument("CreatePromptlabRun request must specify " + std::string(field) + ".");
}

// [{"key", "value"}...] with any scalar value, taken as text as MLflow's str() does.
Result<std::vector<store::Param>> ReadParams(const Fields& f, std::string_view field) {
  ASSIGN_OR_RETURN(auto elems, f.Objects(field));
  std::vector<store::Param> out;
  for (simdjson::dom::element e : elems) {
    ASSIGN_OR_RETURN(auto key, Fields::String(e, "key"));
    if (!key || key->empty()) return MissingField("key");
    simdjson::dom::element v;
    std::string value;
    if (!e["value"].get(v)) {
      value = v.is_string() ? std::string(v.get_string().value()) : simdjson::minify(v);
    }
    out.push_back({*key, value});
  }
  return out;
}

Result<PromptlabRequest> ReadPromptlab(const Request& req) {
  if (req.body.empty()) return Require("experiment_id", false);
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  PromptlabRequest p;
  ASSIGN_OR_RETURN(p.run.experiment_id, f.StringOr("experiment_id", ""));
  RETURN_IF_ERROR(Require("experiment_id", !p.run.experiment_id.empty()));
  ASSIGN_OR_RETURN(p.run.run_name, f.StringOr("run_name", ""));
  ASSIGN_OR_RETURN(auto tag_elems, f.Objects("tags"));
  ASSIGN_OR_RETURN(p.run.tags, ReadTags(tag_elems));
  ASSIGN_OR_RETURN(p.prompt_template, f.StringOr("prompt_template", ""));
  RETURN_IF_ERROR(Require("prompt_template", !p.prompt_template.empty()));
  ASSIGN_OR_RETURN(p.prompt_parameters, ReadParams(f, "prompt_parameters"));
  RETURN_IF_ERROR(Require("prompt_parameters", !p.prompt_parameters.empty()));
  ASSIGN_OR_RETURN(p.model_route, f.StringOr("model_route", ""));
  RETURN_IF_ERROR(Require("model_route", !p.model_route.empty()));
  ASSIGN_OR_RETURN(p.model_parameters, ReadParams(f, "model_parameters"));
  ASSIGN_OR_RETURN(p.model_input, f.StringOr("model_input", ""));
  RETURN_IF_ERROR(Require("model_input", !p.model_input.empty()));
  ASSIGN_OR_RETURN(p.model_output, f.StringOr("model_output", ""));
  ASSIGN_OR_RETURN(p.model_output_parameters, ReadParams(f, "model_output_parameters"));
  ASSIGN_OR_RETURN(p.mlflow_version, f.StringOr("mlflow_version", ""));
  RETURN_IF_ERROR(Require("mlflow_version", !p.mlflow_version.empty()));
  ASSIGN_OR_RETURN(p.run.user_id, f.StringOr("user_id", "unknown"));
  ASSIGN_OR_RETURN(auto start, f.Int64("start_time"));
  p.run.start_time = start.value_or(NowMillis());
  return p;
}

// "2026-12-05 21:50:00.000000", the form of MLflow's utc_time_created.
std::string UtcTimeCreated() {
  int64_t ms = NowMillis();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06d", static_cast<int>(ms % 1000) * 1000);
  return std::string(buf) + frac;
}

// The model's record (the run's log-model history and, with its flavor, the MLmodel file; a
// JSON document is YAML too).
std::string ModelJson(const PromptlabRequest& p, const std::string& run_id,
                      const std::string& created, bool with_flavor) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Field("artifact_path", "model").Field("run_id", run_id).Field(
      "utc_time_created", created);
  w.Key("flavors").BeginObject();
  if (with_flavor) {
    w.Key("python_function")
        .BeginObject()
        .Field("loader_module", "mlflow.promptlab")
        .Field("parameters_path", "parameters.yaml")
        .EndObject();
  }
  w.EndObject();
  if (with_flavor) {
    std::string inputs;
    JsonWriter in(&inputs);
    in.BeginArray();
    for (const auto& param : p.prompt_parameters) {
      in.BeginObject().Field("type", "string").Field("name", param.key).EndObject();
    }
    in.EndArray();
    w.Key("signature")
        .BeginObject()
        .Field("inputs", inputs)
        .Field("outputs", R"([{"type": "string", "name": "output"}])")
        .EndObject();
    w.Field("mlflow_version", p.mlflow_version);
  }
  w.EndObject();
  return out;
}

void WriteParamMap(JsonWriter& w, std::string_view key, const std::vector<store::Param>& params) {
  w.Key(key).BeginObject();
  for (const auto& param : params) w.Field(param.key, param.value);
  w.EndObject();
}

// The files MLflow's prompt lab leaves in the run: the model and the evaluation table.
Status WriteArtifacts(const Services& s, const PromptlabRequest& p, const std::string& run_id,
                      const std::string& created) {
  ASSIGN_OR_RETURN(std::string root, RunArtifactRoot(s.store, s.artifacts, run_id));
  std::string parameters;
  JsonWriter pw(&parameters);
  pw.BeginObject().Field("prompt_template", p.prompt_template);
  WriteParamMap(pw, "prompt_parameters", p.prompt_parameters);
  WriteParamMap(pw, "model_parameters", p.model_parameters);
  pw.Field("model_route", p.model_route).EndObject();
  std::string table;
  JsonWriter tw(&table);
  tw.BeginObject().Key("columns").BeginArray();
  for (const auto& param : p.prompt_parameters) tw.String(param.key);
  tw.String("prompt").String("output");
  for (const auto& param : p.model_output_parameters) tw.String(param.key);
  tw.EndArray().Key("data").BeginArray().BeginArray();
  for (const auto& param : p.prompt_parameters) tw.String(param.value);
  tw.String(p.model_input).String(p.model_output);
  for (const auto& param : p.model_output_parameters) tw.String(param.value);
  tw.EndArray().EndArray().EndObject();
  RETURN_IF_ERROR(s.artifacts->Put(root + "/model/MLmodel", ModelJson(p, run_id, created, true)));
  RETURN_IF_ERROR(s.artifacts->Put(root + "/model/parameters.yaml", parameters));
  RETURN_IF_ERROR(s.artifacts->Put(root + "/model/requirements.txt",
                                   "mlflow[gateway]==" + p.mlflow_version));
  return s.artifacts->Put(root + "/eval_results_table.json", table);
}

// The steps after the checks, each in the completion of the one before: create the run, log
// its parameters and tags, record the model, write the files, then finish the run (FAILED if
// the files could not be written, as MLflow does) and answer it.
struct PromptlabRun : std::enable_shared_from_this<PromptlabRun> {
  const Services* s = nullptr;
  Responder res;
  PromptlabRequest p;
  std::string run_id;
  std::string created;

  PromptlabRun(const Services* services, Responder r, PromptlabRequest request)
      : s(services), res(std::move(r)), p(std::move(request)) {}

  void Start() {
    s->store->CreateRun(p.run, [self = shared_from_this()](Result<store::Run> run) {
      if (!run.ok()) return self->res.Send(HttpError(run.status()));
      self->run_id = run->info.run_id;
      self->LogParams();
    });
  }

  void LogParams() {
    store::Batch b;
    b.params = p.model_parameters;
    b.params.push_back({"model_route", p.model_route});
    b.params.push_back({"prompt_template", p.prompt_template});
    b.tags.push_back({"mlflow.loggedArtifacts",
                      R"([{"path": "eval_results_table.json", "type": "table"}])"});
    b.tags.push_back({"mlflow.runSourceType", "PROMPT_ENGINEERING"});
    s->store->LogBatch(run_id, std::move(b), [self = shared_from_this()](Status st) {
      if (!st.ok()) return self->Finish(false);
      self->created = UtcTimeCreated();
      self->s->store->AppendLoggedModel(self->run_id,
                                        ModelJson(self->p, self->run_id, self->created, false),
                                        [self](Status logged) {
                                          self->Finish(logged.ok() && WriteArtifacts(
                                              *self->s, self->p, self->run_id, self->created)
                                                                          .ok());
                                        });
    });
  }

  void Finish(bool ok) {
    store::UpdateRunRequest ur;
    ur.run_id = run_id;
    ur.status = ok ? "FINISHED" : "FAILED";
    ur.end_time = NowMillis();
    s->store->UpdateRun(std::move(ur), [self = shared_from_this()](Result<store::RunInfo> info) {
      if (!info.ok()) return self->res.Send(HttpError(info.status()));
      Result<store::Run> run = self->s->store->GetRun(self->run_id);
      if (!run.ok()) return self->res.Send(HttpError(run.status()));
      self->res.Send(ObjectResponse("run", *run, [](JsonWriter& w, const store::Run& r) {
        WriteRun(w, r);
      }));
    });
  }
};

Status CreatePromptlabRun(const Services& s, Request& req, const Responder& res) {
  ASSIGN_OR_RETURN(PromptlabRequest p, ReadPromptlab(req));
  std::make_shared<PromptlabRun>(&s, res, std::move(p))->Start();
  return Status::Ok();
}

// The paths MLflow's gateway-proxy forwards: listing endpoints (GET) and invoking one (POST).
Status CheckGatewayPath(Method method, std::string_view path) {
  size_t first = path.find_first_not_of('/');
  size_t last = path.find_last_not_of('/');
  std::string_view p = first == std::string_view::npos ? "" : path.substr(first, last - first + 1);
  bool ok = false;
  if (method == Method::kGet) {
    ok = p == "api/2.0/endpoints";
  } else if (p.starts_with("gateway/") && p.ends_with("/invocations")) {
    std::string_view name = p.substr(8, p.size() - 8 - 12);
    ok = !name.empty() && name.find('/') == std::string_view::npos;
  }
  if (ok) return Status::Ok();
  return InvalidArgument("Invalid gateway_path: " + std::string(path) + " for method: " +
                         (method == Method::kGet ? "GET" : "POST"));
}

// MLflow's gateway-proxy: without MLFLOW_DEPLOYMENTS_TARGET, MLflow's answer of an empty gateway
// (no endpoints, so the prompt lab offers none); with one, MLflow's check of gateway_path.
// Forwarding to the deployments server is not implemented: a clear 501 says so.
Result<Response> GatewayProxy(const Services&, const Request& req) {
  // The request is read first, so that a malformed one is refused whatever the configuration.
  std::optional<std::string> path;
  if (req.method == Method::kGet || !req.body.empty()) {
    ASSIGN_OR_RETURN(Fields f, ReadFields(req));
    ASSIGN_OR_RETURN(path, f.String("gateway_path"));
  }
  const char* target = std::getenv("MLFLOW_DEPLOYMENTS_TARGET");
  if (target == nullptr || *target == '\0') return JsonResponse(R"({"endpoints":[]})");
  if (!path || path->empty()) {
    return InvalidArgument("Deployments proxy request must specify a gateway_path.");
  }
  RETURN_IF_ERROR(CheckGatewayPath(req.method, *path));
  return http::JsonError(501, "NOT_IMPLEMENTED",
                         "Forwarding to the deployments server (MLFLOW_DEPLOYMENTS_TARGET) is not "
                         "supported by this server");
}

}  // namespace

std::span<const Route> PromptlabRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "runs/create-promptlab-run", kWrite, CreatePromptlabRun},
      {kGet, "gateway-proxy", kRead, GatewayProxy},
      {kPost, "gateway-proxy", kWrite, GatewayProxy},
  };
  return kRoutes;
}

}  // namespace ringo::api
