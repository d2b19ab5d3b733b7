// Over-the-air delivery service: state in store documents, blobs on disk, Ed25519 manifests.
#include "deploy/deploy.h"
#include "deploy/service_impl.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/paths.h"
#include "common/util.h"
#include "coreml/coreml.h"
#include "registry/registry.h"
#include "webhooks/webhooks.h"

namespace ringo::deploy {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {


// The inspection recorded when the version was registered (the bytes are checked against the
// registered digest when they are packed). Versions registered before inspections were kept are
// inspected now. kInvalidArgument for a version that holds no readable Core ML model.
Result<json> RegisteredInterface(const store::ModelVersion& v, const fs::path& source,
                                 const std::string& version) {
  std::string summary = v.coreml;
  if (summary.empty()) {
    auto model = coreml::Load(source);
    if (!model.ok()) {
      return InvalidArgument("model '" + v.name + "' version " + version +
                             " is not a readable Core ML model: " + model.status().message());
    }
    summary = coreml::InfoToJson(coreml::Inspect(*model, source));
  }
  json iface = json::parse(summary, nullptr, false);
  if (!iface.is_object()) return Internal("version '" + version + "' holds a malformed summary");
  if (iface.contains("problem")) {
    return InvalidArgument("model '" + v.name + "' version " + version +
                           " is " + iface.value("problem", "not a readable Core ML model"));
  }
  return iface;
}

Status ValidName(const std::string& what, const std::string& name) {
  if (name.empty() || name.size() > 128)
    return InvalidArgument(what + " name must be 1 to 128 characters");
  for (unsigned char c : name) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) {
      return InvalidArgument("invalid " + what + " name '" + name +
                             "': use letters, digits, '-', '_' and '.'");
    }
  }
  return Status::Ok();
}

}  // namespace


Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() { Shutdown(); }

Result<std::unique_ptr<Service>> Service::Open(store::Store* store,
                                               artifacts::Repository* artifacts,
                                               const fs::path& dir) {
  auto impl = std::make_unique<Impl>();
  impl->store = store;
  impl->artifacts = artifacts;
  impl->dir = dir;
  std::error_code ec;
  fs::create_directories(dir / "blobs", ec);
  if (ec) return Internal("cannot create '" + (dir / "blobs").string() + "': " + ec.message());
  impl->signer = std::make_unique<Signer>(store, dir / "deploy_key.pem");
  RETURN_IF_ERROR(impl->signer->Load());
  Impl* raw = impl.get();
  impl->webhooks = std::make_unique<webhooks::Sender>([raw](const std::string& collection,
                                                            const std::string& payload) {
    std::vector<webhooks::Request> out;
    auto docs = raw->store->ListDocuments(kWebhook, "");
    if (!docs.ok()) return out;
    for (const auto& d : *docs) {
      json j = json::parse(d.value, nullptr, false);
      if (!j.is_object() || j.value("removed", false)) continue;
      std::string scope = j.value("collection", "");
      if (!scope.empty() && scope != collection) continue;
      webhooks::Request r{j.value("url", ""), payload, {}};
      std::string secret = j.value("secret", "");
      if (!secret.empty()) {
        r.headers.emplace_back("X-Ringo-Webhook-Signature",
                               "sha256=" + webhooks::HmacSha256Hex(secret, payload));
      }
      out.push_back(std::move(r));
    }
    return out;
  }, webhooks::StoreDeliveryLog(store, "delivery"), webhooks::Outbox{store, "delivery"});
  std::unique_ptr<Service> service(new Service(std::move(impl)));
  // Webhooks are one listener among others: the payload is built here, sent in the background.
  service->AddChangeListener([raw](const Channel& c, const HistoryEntry& h) {
    json payload = {{"collection", c.collection},
                    {"channel", c.name},
                    {"action", h.action},
                    {"from", h.from_deployment},
                    {"to", h.to_deployment},
                    {"rollout", h.rollout},
                    {"time", h.time},
                    {"actor", h.actor},
                    {"reason", h.reason},
                    {"forced", h.forced}};
    raw->webhooks->Enqueue(c.collection, payload.dump());
  });
  return service;
}

void Service::AddChangeListener(ChangeListener listener) {
  std::lock_guard lock(impl_->listeners_mu);
  impl_->listeners.push_back(std::move(listener));
}

void Service::AddChannelWatcher(ChannelWatcher watcher) {
  std::lock_guard lock(impl_->watch_mu);
  impl_->watchers.push_back(std::move(watcher));
  if (!impl_->watch_thread.joinable() && !impl_->watch_stop) {
    impl_->watch_thread = std::thread([raw = impl_.get()] { raw->WatchLoop(); });
  }
}

void Service::Shutdown() {
  if (impl_->webhooks) impl_->webhooks->Stop();
  {
    std::lock_guard lock(impl_->watch_mu);
    impl_->watch_stop = true;
  }
  impl_->watch_cv.notify_all();
  if (impl_->watch_thread.joinable()) impl_->watch_thread.join();
}

std::string Service::PublicKey() const { return impl_->signer->Keys().current; }

SigningKeys Service::Keys() const {
  Signer::PublicKeys k = impl_->signer->Keys();
  return SigningKeys{k.current, k.next};
}

Result<SigningKeys> Service::RotateKeys(bool finish) {
  RETURN_IF_ERROR(impl_->signer->Rotate(finish));
  {
    std::lock_guard lock(impl_->manifest_mu);
    impl_->manifests.clear();  // signed with the old keys
  }
  return Keys();
}

Status Service::SetManifestLifetime(int64_t seconds) {
  if (seconds < 60 || seconds > 366 * 24 * 3600) {
    return InvalidArgument("the manifest lifetime must be 60 s to a year, not " +
                           std::to_string(seconds) + " s");
  }
  impl_->manifest_lifetime_ms = seconds * 1000;
  return Status::Ok();
}

namespace {

Collection ToCollection(const json& j) {
  Collection c;
  c.name = j.value("name", "");
  c.models = j.value("models", std::vector<std::string>{});
  c.creation_time = j.value("creation_time", int64_t{0});
  return c;
}

Deployment ToDeployment(const json& j) {
  Deployment d;
  d.id = j.value("id", "");
  d.collection = j.value("collection", "");
  d.creation_time = j.value("creation_time", int64_t{0});
  for (const json& m : j.value("models", json::array())) {
    d.models.push_back(ModelEntry{m.value("name", ""), m.value("version", ""),
                                  m.value("sha256", ""), m.value("size", int64_t{0}),
                                  m.value("format", ""), m.value("interface_hash", ""),
                                  m.contains("interface") ? m["interface"].dump() : ""});
  }
  return d;
}

Channel ToChannel(const std::string& collection, const std::string& name, const json& j,
                  int64_t revision) {
  Channel c;
  c.collection = collection;
  c.name = name;
  c.deployment_id = j.value("deployment_id", "");
  c.previous_deployment_id = j.value("previous_deployment_id", "");
  c.rollout = j.value("rollout", 100);
  if (j.contains("rules")) {
    // Written by RulesToJson, so it parses; a hand-edited store falls back to no rules.
    auto rules = ParseRules(j["rules"].dump());
    if (rules.ok()) c.rules = std::move(rules).value();
  }
  c.updated_time = j.value("updated_time", int64_t{0});
  c.revision = revision;
  c.sequence = j.value("sequence", c.updated_time);
  return c;
}

}  // namespace

Result<Collection> Service::CreateCollection(const std::string& name,
                                             const std::vector<std::string>& models) {
  RETURN_IF_ERROR(ValidName("collection", name));
  if (models.empty()) return InvalidArgument("a collection needs at least one model");
  for (const auto& m : models) {
    auto rm = impl_->store->GetRegisteredModel(m);
    if (!rm.ok()) return NotFound("registered model '" + m + "' does not exist");
  }
  json j = {{"name", name}, {"models", models}, {"creation_time", NowMillis()}};
  auto put = impl_->Put(kCollection, name, j, 0);
  if (!put.ok()) {
    if (put.status().code() == Code::kFailedPrecondition)
      return AlreadyExists("collection '" + name + "' already exists");
    return put.status();
  }
  return ToCollection(j);
}

Result<Collection> Service::GetCollection(const std::string& name) {
  auto j = impl_->Get(kCollection, name);
  if (!j.ok()) {
    if (j.status().code() == Code::kNotFound)
      return NotFound("collection '" + name + "' does not exist");
    return j.status();
  }
  return ToCollection(*j);
}

Result<std::vector<Collection>> Service::ListCollections() {
  ASSIGN_OR_RETURN(auto docs, impl_->store->ListDocuments(kCollection, ""));
  std::vector<Collection> out;
  for (const auto& d : docs) out.push_back(ToCollection(json::parse(d.value)));
  return out;
}

Result<Deployment> Service::CreateDeployment(const std::string& collection,
                                             const std::map<std::string, std::string>& versions) {
  ASSIGN_OR_RETURN(Collection c, GetCollection(collection));
  for (const auto& [name, version] : versions) {
    if (std::find(c.models.begin(), c.models.end(), name) == c.models.end()) {
      return InvalidArgument("model '" + name + "' is not part of collection '" + collection + "'");
    }
  }
  json models = json::array();
  for (const std::string& name : c.models) {
    auto it = versions.find(name);
    if (it == versions.end()) {
      return InvalidArgument("deployment of '" + collection + "' names no version for model '" +
                             name + "'");
    }
    auto number = ParseInt64(it->second);
    if (!number)
      return InvalidArgument("version '" + it->second + "' of model '" + name +
                             "' is not a number");
    ASSIGN_OR_RETURN(store::ModelVersion v, impl_->store->GetModelVersion(name, *number));
    ASSIGN_OR_RETURN(fs::path source, impl_->ResolveSource(v.source));
    ASSIGN_OR_RETURN(json iface, RegisteredInterface(v, source, it->second));
    // The interface hash covers what an app binds to: features, labels, spec version.
    json contract = {{"inputs", iface["inputs"]},
                     {"outputs", iface["outputs"]},
                     {"class_labels", iface["class_labels"]},
                     {"specification_version", iface["specification_version"]}};
    ASSIGN_OR_RETURN(registry::Packed blob, impl_->StoreBlob(v, source, it->second));
    models.push_back({{"name", name},
                      {"version", it->second},
                      {"sha256", blob.sha256},
                      {"size", blob.size},
                      {"format", blob.format},
                      {"interface_hash", Sha256Hex(contract.dump())},
                      {"interface", iface}});
  }
  std::string id = "dep-" + NewId().substr(0, 16);
  json j = {
      {"id", id}, {"collection", collection}, {"creation_time", NowMillis()}, {"models", models}};
  ASSIGN_OR_RETURN(int64_t rev, impl_->Put(kDeployment, id, j, 0));
  (void)rev;
  return ToDeployment(j);
}

Result<Deployment> Service::GetDeployment(const std::string& id) {
  auto j = impl_->Get(kDeployment, id);
  if (!j.ok()) {
    if (j.status().code() == Code::kNotFound)
      return NotFound("deployment '" + id + "' does not exist");
    return j.status();
  }
  return ToDeployment(*j);
}

Result<Channel> Service::GetChannel(const std::string& collection, const std::string& channel) {
  int64_t revision = 0;
  auto j = impl_->Get(kChannel, collection + "/" + channel, &revision);
  if (!j.ok()) {
    if (j.status().code() == Code::kNotFound) {
      return NotFound("channel '" + channel + "' of collection '" + collection +
                      "' does not exist");
    }
    return j.status();
  }
  return ToChannel(collection, channel, *j, revision);
}

Result<std::vector<Channel>> Service::ListChannels(const std::string& collection) {
  ASSIGN_OR_RETURN(auto docs, impl_->store->ListDocuments(kChannel, collection + "/"));
  std::vector<Channel> out;
  for (const auto& d : docs) {
    out.push_back(ToChannel(collection, d.key.substr(collection.size() + 1), json::parse(d.value),
                            d.revision));
  }
  return out;
}

namespace {

// Writes a channel state and its history entry in one transaction; the revision check makes
// concurrent changes (from other server replicas) fail instead of overwriting each other.
Result<Channel> WriteChannel(Service::Impl& impl, const Channel& c, int64_t expected,
                             const HistoryEntry& h) {
  int64_t now = NowMillis();
  json state = {{"deployment_id", c.deployment_id},
                {"previous_deployment_id", c.previous_deployment_id},
                {"rollout", c.rollout},
                {"updated_time", now},
                {"sequence", std::max(c.sequence + 1, now)}};
  if (!c.rules.empty()) state["rules"] = json::parse(RulesToJson(c.rules));
  json event = {{"action", h.action},   {"from", h.from_deployment}, {"to", h.to_deployment},
                {"rollout", h.rollout}, {"actor", h.actor},          {"reason", h.reason},
                {"forced", h.forced}};
  if (h.action == "rules") event["rules"] = json::parse(h.rules.empty() ? "[]" : h.rules);
  if (!h.overridden.empty()) event["overridden"] = h.overridden;
  ASSIGN_OR_RETURN(int64_t rev,
                   impl.Put(kChannel, c.collection + "/" + c.name, state, expected, event.dump()));
  {
    std::lock_guard lock(impl.manifest_mu);
    impl.channels.erase(c.collection + "/" + c.name);
  }
  Channel out = c;
  out.revision = rev;
  out.updated_time = state["updated_time"];
  out.sequence = state["sequence"];
  HistoryEntry done = h;
  done.time = out.updated_time;
  impl.Notify(out, done);
  return out;
}

}  // namespace

namespace {

// Whether every version of `inner` lies in `outer`.
bool Covers(const VersionRange& outer, const VersionRange& inner) {
  if (!outer.min.empty()) {
    if (inner.min.empty()) return false;
    int c = *CompareVersions(inner.min, outer.min);
    if (c < 0 || (c == 0 && inner.min_inclusive && !outer.min_inclusive)) return false;
  }
  if (!outer.max.empty()) {
    if (inner.max.empty()) return false;
    int c = *CompareVersions(inner.max, outer.max);
    if (c > 0 || (c == 0 && inner.max_inclusive && !outer.max_inclusive)) return false;
  }
  return true;
}

// A rule that conditions on nothing but app versions takes those apps away from the channel's
// own deployment.
bool OnlyAppVersions(const Rule& r) {
  return !r.app_version.unbounded() && r.device_ids.empty() && r.device_classes.empty() &&
         r.os.empty() && r.os_version.unbounded() && r.regions.empty() && r.languages.empty();
}

Contract ToContract(const std::string& collection, const json& j) {
  Contract c;
  c.collection = collection;
  auto range = ParseVersionRange(j.value("app_versions", "*"));
  if (range.ok()) c.app_versions = *range;
  json interfaces = j.value("interfaces", json::object());
  for (auto& [name, iface] : interfaces.items()) c.interfaces[name] = iface.dump();
  c.creation_time = j.value("creation_time", int64_t{0});
  c.actor = j.value("actor", "");
  return c;
}

// The interface gate: the breaking changes of deployment `d` against each contract whose app
// versions `serves` says the deployment reaches.
Result<std::vector<std::string>> BreakingChanges(
    Service& svc, Service::Impl& impl, const Deployment& d,
    const std::function<bool(const VersionRange&)>& serves) {
  ASSIGN_OR_RETURN(std::vector<Contract> contracts, svc.ListContracts(d.collection));
  std::vector<std::string> out;
  for (const Contract& contract : contracts) {
    if (!serves(contract.app_versions)) continue;
    for (const ModelEntry& m : d.models) {
      auto it = contract.interfaces.find(m.name);
      if (it == contract.interfaces.end()) continue;
      std::string now = m.interface;
      if (now.empty()) {
        // Deployments made before interfaces were kept: inspect the registered version again.
        ASSIGN_OR_RETURN(store::ModelVersion v,
                         impl.store->GetModelVersion(m.name, ParseInt64(m.version).value_or(0)));
        ASSIGN_OR_RETURN(fs::path source, impl.ResolveSource(v.source));
        ASSIGN_OR_RETURN(coreml::Model model, coreml::Load(source));
        now = coreml::InfoToJson(coreml::Inspect(model, source));
      }
      ASSIGN_OR_RETURN(coreml::Info built_against, coreml::InfoFromJson(it->second));
      ASSIGN_OR_RETURN(coreml::Info candidate, coreml::InfoFromJson(now));
      coreml::Diff diff = coreml::CompareInterfaces(built_against, candidate);
      for (const coreml::Change& change : diff.changes) {
        if (!change.breaking) continue;
        out.push_back("model '" + m.name + "' version " + m.version + " for app versions " +
                      contract.app_versions.ToString() + ": " + change.what);
      }
    }
  }
  return out;
}

Status GateVerdict(const std::string& what, const std::vector<std::string>& breaking, bool force) {
  if (breaking.empty() || force) return Status::Ok();
  std::string msg = what + " the interface apps were built against: ";
  for (size_t i = 0; i < breaking.size(); ++i) msg += (i ? "; " : "") + breaking[i];
  return FailedPrecondition(msg + " (force with a reason to promote anyway)");
}

}  // namespace

Result<Channel> Service::Promote(const std::string& collection, const std::string& channel,
                                 const std::string& deployment_id, int rollout,
                                 const std::string& reason, const std::string& actor, bool force) {
  RETURN_IF_ERROR(ValidName("channel", channel));
  if (rollout < 1 || rollout > 100)
    return InvalidArgument("rollout must be between 1 and 100 percent");
  if (force && reason.empty())
    return InvalidArgument("--force needs a --reason, which is recorded");
  // The collection first: a typo in its name must be reported as that, not as a deployment
  // that belongs elsewhere.
  RETURN_IF_ERROR(GetCollection(collection).status());
  ASSIGN_OR_RETURN(Deployment d, GetDeployment(deployment_id));
  if (d.collection != collection) {
    return InvalidArgument("deployment '" + deployment_id + "' belongs to collection '" +
                           d.collection + "'");
  }
  std::lock_guard lock(impl_->mu);
  Channel c;
  c.collection = collection;
  c.name = channel;
  int64_t expected = 0;
  auto current = GetChannel(collection, channel);
  if (current.ok()) {
    c = *current;
    expected = current->revision;
  } else if (current.status().code() != Code::kNotFound) {
    return current.status();
  }
  if (c.deployment_id == deployment_id) {
    return FailedPrecondition("channel '" + channel + "' already serves deployment '" +
                              deployment_id + "'");
  }
  // The channel's own deployment reaches every app version except those a rule on app
  // versions alone takes away.
  ASSIGN_OR_RETURN(auto breaking, BreakingChanges(*this, *impl_, d, [&c](const VersionRange& apps) {
                     for (const Rule& r : c.rules) {
                       if (OnlyAppVersions(r) && Covers(r.app_version, apps)) return false;
                     }
                     return true;
                   }));
  RETURN_IF_ERROR(GateVerdict("deployment '" + deployment_id + "' breaks", breaking, force));
  HistoryEntry h;
  h.action = "promote";
  h.from_deployment = c.deployment_id;
  h.to_deployment = deployment_id;
  h.actor = actor;
  h.reason = reason;
  h.forced = force;
  h.overridden = breaking;
  c.previous_deployment_id = c.deployment_id;
  c.deployment_id = deployment_id;
  c.rollout = c.previous_deployment_id.empty() ? 100 : rollout;
  h.rollout = c.rollout;
  return WriteChannel(*impl_, c, expected, h);
}

Result<Channel> Service::SetRules(const std::string& collection, const std::string& channel,
                                  const std::vector<Rule>& rules, const std::string& reason,
                                  const std::string& actor, bool force) {
  if (force && reason.empty())
    return InvalidArgument("--force needs a --reason, which is recorded");
  std::vector<std::string> breaking;
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    auto d = GetDeployment(r.deployment_id);
    if (!d.ok()) {
      return d.status().code() == Code::kNotFound
                 ? NotFound("rule " + std::to_string(i + 1) + ": deployment '" + r.deployment_id +
                            "' does not exist")
                 : d.status();
    }
    if (d->collection != collection) {
      return InvalidArgument("rule " + std::to_string(i + 1) + ": deployment '" + r.deployment_id +
                             "' belongs to collection '" + d->collection + "'");
    }
    // A rule's deployment reaches only the app versions the rule lets through.
    ASSIGN_OR_RETURN(auto changes, BreakingChanges(*this, *impl_, *d, [&r](const VersionRange& a) {
                       return r.app_version.Overlaps(a);
                     }));
    for (auto& change : changes) {
      breaking.push_back("rule " + std::to_string(i + 1) + ": " + change);
    }
  }
  RETURN_IF_ERROR(GateVerdict("the rules break", breaking, force));
  std::lock_guard lock(impl_->mu);
  ASSIGN_OR_RETURN(Channel c, GetChannel(collection, channel));
  int64_t expected = c.revision;
  HistoryEntry h;
  h.action = "rules";
  h.from_deployment = c.deployment_id;
  h.to_deployment = c.deployment_id;
  h.rollout = c.rollout;
  h.actor = actor;
  h.reason = reason;
  h.forced = force;
  h.rules = RulesToJson(rules);
  h.overridden = breaking;
  c.rules = rules;
  return WriteChannel(*impl_, c, expected, h);
}

Result<Contract> Service::SetContract(const std::string& collection,
                                      const std::string& app_versions,
                                      const std::map<std::string, std::string>& interfaces,
                                      const std::string& actor) {
  ASSIGN_OR_RETURN(Collection coll, GetCollection(collection));
  ASSIGN_OR_RETURN(VersionRange range, ParseVersionRange(app_versions));
  if (interfaces.empty()) return InvalidArgument("a contract needs at least one model interface");
  json j = {{"app_versions", range.ToString()},
            {"interfaces", json::object()},
            {"creation_time", NowMillis()},
            {"actor", actor}};
  for (const auto& [name, iface] : interfaces) {
    if (std::find(coll.models.begin(), coll.models.end(), name) == coll.models.end()) {
      return InvalidArgument("model '" + name + "' is not part of collection '" + collection + "'");
    }
    auto info = coreml::InfoFromJson(iface);
    if (!info.ok()) {
      return InvalidArgument("interface of model '" + name + "': " + info.status().message());
    }
    j["interfaces"][name] = json::parse(iface);
  }
  ASSIGN_OR_RETURN(int64_t rev, impl_->Put(kContract, collection + "/" + range.ToString(), j, -1));
  (void)rev;
  return ToContract(collection, j);
}

Result<std::vector<Contract>> Service::ListContracts(const std::string& collection) {
  ASSIGN_OR_RETURN(Collection coll, GetCollection(collection));
  (void)coll;
  ASSIGN_OR_RETURN(auto docs, impl_->store->ListDocuments(kContract, collection + "/"));
  std::vector<Contract> out;
  for (const auto& d : docs) {
    json j = json::parse(d.value, nullptr, false);
    // The store has no deletion of documents: a removed contract is a tombstone.
    if (!j.is_object() || j.value("removed", false)) continue;
    out.push_back(ToContract(collection, j));
  }
  return out;
}

Status Service::DeleteContract(const std::string& collection, const std::string& app_versions) {
  ASSIGN_OR_RETURN(VersionRange range, ParseVersionRange(app_versions));
  std::string key = collection + "/" + range.ToString();
  int64_t revision = 0;
  auto j = impl_->Get(kContract, key, &revision);
  if (!j.ok() || j->value("removed", false)) {
    return NotFound("collection '" + collection + "' has no contract for app versions " +
                    range.ToString());
  }
  return impl_->Put(kContract, key, json{{"removed", true}}, revision).status();
}

Result<Webhook> Service::AddWebhook(const std::string& url, const std::string& secret,
                                    const std::string& collection) {
  RETURN_IF_ERROR(webhooks::CheckDestination(url));
  if (!collection.empty()) RETURN_IF_ERROR(GetCollection(collection).status());
  Webhook w{"wh-" + NewId().substr(0, 16), url, collection, !secret.empty(), NowMillis()};
  json j = {{"id", w.id},
            {"url", url},
            {"secret", secret},
            {"collection", collection},
            {"creation_time", w.creation_time}};
  RETURN_IF_ERROR(impl_->Put(kWebhook, w.id, j, 0).status());
  return w;
}

Result<std::vector<Webhook>> Service::ListWebhooks(const std::string& collection) {
  ASSIGN_OR_RETURN(auto docs, impl_->store->ListDocuments(kWebhook, ""));
  std::vector<Webhook> out;
  for (const auto& d : docs) {
    json j = json::parse(d.value, nullptr, false);
    if (!j.is_object() || j.value("removed", false)) continue;
    Webhook w{j.value("id", ""), j.value("url", ""), j.value("collection", ""),
              !j.value("secret", "").empty(), j.value("creation_time", int64_t{0})};
    if (!collection.empty() && !w.collection.empty() && w.collection != collection) continue;
    out.push_back(std::move(w));
  }
  return out;
}

Status Service::RemoveWebhook(const std::string& id) {
  int64_t revision = 0;
  auto j = impl_->Get(kWebhook, id, &revision);
  if (!j.ok() || j->value("removed", false)) return NotFound("webhook '" + id + "' does not exist");
  return impl_->Put(kWebhook, id, json{{"id", id}, {"removed", true}}, revision).status();
}

Result<Channel> Service::SetRollout(const std::string& collection, const std::string& channel,
                                    int rollout, const std::string& reason,
                                    const std::string& actor) {
  if (rollout < 1 || rollout > 100)
    return InvalidArgument("rollout must be between 1 and 100 percent");
  std::lock_guard lock(impl_->mu);
  ASSIGN_OR_RETURN(Channel c, GetChannel(collection, channel));
  int64_t expected = c.revision;
  HistoryEntry h;
  h.action = rollout == 100 ? "complete" : "rollout";
  h.from_deployment = c.deployment_id;
  h.to_deployment = c.deployment_id;
  h.rollout = rollout;
  h.actor = actor;
  h.reason = reason;
  c.rollout = rollout;
  return WriteChannel(*impl_, c, expected, h);
}

Result<Channel> Service::Rollback(const std::string& collection, const std::string& channel,
                                  const std::string& reason, const std::string& actor) {
  std::lock_guard lock(impl_->mu);
  ASSIGN_OR_RETURN(Channel c, GetChannel(collection, channel));
  if (c.previous_deployment_id.empty()) {
    return FailedPrecondition("channel '" + channel +
                              "' has no previous deployment to roll back to");
  }
  int64_t expected = c.revision;
  // No interface gate: the previous deployment was already served, and a rollback must always
  // be possible.
  HistoryEntry h;
  h.action = "rollback";
  h.from_deployment = c.deployment_id;
  h.to_deployment = c.previous_deployment_id;
  h.actor = actor;
  h.reason = reason;
  std::swap(c.deployment_id, c.previous_deployment_id);
  c.rollout = 100;
  return WriteChannel(*impl_, c, expected, h);
}

Result<std::vector<HistoryEntry>> Service::History(const std::string& collection,
                                                   const std::string& channel) {
  ASSIGN_OR_RETURN(Channel c, GetChannel(collection, channel));
  (void)c;
  ASSIGN_OR_RETURN(auto events,
                   impl_->store->ListEvents(kChannel, collection + "/" + channel, 0, 100000));
  std::vector<HistoryEntry> out;
  for (const auto& e : events) {
    json j = json::parse(e.value);
    HistoryEntry h{e.time,
                   j.value("action", ""),
                   j.value("from", ""),
                   j.value("to", ""),
                   j.value("rollout", 100),
                   j.value("actor", ""),
                   j.value("reason", ""),
                   j.value("forced", false),
                   j.contains("rules") ? j["rules"].dump() : "",
                   j.value("overridden", std::vector<std::string>{})};
    out.push_back(std::move(h));
  }
  return out;
}

bool Service::InRollout(const std::string& collection, const std::string& channel,
                        const std::string& device_id, int rollout) {
  if (rollout >= 100) return true;
  if (device_id.empty()) return false;  // unidentified devices stay on the previous deployment
  std::string h = Sha256Hex(collection + "/" + channel + "/" + device_id);
  uint32_t bucket = static_cast<uint32_t>(std::stoul(h.substr(0, 8), nullptr, 16)) % 100;
  return bucket < static_cast<uint32_t>(rollout);
}

Result<std::shared_ptr<const Manifest>> Service::ManifestFor(const std::string& collection,
                                                             const std::string& channel,
                                                             const DeviceQuery& device) {
  // The keys are built in a buffer each I/O thread keeps: a device's poll allocates nothing
  // once its channel's manifest is cached.
  thread_local std::string key;
  key.assign(collection).append("/").append(channel);
  auto now = std::chrono::steady_clock::now();
  std::shared_ptr<const Channel> cached;
  {
    std::lock_guard lock(impl_->manifest_mu);
    auto it = impl_->channels.find(key);
    if (it != impl_->channels.end() && now - it->second.loaded < std::chrono::milliseconds(250)) {
      cached = it->second.channel;
    }
  }
  if (!cached) {
    ASSIGN_OR_RETURN(Channel loaded, GetChannel(collection, channel));
    cached = std::make_shared<const Channel>(std::move(loaded));
    std::lock_guard lock(impl_->manifest_mu);
    if (impl_->channels.size() > 10000) impl_->channels.clear();
    impl_->channels[key] = Impl::CachedChannel{cached, now};
  }
  const Channel& c = *cached;
  const std::string* id = &c.deployment_id;
  int rule = MatchRule(c.rules, device);
  if (rule >= 0) {
    id = &c.rules[static_cast<size_t>(rule)].deployment_id;
  } else if (!c.previous_deployment_id.empty() &&
             !InRollout(collection, channel, device.device_id, c.rollout)) {
    id = &c.previous_deployment_id;
  }
  // A manifest is a pure function of the channel's state, the deployment and the issue window,
  // so each is built and signed once; each request then costs one channel read. Its ETag only
  // changes when the device should act, or once a window to renew the expiry.
  if (impl_->signer->Refresh()) {
    std::lock_guard lock(impl_->manifest_mu);
    impl_->manifests.clear();  // another server rotated the keys
  }
  const int64_t lifetime = impl_->manifest_lifetime_ms;
  const int64_t window = std::max<int64_t>(lifetime / 7, 1000);
  const int64_t issued = NowMillis() / window * window;
  char num[24];
  key.append("/").append(*id).append("/");
  key.append(num, std::to_chars(num, num + sizeof num, c.sequence).ptr).append("/");
  key.append(num, std::to_chars(num, num + sizeof num, issued).ptr);
  {
    std::lock_guard lock(impl_->manifest_mu);
    auto it = impl_->manifests.find(key);
    if (it != impl_->manifests.end()) return it->second;
  }
  return BuildManifest(collection, channel, *id, c.sequence, issued, key);
}

Result<std::shared_ptr<const Manifest>> Service::BuildManifest(
    const std::string& collection, const std::string& channel, const std::string& id,
    int64_t sequence, int64_t issued, const std::string& cache_key) {
  const int64_t lifetime = impl_->manifest_lifetime_ms;
  ASSIGN_OR_RETURN(Deployment d, GetDeployment(id));
  json models = json::array();
  for (const ModelEntry& m : d.models) {
    models.push_back({{"name", m.name},
                      {"version", m.version},
                      {"sha256", m.sha256},
                      {"size", m.size},
                      {"format", m.format},
                      {"url", "/api/deploy/v1/blobs/" + m.sha256},
                      {"interface_hash", m.interface_hash}});
  }
  json body = {{"collection", collection}, {"channel", channel},         {"deployment_id", id},
               {"models", models},         {"sequence", sequence},       {"issued_at", issued},
               {"expires_at", issued + lifetime}};
  Manifest out;
  out.body = body.dump();
  out.etag = "\"" + Sha256Hex(out.body).substr(0, 32) + "\"";
  Signer::Signatures sig = impl_->signer->Sign(out.body);
  out.signature = std::move(sig.current);
  out.next_signature = std::move(sig.next);
  out.deployment_id = id;
  auto shared = std::make_shared<const Manifest>(std::move(out));
  std::lock_guard lock(impl_->manifest_mu);
  if (impl_->manifests.size() > 10000) impl_->manifests.clear();
  impl_->manifests[cache_key] = shared;
  return shared;
}

namespace {

Status CheckDigest(const std::string& sha256) {
  if (sha256.size() != 64 || sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return InvalidArgument("'" + sha256 + "' is not a sha256 digest");
  }
  return Status::Ok();
}

}  // namespace

Status Service::SetBlobRedirect(int64_t seconds, const std::string& endpoint_url) {
  if (seconds == 0) return Status::Ok();
  if (!impl_->artifacts->IsShared()) {
    return FailedPrecondition("blob redirects need artifacts in an object store "
                              "(--artifacts-destination s3://...)");
  }
  // Signing once checks the duration and the endpoint before the first device asks.
  RETURN_IF_ERROR(
      impl_->artifacts->PresignGet(Impl::SharedBlobPath(std::string(64, '0')), seconds,
                                   endpoint_url).status());
  impl_->redirect_seconds = seconds;
  impl_->redirect_endpoint = endpoint_url;
  return Status::Ok();
}

Result<std::optional<std::string>> Service::BlobRedirect(const std::string& sha256) {
  RETURN_IF_ERROR(CheckDigest(sha256));
  if (impl_->redirect_seconds == 0) return std::optional<std::string>();
  std::string key = Impl::SharedBlobPath(sha256);
  bool known;
  {
    std::lock_guard lock(impl_->redirect_mu);
    known = impl_->blobs_in_bucket.count(sha256) > 0;
  }
  if (!known) {
    // One listing per blob and server: blobs never change once stored.
    bool is_file = false;
    ASSIGN_OR_RETURN(auto entries, impl_->artifacts->List(key, &is_file));
    if (!is_file) return std::optional<std::string>();
    std::lock_guard lock(impl_->redirect_mu);
    impl_->blobs_in_bucket.insert(sha256);
  }
  ASSIGN_OR_RETURN(std::string url, impl_->artifacts->PresignGet(key, impl_->redirect_seconds,
                                                                 impl_->redirect_endpoint));
  return std::optional<std::string>(std::move(url));
}

Result<fs::path> Service::BlobPath(const std::string& sha256) const {
  RETURN_IF_ERROR(CheckDigest(sha256));
  fs::path p = impl_->dir / "blobs" / sha256;
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p;
  if (impl_->artifacts->IsShared()) {
    // A deployment made by another server sharing the store: its blob is in the repository.
    ASSIGN_OR_RETURN(fs::path shared, impl_->artifacts->Resolve(Impl::SharedBlobPath(sha256)));
    if (fs::is_regular_file(shared, ec)) return shared;
  }
  return NotFound("no blob " + sha256);
}

}  // namespace ringo::deploy
