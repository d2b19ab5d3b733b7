// What a user signed in with basic auth (and not an admin) may do, route by route, as MLflow's
// basic-auth app decides it: the permission on the experiment or registered model a request
// names (READ, EDIT, MANAGE), searches filtered to what the user may read, MANAGE for the
// creator of an experiment or registered model. Routes outside this table are refused to such
// users (admins and tokens are not affected).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/handlers.h"
#include "api/logged_models.h"
#include "api/request.h"
#include "api/routes.h"
#include "api/users.h"
#include "common/util.h"

namespace ringo::api {

namespace {

using nlohmann::json;

enum class On {
  kExperimentId, kExperimentName, kRun, kModel,  // a resource in the request
  kRuns, kExperimentIds,                         // several: the permission needed on each
  kLoggedModel, kTrace,                          // the experiment of the one in the path
  kArtifactPath, kArtifactListing,               // artifacts under <experiment id>/...
  kCreateExperiment, kCreateModel,                              // the creator gets MANAGE
  kSearchExperiments, kSearchRuns, kSearchModels, kSearchVersions,  // answers filtered
  kSearchLoggedModels,
  kOwnCheck,  // the handler checks itself (users' own records, GraphQL's inner calls)
  kAnyUser,   // no resource of MLflow's: any signed-in user (delivery state, versions)
};
enum class Need { kRead, kUpdate, kDelete, kNone };

struct Rule {
  std::string_view path;
  std::optional<Method> method;  // nullopt: any
  On on;
  Need need;
};

constexpr Method kG = Method::kGet, kP = Method::kPost, kD = Method::kDelete;

constexpr Rule kRules[] = {
    {"experiments/get", {}, On::kExperimentId, Need::kRead},
    {"experiments/get-by-name", {}, On::kExperimentName, Need::kRead},
    {"experiments/delete", {}, On::kExperimentId, Need::kDelete},
    {"experiments/restore", {}, On::kExperimentId, Need::kDelete},
    {"experiments/update", {}, On::kExperimentId, Need::kUpdate},
    {"experiments/set-experiment-tag", {}, On::kExperimentId, Need::kUpdate},
    {"experiments/delete-experiment-tag", {}, On::kExperimentId, Need::kUpdate},
    {"runs/create", {}, On::kExperimentId, Need::kUpdate},
    {"runs/get", {}, On::kRun, Need::kRead},
    {"runs/delete", {}, On::kRun, Need::kDelete},
    {"runs/restore", {}, On::kRun, Need::kDelete},
    {"runs/update", {}, On::kRun, Need::kUpdate},
    {"runs/log-metric", {}, On::kRun, Need::kUpdate},
    {"runs/log-batch", {}, On::kRun, Need::kUpdate},
    {"runs/log-model", {}, On::kRun, Need::kUpdate},
    {"runs/log-parameter", {}, On::kRun, Need::kUpdate},
    {"runs/log-inputs", {}, On::kRun, Need::kUpdate},
    {"runs/outputs", {}, On::kRun, Need::kUpdate},
    {"runs/set-tag", {}, On::kRun, Need::kUpdate},
    {"runs/delete-tag", {}, On::kRun, Need::kUpdate},
    {"metrics/get-history", {}, On::kRun, Need::kRead},
    {"artifacts/list", {}, On::kRun, Need::kRead},
    {"registered-models/get", {}, On::kModel, Need::kRead},
    {"registered-models/delete", {}, On::kModel, Need::kDelete},
    {"registered-models/update", {}, On::kModel, Need::kUpdate},
    {"registered-models/rename", {}, On::kModel, Need::kUpdate},
    {"registered-models/get-latest-versions", {}, On::kModel, Need::kRead},
    {"registered-models/set-tag", {}, On::kModel, Need::kUpdate},
    {"registered-models/delete-tag", {}, On::kModel, Need::kUpdate},
    {"registered-models/alias", kG, On::kModel, Need::kRead},
    {"registered-models/alias", kP, On::kModel, Need::kUpdate},
    {"registered-models/alias", kD, On::kModel, Need::kDelete},
    {"model-versions/create", {}, On::kModel, Need::kUpdate},
    {"model-versions/get", {}, On::kModel, Need::kRead},
    {"model-versions/delete", {}, On::kModel, Need::kDelete},
    {"model-versions/update", {}, On::kModel, Need::kUpdate},
    {"model-versions/transition-stage", {}, On::kModel, Need::kUpdate},
    {"model-versions/get-download-uri", {}, On::kModel, Need::kRead},
    {"model-versions/set-tag", {}, On::kModel, Need::kUpdate},
    {"model-versions/delete-tag", {}, On::kModel, Need::kDelete},
    {"experiments/create", {}, On::kCreateExperiment, Need::kNone},
    {"registered-models/create", {}, On::kCreateModel, Need::kNone},
    {"experiments/search", {}, On::kSearchExperiments, Need::kNone},
    {"runs/search", {}, On::kSearchRuns, Need::kNone},
    {"registered-models/search", {}, On::kSearchModels, Need::kNone},
    {"model-versions/search", {}, On::kSearchVersions, Need::kNone},
    {"/api/2.0/mlflow-artifacts/artifacts", kG, On::kArtifactListing, Need::kRead},
    {"/api/2.0/mlflow-artifacts/artifacts/", kG, On::kArtifactListing, Need::kRead},
    {"/api/2.0/mlflow-artifacts/artifacts/*", kG, On::kArtifactPath, Need::kRead},
    {"/api/2.0/mlflow-artifacts/artifacts/*", Method::kPut, On::kArtifactPath, Need::kUpdate},
    {"/api/2.0/mlflow-artifacts/artifacts/*", kD, On::kArtifactPath, Need::kDelete},
    {"/ajax-api/2.0/mlflow-artifacts/artifacts", kG, On::kArtifactListing, Need::kRead},
    {"/ajax-api/2.0/mlflow-artifacts/artifacts/", kG, On::kArtifactListing, Need::kRead},
    {"/ajax-api/2.0/mlflow-artifacts/artifacts/*", kG, On::kArtifactPath, Need::kRead},
    {"/ajax-api/2.0/mlflow-artifacts/artifacts/*", Method::kPut, On::kArtifactPath, Need::kUpdate},
    {"/ajax-api/2.0/mlflow-artifacts/artifacts/*", kD, On::kArtifactPath, Need::kDelete},
    {"metrics/get-history-bulk", {}, On::kRuns, Need::kRead},
    {"metrics/get-history-bulk-interval", {}, On::kRuns, Need::kRead},
    {"experiments/search-datasets", {}, On::kExperimentIds, Need::kRead},
    {"runs/create-promptlab-run", {}, On::kExperimentId, Need::kUpdate},
    {"gateway-proxy", {}, On::kAnyUser, Need::kNone},
    {"/ajax-api/2.0/mlflow/get-artifact", {}, On::kRun, Need::kRead},
    {"/get-artifact", {}, On::kRun, Need::kRead},
    {"/ajax-api/2.0/mlflow/upload-artifact", {}, On::kRun, Need::kUpdate},
    {"/api/ringo/v1/artifacts/zip", {}, On::kRun, Need::kRead},
    {"/api/ringo/v1/metrics/downsample", {}, On::kRun, Need::kRead},
    {"/api/ringo/v1/coreml/inspect", {}, On::kRun, Need::kRead},
    {"/model-versions/get-artifact", {}, On::kModel, Need::kRead},
    {"/ajax-api/2.0/mlflow/model-versions/get-artifact", {}, On::kModel, Need::kRead},
    {"/api/ringo/v1/model-versions/coreml", {}, On::kModel, Need::kRead},
    {"logged-models", kP, On::kExperimentId, Need::kUpdate},
    {"logged-models/search", {}, On::kSearchLoggedModels, Need::kNone},
    {"logged-models/{model_id}", kG, On::kLoggedModel, Need::kRead},
    {"logged-models/{model_id}", Method::kPatch, On::kLoggedModel, Need::kUpdate},
    {"logged-models/{model_id}", kD, On::kLoggedModel, Need::kDelete},
    {"logged-models/{model_id}/tags", {}, On::kLoggedModel, Need::kUpdate},
    {"logged-models/{model_id}/tags/{tag_key}", {}, On::kLoggedModel, Need::kUpdate},
    {"logged-models/{model_id}/params", {}, On::kLoggedModel, Need::kUpdate},
    {"logged-models/{model_id}/artifacts/directories", {}, On::kLoggedModel, Need::kRead},
    {"logged-models/{model_id}/artifacts/files", {}, On::kLoggedModel, Need::kRead},
    {"traces", kP, On::kExperimentId, Need::kUpdate},
    {"traces", kG, On::kExperimentIds, Need::kRead},
    {"traces/delete-traces", {}, On::kExperimentId, Need::kDelete},
    {"traces/{request_id}", {}, On::kTrace, Need::kUpdate},
    {"traces/{request_id}/info", {}, On::kTrace, Need::kRead},
    {"traces/{request_id}/tags", {}, On::kTrace, Need::kUpdate},
    {"/graphql", {}, On::kOwnCheck, Need::kNone},
    {"/api/ringo/v1/routes", {}, On::kAnyUser, Need::kNone},
    {"/version", {}, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/collections", kG, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/deployments/get", {}, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/channels", kG, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/channels/get", {}, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/channels/history", {}, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/apps/contracts", kG, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/telemetry", {}, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/telemetry/summary", {}, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/release-policies/{collection}", kG, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/schedules", kG, On::kAnyUser, Need::kNone},
    {"/api/ringo/v1/schedules/{name}", kG, On::kAnyUser, Need::kNone},
    {"/api/2.0/mlflow-artifacts/mpu/create", {}, On::kAnyUser, Need::kNone},
    {"/api/2.0/mlflow-artifacts/mpu/complete", {}, On::kAnyUser, Need::kNone},
    {"/api/2.0/mlflow-artifacts/mpu/abort", {}, On::kAnyUser, Need::kNone},
    {"/api/2.0/mlflow-artifacts/mpu/create/*", {}, On::kArtifactPath, Need::kUpdate},
    {"/api/2.0/mlflow-artifacts/mpu/complete/*", {}, On::kArtifactPath, Need::kUpdate},
    {"/api/2.0/mlflow-artifacts/mpu/abort/*", {}, On::kArtifactPath, Need::kUpdate},
    {"users/get", {}, On::kOwnCheck, Need::kNone},
    {"users/update-password", {}, On::kOwnCheck, Need::kNone},
    {"experiments/permissions/create", {}, On::kOwnCheck, Need::kNone},
    {"experiments/permissions/get", {}, On::kOwnCheck, Need::kNone},
    {"experiments/permissions/update", {}, On::kOwnCheck, Need::kNone},
    {"experiments/permissions/delete", {}, On::kOwnCheck, Need::kNone},
    {"registered-models/permissions/create", {}, On::kOwnCheck, Need::kNone},
    {"registered-models/permissions/get", {}, On::kOwnCheck, Need::kNone},
    {"registered-models/permissions/update", {}, On::kOwnCheck, Need::kNone},
    {"registered-models/permissions/delete", {}, On::kOwnCheck, Need::kNone},
};

const Rule* RuleFor(const Route& r) {
  for (const Rule& rule : kRules) {
    if (rule.path == r.path && (!rule.method || *rule.method == r.method)) return &rule;
  }
  return nullptr;
}

bool Allows(const Permission& p, Need need) {
  switch (need) {
    case Need::kRead: return p.can_read;
    case Need::kUpdate: return p.can_update;
    case Need::kDelete: return p.can_delete;
    case Need::kNone: return true;
  }
  return false;
}

std::string UserOf(const Request& req) { return req.principal.substr(5); }  // "user:<name>"

using Resources = std::vector<std::pair<ResourceKind, std::string>>;

// The experiment a run, logged model or trace belongs to.
Result<std::string> ExperimentOfRun(const Services& s, const std::string& run_id) {
  ASSIGN_OR_RETURN(store::Run run, s.store->GetRun(run_id));
  return run.info.experiment_id;
}

Result<std::string> ExperimentOfPathItem(const Services& s, const Rule& rule,
                                         const Request& req) {
  if (rule.on == On::kLoggedModel) {
    ASSIGN_OR_RETURN(LoggedModel m,
                     LoggedModels(s.store).Get(std::string(req.PathParam("model_id")), true));
    return m.experiment_id;
  }
  std::string id(req.PathParam("request_id"));
  auto doc = s.store->GetDocument("trace", id);
  if (!doc.ok() && doc.status().code() == Code::kNotFound) {
    return NotFound("Trace with request_id '" + id + "' not found.");
  }
  RETURN_IF_ERROR(doc.status());
  json t = json::parse(doc->value, nullptr, false);
  return t.is_object() ? t.value("experiment_id", "") : std::string();
}

// The resources a request names, by the rule's kind of resource (several for bulk reads).
Result<Resources> ResourcesOf(const Services& s, const Rule& rule, const Request& req) {
  constexpr ResourceKind kExp = ResourceKind::kExperiment;
  if (rule.on == On::kArtifactPath) {
    // mlflow-artifacts:/<experiment id>/<run id>/artifacts/...
    std::string_view rest = req.route_suffix;
    return Resources{{kExp, std::string(rest.substr(0, rest.find('/')))}};
  }
  if (rule.on == On::kLoggedModel || rule.on == On::kTrace) {
    ASSIGN_OR_RETURN(std::string id, ExperimentOfPathItem(s, rule, req));
    return Resources{{kExp, id}};
  }
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  switch (rule.on) {
    case On::kArtifactListing: {
      ASSIGN_OR_RETURN(std::string path, f.StringOr("path", ""));
      if (path.empty()) return PermissionDenied("Permission denied: listing every experiment's "
                                                "artifacts is for admins");
      return Resources{{kExp, path.substr(0, path.find('/'))}};
    }
    case On::kExperimentId: {
      ASSIGN_OR_RETURN(std::string id, f.StringOr("experiment_id", ""));
      if (id.empty()) return MissingField("experiment_id");
      return Resources{{kExp, id}};
    }
    case On::kExperimentIds: {
      ASSIGN_OR_RETURN(std::vector<std::string> ids, f.StringList("experiment_ids"));
      Resources out;
      for (std::string& id : ids) out.emplace_back(kExp, std::move(id));
      return out;
    }
    case On::kExperimentName: {
      ASSIGN_OR_RETURN(std::string name, f.RequiredString("experiment_name"));
      ASSIGN_OR_RETURN(store::Experiment e, s.store->GetExperimentByName(name));
      return Resources{{kExp, e.experiment_id}};
    }
    case On::kRun: {
      ASSIGN_OR_RETURN(std::string id, f.StringOr("run_id", ""));
      if (id.empty()) {
        ASSIGN_OR_RETURN(id, f.StringOr("run_uuid", ""));
      }
      if (id.empty()) return MissingField("run_id");
      ASSIGN_OR_RETURN(std::string exp, ExperimentOfRun(s, id));
      return Resources{{kExp, exp}};
    }
    case On::kRuns: {
      ASSIGN_OR_RETURN(std::vector<std::string> ids, f.StringList("run_ids"));
      ASSIGN_OR_RETURN(std::vector<std::string> more, f.StringList("run_id"));
      ids.insert(ids.end(), more.begin(), more.end());
      Resources out;
      for (const std::string& id : ids) {
        ASSIGN_OR_RETURN(std::string exp, ExperimentOfRun(s, id));
        out.emplace_back(kExp, std::move(exp));
      }
      return out;
    }
    default: {
      ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
      return Resources{{ResourceKind::kRegisteredModel, name}};
    }
  }
}

// Ok when the user's permission on every resource the request names allows what the rule
// needs; else kPermissionDenied (or the lookup's failure: an unknown run is its 404).
Status CheckNeed(const Services& s, const Rule& rule, const Request& req) {
  ASSIGN_OR_RETURN(Resources resources, ResourcesOf(s, rule, req));
  std::string user = UserOf(req);
  for (const auto& [kind, id] : resources) {
    if (!Allows(s.users->Effective(kind, id, user), rule.need)) {
      return PermissionDenied("Permission denied");
    }
  }
  return Status::Ok();
}

// Keeps the items of `array` (in the JSON answer) the user may read.
Response Filtered(const Services& s, const std::string& user, Response r, const char* array,
                  ResourceKind kind) {
  if (r.status != 200) return r;
  json body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains(array)) return r;
  json kept = json::array();
  std::map<std::string, bool> readable;  // one permission lookup per resource, not per item
  for (json& item : body[array]) {
    std::string id = kind == ResourceKind::kRegisteredModel ? item.value("name", "")
                     : item.contains("info") ? item["info"].value("experiment_id", "")
                                             : item.value("experiment_id", "");
    auto [it, fresh] = readable.try_emplace(id, false);
    if (fresh) it->second = s.users->Effective(kind, id, user).can_read;
    if (it->second) kept.push_back(std::move(item));
  }
  body[array] = std::move(kept);
  r.body = body.dump();
  return r;
}

// The creator of an experiment or registered model may manage it: granted before the answer
// goes out, without waiting (this runs where the create's write completed: the store's writer).
void GrantCreator(const Services& s, const std::string& user, Response r, On on,
                  const Responder& res) {
  json body = r.status == 200 ? json::parse(r.body, nullptr, false) : json();
  std::string id;
  if (body.is_object()) {
    id = on == On::kCreateExperiment
             ? body.value("experiment_id", "")
             : body.value("registered_model", json::object()).value("name", "");
  }
  if (id.empty()) {
    res.Send(std::move(r));
    return;
  }
  ResourceKind kind =
      on == On::kCreateExperiment ? ResourceKind::kExperiment : ResourceKind::kRegisteredModel;
  auto answer = std::make_shared<Response>(std::move(r));
  s.users->CreatePermissionAsync(kind, id, user, "MANAGE", [answer, res](Status granted) {
    // A name made again after its deletion may still hold the old grant: that one stands.
    if (!granted.ok() && granted.code() != Code::kFailedPrecondition) {
      res.Send(HttpError(granted));
      return;
    }
    res.Send(std::move(*answer));
  });
}

// A search of runs or logged models asks only for the experiments the user may read, so that a
// page holds max_results readable items (filtering the answer alone would leave pages short).
// False when none is left: the answer is then an empty page, sent here.
bool NarrowToReadable(const Services& s, const std::string& user, On on, Request& req,
                      const Responder& res) {
  if (req.body.empty() || !JsonDepthWithin(req.body, 64)) return true;
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("experiment_ids") ||
      !body["experiment_ids"].is_array() || body["experiment_ids"].empty()) {
    return true;
  }
  json kept = json::array();
  for (const json& id : body["experiment_ids"]) {
    if (!id.is_string() ||
        s.users->Effective(ResourceKind::kExperiment, id.get<std::string>(), user).can_read) {
      kept.push_back(id);
    }
  }
  if (kept.empty()) {
    res.Send(JsonResponse(on == On::kSearchRuns ? "{\"runs\":[]}" : "{\"models\":[]}"));
    return false;
  }
  body["experiment_ids"] = std::move(kept);
  req.body = body.dump();
  return true;
}

void Answer(const Services& s, const Rule& rule, const http::Handler& inner, Request& req,
            const Responder& res) {
  std::string user = UserOf(req);
  const Services* sp = &s;
  On on = rule.on;
  auto after = [sp, user, on, res](Response r) {
    switch (on) {
      case On::kCreateExperiment:
      case On::kCreateModel: GrantCreator(*sp, user, std::move(r), on, res); return;
      case On::kSearchExperiments:
        r = Filtered(*sp, user, std::move(r), "experiments", ResourceKind::kExperiment);
        break;
      case On::kSearchRuns:
        r = Filtered(*sp, user, std::move(r), "runs", ResourceKind::kExperiment);
        break;
      case On::kSearchModels:
        r = Filtered(*sp, user, std::move(r), "registered_models", ResourceKind::kRegisteredModel);
        break;
      case On::kSearchVersions:
        r = Filtered(*sp, user, std::move(r), "model_versions", ResourceKind::kRegisteredModel);
        break;
      case On::kSearchLoggedModels:
        r = Filtered(*sp, user, std::move(r), "models", ResourceKind::kExperiment);
        break;
      default: break;
    }
    res.Send(std::move(r));
  };
  if ((on == On::kSearchRuns || on == On::kSearchLoggedModels) &&
      !NarrowToReadable(s, user, on, req, res)) {
    return;
  }
  inner(req, Responder::Then(std::move(after)));
}

// A registered model's permissions follow it: dropped when it is deleted, moved when it is
// renamed (for every caller, admins too), as MLflow's basic-auth app does, so a model made
// again under a deleted name does not inherit who could manage the old one.
http::Handler PermissionsFollowModel(http::Handler inner, const Services* s, bool rename) {
  return [inner = std::move(inner), s, rename](Request& req, Responder res) {
    if (!s->users || !s->users->Any()) return inner(req, res);
    auto f = ReadFields(req);
    auto name = f.ok() ? f->StringOr("name", "") : Result<std::string>(std::string());
    auto to = f.ok() && rename ? f->StringOr("new_name", "") : Result<std::string>(std::string());
    if (!name.ok() || name->empty() || !to.ok() || (rename && to->empty())) {
      return inner(req, res);  // the handler answers the malformed request
    }
    auto after = [s, from = *name, to = *to, res](Response r) {
      if (r.status != 200) return res.Send(std::move(r));
      auto answer = std::make_shared<Response>(std::move(r));
      s->users->MovePermissionsAsync(ResourceKind::kRegisteredModel, from, to,
                                     [answer, res](Status moved) {
                                       res.Send(moved.ok() ? std::move(*answer)
                                                           : HttpError(moved));
                                     });
    };
    inner(req, Responder::Then(std::move(after)));
  };
}

}  // namespace

http::Handler Authorized(const Route& r, http::Handler inner, const Services* services) {
  const Rule* rule = RuleFor(r);
  if (rule && (rule->path == "registered-models/delete" ||
               rule->path == "registered-models/rename")) {
    inner = PermissionsFollowModel(std::move(inner), services,
                                   rule->path == "registered-models/rename");
  }
  return [rule, inner = std::move(inner), services](Request& req, Responder res) {
    if (req.scope != "user") return inner(req, res);
    if (!rule) {
      res.Send(HttpError(PermissionDenied(
          "Permission denied: " + req.path + " is open to admins and tokens, not to users "
          "without admin rights")));
      return;
    }
    if (rule->need != Need::kNone) {
      Status allowed = CheckNeed(*services, *rule, req);
      if (!allowed.ok()) return res.Send(HttpError(allowed));
      return inner(req, res);
    }
    if (rule->on == On::kOwnCheck || rule->on == On::kAnyUser) return inner(req, res);
    Answer(*services, *rule, inner, req, res);
  };
}

Result<http::Response> CallAsUser(const Services& s, std::string_view path, const Request& req,
                                  const std::function<Result<http::Response>()>& call) {
  const Rule* rule = nullptr;
  for (const Rule& r : kRules) {
    if (r.path == path) rule = rule ? rule : &r;
  }
  if (!rule || rule->on == On::kOwnCheck) {
    return PermissionDenied("Permission denied: " + std::string(path) +
                            " is open to admins and tokens, not to users without admin rights");
  }
  if (rule->need != Need::kNone) RETURN_IF_ERROR(CheckNeed(s, *rule, req));
  ASSIGN_OR_RETURN(http::Response r, call());
  std::string user = UserOf(req);
  switch (rule->on) {
    case On::kSearchRuns: return Filtered(s, user, std::move(r), "runs", ResourceKind::kExperiment);
    case On::kSearchVersions:
      return Filtered(s, user, std::move(r), "model_versions", ResourceKind::kRegisteredModel);
    case On::kSearchExperiments:
      return Filtered(s, user, std::move(r), "experiments", ResourceKind::kExperiment);
    case On::kSearchModels:
      return Filtered(s, user, std::move(r), "registered_models", ResourceKind::kRegisteredModel);
    default: return r;
  }
}

}  // namespace ringo::api
