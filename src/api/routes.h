// The API's route table: rows of method, path, required access and named handler (private to api/).
#ifndef RINGO_API_ROUTES_H_
#define RINGO_API_ROUTES_H_

#include <atomic>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "artifacts/artifacts.h"
#include "common/status.h"
#include "deploy/deploy.h"
#include "http/http.h"
#include "registry/registry.h"
#include "release/release.h"
#include "schedule/schedule.h"
#include "store/store.h"

namespace ringo::api {

class AuditLog;
class Auth;
class Users;
class LoggedModels;
class ManifestWaiters;

// What handlers work on, set up once by Api::Register. Every pointer outlives the server; the
// optional services (delivery, schedules, releases) are null when the server has none, and then
// their routes are not installed.
struct Services {
  store::Store* store = nullptr;
  artifacts::Repository* artifacts = nullptr;
  registry::MlflowWebhooks* hooks = nullptr;
  LoggedModels* models = nullptr;
  Auth* auth = nullptr;
  Users* users = nullptr;
  AuditLog* audit = nullptr;
  deploy::Service* deploy = nullptr;
  ManifestWaiters* waiters = nullptr;
  schedule::Scheduler* scheduler = nullptr;
  release::ReleaseManager* releases = nullptr;
  const http::Router* router = nullptr;                // served at /api/ringo/v1/routes
  const std::atomic<http::Server*>* server = nullptr;  // its counters go to /metrics once set
  bool serve_artifacts = true;  // false: MLflow's --no-serve-artifacts, the proxy is off
};

// A route's handler: a named function of one of two shapes.
class RouteHandler {
 public:
  // Computes the answer, which is sent (a failure as HttpError).
  using SyncFn = Result<http::Response> (*)(const Services&, const http::Request&);
  // Answers through the Responder, maybe later (a store write, a long poll); a failure it
  // returns has not answered and is answered for it.
  using AsyncFn = Status (*)(const Services&, http::Request&, const http::Responder&);

  // Implicit, so that a row names its function and nothing else.
  constexpr RouteHandler(SyncFn f) : sync_(f) {}   // NOLINT(google-explicit-constructor)
  constexpr RouteHandler(AsyncFn f) : async_(f) {}  // NOLINT(google-explicit-constructor)

  bool empty() const { return sync_ == nullptr && async_ == nullptr; }
  // The synchronous function, or null for an asynchronous handler.
  SyncFn sync() const { return sync_; }
  // Whether the request body arrives in a temporary file (Request::body_file).
  bool stream_body() const { return stream_body_; }
  // The handler the router runs, working on `services`.
  http::Handler Bind(const Services* services) const;

 private:
  friend constexpr RouteHandler Streamed(RouteHandler h);
  SyncFn sync_ = nullptr;
  AsyncFn async_ = nullptr;
  bool stream_body_ = false;
};

// `h` receiving its body in a temporary file, for uploads of any size.
constexpr RouteHandler Streamed(RouteHandler h) {
  h.stream_body_ = true;
  return h;
}

// One row of the table. `path` is one of:
//   "runs/get"          an MLflow endpoint: installed under /api/2.0/mlflow/ and
//                       /ajax-api/2.0/mlflow/, as MLflow's server does;
//   "/api/ringo/v1/x"   that path as is, {name} segments included;
//   "/api/x/*"          every path under "/api/x/" (Request::route_suffix has the rest).
struct Route {
  http::Method method;
  std::string_view path;
  http::Access access;
  RouteHandler handler;
};

// The tables, one per service, each at the end of its service's file.
std::span<const Route> TrackingRoutes();     // tracking_routes.cc
std::span<const Route> ArtifactRoutes();     // artifact_routes.cc
std::span<const Route> RegistryRoutes();     // registry_routes.cc
std::span<const Route> WebhookRoutes();      // webhook_routes.cc
std::span<const Route> LoggedModelRoutes();  // logged_model_routes.cc
std::span<const Route> TraceRoutes();        // trace_routes.cc
std::span<const Route> GraphqlRoutes();      // graphql_routes.cc
std::span<const Route> PromptlabRoutes();    // promptlab_routes.cc
std::span<const Route> ExtraRoutes();        // ringo_routes.cc
std::span<const Route> UserRoutes();         // user_routes.cc
std::span<const Route> DeliveryRoutes();     // delivery_routes.cc
std::span<const Route> DeviceRoutes();       // device_routes.cc
std::span<const Route> ScheduleRoutes();     // schedule_routes.cc
std::span<const Route> ReleaseRoutes();      // release_routes.cc

// Which optional services a server has.
struct Attached {
  bool deploy = false;
  bool schedules = false;
  bool releases = false;
};
// Every row of a server with `attached`, in the order they are installed.
std::vector<Route> RouteTable(Attached attached);

// `inner` (the row's bound handler) behind the permissions of users who are not admins
// (permissions.cc): checked before it runs, searches filtered after.
http::Handler Authorized(const Route& r, http::Handler inner, const Services* services);
// The same permissions for a call made inside the server on a user's behalf (GraphQL's
// resolvers call MLflow's REST handlers directly): kPermissionDenied, or the lookup's failure,
// before `call` runs when the user may not make it; a search's answer filtered after.
Result<http::Response> CallAsUser(const Services& s, std::string_view path,
                                  const http::Request& req,
                                  const std::function<Result<http::Response>()>& call);

// The router paths of a row's path: MLflow's two, or the path itself (a prefix keeps its '*').
std::vector<std::string> RouterPaths(std::string_view path);

// Answers `req` as the POST row of MLflow endpoint `path` (e.g. "runs/get") would, in-process:
// how GraphQL's resolvers reuse the REST handlers. kInternal when that row has no synchronous
// handler.
Result<http::Response> CallSync(const Services& services, std::string_view path,
                                const http::Request& req);

// Adds every row to `router`, its handler working on `services`.
void Install(http::Router& router, const Services* services, std::span<const Route> routes);

}  // namespace ringo::api

#endif  // RINGO_API_ROUTES_H_
