// The API's setup: the services its handlers share, the guard, the route table; HttpError.
#include "api/api.h"

#include "api/rate_limit.h"
#include "api/users.h"

#include <cstdlib>

#include <chrono>
#include <thread>

#include "api/audit.h"
#include "api/auth.h"
#include "api/handlers.h"
#include "api/logged_models.h"
#include "api/manifest_waiters.h"
#include "api/rate_limit.h"
#include "api/routes.h"

namespace ringo::api {

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

namespace {

// MLflow's MLFLOW_AUTH_ADMIN_USERNAME and MLFLOW_AUTH_ADMIN_PASSWORD at start: that admin user,
// when no user of that name exists yet.
Status BootstrapAdminUser(Users& users) {
  const char* name = std::getenv("MLFLOW_AUTH_ADMIN_USERNAME");
  const char* password = std::getenv("MLFLOW_AUTH_ADMIN_PASSWORD");
  if (!name || !*name || !password || !*password) return Status::Ok();
  auto u = users.Create(name, password, true);
  if (!u.ok() && u.status().code() != Code::kAlreadyExists) {
    return InvalidArgument("MLFLOW_AUTH_ADMIN_USERNAME/PASSWORD: " + u.status().message());
  }
  return Status::Ok();
}

}  // namespace

Status Api::Register(http::Router& router) {
  auth_ = std::make_shared<Auth>(store_);
  // A server started with RINGO_ADMIN_TOKEN gets that admin token when it has none yet (for
  // servers reached only through a proxy or in a container).
  if (const char* secret = std::getenv("RINGO_ADMIN_TOKEN"); secret && *secret) {
    RETURN_IF_ERROR(auth_->Bootstrap(secret));
  }
  users_ = std::make_shared<Users>(store_, PermissionNamed(default_permission_).value());
  auth_->AttachUsers(users_.get());
  RETURN_IF_ERROR(BootstrapAdminUser(*users_));
  router.SetGuard([auth = auth_, limits = limits_](Request& req, Access access) {
    auto refused = auth->Check(req, access);
    if (!refused && limits && access == Access::kDevice) refused = limits->Check(req);
    return refused;
  });
  audit_ = std::make_shared<AuditLog>(store_);
  router.SetObserver([audit = audit_](const Request& req, const http::Router::Match& match,
                                      unsigned status) { audit->Observe(req, match, status); });
  hooks_ = std::make_unique<registry::MlflowWebhooks>(store_);
  models_ = std::make_shared<LoggedModels>(store_);
  if (deploy_) waiters_ = StartManifestWaiters(deploy_);
  services_ = std::make_shared<Services>(Services{
      .store = store_,
      .artifacts = artifacts_,
      .hooks = hooks_.get(),
      .models = models_.get(),
      .auth = auth_.get(),
      .users = users_.get(),
      .audit = audit_.get(),
      .deploy = deploy_,
      .waiters = waiters_.get(),
      .scheduler = scheduler_,
      .releases = releases_,
      .router = &router,
      .server = &server_,
      .serve_artifacts = serve_artifacts_,
  });
  Install(router, services_.get(),
          RouteTable({.deploy = deploy_ != nullptr,
                      .schedules = scheduler_ != nullptr,
                      .releases = releases_ != nullptr}));
  return Status::Ok();
}

Status CreateUserInStore(store::Store* store, const std::string& username,
                         const std::string& password, bool is_admin) {
  Users users(store, PermissionNamed("READ").value());
  return users.Create(username, password, is_admin).status();
}

Status Api::SetDefaultPermission(const std::string& name) {
  RETURN_IF_ERROR(PermissionNamed(name).status());
  default_permission_ = name;
  return Status::Ok();
}

void Api::SetDeviceRateLimits(RateLimit per_device, RateLimit per_token) {
  limits_ = std::make_shared<DeviceRateLimits>(per_device, per_token);
}

void Api::Shutdown() {
  // The answers are written by the I/O threads; the server closes every connection when it
  // stops, so give them a moment to go out first.
  if (waiters_ && waiters_->Shutdown() > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (hooks_) hooks_->Stop();
  if (audit_) audit_->Stop();  // the last changes reach the store before it closes
}

}  // namespace ringo::api
