// HTTP handlers of over-the-air delivery: the admin API and the device API.
#include "api/deploy_handlers.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/request.h"
#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::api {

namespace {

using http::Access;
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

// For handlers that may keep the Responder to answer later (nullopt: answered elsewhere).
http::Handler HandleAsync(
    std::function<Result<std::optional<Response>>(const Request&, Responder)> h) {
  return [h = std::move(h)](Request& req, Responder res) {
    Result<std::optional<Response>> r = h(req, res);
    if (!r.ok()) return res.Send(HttpError(r.status()));
    if (*r) res.Send(std::move(**r));
  };
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

// The manifest answer for a device that already holds `if_none_match` (may be empty).
Response ManifestResponse(deploy::Manifest m, std::string_view if_none_match) {
  Response r;
  r.headers.emplace_back("ETag", m.etag);
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Ringo-Signature", "ed25519=" + m.signature);
  // The device already has this manifest.
  if (!if_none_match.empty() && (if_none_match == m.etag || if_none_match == "*")) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.body = std::move(m.body);
  return r;
}

Response NotModified(const std::string& etag) {
  Response r;
  r.status = 304;
  r.content_type.clear();
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
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

}  // namespace

ManifestWaiters::ManifestWaiters(deploy::Service* service) : service_(service) {
  thread_ = std::thread([this] { Loop(); });
}

ManifestWaiters::~ManifestWaiters() { Shutdown(); }

uint64_t ManifestWaiters::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

size_t ManifestWaiters::size() const {
  std::lock_guard lock(mu_);
  return count_;
}

void ManifestWaiters::Add(http::Responder responder, std::string collection, std::string channel,
                          deploy::DeviceQuery device, std::string etag,
                          std::chrono::steady_clock::time_point deadline, uint64_t generation) {
  std::unique_lock lock(mu_);
  if (stop_) {
    lock.unlock();
    responder.Send(NotModified(etag));
    return;
  }
  std::string key = collection + "/" + channel;
  waiters_[key].push_back(Waiter{std::move(responder), std::move(collection), std::move(channel),
                                 std::move(device), std::move(etag), deadline});
  ++count_;
  if (generation != generation_) {
    dirty_[key] = true;
    cv_.notify_one();
  }
}

void ManifestWaiters::OnChange(const std::string& collection, const std::string& channel) {
  {
    std::lock_guard lock(mu_);
    ++generation_;
    std::string key = collection + "/" + channel;
    if (waiters_.count(key)) dirty_[key] = true;
  }
  cv_.notify_one();
}

size_t ManifestWaiters::Shutdown() {
  std::unordered_map<std::string, std::list<Waiter>> left;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    left.swap(waiters_);
    count_ = 0;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  // Nothing changed for them before the server went away: "poll again".
  size_t answered = 0;
  for (auto& [key, list] : left) {
    for (Waiter& w : list) {
      w.responder.Send(NotModified(w.etag));
      ++answered;
    }
  }
  return answered;
}

void ManifestWaiters::Loop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_ || !dirty_.empty(); });
    if (stop_) break;
    auto now = Clock::now();
    std::vector<Waiter> expired, recheck;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      bool dirty = dirty_.count(it->first) > 0;
      for (auto w = it->second.begin(); w != it->second.end();) {
        if (w->deadline <= now) {
          expired.push_back(std::move(*w));
        } else if (dirty) {
          recheck.push_back(std::move(*w));
        } else {
          ++w;
          continue;
        }
        w = it->second.erase(w);
        --count_;
      }
      it = it->second.empty() ? waiters_.erase(it) : std::next(it);
    }
    dirty_.clear();
    uint64_t seen = generation_;
    lock.unlock();
    for (Waiter& w : expired) w.responder.Send(NotModified(w.etag));
    std::vector<Waiter> keep;
    for (Waiter& w : recheck) {
      try {
        auto m = service_->ManifestFor(w.collection, w.channel, w.device);
        if (!m.ok()) {
          w.responder.Send(HttpError(m.status()));
        } else if (m->etag != w.etag) {
          w.responder.Send(ManifestResponse(std::move(m).value(), w.etag));
        } else {
          keep.push_back(std::move(w));
        }
      } catch (const std::exception& e) {
        // This thread's safety net: a failing re-check answers its request and nothing else.
        std::cerr << "ringo: long-poll re-check failed: " << e.what() << std::endl;
        w.responder.Send(HttpError(Internal(e.what())));
      }
    }
    lock.lock();
    for (Waiter& w : keep) {
      std::string key = w.collection + "/" + w.channel;
      // A change during the re-check: look again on the next round.
      if (generation_ != seen) dirty_[key] = true;
      waiters_[key].push_back(std::move(w));
      ++count_;
    }
  }
}

std::shared_ptr<ManifestWaiters> RegisterDeploy(http::Router& router, deploy::Service* svc) {
  auto waiters = std::make_shared<ManifestWaiters>(svc);
  // Holds the waiters weakly: they belong to the API, which shuts them down before the Service.
  std::weak_ptr<ManifestWaiters> weak = waiters;
  svc->AddChangeListener([weak](const deploy::Channel& c, const deploy::HistoryEntry&) {
    if (auto w = weak.lock()) w->OnChange(c.collection, c.name);
  });
  // Changes made by other servers sharing the store wake waiters too (within ~0.5 s).
  svc->AddChannelWatcher([weak](const std::string& collection, const std::string& channel) {
    if (auto w = weak.lock()) w->OnChange(collection, channel);
  });
  const std::string admin = "/api/ringo/v1/";
  router.Add(
      Method::kPost, admin + "collections", Access::kAdmin, Sync([svc](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(Fields f, ReadFields(req));
        ASSIGN_OR_RETURN(std::string name, f.RequiredString("name"));
        ASSIGN_OR_RETURN(auto models, f.StringList("models"));
        ASSIGN_OR_RETURN(deploy::Collection c, svc->CreateCollection(name, models));
        return Json(
            {{"collection",
              {{"name", c.name}, {"models", c.models}, {"creation_time", c.creation_time}}}});
      }));
  router.Add(Method::kGet, admin + "collections", Access::kRead, Sync([svc](const Request&) -> Result<Response> {
               ASSIGN_OR_RETURN(auto list, svc->ListCollections());
               json arr = json::array();
               for (const auto& c : list) {
                 json channels = json::array();
                 auto chs = svc->ListChannels(c.name);
                 if (chs.ok()) {
                   for (const auto& ch : *chs) channels.push_back(ChannelJson(ch, svc));
                 }
                 arr.push_back({{"name", c.name},
                                {"models", c.models},
                                {"creation_time", c.creation_time},
                                {"channels", channels}});
               }
               return Json({{"collections", arr}});
             }));
  router.Add(Method::kPost, admin + "deployments", Access::kAdmin,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
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
  router.Add(Method::kGet, admin + "deployments/get", Access::kRead,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string id, f.RequiredString("id"));
               ASSIGN_OR_RETURN(deploy::Deployment d, svc->GetDeployment(id));
               return Json({{"deployment", DeploymentJson(d)}});
             }));
  router.Add(Method::kGet, admin + "channels", Access::kRead, Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(deploy::Collection c, svc->GetCollection(collection));
               (void)c;
               ASSIGN_OR_RETURN(auto list, svc->ListChannels(collection));
               json arr = json::array();
               for (const auto& ch : list) arr.push_back(ChannelJson(ch, svc));
               return Json({{"channels", arr}});
             }));
  router.Add(Method::kPost, admin + "channels/promote", Access::kAdmin,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
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
               return Json({{"channel", ChannelJson(c, svc)}});
             }));
  router.Add(Method::kPost, admin + "channels/rollout", Access::kAdmin,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string channel, f.RequiredString("channel"));
               ASSIGN_OR_RETURN(auto r, f.Int64("rollout"));
               if (!r) return MissingField("rollout");
               ASSIGN_OR_RETURN(int rollout, RolloutField(f, 100));
               ASSIGN_OR_RETURN(auto reason, f.String("reason"));
               ASSIGN_OR_RETURN(deploy::Channel c,
                                svc->SetRollout(collection, channel, rollout, reason.value_or(""),
                                                Actor(req, f)));
               return Json({{"channel", ChannelJson(c, svc)}});
             }));
  router.Add(Method::kPost, admin + "channels/rollback", Access::kAdmin,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string channel, f.RequiredString("channel"));
               ASSIGN_OR_RETURN(auto reason, f.String("reason"));
               ASSIGN_OR_RETURN(
                   deploy::Channel c,
                   svc->Rollback(collection, channel, reason.value_or(""), Actor(req, f)));
               return Json({{"channel", ChannelJson(c, svc)}});
             }));
  router.Add(Method::kGet, admin + "channels/history", Access::kRead,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
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
                 if (!h.rules.empty()) arr.back()["rules"] = json::parse(h.rules);
                 if (!h.overridden.empty()) arr.back()["overridden"] = h.overridden;
               }
               return Json({{"history", arr}});
             }));
  router.Add(Method::kPost, admin + "channels/rules", Access::kAdmin,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string channel, f.RequiredString("channel"));
               ASSIGN_OR_RETURN(auto reason, f.String("reason"));
               ASSIGN_OR_RETURN(auto force, f.Bool("force"));
               json body = json::parse(req.body, nullptr, false);
               if (!body.is_object() || !body.contains("rules") || !body["rules"].is_array())
                 return InvalidArgument("'rules' must be an array of rules ([] clears them)");
               ASSIGN_OR_RETURN(auto rules, deploy::ParseRules(body["rules"].dump()));
               ASSIGN_OR_RETURN(deploy::Channel c,
                                svc->SetRules(collection, channel, rules, reason.value_or(""),
                                              Actor(req, f), force.value_or(false)));
               return Json({{"channel", ChannelJson(c, svc)}});
             }));
  router.Add(Method::kGet, admin + "channels/get", Access::kRead,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string channel, f.RequiredString("channel"));
               ASSIGN_OR_RETURN(deploy::Channel c, svc->GetChannel(collection, channel));
               return Json({{"channel", ChannelJson(c, svc)}});
             }));
  router.Add(
      Method::kPost, admin + "apps/contracts", Access::kAdmin, Sync([svc](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(Fields f, ReadFields(req));
        ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
        ASSIGN_OR_RETURN(std::string app_versions, f.RequiredString("app_versions"));
        json body = json::parse(req.body, nullptr, false);
        if (!body.is_object() || !body.contains("models") || !body["models"].is_object()) {
          return InvalidArgument(
              "'models' must be an object of model name -> interface (ringo inspect --json)");
        }
        std::map<std::string, std::string> interfaces;
        for (auto& [name, iface] : body["models"].items()) interfaces[name] = iface.dump();
        ASSIGN_OR_RETURN(deploy::Contract c,
                         svc->SetContract(collection, app_versions, interfaces, Actor(req, f)));
        return Json({{"contract", ContractJson(c)}});
      }));
  router.Add(Method::kGet, admin + "apps/contracts", Access::kRead,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(auto list, svc->ListContracts(collection));
               json arr = json::array();
               for (const auto& c : list) arr.push_back(ContractJson(c));
               return Json({{"contracts", arr}});
             }));
  router.Add(Method::kPost, admin + "apps/contracts/delete", Access::kAdmin,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string collection, f.RequiredString("collection"));
               ASSIGN_OR_RETURN(std::string app_versions, f.RequiredString("app_versions"));
               RETURN_IF_ERROR(svc->DeleteContract(collection, app_versions));
               return Json(json::object());
             }));
  router.Add(Method::kPost, admin + "webhooks", Access::kAdmin, Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string url, f.RequiredString("url"));
               ASSIGN_OR_RETURN(auto secret, f.String("secret"));
               ASSIGN_OR_RETURN(auto collection, f.String("collection"));
               ASSIGN_OR_RETURN(deploy::Webhook w,
                                svc->AddWebhook(url, secret.value_or(""), collection.value_or("")));
               return Json({{"webhook", WebhookJson(w)}});
             }));
  router.Add(Method::kGet, admin + "webhooks", Access::kAdmin, Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(auto collection, f.String("collection"));
               ASSIGN_OR_RETURN(auto list, svc->ListWebhooks(collection.value_or("")));
               json arr = json::array();
               for (const auto& w : list) arr.push_back(WebhookJson(w));
               return Json({{"webhooks", arr}});
             }));
  router.Add(Method::kPost, admin + "webhooks/delete", Access::kAdmin,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string id, f.RequiredString("id"));
               RETURN_IF_ERROR(svc->RemoveWebhook(id));
               return Json(json::object());
             }));
  router.Add(Method::kGet, admin + "telemetry", Access::kRead, Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string model, f.RequiredString("model"));
               ASSIGN_OR_RETURN(std::string version, f.RequiredString("version"));
               ASSIGN_OR_RETURN(auto limit_opt, f.Int64("max_results"));
               ASSIGN_OR_RETURN(auto token, f.String("page_token"));
               int64_t limit = limit_opt.value_or(10000);
               if (limit < 1 || limit > 100000)
                 return InvalidArgument("max_results must be between 1 and 100000");
               int64_t after = 0;
               if (token && !token->empty()) {
                 auto n = ParseInt64(*token);
                 if (!n || *n < 0) return InvalidArgument("invalid page_token '" + *token + "'");
                 after = *n;
               }
               // One more than asked says whether another page follows: no silent cut.
               ASSIGN_OR_RETURN(auto events, svc->Telemetry(model, version, after, limit + 1));
               bool more = static_cast<int64_t>(events.size()) > limit;
               if (more) events.resize(static_cast<size_t>(limit));
               json arr = json::array();
               for (const auto& e : events) arr.push_back(json::parse(e.value));
               json out = {{"events", arr}};
               if (more) out["next_page_token"] = std::to_string(events.back().seq);
               return Json(out);
             }));
  // Aggregates of every event of a version: what the telemetry page shows (true totals).
  router.Add(Method::kGet, admin + "telemetry/summary", Access::kRead,
             Sync([svc](const Request& req) -> Result<Response> {
               ASSIGN_OR_RETURN(Fields f, ReadFields(req));
               ASSIGN_OR_RETURN(std::string model, f.RequiredString("model"));
               ASSIGN_OR_RETURN(std::string version, f.RequiredString("version"));
               ASSIGN_OR_RETURN(auto device, f.String("device_class"));
               ASSIGN_OR_RETURN(auto buckets, f.Int64("buckets"));
               int64_t b = buckets.value_or(40);
               if (b < 1 || b > 1000) return InvalidArgument("buckets must be between 1 and 1000");
               ASSIGN_OR_RETURN(std::string body,
                                svc->TelemetrySummary(model, version, device.value_or(""),
                                                      static_cast<int>(b)));
               Response r;
               r.body = std::move(body);
               return r;
             }));

  // ---- device API ----
  const std::string device = "/api/deploy/v1/";
  router.Add(Method::kGet, device + "keys", Access::kAnyCaller, Sync([svc](const Request&) -> Result<Response> {
               return Json({{"algorithm", "Ed25519"}, {"public_key", svc->PublicKey()}});
             }));
  router.Add(
      Method::kGet, device + "collections/{collection}/channels/{channel}/manifest", Access::kDevice,
      HandleAsync([svc, waiters](const Request& req,
                                 Responder res) -> Result<std::optional<Response>> {
        std::string collection(req.PathParam("collection"));
        std::string channel(req.PathParam("channel"));
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
        ASSIGN_OR_RETURN(auto wait, f.Int64("wait"));
        if (wait && *wait < 0) return InvalidArgument("wait must be a number of seconds >= 0");
        std::string inm(req.Header("if-none-match"));
        uint64_t generation = waiters->generation();
        ASSIGN_OR_RETURN(deploy::Manifest m, svc->ManifestFor(collection, channel, q));
        if (wait && *wait > 0 && !inm.empty() && inm == m.etag) {
          // Unchanged: hold the request (not the thread) until it changes or the wait ends.
          auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::seconds(std::min<int64_t>(*wait, 300));
          waiters->Add(res, collection, channel, q, m.etag, deadline, generation);
          return std::optional<Response>();
        }
        return std::optional<Response>(ManifestResponse(std::move(m), inm));
      }));
  router.AddPrefix(
      Method::kGet, device + "blobs/", Access::kDevice, Sync([svc](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(auto path, svc->BlobPath(req.route_suffix));
        Response r = http::FileResponse(req, path.string(), "application/octet-stream");
        if (r.status == 404) return NotFound("no blob " + req.route_suffix);
        // Content-addressed: a blob never changes, so any cache may keep it forever.
        r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
        r.headers.emplace_back("ETag", "\"" + req.route_suffix + "\"");
        return r;
      }));
  router.Add(Method::kPost, device + "telemetry", Access::kDevice,
             Sync([svc](const Request& req) -> Result<Response> {
               RETURN_IF_ERROR(svc->RecordTelemetry(req.body));
               return Json(json::object());
             }));
  return waiters;
}

}  // namespace ringo::api
