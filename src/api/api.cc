// MLflow REST API handlers, the artifact proxy, health and metrics.
#include "api/api.h"

#include <cstdlib>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <thread>

#include "api/auth.h"
#include "api/handlers.h"
#include "api/logged_models.h"
#include "api/manifest_waiters.h"
#include "api/prometheus.h"
#include "api/request.h"
#include "api/routes.h"
#include "api/ui_assets.h"
#include "common/hash.h"
#include "common/json_writer.h"
#include "common/paths.h"
#include "common/util.h"
#include "coreml/coreml.h"
#include "webhooks/webhooks.h"

namespace ringo::api {

namespace {

constexpr const char* kVersion = "0.1.0";

}  // namespace

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

Status Api::Register(http::Router& router) {
  Store* st = store_;
  artifacts::LocalRepository* repo = artifacts_;
  hooks_ = std::make_unique<registry::MlflowWebhooks>(st);
  services_ = std::make_shared<Services>();
  services_->store = st;
  services_->artifacts = repo;
  services_->hooks = hooks_.get();
  models_ = std::make_shared<LoggedModels>(st);
  services_->models = models_.get();
  services_->deploy = deploy_;
  if (deploy_) waiters_ = StartManifestWaiters(deploy_);
  services_->waiters = waiters_.get();
  services_->scheduler = scheduler_;
  services_->releases = releases_;
  services_->router = &router;
  services_->server = &server_;
  Install(router, services_.get(),
          RouteTable({.deploy = deploy_ != nullptr,
                      .schedules = scheduler_ != nullptr,
                      .releases = releases_ != nullptr}));
  RegisterExtras(router, st, repo);


  // ---------------- tokens ----------------
  auth_ = std::make_shared<Auth>(st);
  // A server started with RINGO_ADMIN_TOKEN gets that admin token when it has none yet (for
  // servers reached only through a proxy or in a container).
  if (const char* secret = std::getenv("RINGO_ADMIN_TOKEN"); secret && *secret) {
    RETURN_IF_ERROR(auth_->Bootstrap(secret));
  }
  router.SetGuard([auth = auth_](Request& req, Access access) { return auth->Check(req, access); });
  // Once a token exists this needs an admin token like every management call. The first one
  // comes from the server's own machine (or RINGO_ADMIN_TOKEN at start), never from whoever
  // reaches a fresh server over the network first.
  router.Add(Method::kPost, "/api/ringo/v1/tokens", Access::kAdmin,
             Sync([auth = auth_](const Request& req) -> Result<Response> {
               if (!auth->Enabled() && !Auth::FirstTokenAllowedFrom(req)) {
                 return PermissionDenied(
                     "this server has no token yet: create the first one on its machine "
                     "(ringo tokens create --scope admin --tracking-uri http://127.0.0.1:PORT) "
                     "or start it with RINGO_ADMIN_TOKEN set");
               }
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string scope, f.RequiredString("scope"));
               ASSIGN_OR_RETURN(auto name, f.String("name"));
               ASSIGN_OR_RETURN(auto expires, f.Int64("expires"));
               ASSIGN_OR_RETURN(std::string token,
                                auth->Create(scope, name.value_or(""), expires.value_or(0)));
               std::string body;
               JsonWriter w(&body);
               w.BeginObject().Field("token", token).Field("scope", scope).Field("name",
                                                                                 name.value_or(""));
               if (expires) w.Field("expires", *expires);
               w.EndObject();
               return JsonResponse(std::move(body));
             }));
  // The webhook delivery log, oldest first, paged by sequence number (`after`).
  router.Add(Method::kGet, "/api/ringo/v1/webhook-deliveries", Access::kAdmin,
             Sync([st](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(auto after, f.Int64("after"));
               ASSIGN_OR_RETURN(auto limit, f.Int64("limit"));
               int64_t n = limit.value_or(100);
               if (n < 1 || n > 1000) return InvalidArgument("limit must be between 1 and 1000");
               ASSIGN_OR_RETURN(auto events, st->ListEvents(webhooks::kDeliveryKind,
                                                            webhooks::kDeliveryKey,
                                                            after.value_or(0), n));
               std::string body = "{\"deliveries\":[";
               for (size_t i = 0; i < events.size(); ++i) {
                 if (i) body += ',';
                 body += "{\"seq\":" + std::to_string(events[i].seq) +
                         ",\"time\":" + std::to_string(events[i].time) +
                         ",\"attempt\":" + events[i].value + "}";
               }
               body += "]}";
               return JsonResponse(std::move(body));
             }));
  // Tokens as listed never show the secret: an id (the start of its hash), name, scope, times.
  router.Add(Method::kGet, "/api/ringo/v1/tokens", Access::kAdmin,
             Sync([auth = auth_](const Request&) -> Result<Response> {
               ASSIGN_OR_RETURN(std::vector<Auth::TokenInfo> tokens, auth->List());
               std::string body;
               JsonWriter w(&body);
               w.BeginObject().Key("tokens").BeginArray();
               for (const Auth::TokenInfo& t : tokens) {
                 w.BeginObject()
                     .Field("id", t.id)
                     .Field("name", t.name)
                     .Field("scope", t.scope)
                     .Field("created", t.created);
                 if (t.expires) w.Field("expires", t.expires);
                 w.FieldBool("revoked", t.revoked).EndObject();
               }
               w.EndArray().EndObject();
               return JsonResponse(std::move(body));
             }));
  router.Add(Method::kDelete, "/api/ringo/v1/tokens/{id}", Access::kAdmin,
             Sync([auth = auth_](const Request& req) -> Result<Response> {
               RETURN_IF_ERROR(auth->Revoke(std::string(req.PathParam("id"))));
               return EmptyObject();
             }));

  // The web UI signs in by handing its token to the server, which keeps it in an HttpOnly
  // cookie: scripts (an injected one included) can never read it back.
  router.Add(Method::kPost, "/api/ringo/v1/session", Access::kPublic,
             Sync([auth = auth_](const Request& req) -> Result<Response> {
               if (auto refused = CheckSameOrigin(req)) return *refused;
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string token, f.RequiredString("token"));
               std::optional<Auth::Identity> id = auth->Lookup(token);
               if (!id) {
                 return http::JsonError(401, "UNAUTHENTICATED", "unknown, revoked or expired token");
               }
               std::string body;
               JsonWriter(&body).BeginObject().Field("scope", id->scope).EndObject();
               Response r = JsonResponse(std::move(body));
               r.headers.emplace_back("Set-Cookie", "ringo_token=" + token +
                                                        "; Path=/; HttpOnly; SameSite=Strict");
               return r;
             }));
  router.Add(Method::kDelete, "/api/ringo/v1/session", Access::kPublic,
             Sync([](const Request& req) -> Result<Response> {
               if (auto refused = CheckSameOrigin(req)) return *refused;
               Response r = EmptyObject();
               r.headers.emplace_back("Set-Cookie",
                                      "ringo_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
               return r;
             }));

  // ---------------- web UI ----------------
  // index.html at / (routing happens in the URL hash); hashed assets are immutable.
  auto ui_file = [](const std::string& path) -> const UiAsset* {
    for (const UiAsset* a = UiAssets(); a->path; ++a) {
      if (path == a->path) return a;
    }
    return nullptr;
  };
  auto serve_ui = Sync([ui_file](const Request& req) -> Result<Response> {
    std::string path = req.path == "/" ? "/index.html" : req.path;
    const UiAsset* a = ui_file(path);
    if (!a) {
      if (path == "/index.html") {
        Response r = TextResponse(
            "The web UI is not part of this build (it is built when Node.js and npm are present "
            "at build time). The MLflow REST API is at /api/2.0/mlflow/.\n");
        r.status = 404;
        return r;
      }
      return NotFound("no UI file at " + req.path);
    }
    Response r;
    r.content_type = a->content_type;
    r.body.assign(reinterpret_cast<const char*>(a->data), a->size);
    r.headers.emplace_back("Cache-Control", path == "/index.html"
                                                ? "no-cache"
                                                : "public, max-age=31536000, immutable");
    return r;
  });
  router.Add(Method::kGet, "/", Access::kPublic, serve_ui);
  router.Add(Method::kGet, "/index.html", Access::kPublic, serve_ui);
  router.AddPrefix(Method::kGet, "/assets/", Access::kPublic, serve_ui);
  router.Add(Method::kGet, "/favicon.svg", Access::kPublic, serve_ui);

  // The route table itself, so tests and docs can check every route's access.
  const http::Router* table = &router;
  router.Add(Method::kGet, "/api/ringo/v1/routes", Access::kRead,
             Sync([table](const Request&) -> Result<Response> {
               std::string body;
               JsonWriter w(&body);
               w.BeginObject().Key("routes").BeginArray();
               for (const http::Router::RouteInfo& r : table->Routes()) {
                 w.BeginObject()
                     .Field("method", http::MethodName(r.method))
                     .Field("path", r.pattern)
                     .Field("access", http::AccessName(r.access))
                     .EndObject();
               }
               w.EndArray().EndObject();
               return JsonResponse(std::move(body));
             }));

  router.Add(Method::kGet, "/health", Access::kPublic, Sync([](const Request&) -> Result<Response> {
               return TextResponse(std::string("OK"));
             }));
  router.Add(Method::kGet, "/version", Access::kAnyCaller, Sync([](const Request&) -> Result<Response> {
               return TextResponse(std::string(kVersion));
             }));
  router.Add(Method::kGet, "/metrics", Access::kRead, Sync([this, st](const Request&) -> Result<Response> {
               Response r;
               r.content_type = "text/plain; version=0.0.4";
               if (http::Server* server = server_.load()) {
                 r.body += server->metrics().PrometheusText();
                 r.body += OpenConnectionsText(server->open_connections(), server->threads());
               }
               r.body += StoreMetricsText(st->Stats());
               return r;
             }));
  return Status::Ok();
}

void Api::Shutdown() {
  // The answers are written by the I/O threads; the server closes every connection when it
  // stops, so give them a moment to go out first.
  if (waiters_ && waiters_->Shutdown() > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (hooks_) hooks_->Stop();
}

}  // namespace ringo::api
