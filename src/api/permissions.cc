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

#include <nlohmann/json.hpp>

#include "api/handlers.h"
#include "api/request.h"
#include "api/routes.h"
#include "api/users.h"

namespace ringo::api {

namespace {

using nlohmann::json;

enum class On {
  kExperimentId, kExperimentName, kRun, kModel,  // a resource in the request
  kArtifactPath, kArtifactListing,               // artifacts under <experiment id>/...
  kCreateExperiment, kCreateModel,                              // the creator gets MANAGE
  kSearchExperiments, kSearchRuns, kSearchModels, kSearchVersions,  // answers filtered
  kOwnCheck,                                                    // the handler checks itself
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

// The resource a request names, by the rule's kind of resource.
Result<std::pair<ResourceKind, std::string>> ResourceOf(const Services& s, const Rule& rule,
                                                        const Request& req) {
  if (rule.on == On::kArtifactPath) {
    // mlflow-artifacts:/<experiment id>/<run id>/artifacts/...
    std::string_view rest = req.route_suffix;
    return std::pair{ResourceKind::kExperiment, std::string(rest.substr(0, rest.find('/')))};
  }
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  if (rule.on == On::kArtifactListing) {
    ASSIGN_OR_RETURN(std::string path, f.StringOr("path", ""));
    if (path.empty()) return PermissionDenied("Permission denied: listing every experiment's "
                                              "artifacts is for admins");
    return std::pair{ResourceKind::kExperiment, path.substr(0, path.find('/'))};
  }
  switch (rule.on) {
    case On::kExperimentId: {
      ASSIGN_OR_RETURN(std::string id, f.StringOr("experiment_id", ""));
      if (id.empty()) return MissingField("experiment_id");
      return std::pair{ResourceKind::kExperiment, id};
    }
    case On::kExperimentName: {
      ASSIGN_OR_RETURN(std::string name, f.RequiredString("experiment_name"));
      ASSIGN_OR_RETURN(store::Experiment e, s.store->GetExperimentByName(name));
      return std::pair{ResourceKind::kExperiment, e.experiment_id};
    }
    case On::kRun: {
      ASSIGN_OR_RETURN(std::string id, f.StringOr("run_id", ""));
      if (id.empty()) {
        ASSIGN_OR_RETURN(id, f.StringOr("run_uuid", ""));
      }
      if (id.empty()) return MissingField("run_id");
      ASSIGN_OR_RETURN(store::Run run, s.store->GetRun(id));
      return std::pair{ResourceKind::kExperiment, run.info.experiment_id};
    }
    default: {
      ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
      return std::pair{ResourceKind::kRegisteredModel, name};
    }
  }
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
      default: break;
    }
    res.Send(std::move(r));
  };
  inner(req, Responder::Then(std::move(after)));
}

}  // namespace

http::Handler Authorized(const Route& r, http::Handler inner, const Services* services) {
  const Rule* rule = RuleFor(r);
  return [rule, inner = std::move(inner), services](Request& req, Responder res) {
    if (req.scope != "user") return inner(req, res);
    if (!rule) {
      res.Send(HttpError(PermissionDenied(
          "Permission denied: " + req.path + " is open to admins and tokens, not to users "
          "without admin rights")));
      return;
    }
    if (rule->need != Need::kNone) {
      auto resource = ResourceOf(*services, *rule, req);
      if (!resource.ok()) {
        res.Send(HttpError(resource.status()));
        return;
      }
      Permission p = services->users->Effective(resource->first, resource->second, UserOf(req));
      if (!Allows(p, rule->need)) {
        res.Send(HttpError(PermissionDenied("Permission denied")));
        return;
      }
      return inner(req, res);
    }
    if (rule->on == On::kOwnCheck) return inner(req, res);
    Answer(*services, *rule, inner, req, res);
  };
}

}  // namespace ringo::api
