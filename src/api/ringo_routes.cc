// ringo's own endpoints: tokens and the web UI's session, the webhook delivery log, downsampled
// metrics and Core ML model cards for the UI, the UI's files, the route table, health, version
// and metrics.
#include <algorithm>
#include <cmath>

#include "api/audit.h"
#include "api/auth.h"
#include "api/downsample.h"
#include "api/handlers.h"
#include "api/prometheus.h"
#include "api/routes.h"
#include "api/ui_assets.h"
#include "api/users.h"
#include "common/hash.h"
#include "common/json_writer.h"
#include "common/paths.h"
#include "common/util.h"
#include "coreml/coreml.h"
#include "webhooks/webhooks.h"

namespace ringo::api {

namespace {

constexpr const char* kVersion = "0.1.0";

// ---------------- tokens and the UI's session ----------------

// Once a token exists this needs an admin token like every management call. The first one
// comes from the server's own machine (or RINGO_ADMIN_TOKEN at start), never from whoever
// reaches a fresh server over the network first.
// The user a new token belongs to: the one named by `owner` (who must exist), else the user
// creating it, else none (a token made with a token of no user).
Result<std::string> TokenOwner(const Services& s, const Request& req, const Fields& f) {
  ASSIGN_OR_RETURN(std::string owner, f.StringOr("owner", ""));
  if (!owner.empty()) {
    if (!s.users) return InvalidArgument("this server has no users to own a token");
    RETURN_IF_ERROR(s.users->Get(owner).status());
    return owner;
  }
  if (req.principal.starts_with("user:")) return req.principal.substr(5);
  return std::string();
}

Result<Response> CreateToken(const Services& s, const Request& req) {
  if (!s.auth->Enabled() && !Auth::FirstTokenAllowedFrom(req)) {
    return PermissionDenied(
        "this server has no token yet: create the first one on its machine "
        "(ringo tokens create --scope admin --tracking-uri http://127.0.0.1:PORT) "
        "or start it with RINGO_ADMIN_TOKEN set");
  }
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string scope, f.RequiredString("scope"));
  ASSIGN_OR_RETURN(auto name, f.String("name"));
  ASSIGN_OR_RETURN(auto expires, f.Int64("expires"));
  ASSIGN_OR_RETURN(std::string owner, TokenOwner(s, req, f));
  ASSIGN_OR_RETURN(std::string token,
                   s.auth->Create(scope, name.value_or(""), expires.value_or(0), owner));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Field("token", token).Field("scope", scope).Field("name", name.value_or(""));
  if (expires) w.Field("expires", *expires);
  if (!owner.empty()) w.Field("owner", owner);
  w.EndObject();
  return JsonResponse(std::move(body));
}

// Tokens as listed never show the secret: an id (the start of its hash), name, scope, times.
Result<Response> ListTokens(const Services& s, const Request&) {
  ASSIGN_OR_RETURN(std::vector<Auth::TokenInfo> tokens, s.auth->List());
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
    if (!t.owner.empty()) w.Field("owner", t.owner);
    w.FieldBool("revoked", t.revoked).EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(std::move(body));
}

// ---------------- the audit log ----------------

Result<Response> ListAudit(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
  AuditLog::Query q;
  ASSIGN_OR_RETURN(auto since, f.Int64("since"));
  ASSIGN_OR_RETURN(auto until, f.Int64("until"));
  ASSIGN_OR_RETURN(auto actor, f.String("actor"));
  ASSIGN_OR_RETURN(auto route, f.String("route"));
  ASSIGN_OR_RETURN(int64_t limit, IntField(f, "limit", 100, 1, 10000));
  q.since = since.value_or(0);
  q.until = until.value_or(0);
  q.actor = actor.value_or("");
  q.route = route.value_or("");
  q.limit = static_cast<int>(limit);
  s.audit->Flush(true);  // what was just done is in the answer
  ASSIGN_OR_RETURN(std::string body, s.audit->List(q));
  return JsonResponse(std::move(body));
}

Result<Response> RevokeToken(const Services& s, const Request& req) {
  RETURN_IF_ERROR(s.auth->Revoke(std::string(req.PathParam("id"))));
  return EmptyObject();
}

// The web UI signs in by handing its token to the server, which keeps it in an HttpOnly
// cookie: scripts (an injected one included) can never read it back.
// The UI's session cookie from a token, or from a user's name and password: then a token of
// that user's, "session", good for 12 hours (admin scope for admins, write for others, who
// get their permissions on each experiment and model).
// An empty token: refused, `refusal` says why.
Result<std::string> SessionToken(const Services& s, const Fields& f, std::string* scope,
                                 std::string* refusal) {
  ASSIGN_OR_RETURN(std::string token, f.StringOr("token", ""));
  if (!token.empty()) {
    std::optional<Auth::Identity> id = s.auth->Lookup(token);
    if (!id) {
      *refusal = "You are not authenticated: unknown, revoked or expired token";
      return std::string();
    }
    *scope = id->scope;
    return token;
  }
  ASSIGN_OR_RETURN(std::string username, f.StringOr("username", ""));
  ASSIGN_OR_RETURN(std::string password, f.StringOr("password", ""));
  if (username.empty()) return MissingField("token");
  Users::Verified v;
  if (!s.users || s.users->Authenticate(username, password, &v) != Users::Outcome::kOk) {
    *refusal = "You are not authenticated: wrong username or password";
    return std::string();
  }
  *scope = v.is_admin ? "admin" : "write";
  constexpr int64_t kSessionMs = 12 * 3600 * 1000;
  return s.auth->Create(*scope, "session", NowMillis() + kSessionMs, username);
}

Result<Response> SignIn(const Services& s, const Request& req) {
  if (auto refused = CheckSameOrigin(req)) return *refused;
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  std::string scope, refusal;
  ASSIGN_OR_RETURN(std::string token, SessionToken(s, f, &scope, &refusal));
  if (token.empty()) return http::JsonError(401, "UNAUTHENTICATED", refusal);
  std::string body;
  JsonWriter(&body).BeginObject().Field("scope", scope).EndObject();
  Response r = JsonResponse(std::move(body));
  // Over https the cookie is Secure: a browser never sends it over plain http.
  r.headers.emplace_back("Set-Cookie", "ringo_token=" + token + "; Path=/; HttpOnly; " +
                                           "SameSite=Strict" + (req.tls ? "; Secure" : ""));
  return r;
}

// Clears the cookie; a session token made at sign-in is revoked too (a pasted token stays).
Result<Response> SignOut(const Services& s, const Request& req) {
  if (auto refused = CheckSameOrigin(req)) return *refused;
  std::string token = CookieToken(req.Header("cookie"));
  std::optional<Auth::Identity> id = token.empty() ? std::nullopt : s.auth->Lookup(token);
  if (id && id->principal == "token:session" && !id->owner.empty()) {
    RETURN_IF_ERROR(s.auth->Revoke(Sha256Hex(token).substr(0, 12)));
  }
  Response r = EmptyObject();
  r.headers.emplace_back("Set-Cookie",
                         "ringo_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  return r;
}

// The webhook delivery log, oldest first, paged by sequence number (`after`).
Result<Response> ListWebhookDeliveries(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto after, f.Int64("after"));
  ASSIGN_OR_RETURN(int64_t n, IntField(f, "limit", 100, 1, 1000));
  ASSIGN_OR_RETURN(auto events, s.store->ListEvents(webhooks::kDeliveryKind,
                                                    webhooks::kDeliveryKey, after.value_or(0), n));
  std::string body = "{\"deliveries\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i) body += ',';
    body += "{\"seq\":" + std::to_string(events[i].seq) +
            ",\"time\":" + std::to_string(events[i].time) + ",\"attempt\":" + events[i].value +
            "}";
  }
  body += "]}";
  return JsonResponse(std::move(body));
}

// ---------------- the UI's reads ----------------

// A long metric series reduced to `buckets` buckets over x (step or wall time), keeping each
// bucket's min, max, first and last value, so a chart of a million points draws from a few
// thousand and still shows every spike.
Result<Response> DownsampleMetric(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  ASSIGN_OR_RETURN(std::string key, f.RequiredString("key"));
  ASSIGN_OR_RETURN(int64_t buckets, IntField(f, "buckets", 1000, 1, 100000));
  ASSIGN_OR_RETURN(auto x_opt, f.String("x"));
  std::string x = x_opt.value_or("step");
  if (x != "step" && x != "time") return InvalidArgument("x must be step or time");
  ASSIGN_OR_RETURN(auto start, f.Double("start"));
  ASSIGN_OR_RETURN(auto end, f.Double("end"));
  bool by_time = x == "time";
  ASSIGN_OR_RETURN(store::MetricPoints history, s.store->ReadMetricHistory(id, key, 0, ""));
  std::vector<std::pair<double, double>> points;
  for (const store::MetricPoint& p : history.points) {
    double px = by_time ? double(p.timestamp) : double(p.step);
    if (start && px < *start) continue;
    if (end && px > *end) continue;
    points.emplace_back(px, p.value);
  }
  if (by_time) {
    std::stable_sort(points.begin(), points.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Field("total", static_cast<int64_t>(points.size()));
  w.Key("points").BeginArray();
  for (const Bucket& b : Downsample(points, buckets)) {
    w.BeginObject()
        .Field("x", b.x)
        .Field("min", b.min)
        .Field("max", b.max)
        .Field("first", b.first)
        .Field("last", b.last)
        .Field("count", b.count)
        .EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(std::move(body));
}

// The model card of a Core ML artifact (.mlmodel file or .mlpackage directory) of a run.
Result<Response> InspectCoreml(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(RunArtifact a, ReadRunArtifact(req, s.store, s.artifacts));
  auto model = coreml::Load(a.full);
  if (!model.ok()) {
    if (model.status().code() == Code::kNotFound) {
      return NotFound("artifact '" + a.rel + "' not found");
    }
    return InvalidArgument("artifact '" + a.rel +
                           "' is not a Core ML model: " + model.status().message());
  }
  coreml::Info info = coreml::Inspect(*model, a.full);
  return JsonResponse(coreml::ModelCardJson(info, coreml::Validate(*model)));
}

// ---------------- the web UI, the table, health ----------------

// index.html at / (routing happens in the URL hash); hashed assets are immutable.
Result<Response> ServeUi(const Services&, const Request& req) {
  std::string path = req.path == "/" ? "/index.html" : req.path;
  const UiAsset* a = UiAssets();
  while (a->path && path != a->path) ++a;
  if (!a->path) {
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
}

// The route table as installed, so tests and docs can check every route's access.
Result<Response> ListRoutes(const Services& s, const Request&) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("routes").BeginArray();
  for (const http::Router::RouteInfo& r : s.router->Routes()) {
    w.BeginObject()
        .Field("method", http::MethodName(r.method))
        .Field("path", r.pattern)
        .Field("access", http::AccessName(r.access))
        .EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(std::move(body));
}

Result<Response> Health(const Services&, const Request&) { return TextResponse("OK"); }

Result<Response> Version(const Services&, const Request&) { return TextResponse(kVersion); }

Result<Response> Metrics(const Services& s, const Request&) {
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  if (http::Server* server = s.server->load()) {
    r.body += server->metrics().PrometheusText();
    r.body += OpenConnectionsText(server->open_connections(), server->threads());
  }
  r.body += StoreMetricsText(s.store->Stats());
  return r;
}

}  // namespace

std::span<const Route> ExtraRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "/api/ringo/v1/tokens", kAdmin, CreateToken},
      {kGet, "/api/ringo/v1/tokens", kAdmin, ListTokens},
      {kDelete, "/api/ringo/v1/tokens/{id}", kAdmin, RevokeToken},
      {kGet, "/api/ringo/v1/audit", kAdmin, ListAudit},
      {kPost, "/api/ringo/v1/session", kPublic, SignIn},
      {kDelete, "/api/ringo/v1/session", kPublic, SignOut},
      {kGet, "/api/ringo/v1/webhook-deliveries", kAdmin, ListWebhookDeliveries},
      {kGet, "/api/ringo/v1/metrics/downsample", kRead, DownsampleMetric},
      {kGet, "/api/ringo/v1/coreml/inspect", kRead, InspectCoreml},
      {kGet, "/", kPublic, ServeUi},
      {kGet, "/index.html", kPublic, ServeUi},
      {kGet, "/assets/*", kPublic, ServeUi},
      {kGet, "/favicon.svg", kPublic, ServeUi},
      {kGet, "/api/ringo/v1/routes", kRead, ListRoutes},
      {kGet, "/health", kPublic, Health},
      {kGet, "/version", kAnyCaller, Version},
      {kGet, "/metrics", kRead, Metrics},
  };
  return kRoutes;
}

}  // namespace ringo::api
