// HTTP handlers of over-the-air delivery: the admin API and the device API.
#include "api/deploy_handlers.h"

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/request.h"
#include "common/json_writer.h"

namespace ringo::api {

namespace {

using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using nlohmann::json;

Response Json(const json& j) {
  Response r;
  r.body = j.dump();
  return r;
}

http::Handler Handle(std::function<Result<Response>(const Request&)> h) {
  return [h = std::move(h)](Request& req, Responder res) {
    Result<Response> r = h(req);
    res.Send(r.ok() ? std::move(r).value() : HttpError(r.status()));
  };
}

Result<Fields> Read(const Request& req) {
  if (req.method == Method::kGet || req.method == Method::kHead)
    return Fields::FromQuery(req.query);
  return Fields::FromJson(req.body);
}

json ChannelJson(const deploy::Channel& c) {
  json j = {{"collection", c.collection},
            {"name", c.name},
            {"deployment_id", c.deployment_id},
            {"rollout", c.rollout},
            {"updated_time", c.updated_time}};
  if (!c.previous_deployment_id.empty()) j["previous_deployment_id"] = c.previous_deployment_id;
  return j;
}

json DeploymentJson(const deploy::Deployment& d) {
  json models = json::array();
  for (const auto& m : d.models) {
    models.push_back({{"name", m.name},
                      {"version", m.version},
                      {"sha256", m.sha256},
                      {"size", m.size},
                      {"format", m.format},
                      {"interface_hash", m.interface_hash}});
  }
  return {{"id", d.id},
          {"collection", d.collection},
          {"creation_time", d.creation_time},
          {"models", models}};
}

// Who made an admin change, for the history: the caller may say so; the server records it.
std::string Actor(const Request& req, const Fields& f) {
  auto actor = f.String("actor");
  if (actor.ok() && *actor && !(*actor)->empty()) return **actor;
  std::string_view ua = req.Header("user-agent");
  return ua.empty() ? "unknown" : std::string(ua);
}

Result<int> RolloutField(const Fields& f, int fallback) {
  ASSIGN_OR_RETURN(auto r, f.Int64("rollout"));
  if (!r) return fallback;
  if (*r < 1 || *r > 100) return InvalidArgument("rollout must be between 1 and 100 percent");
  return static_cast<int>(*r);
}

}  // namespace

void RegisterDeploy(http::Router& router, deploy::Service* svc) {
  const std::string admin = "/api/ringo/v1/";
  router.Add(
      Method::kPost, admin + "collections", Handle([svc](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(Fields f, Read(req));
        ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
        ASSIGN_OR_RETURN(auto models, f.StringList("models"));
        ASSIGN_OR_RETURN(deploy::Collection c, svc->CreateCollection(name, models));
        return Json(
            {{"collection",
              {{"name", c.name}, {"models", c.models}, {"creation_time", c.creation_time}}}});
      }));
  router.Add(Method::kGet, admin + "collections", Handle([svc](const Request&) -> Result<Response> {
               ASSIGN_OR_RETURN(auto list, svc->ListCollections());
               json arr = json::array();
               for (const auto& c : list) {
                 json channels = json::array();
                 auto chs = svc->ListChannels(c.name);
                 if (chs.ok()) {
                   for (const auto& ch : *chs) channels.push_back(ChannelJson(ch));
                 }
                 arr.push_back({{"name", c.name},
                                {"models", c.models},
                                {"creation_time", c.creation_time},
                                {"channels", channels}});
               }
               return Json({{"collections", arr}});
             }));
  router.Add(Method::kPost, admin + "deployments",
             Handle([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, Read(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               json body = json::parse(req.body, nullptr, false);
               if (!body.is_object() || !body.contains("models") || !body["models"].is_object()) {
                 return InvalidArgument("'models' must be an object of model name -> version");
               }
               std::map<std::string, std::string> versions;
               for (auto& [k, v] : body["models"].items()) {
                 versions[k] = v.is_string() ? v.get<std::string>() : v.dump();
               }
               ASSIGN_OR_RETURN(deploy::Deployment d, svc->CreateDeployment(collection, versions));
               return Json({{"deployment", DeploymentJson(d)}});
             }));
  router.Add(Method::kGet, admin + "deployments/get",
             Handle([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, Read(req));
               ASSIGN_OR_RETURN(std::string id, f.RequiredString("id"));
               ASSIGN_OR_RETURN(deploy::Deployment d, svc->GetDeployment(id));
               return Json({{"deployment", DeploymentJson(d)}});
             }));
  router.Add(Method::kGet, admin + "channels",
             Handle([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, Read(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(deploy::Collection c, svc->GetCollection(collection));
               (void)c;
               ASSIGN_OR_RETURN(auto list, svc->ListChannels(collection));
               json arr = json::array();
               for (const auto& ch : list) arr.push_back(ChannelJson(ch));
               return Json({{"channels", arr}});
             }));
  router.Add(Method::kPost, admin + "channels/promote",
             Handle([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, Read(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string channel, f.RequiredString("channel"));
               ASSIGN_OR_RETURN(std::string deployment, f.RequiredString("deployment_id"));
               ASSIGN_OR_RETURN(int rollout, RolloutField(f, 100));
               ASSIGN_OR_RETURN(auto reason, f.String("reason"));
               ASSIGN_OR_RETURN(auto force, f.Bool("force"));
               ASSIGN_OR_RETURN(
                   deploy::Channel c,
                   svc->Promote(collection, channel, deployment, rollout, reason.value_or(""),
                                Actor(req, f), force.value_or(false)));
               return Json({{"channel", ChannelJson(c)}});
             }));
  router.Add(Method::kPost, admin + "channels/rollout",
             Handle([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, Read(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string channel, f.RequiredString("channel"));
               ASSIGN_OR_RETURN(auto r, f.Int64("rollout"));
               if (!r) return MissingField("rollout");
               ASSIGN_OR_RETURN(int rollout, RolloutField(f, 100));
               ASSIGN_OR_RETURN(auto reason, f.String("reason"));
               ASSIGN_OR_RETURN(deploy::Channel c,
                                svc->SetRollout(collection, channel, rollout, reason.value_or(""),
                                                Actor(req, f)));
               return Json({{"channel", ChannelJson(c)}});
             }));
  router.Add(Method::kPost, admin + "channels/rollback",
             Handle([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, Read(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string channel, f.RequiredString("channel"));
               ASSIGN_OR_RETURN(auto reason, f.String("reason"));
               ASSIGN_OR_RETURN(
                   deploy::Channel c,
                   svc->Rollback(collection, channel, reason.value_or(""), Actor(req, f)));
               return Json({{"channel", ChannelJson(c)}});
             }));
  router.Add(Method::kGet, admin + "channels/history",
             Handle([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, Read(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string channel, f.RequiredString("channel"));
               ASSIGN_OR_RETURN(auto entries, svc->History(collection, channel));
               json arr = json::array();
               for (const auto& h : entries) {
                 arr.push_back({{"time", h.time},
                                {"action", h.action},
                                {"from", h.from_deployment},
                                {"to", h.to_deployment},
                                {"rollout", h.rollout},
                                {"actor", h.actor},
                                {"reason", h.reason},
                                {"forced", h.forced}});
               }
               return Json({{"history", arr}});
             }));
  router.Add(Method::kGet, admin + "telemetry",
             Handle([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, Read(req));
               ASSIGN_OR_RETURN(std::string model, f.RequiredString("model"));
               ASSIGN_OR_RETURN(std::string version, f.RequiredString("version"));
               ASSIGN_OR_RETURN(auto limit, f.Int64("max_results"));
               ASSIGN_OR_RETURN(auto events, svc->Telemetry(model, version, limit.value_or(10000)));
               json arr = json::array();
               for (const auto& e : events) arr.push_back(json::parse(e.value));
               return Json({{"events", arr}});
             }));

  // ---- device API ----
  const std::string device = "/api/deploy/v1/";
  router.Add(Method::kGet, device + "keys", Handle([svc](const Request&) -> Result<Response> {
               return Json({{"algorithm", "Ed25519"}, {"public_key", svc->PublicKey()}});
             }));
  router.AddPrefix(
      Method::kGet, device + "collections/", Handle([svc](const Request& req) -> Result<Response> {
        // <collection>/channels/<channel>/manifest
        const std::string& s = req.route_suffix;
        size_t a = s.find("/channels/");
        const std::string tail = "/manifest";
        if (a == std::string::npos || s.size() < tail.size() ||
            s.compare(s.size() - tail.size(), tail.size(), tail) != 0) {
          return NotFound("no device endpoint at " + req.path);
        }
        std::string collection = s.substr(0, a);
        std::string channel = s.substr(a + 10, s.size() - tail.size() - a - 10);
        ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
        deploy::DeviceQuery q;
        std::pair<const char*, std::string*> fields[] = {
            {"device_id", &q.device_id},   {"device_class", &q.device_class}, {"os", &q.os},
            {"os_version", &q.os_version}, {"app_version", &q.app_version},   {"region", &q.region},
            {"language", &q.language}};
        for (auto& [name, out] : fields) {
          ASSIGN_OR_RETURN(auto v, f.String(name));
          *out = v.value_or("");
        }
        ASSIGN_OR_RETURN(deploy::Manifest m, svc->ManifestFor(collection, channel, q));
        Response r;
        r.headers.emplace_back("ETag", m.etag);
        r.headers.emplace_back("Cache-Control", "no-cache");
        r.headers.emplace_back("X-Ringo-Signature", "ed25519=" + m.signature);
        // The device already has this manifest.
        std::string_view inm = req.Header("if-none-match");
        if (!inm.empty() && (inm == m.etag || inm == "*")) {
          r.status = 304;
          r.content_type.clear();
          return r;
        }
        r.body = std::move(m.body);
        return r;
      }));
  router.AddPrefix(
      Method::kGet, device + "blobs/", Handle([svc](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(auto path, svc->BlobPath(req.route_suffix));
        Response r = http::FileResponse(req, path.string(), "application/octet-stream");
        if (r.status == 404) return NotFound("no blob " + req.route_suffix);
        // Content-addressed: a blob never changes, so any cache may keep it forever.
        r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
        r.headers.emplace_back("ETag", "\"" + req.route_suffix + "\"");
        return r;
      }));
  router.Add(Method::kPost, device + "telemetry",
             Handle([svc](const Request& req) -> Result<Response> {
               RETURN_IF_ERROR(svc->RecordTelemetry(req.body));
               return Json(json::object());
             }));
}

}  // namespace ringo::api
