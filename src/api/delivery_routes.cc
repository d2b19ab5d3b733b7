// The admin API of over-the-air delivery: collections, deployments, channels and their rollouts,
// app contracts, delivery webhooks, telemetry.
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "api/handlers.h"
#include "api/routes.h"
#include "common/util.h"

namespace ringo::api {

namespace {

using nlohmann::json;

Response Json(const json& j) { return JsonResponse(j.dump()); }

// {"<key>": [to_json(item)...]}.
template <typename Item, typename ToJson>
Response JsonList(const char* key, const std::vector<Item>& items, ToJson to_json) {
  json arr = json::array();
  for (const Item& item : items) arr.push_back(to_json(item));
  return Json({{key, arr}});
}

// What a deployment holds, as people name it: "DigitClassifier v2, Tokenizer v5". Empty when
// the deployment cannot be read.
std::string DeploymentLabel(deploy::Service* svc, const std::string& id) {
  if (id.empty()) return "";
  auto d = svc->GetDeployment(id);
  if (!d.ok()) return "";
  std::string label;
  for (const auto& m : d->models) {
    if (!label.empty()) label += ", ";
    label += m.name + " v" + m.version;
  }
  return label;
}

json ChannelJson(const deploy::Channel& c, deploy::Service* svc) {
  json j = {{"collection", c.collection},
            {"name", c.name},
            {"deployment_id", c.deployment_id},
            {"deployment_label", DeploymentLabel(svc, c.deployment_id)},
            {"rollout", c.rollout},
            {"updated_time", c.updated_time}};
  if (!c.previous_deployment_id.empty()) {
    j["previous_deployment_id"] = c.previous_deployment_id;
    j["previous_deployment_label"] = DeploymentLabel(svc, c.previous_deployment_id);
  }
  j["rules"] = json::parse(deploy::RulesToJson(c.rules));
  return j;
}

json ContractJson(const deploy::Contract& c) {
  json models = json::object();
  for (const auto& [name, iface] : c.interfaces) models[name] = json::parse(iface);
  return {{"collection", c.collection},
          {"app_versions", c.app_versions.ToString()},
          {"models", models},
          {"creation_time", c.creation_time},
          {"actor", c.actor}};
}

json WebhookJson(const deploy::Webhook& w) {
  return {{"id", w.id},
          {"url", w.url},
          {"collection", w.collection},
          {"has_secret", w.has_secret},
          {"creation_time", w.creation_time}};
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

// Who made an admin change, for the history. With tokens on, the token that authenticated the
// request is the actor; a name the caller gives is kept beside it but never replaces it. Without
// tokens, nothing can be verified, so the caller's word (or its User-Agent) is all there is.
std::string Actor(const Request& req, const Fields& f) {
  std::string claimed;
  auto actor = f.String("actor");
  if (actor.ok() && *actor) claimed = **actor;
  if (!req.principal.empty()) {
    return claimed.empty() || claimed == req.principal ? req.principal
                                                       : req.principal + " (as " + claimed + ")";
  }
  if (!claimed.empty()) return claimed;
  std::string_view ua = req.Header("user-agent");
  return ua.empty() ? "unknown" : std::string(ua);
}

Result<int> RolloutField(const Fields& f, int fallback) {
  ASSIGN_OR_RETURN(auto r, f.Int64("rollout"));
  if (!r) return fallback;
  if (*r < 1 || *r > 100) return InvalidArgument("rollout must be between 1 and 100 percent");
  return static_cast<int>(*r);
}


// The channel a request names by its "collection" and "channel" fields.
struct ChannelRef {
  std::string collection;
  std::string channel;
};
Result<ChannelRef> ReadChannelRef(const Fields& f) {
  ChannelRef ref;
  ASSIGN_OR_RETURN(ref.collection, f.RequiredString("collection"));
  ASSIGN_OR_RETURN(ref.channel, f.RequiredString("channel"));
  return ref;
}

Response ChannelResponse(const deploy::Channel& c, deploy::Service* svc) {
  return Json({{"channel", ChannelJson(c, svc)}});
}

// ---------------- collections and deployments ----------------

Result<Response> CreateCollection(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(auto models, f.StringList("models"));
  ASSIGN_OR_RETURN(deploy::Collection c, s.deploy->CreateCollection(name, models));
  return Json({{"collection",
                {{"name", c.name}, {"models", c.models}, {"creation_time", c.creation_time}}}});
}

Result<Response> ListCollections(const Services& s, const Request&) {
  ASSIGN_OR_RETURN(auto list, s.deploy->ListCollections());
  json arr = json::array();
  for (const auto& c : list) {
    json channels = json::array();
    auto chs = s.deploy->ListChannels(c.name);
    if (chs.ok()) {
      for (const auto& ch : *chs) channels.push_back(ChannelJson(ch, s.deploy));
    }
    arr.push_back({{"name", c.name},
                   {"models", c.models},
                   {"creation_time", c.creation_time},
                   {"channels", channels}});
  }
  return Json({{"collections", arr}});
}

// A JSON object of the body's `key` (nlohmann keeps what simdjson's Fields cannot: any value).
Result<json> BodyObject(const Request& req, const char* key, const char* problem) {
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains(key) || !body[key].is_object()) {
    return InvalidArgument(problem);
  }
  return body[key];
}

Result<Response> CreateDeployment(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
  ASSIGN_OR_RETURN(json models, BodyObject(req, "models",
                                           "'models' must be an object of model name -> version"));
  std::map<std::string, std::string> versions;
  for (auto& [k, v] : models.items()) versions[k] = v.is_string() ? v.get<std::string>() : v.dump();
  ASSIGN_OR_RETURN(deploy::Deployment d, s.deploy->CreateDeployment(collection, versions));
  return Json({{"deployment", DeploymentJson(d)}});
}

Result<Response> GetDeployment(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, f.RequiredString("id"));
  ASSIGN_OR_RETURN(deploy::Deployment d, s.deploy->GetDeployment(id));
  return Json({{"deployment", DeploymentJson(d)}});
}

// ---------------- channels ----------------

Result<Response> ListChannels(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
  ASSIGN_OR_RETURN(deploy::Collection c, s.deploy->GetCollection(collection));
  (void)c;
  ASSIGN_OR_RETURN(auto list, s.deploy->ListChannels(collection));
  return JsonList("channels", list,
                  [&](const deploy::Channel& ch) { return ChannelJson(ch, s.deploy); });
}

Result<Response> Promote(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(ChannelRef ref, ReadChannelRef(f));
  ASSIGN_OR_RETURN(std::string deployment, f.RequiredString("deployment_id"));
  ASSIGN_OR_RETURN(int rollout, RolloutField(f, 100));
  ASSIGN_OR_RETURN(auto reason, f.String("reason"));
  ASSIGN_OR_RETURN(auto force, f.Bool("force"));
  ASSIGN_OR_RETURN(deploy::Channel c,
                   s.deploy->Promote(ref.collection, ref.channel, deployment, rollout,
                                     reason.value_or(""), Actor(req, f), force.value_or(false)));
  return ChannelResponse(c, s.deploy);
}

Result<Response> SetRollout(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(ChannelRef ref, ReadChannelRef(f));
  ASSIGN_OR_RETURN(auto r, f.Int64("rollout"));
  if (!r) return MissingField("rollout");
  ASSIGN_OR_RETURN(int rollout, RolloutField(f, 100));
  ASSIGN_OR_RETURN(auto reason, f.String("reason"));
  ASSIGN_OR_RETURN(deploy::Channel c, s.deploy->SetRollout(ref.collection, ref.channel, rollout,
                                                           reason.value_or(""), Actor(req, f)));
  return ChannelResponse(c, s.deploy);
}

Result<Response> Rollback(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(ChannelRef ref, ReadChannelRef(f));
  ASSIGN_OR_RETURN(auto reason, f.String("reason"));
  ASSIGN_OR_RETURN(deploy::Channel c, s.deploy->Rollback(ref.collection, ref.channel,
                                                         reason.value_or(""), Actor(req, f)));
  return ChannelResponse(c, s.deploy);
}

Result<Response> ChannelHistory(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(ChannelRef ref, ReadChannelRef(f));
  ASSIGN_OR_RETURN(auto entries, s.deploy->History(ref.collection, ref.channel));
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
    if (!h.rules.empty()) arr.back()["rules"] = json::parse(h.rules);
    if (!h.overridden.empty()) arr.back()["overridden"] = h.overridden;
  }
  return Json({{"history", arr}});
}

Result<Response> SetRules(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(ChannelRef ref, ReadChannelRef(f));
  ASSIGN_OR_RETURN(auto reason, f.String("reason"));
  ASSIGN_OR_RETURN(auto force, f.Bool("force"));
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("rules") || !body["rules"].is_array())
    return InvalidArgument("'rules' must be an array of rules ([] clears them)");
  ASSIGN_OR_RETURN(auto rules, deploy::ParseRules(body["rules"].dump()));
  ASSIGN_OR_RETURN(deploy::Channel c,
                   s.deploy->SetRules(ref.collection, ref.channel, rules, reason.value_or(""),
                                      Actor(req, f), force.value_or(false)));
  return ChannelResponse(c, s.deploy);
}

Result<Response> GetChannel(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(ChannelRef ref, ReadChannelRef(f));
  ASSIGN_OR_RETURN(deploy::Channel c, s.deploy->GetChannel(ref.collection, ref.channel));
  return ChannelResponse(c, s.deploy);
}

// ---------------- app contracts, webhooks, telemetry ----------------

Result<Response> SetContract(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
  ASSIGN_OR_RETURN(std::string app_versions, f.RequiredString("app_versions"));
  ASSIGN_OR_RETURN(json models, BodyObject(req, "models",
                                           "'models' must be an object of model name -> "
                                           "interface (ringo inspect --json)"));
  std::map<std::string, std::string> interfaces;
  for (auto& [name, iface] : models.items()) interfaces[name] = iface.dump();
  ASSIGN_OR_RETURN(deploy::Contract c,
                   s.deploy->SetContract(collection, app_versions, interfaces, Actor(req, f)));
  return Json({{"contract", ContractJson(c)}});
}

Result<Response> ListContracts(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
  ASSIGN_OR_RETURN(auto list, s.deploy->ListContracts(collection));
  return JsonList("contracts", list, ContractJson);
}

Result<Response> DeleteContract(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
  ASSIGN_OR_RETURN(std::string app_versions, f.RequiredString("app_versions"));
  RETURN_IF_ERROR(s.deploy->DeleteContract(collection, app_versions));
  return EmptyObject();
}

Result<Response> AddWebhook(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string url, f.RequiredString("url"));
  ASSIGN_OR_RETURN(auto secret, f.String("secret"));
  ASSIGN_OR_RETURN(auto collection, f.String("collection"));
  ASSIGN_OR_RETURN(deploy::Webhook w,
                   s.deploy->AddWebhook(url, secret.value_or(""), collection.value_or("")));
  return Json({{"webhook", WebhookJson(w)}});
}

Result<Response> ListWebhooks(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto collection, f.String("collection"));
  ASSIGN_OR_RETURN(auto list, s.deploy->ListWebhooks(collection.value_or("")));
  return JsonList("webhooks", list, WebhookJson);
}

Result<Response> RemoveWebhook(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, f.RequiredString("id"));
  RETURN_IF_ERROR(s.deploy->RemoveWebhook(id));
  return EmptyObject();
}

// The "model" and "version" fields telemetry is kept under.
Result<std::pair<std::string, std::string>> ReadModelVersion(const Fields& f) {
  ASSIGN_OR_RETURN(std::string model, f.RequiredString("model"));
  ASSIGN_OR_RETURN(std::string version, f.RequiredString("version"));
  return std::pair(std::move(model), std::move(version));
}

Result<Response> GetTelemetry(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto mv, ReadModelVersion(f));
  ASSIGN_OR_RETURN(int64_t limit, IntField(f, "max_results", 10000, 1, 100000));
  ASSIGN_OR_RETURN(auto token, f.String("page_token"));
  int64_t after = 0;
  if (token && !token->empty()) {
    auto n = ParseInt64(*token);
    if (!n || *n < 0) return InvalidArgument("invalid page_token '" + *token + "'");
    after = *n;
  }
  // One more than asked says whether another page follows: no silent cut.
  ASSIGN_OR_RETURN(auto events, s.deploy->Telemetry(mv.first, mv.second, after, limit + 1));
  bool more = static_cast<int64_t>(events.size()) > limit;
  if (more) events.resize(static_cast<size_t>(limit));
  json arr = json::array();
  for (const auto& e : events) arr.push_back(json::parse(e.value));
  json out = {{"events", arr}};
  if (more) out["next_page_token"] = std::to_string(events.back().seq);
  return Json(out);
}

// Aggregates of every event of a version: what the telemetry page shows (true totals).
// from_ms and to_ms (event times, ms since the epoch, both optional) bound the events counted.
Result<Response> GetTelemetrySummary(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto mv, ReadModelVersion(f));
  ASSIGN_OR_RETURN(auto device, f.String("device_class"));
  ASSIGN_OR_RETURN(int64_t b, IntField(f, "buckets", 40, 1, 1000));
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  ASSIGN_OR_RETURN(int64_t from, IntField(f, "from_ms", kMin, kMin, kMax));
  ASSIGN_OR_RETURN(int64_t to, IntField(f, "to_ms", kMax, kMin, kMax));
  ASSIGN_OR_RETURN(std::string body,
                   s.deploy->TelemetrySummary(mv.first, mv.second, device.value_or(""),
                                              static_cast<int>(b), from, to));
  return JsonResponse(std::move(body));
}

}  // namespace

// Changes are admin's: they move what devices run. Delivery webhooks hold URLs and secrets.
std::span<const Route> DeliveryRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "/api/ringo/v1/collections", kAdmin, CreateCollection},
      {kGet, "/api/ringo/v1/collections", kRead, ListCollections},
      {kPost, "/api/ringo/v1/deployments", kAdmin, CreateDeployment},
      {kGet, "/api/ringo/v1/deployments/get", kRead, GetDeployment},
      {kGet, "/api/ringo/v1/channels", kRead, ListChannels},
      {kPost, "/api/ringo/v1/channels/promote", kAdmin, Promote},
      {kPost, "/api/ringo/v1/channels/rollout", kAdmin, SetRollout},
      {kPost, "/api/ringo/v1/channels/rollback", kAdmin, Rollback},
      {kGet, "/api/ringo/v1/channels/history", kRead, ChannelHistory},
      {kPost, "/api/ringo/v1/channels/rules", kAdmin, SetRules},
      {kGet, "/api/ringo/v1/channels/get", kRead, GetChannel},
      {kPost, "/api/ringo/v1/apps/contracts", kAdmin, SetContract},
      {kGet, "/api/ringo/v1/apps/contracts", kRead, ListContracts},
      {kPost, "/api/ringo/v1/apps/contracts/delete", kAdmin, DeleteContract},
      {kPost, "/api/ringo/v1/webhooks", kAdmin, AddWebhook},
      {kGet, "/api/ringo/v1/webhooks", kAdmin, ListWebhooks},
      {kPost, "/api/ringo/v1/webhooks/delete", kAdmin, RemoveWebhook},
      {kGet, "/api/ringo/v1/telemetry", kRead, GetTelemetry},
      {kGet, "/api/ringo/v1/telemetry/summary", kRead, GetTelemetrySummary},
  };
  return kRoutes;
}

}  // namespace ringo::api
