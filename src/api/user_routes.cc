// MLflow's basic-auth REST API: users (create, get, list, update-password, update-admin, delete)
// and permissions on experiments and registered models (create, get, update, delete).
#include <string>

#include <nlohmann/json.hpp>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/routes.h"
#include "api/users.h"
#include "common/util.h"

namespace ringo::api {

namespace {

using nlohmann::json;

// MLflow 3 names the workspace of a registered model's permission; ringo has one workspace,
// MLflow's default.
constexpr const char* kWorkspace = "default";

// The caller's username when it is a user signed in with basic auth; empty otherwise.
std::string Sender(const Request& req) {
  return req.principal.starts_with("user:") ? req.principal.substr(5) : "";
}

// Admins may act on anyone; a user only on itself.
Status AdminOrSelf(const Request& req, const std::string& username) {
  if (req.scope == "admin" || (!username.empty() && Sender(req) == username)) {
    return Status::Ok();
  }
  return PermissionDenied("Permission denied: only admins and the user '" + username +
                          "' itself may do this");
}

json PermissionJson(ResourceKind kind, const ResourcePermission& p, int64_t user_id) {
  json j = {{kind == ResourceKind::kExperiment ? "experiment_id" : "name", p.resource},
            {"user_id", user_id},
            {"permission", p.permission}};
  if (kind == ResourceKind::kRegisteredModel) j["workspace"] = kWorkspace;
  return j;
}

json UserJson(const User& u) {
  json e = json::array(), m = json::array();
  for (const auto& p : u.experiment_permissions) {
    e.push_back(PermissionJson(ResourceKind::kExperiment, p, u.id));
  }
  for (const auto& p : u.registered_model_permissions) {
    m.push_back(PermissionJson(ResourceKind::kRegisteredModel, p, u.id));
  }
  // MLflow 3's clients read scorer permissions too; ringo has no scorers, so none.
  return {{"id", u.id},
          {"username", u.username},
          {"is_admin", u.is_admin},
          {"experiment_permissions", e},
          {"registered_model_permissions", m},
          {"scorer_permissions", json::array()}};
}

// Every user (admins only, as MLflow's users/list): names and admin flags.
Result<Response> ListUsers(const Services& s, const Request& req) {
  (void)req;
  ASSIGN_OR_RETURN(std::vector<User> users, s.users->List());
  json out = json::array();
  for (const User& u : users) {
    out.push_back({{"id", u.id}, {"username", u.username}, {"is_admin", u.is_admin}});
  }
  return JsonResponse(json{{"users", out}}.dump());
}

Result<Response> CreateUser(const Services& s, const Request& req) {
  // A first user made by whoever reaches an open server would lock its owner out: the first
  // admin comes from the server's machine.
  if (!s.auth->Enabled()) {
    return FailedPrecondition(
        "this server has no users or tokens yet: make its first admin on its own machine "
        "(ringo users create NAME --admin --store DIR, or MLFLOW_AUTH_ADMIN_USERNAME and "
        "MLFLOW_AUTH_ADMIN_PASSWORD when it starts)");
  }
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string username, f.RequiredString("username"));
  ASSIGN_OR_RETURN(std::string password, f.RequiredString("password"));
  ASSIGN_OR_RETURN(User u, s.users->Create(username, password, false));
  return JsonResponse(json{{"user", UserJson(u)}}.dump());
}

Result<Response> GetUser(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string username, f.RequiredString("username"));
  RETURN_IF_ERROR(AdminOrSelf(req, username));
  ASSIGN_OR_RETURN(User u, s.users->Get(username));
  return JsonResponse(json{{"user", UserJson(u)}}.dump());
}

Result<Response> UpdatePassword(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string username, f.RequiredString("username"));
  ASSIGN_OR_RETURN(std::string password, f.RequiredString("password"));
  RETURN_IF_ERROR(AdminOrSelf(req, username));
  RETURN_IF_ERROR(s.users->UpdatePassword(username, password));
  return EmptyObject();
}

Result<Response> UpdateAdmin(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string username, f.RequiredString("username"));
  // MLflow takes "true"/"false" in any case, or a JSON boolean.
  auto flag = f.Bool("is_admin");
  bool is_admin;
  if (flag.ok() && flag->has_value()) {
    is_admin = **flag;
  } else {
    ASSIGN_OR_RETURN(std::string text, f.RequiredString("is_admin"));
    std::string lower = ToLower(text);
    if (lower != "true" && lower != "false") {
      return InvalidArgument("Invalid parameter 'is_admin': '" + text +
                             "', must be either 'true' or 'false' (case insensitive).");
    }
    is_admin = lower == "true";
  }
  RETURN_IF_ERROR(s.users->UpdateAdmin(username, is_admin));
  return EmptyObject();
}

Result<Response> DeleteUser(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string username, f.RequiredString("username"));
  RETURN_IF_ERROR(s.users->Delete(username));
  return EmptyObject();
}

// ---------------- permissions ----------------

struct PermissionRequest {
  std::string resource, username, permission;
};

// Reads the resource (experiment_id or name), the username and, when `with_permission`, the
// permission; only admins and users holding MANAGE on the resource may go on.
Result<PermissionRequest> ReadPermissionRequest(const Services& s, const Request& req,
                                                ResourceKind kind, bool with_permission) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  PermissionRequest p;
  ASSIGN_OR_RETURN(p.resource, f.RequiredString(kind == ResourceKind::kExperiment
                                                    ? "experiment_id"
                                                    : "name"));
  ASSIGN_OR_RETURN(p.username, f.RequiredString("username"));
  if (with_permission) {
    ASSIGN_OR_RETURN(p.permission, f.RequiredString("permission"));
  }
  if (req.scope != "admin" &&
      !(req.scope == "user" && s.users->Effective(kind, p.resource, Sender(req)).can_manage)) {
    return PermissionDenied("Permission denied: managing permissions needs MANAGE on the " +
                            std::string(kind == ResourceKind::kExperiment ? "experiment"
                                                                          : "registered model"));
  }
  return p;
}


const char* PermissionField(ResourceKind kind) {
  return kind == ResourceKind::kExperiment ? "experiment_permission"
                                           : "registered_model_permission";
}

// A permission that is missing or already there, in the asking client's MLflow version's words
// (the store's errors are in MLflow 3's).
Status InClientWords(const Request& req, ResourceKind kind, const PermissionRequest& p,
                     Status st) {
  const int major = MlflowClientMajor(req);
  if (st.ok() || major == 0 || major == 3) return st;
  for (bool exists : {false, true}) {
    if (st.message() == PermissionMessage(kind, p.resource, p.username, exists)) {
      return Status(st.code(), PermissionMessage(kind, p.resource, p.username, exists, major));
    }
  }
  return st;
}

template <ResourceKind kKind>
Result<Response> CreatePermission(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(PermissionRequest p, ReadPermissionRequest(s, req, kKind, true));
  Status made = s.users->CreatePermission(kKind, p.resource, p.username, p.permission);
  RETURN_IF_ERROR(InClientWords(req, kKind, p, std::move(made)));
  ASSIGN_OR_RETURN(User u, s.users->Get(p.username));
  json out = {{PermissionField(kKind), PermissionJson(kKind, {p.resource, p.permission}, u.id)}};
  return JsonResponse(out.dump());
}

template <ResourceKind kKind>
Result<Response> GetPermission(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(PermissionRequest p, ReadPermissionRequest(s, req, kKind, false));
  ASSIGN_OR_RETURN(User u, s.users->Get(p.username));
  auto rp = s.users->GetPermission(kKind, p.resource, p.username);
  if (!rp.ok()) return InClientWords(req, kKind, p, rp.status());
  return JsonResponse(json{{PermissionField(kKind), PermissionJson(kKind, *rp, u.id)}}.dump());
}

template <ResourceKind kKind>
Result<Response> UpdatePermission(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(PermissionRequest p, ReadPermissionRequest(s, req, kKind, true));
  Status changed = s.users->UpdatePermission(kKind, p.resource, p.username, p.permission);
  RETURN_IF_ERROR(InClientWords(req, kKind, p, std::move(changed)));
  return EmptyObject();
}

template <ResourceKind kKind>
Result<Response> DeletePermission(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(PermissionRequest p, ReadPermissionRequest(s, req, kKind, false));
  Status gone = s.users->DeletePermission(kKind, p.resource, p.username);
  RETURN_IF_ERROR(InClientWords(req, kKind, p, std::move(gone)));
  return EmptyObject();
}

constexpr ResourceKind kExp = ResourceKind::kExperiment;
constexpr ResourceKind kModel = ResourceKind::kRegisteredModel;

}  // namespace

// Creating, promoting and deleting users is admin's; a user reads and re-passwords itself;
// permissions are managed by admins and by users holding MANAGE on the resource.
std::span<const Route> UserRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "users/create", kAdmin, CreateUser},
      {kGet, "users/get", kRead, GetUser},
      {kGet, "users/list", kAdmin, ListUsers},
      {kPatch, "users/update-password", kWrite, UpdatePassword},
      {kPatch, "users/update-admin", kAdmin, UpdateAdmin},
      {kDelete, "users/delete", kAdmin, DeleteUser},
      {kPost, "experiments/permissions/create", kWrite, CreatePermission<kExp>},
      {kGet, "experiments/permissions/get", kRead, GetPermission<kExp>},
      {kPatch, "experiments/permissions/update", kWrite, UpdatePermission<kExp>},
      {kDelete, "experiments/permissions/delete", kWrite, DeletePermission<kExp>},
      {kPost, "registered-models/permissions/create", kWrite, CreatePermission<kModel>},
      {kGet, "registered-models/permissions/get", kRead, GetPermission<kModel>},
      {kPatch, "registered-models/permissions/update", kWrite, UpdatePermission<kModel>},
      {kDelete, "registered-models/permissions/delete", kWrite, DeletePermission<kModel>},
  };
  return kRoutes;
}

}  // namespace ringo::api
