// The HTTP API of ringo: MLflow's REST API over the store and artifact repository.
#ifndef RINGO_API_API_H_
#define RINGO_API_API_H_

#include <atomic>
#include <memory>

#include "artifacts/artifacts.h"
#include "deploy/deploy.h"
#include "http/http.h"
#include "registry/registry.h"
#include "release/release.h"
#include "schedule/schedule.h"
#include "store/store.h"

namespace ringo::api {

class LoggedModels;
class ManifestWaiters;
struct Services;

// Registers MLflow's tracking REST API (under /api/2.0/mlflow and /ajax-api/2.0/mlflow), the
// mlflow-artifacts proxy, the endpoints MLflow's web UI calls, /health, /version and
// /metrics on a router. Status codes map to HTTP in one place (HttpError):
// kInvalidArgument 400 INVALID_PARAMETER_VALUE, kNotFound 404 RESOURCE_DOES_NOT_EXIST,
// kAlreadyExists 400 RESOURCE_ALREADY_EXISTS, kFailedPrecondition 400 INVALID_STATE,
// kPermissionDenied 403 PERMISSION_DENIED, kUnavailable 503 TEMPORARILY_UNAVAILABLE,
// kInternal 500 INTERNAL_ERROR. The store and repository must outlive the server using the
// router. Thread-safe.
// A sustained request rate and the burst allowed above it. A rate of 0 means no limit.
struct RateLimit {
  double per_second = 0;
  double burst = 0;
};

// Parses "RATE" or "RATE:BURST" (requests per second; the burst defaults to 5 s of the rate,
// at least 1). "0" is no limit. kInvalidArgument naming the problem otherwise.
Result<RateLimit> ParseRateLimit(std::string_view text);

// Creates a user in `store` directly, without a server: the first admin of a server, made on its
// machine (`ringo users create NAME --admin --store DIR`). kAlreadyExists for a taken name.
Status CreateUserInStore(store::Store* store, const std::string& username,
                         const std::string& password, bool is_admin);

class Api {
 public:
  Api(store::Store* store, artifacts::Repository* artifacts)
      : store_(store), artifacts_(artifacts) {}
  ~Api() { Shutdown(); }

  // Adds the delivery endpoints (admin and device API) served by `deploy`; call before Register.
  void AttachDeploy(deploy::Service* deploy) { deploy_ = deploy; }
  // Adds the schedules API over `scheduler`; call before Register.
  void AttachScheduler(schedule::Scheduler* scheduler) { scheduler_ = scheduler; }
  // Adds the release-policy API over `releases`; call before Register.
  void AttachRelease(release::ReleaseManager* releases) { releases_ = releases; }

  // MLflow's --no-serve-artifacts: the mlflow-artifacts proxy endpoints answer 503 saying so.
  // Call before Register.
  void DisableArtifactProxy() { serve_artifacts_ = false; }
  // Request rate limits of the device API, per device and per token (DeviceRateLimits). Call
  // before Register; without it there are none.
  void SetDeviceRateLimits(RateLimit per_device, RateLimit per_token);
  // The permission users hold on experiments and registered models they have none on (MLflow's
  // default_permission: READ, EDIT, MANAGE or NO_PERMISSIONS; READ unless set). Call before
  // Register; kInvalidArgument for another name.
  Status SetDefaultPermission(const std::string& name);

  // Adds every route. Also creates the bootstrap admin token of RINGO_ADMIN_TOKEN, when set and
  // the store has no token yet: its failure (a secret under 16 characters, a store error) is
  // returned, and the server should not start.
  [[nodiscard]] Status Register(http::Router& router);
  // Lets /metrics include the server's request counters. Call once the server has started.
  void AttachServer(http::Server* server) { server_.store(server); }
  // Answers the requests still held (manifest long-polls) with 304 so devices poll again. Call
  // before stopping the server; idempotent.
  void Shutdown();

 private:
  store::Store* store_;
  artifacts::Repository* artifacts_;
  std::atomic<http::Server*> server_{nullptr};
  deploy::Service* deploy_ = nullptr;
  schedule::Scheduler* scheduler_ = nullptr;
  release::ReleaseManager* releases_ = nullptr;
  bool serve_artifacts_ = true;
  std::shared_ptr<class Auth> auth_;
  std::shared_ptr<class DeviceRateLimits> limits_;
  std::shared_ptr<class AuditLog> audit_;
  std::shared_ptr<class Users> users_;
  std::string default_permission_ = "READ";
  std::shared_ptr<ManifestWaiters> waiters_;
  std::unique_ptr<registry::MlflowWebhooks> hooks_;
  std::shared_ptr<LoggedModels> models_;
  std::shared_ptr<Services> services_;  // what the route table's handlers work on
};

// The HTTP error response for a failed Status (see the mapping above).
http::Response HttpError(const Status& status);

}  // namespace ringo::api

#endif  // RINGO_API_API_H_
