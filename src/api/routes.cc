// Installs the route table: MLflow's two prefixes, prefix routes, streamed bodies, handler shapes.
#include "api/routes.h"

#include <utility>

#include "api/handlers.h"

namespace ringo::api {

http::Handler RouteHandler::Bind(const Services* services) const {
  if (sync_) {
    return [services, f = sync_](Request& req, Responder res) {
      Result<Response> r = f(*services, req);
      res.Send(r.ok() ? std::move(r).value() : HttpError(r.status()));
    };
  }
  return [services, f = async_](Request& req, Responder res) {
    Status s = f(*services, req, res);
    if (!s.ok()) res.Send(HttpError(s));
  };
}

std::vector<Route> RouteTable(Attached attached) {
  std::vector<std::span<const Route>> tables = {TrackingRoutes(), ArtifactRoutes(),
                                                RegistryRoutes(), WebhookRoutes(),
                                                LoggedModelRoutes(), TraceRoutes(),
                                                GraphqlRoutes(), PromptlabRoutes(),
                                                ExtraRoutes(), UserRoutes()};
  if (attached.deploy) {
    tables.push_back(DeliveryRoutes());
    tables.push_back(DeviceRoutes());
  }
  if (attached.schedules) tables.push_back(ScheduleRoutes());
  if (attached.releases) tables.push_back(ReleaseRoutes());
  std::vector<Route> rows;
  for (std::span<const Route> t : tables) rows.insert(rows.end(), t.begin(), t.end());
  return rows;
}

std::vector<std::string> RouterPaths(std::string_view path) {
  if (path.starts_with('/')) return {std::string(path)};
  return {"/api/2.0/mlflow/" + std::string(path), "/ajax-api/2.0/mlflow/" + std::string(path)};
}

Result<http::Response> CallSync(const Services& services, std::string_view path,
                                const http::Request& req) {
  for (auto table : {TrackingRoutes(), ArtifactRoutes(), RegistryRoutes()}) {
    for (const Route& r : table) {
      if (r.path == path && r.handler.sync() != nullptr &&
          (r.method == req.method || r.method == http::Method::kGet)) {
        auto call = [&] { return r.handler.sync()(services, req); };
        if (req.scope == "user") return CallAsUser(services, path, req, call);
        return call();
      }
    }
  }
  return Internal("no synchronous handler for " + std::string(path));
}

void Install(http::Router& router, const Services* services, std::span<const Route> routes) {
  for (const Route& r : routes) {
    http::Handler handler = Authorized(r, r.handler.Bind(services), services);
    bool stream = r.handler.stream_body();
    for (std::string& path : RouterPaths(r.path)) {
      if (path.ends_with('*')) {
        path.pop_back();
        router.AddPrefix(r.method, std::move(path), r.access, handler, stream);
      } else {
        router.Add(r.method, std::move(path), r.access, handler, stream);
      }
    }
  }
}

}  // namespace ringo::api
