// Over-the-air delivery service: state in store documents, blobs on disk, Ed25519 manifests.
#include "deploy/deploy.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
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

constexpr const char* kCollection = "collection";
constexpr const char* kDeployment = "deployment";
constexpr const char* kChannel = "channel";
constexpr const char* kTelemetry = "telemetry";
// The event types a device reports, in the order the UI shows them.
// "feedback" carries the true label's verdict on an earlier prediction ("correct"), reported by
// the app once it knows it: on-device accuracy.
const std::vector<std::string> kTelemetryKinds = {"downloaded", "compiled", "loaded", "failed",
                                                  "prediction", "feedback"};
constexpr const char* kContract = "contract";
constexpr const char* kWebhook = "webhook";

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

struct Service::Impl {
  store::Store* store;
  artifacts::LocalRepository* artifacts;
  fs::path dir;
  EVP_PKEY* key = nullptr;
  std::string public_key;
  std::mutex mu;  // serialises read-modify-write of channels within this process
  std::mutex manifest_mu;
  std::map<std::string, Manifest> manifests;  // collection/channel/deployment -> signed manifest
  // Channel states for manifest requests, kept 250 ms: devices poll far more often than channels
  // change. Changes made here drop the entry at once; other replicas' show within 250 ms.
  struct CachedChannel {
    Channel channel;
    std::chrono::steady_clock::time_point loaded;
  };
  std::map<std::string, CachedChannel> channels;
  std::mutex listeners_mu;
  std::vector<ChangeListener> listeners;
  std::unique_ptr<webhooks::Sender> webhooks;

  ~Impl() { EVP_PKEY_free(key); }

  void Notify(const Channel& c, const HistoryEntry& h) {
    std::vector<ChangeListener> copy;
    {
      std::lock_guard lock(listeners_mu);
      copy = listeners;
    }
    for (const auto& l : copy) l(c, h);
  }

  template <typename T>
  Result<T> Wait(const std::function<void(store::DoneWith<T>)>& start) {
    return store::WaitFor<T>(start);
  }

  Result<int64_t> Put(const std::string& kind, const std::string& key, const json& value,
                      int64_t expected, const std::string& event = "") {
    return Wait<int64_t>([&](store::DoneWith<int64_t> done) {
      store->PutDocument(kind, key, value.dump(), expected, event, std::move(done));
    });
  }

  Result<json> Get(const std::string& kind, const std::string& key, int64_t* revision = nullptr) {
    ASSIGN_OR_RETURN(store::Document d, store->GetDocument(kind, key));
    if (revision) *revision = d.revision;
    try {
      return json::parse(d.value);
    } catch (const std::exception& e) {
      return Internal(kind + " '" + key + "' holds malformed JSON: " + e.what());
    }
  }

  Status LoadKey() {
    fs::path path = dir / "deploy_key.pem";
    std::error_code ec;
    if (fs::exists(path, ec)) {
      FILE* f = std::fopen(path.c_str(), "r");
      if (!f) return Internal("cannot read the signing key '" + path.string() + "'");
      key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
      std::fclose(f);
      if (!key) return Internal("the signing key '" + path.string() + "' is not a PEM private key");
    } else {
      EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
      if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &key) <= 0) {
        EVP_PKEY_CTX_free(ctx);
        return Internal("cannot generate an Ed25519 key");
      }
      EVP_PKEY_CTX_free(ctx);
      BIO* bio = BIO_new(BIO_s_mem());
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
      char* data = nullptr;
      long len = BIO_get_mem_data(bio, &data);
      std::string pem(data, static_cast<size_t>(len));
      BIO_free(bio);
      RETURN_IF_ERROR(WriteFileAtomic(path, pem));
      fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
    }
    unsigned char raw[32];
    size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1)
      return Internal("the signing key is not Ed25519");
    public_key = Base64Encode(std::string_view(reinterpret_cast<char*>(raw), len));
    return Status::Ok();
  }

  std::string Sign(std::string_view body) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t len = sizeof sig;
    std::string out;
    if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
        EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(body.data()),
                       body.size()) == 1) {
      out = Base64Encode(std::string_view(reinterpret_cast<char*>(sig), len));
    }
    EVP_MD_CTX_free(ctx);
    return out;
  }

  // The artifact-store path a registry source refers to.
  Result<fs::path> ResolveSource(const std::string& source) {
    return registry::ResolveModelSource(store, artifacts, source);
  }

  // Packs a version's model into the content-addressed blob directory in one pass: the archive
  // streams to a temporary file while its digests are taken; what ships must be what was
  // registered, so a model changed on disk since (by anyone able to write artifacts) is refused
  // and leaves nothing behind. Versions registered before digests were recorded have none.
  Result<registry::Packed> StoreBlob(const store::ModelVersion& v, const fs::path& source,
                                     const std::string& version) {
    fs::path tmp = dir / "blobs" / (".tmp-" + NewId());
    std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
    if (!file) return Internal("cannot write '" + tmp.string() + "'");
    auto packed = registry::PackModel(source, [&file](std::string_view bytes) {
      file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      return file ? Status::Ok() : Internal("cannot write a blob: disk full?");
    });
    file.close();
    std::error_code ec;
    const std::string& registered = packed.ok() && packed->format == "mlmodel" ? v.sha256
                                                                               : v.tree_sha256;
    Status s = !packed.ok() ? packed.status()
               : file.fail() ? Internal("cannot write '" + tmp.string() + "'")
               : (!registered.empty() && packed->content_digest != registered)
                   ? FailedPrecondition("model '" + v.name + "' version " + version +
                                        " changed on disk since it was registered: content hash " +
                                        packed->content_digest + " does not match the registered " +
                                        registered + "; register the model again to deploy it")
                   : Status::Ok();
    if (s.ok()) {
      fs::rename(tmp, dir / "blobs" / packed->sha256, ec);
      if (ec) s = Internal("cannot store a blob: " + ec.message());
    }
    if (!s.ok()) {
      fs::remove(tmp, ec);
      return s;
    }
    return *packed;
  }
};

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() { Shutdown(); }

Result<std::unique_ptr<Service>> Service::Open(store::Store* store,
                                               artifacts::LocalRepository* artifacts,
                                               const fs::path& dir) {
  auto impl = std::make_unique<Impl>();
  impl->store = store;
  impl->artifacts = artifacts;
  impl->dir = dir;
  std::error_code ec;
  fs::create_directories(dir / "blobs", ec);
  if (ec) return Internal("cannot create '" + (dir / "blobs").string() + "': " + ec.message());
  RETURN_IF_ERROR(impl->LoadKey());
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
  });
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

void Service::Shutdown() {
  if (impl_->webhooks) impl_->webhooks->Stop();
}

std::string Service::PublicKey() const { return impl_->public_key; }

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
  json state = {{"deployment_id", c.deployment_id},
                {"previous_deployment_id", c.previous_deployment_id},
                {"rollout", c.rollout},
                {"updated_time", NowMillis()}};
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
  RETURN_IF_ERROR(webhooks::ParseHttpUrl(url).status());
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

Result<Manifest> Service::ManifestFor(const std::string& collection, const std::string& channel,
                                      const DeviceQuery& device) {
  Channel c;
  const std::string channel_key = collection + "/" + channel;
  auto now = std::chrono::steady_clock::now();
  bool cached = false;
  {
    std::lock_guard lock(impl_->manifest_mu);
    auto it = impl_->channels.find(channel_key);
    if (it != impl_->channels.end() && now - it->second.loaded < std::chrono::milliseconds(250)) {
      c = it->second.channel;
      cached = true;
    }
  }
  if (!cached) {
    ASSIGN_OR_RETURN(c, GetChannel(collection, channel));
    std::lock_guard lock(impl_->manifest_mu);
    if (impl_->channels.size() > 10000) impl_->channels.clear();
    impl_->channels[channel_key] = Impl::CachedChannel{c, now};
  }
  std::string id = c.deployment_id;
  int rule = MatchRule(c.rules, device);
  if (rule >= 0) {
    id = c.rules[static_cast<size_t>(rule)].deployment_id;
  } else if (!c.previous_deployment_id.empty() &&
             !InRollout(collection, channel, device.device_id, c.rollout)) {
    id = c.previous_deployment_id;
  }
  // Deployments are immutable, so the manifest for (collection, channel, deployment) never
  // changes: build and sign it once. Each request then costs one channel read.
  std::string cache_key = collection + "/" + channel + "/" + id;
  {
    std::lock_guard lock(impl_->manifest_mu);
    auto it = impl_->manifests.find(cache_key);
    if (it != impl_->manifests.end()) return it->second;
  }
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
  // No timestamps: the body is a pure function of what the device should run, so its ETag only
  // changes when that does.
  json body = {
      {"collection", collection}, {"channel", channel}, {"deployment_id", id}, {"models", models}};
  Manifest out;
  out.body = body.dump();
  out.etag = "\"" + Sha256Hex(out.body).substr(0, 32) + "\"";
  out.signature = impl_->Sign(out.body);
  out.deployment_id = id;
  std::lock_guard lock(impl_->manifest_mu);
  if (impl_->manifests.size() > 10000) impl_->manifests.clear();
  impl_->manifests[cache_key] = out;
  return out;
}

Result<fs::path> Service::BlobPath(const std::string& sha256) const {
  if (sha256.size() != 64 || sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return InvalidArgument("'" + sha256 + "' is not a sha256 digest");
  }
  fs::path p = impl_->dir / "blobs" / sha256;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return NotFound("no blob " + sha256);
  return p;
}

namespace {

// Telemetry comes from device tokens, which ship inside apps: anyone can send it. Each event is
// rebuilt from the fields below, each checked for type and size; anything else is dropped.
constexpr int kTelemetryMaxDepth = 8;
struct TelemetryStringField {
  const char* name;
  size_t max_size;
  bool required;
};
constexpr TelemetryStringField kTelemetryStrings[] = {
    {"event", 32, true},        {"model", 256, true},       {"version", 64, true},
    {"device_class", 64, false}, {"os", 32, false},          {"os_version", 32, false},
    {"app_version", 32, false},  {"region", 16, false},      {"compute_unit", 32, false},
    {"error", 1024, false},
};

Result<json> CleanTelemetryEvent(const json& e, size_t index) {
  std::string where = "telemetry event " + std::to_string(index);
  if (!e.is_object()) return InvalidArgument(where + " is not an object");
  json out = json::object();
  for (const TelemetryStringField& f : kTelemetryStrings) {
    auto it = e.find(f.name);
    if (it == e.end() || it->is_null()) {
      if (f.required) return InvalidArgument(where + " lacks the string field '" + f.name + "'");
      continue;
    }
    if (!it->is_string()) return InvalidArgument(where + ": '" + f.name + "' must be a string");
    std::string v = it->get<std::string>();
    if (f.required && v.empty()) {
      return InvalidArgument(where + " lacks the string field '" + f.name + "'");
    }
    if (v.size() > f.max_size) {
      return InvalidArgument(where + ": '" + f.name + "' is longer than " +
                             std::to_string(f.max_size) + " bytes");
    }
    out[f.name] = std::move(v);
  }
  const std::string& event = out["event"].get_ref<const std::string&>();
  if (std::find(kTelemetryKinds.begin(), kTelemetryKinds.end(), event) == kTelemetryKinds.end()) {
    return InvalidArgument(where + " has unknown event '" + event +
                           "' (downloaded, compiled, loaded, failed, prediction, feedback)");
  }
  if (auto it = e.find("correct"); it != e.end() && !it->is_null()) {
    if (!it->is_boolean()) return InvalidArgument(where + ": correct must be true or false");
    out["correct"] = it->get<bool>();
  } else if (event == "feedback") {
    return InvalidArgument(where + ": a feedback event needs correct (true or false)");
  }
  if (auto it = e.find("latency_ms"); it != e.end() && !it->is_null()) {
    double v = it->is_number() ? it->get<double>() : -1;
    if (!it->is_number() || !std::isfinite(v) || v < 0 || v > 1e9) {
      return InvalidArgument(where + ": latency_ms must be a number of milliseconds >= 0");
    }
    out["latency_ms"] = v;
  }
  if (auto it = e.find("time"); it != e.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return InvalidArgument(where + ": time must be milliseconds since the epoch");
    }
    out["time"] = it->get<int64_t>();
  } else {
    out["time"] = NowMillis();
  }
  return out;
}

}  // namespace

Result<std::vector<TelemetryEvent>> ParseTelemetry(std::string_view body) {
  if (!JsonDepthWithin(body, kTelemetryMaxDepth)) {
    return InvalidArgument("telemetry nests deeper than " + std::to_string(kTelemetryMaxDepth) +
                           " levels; events are flat objects");
  }
  json events = json::parse(body, nullptr, false);
  if (events.is_discarded()) return InvalidArgument("telemetry is not JSON");
  if (events.is_object() && events.contains("events")) events = std::move(events["events"]);
  if (!events.is_array())
    return InvalidArgument("telemetry must be a JSON array of events (or {\"events\": [...]})");
  if (events.size() > 1000) return InvalidArgument("at most 1000 telemetry events per request");
  std::vector<TelemetryEvent> out;
  out.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    ASSIGN_OR_RETURN(json e, CleanTelemetryEvent(events[i], i));
    out.push_back({e["model"].get<std::string>(), e["version"].get<std::string>(), e.dump()});
  }
  return out;
}

Status Service::RecordTelemetry(const std::string& events_json) {
  ASSIGN_OR_RETURN(std::vector<TelemetryEvent> events, ParseTelemetry(events_json));
  if (events.empty()) return Status::Ok();
  // The whole batch is queued at once (the store's one writer keeps the order and commits them
  // together), then waited for: one round trip per request, not one per event.
  struct Batch {
    std::mutex mu;
    size_t left = 0;
    Status first;
    store::Done done;
  };
  return store::Wait([&](store::Done done) {
    auto batch = std::make_shared<Batch>();
    batch->left = events.size();
    batch->done = std::move(done);
    for (TelemetryEvent& e : events) {
      impl_->store->AppendEvent(kTelemetry, e.model + "/" + e.version, std::move(e.json),
                                [batch](Status s) {
                                  std::unique_lock lock(batch->mu);
                                  if (!s.ok() && batch->first.ok()) batch->first = s;
                                  if (--batch->left > 0) return;
                                  Status first = batch->first;
                                  lock.unlock();
                                  batch->done(first);
                                });
    }
  });
}

Result<std::vector<store::Event>> Service::Telemetry(const std::string& model,
                                                     const std::string& version,
                                                     int64_t after_seq, int64_t limit) {
  return impl_->store->ListEvents(kTelemetry, model + "/" + version, after_seq, limit);
}

namespace {

// One telemetry event reduced to what the summary needs.
struct Point {
  int64_t time = 0;
  int kind = 0;    // index into kTelemetryKinds
  int device = 0;  // index into the device class list
  double latency = 0;
  bool has_latency = false;
};

// The value at quantile q of xs (sorted in place): xs[floor(q * n)], the same pick the UI made
// when it computed these in the browser. Null for no values.
json Quantile(std::vector<double>& xs, double q) {
  if (xs.empty()) return nullptr;
  std::sort(xs.begin(), xs.end());
  size_t i = std::min(xs.size() - 1, static_cast<size_t>(q * static_cast<double>(xs.size())));
  return xs[i];
}

}  // namespace

Result<Service::Signal> Service::TelemetrySignal(const std::string& collection,
                                                 const std::string& channel,
                                                 const std::string& signal,
                                                 const std::string& device_class,
                                                 int64_t window_ms, int64_t now_ms) {
  static const std::vector<std::string> kSignals = {"accuracy", "failure_rate", "load_failures",
                                                    "p95_latency_ms"};
  if (std::find(kSignals.begin(), kSignals.end(), signal) == kSignals.end()) {
    return InvalidArgument("unknown telemetry signal '" + signal + "'");
  }
  ASSIGN_OR_RETURN(Channel c, GetChannel(collection, channel));
  if (c.deployment_id.empty()) {
    return NotFound("channel '" + collection + "/" + channel + "' has no deployment");
  }
  return DeploymentSignal(c.deployment_id, signal, device_class, now_ms - window_ms, now_ms);
}

Result<Service::Signal> Service::DeploymentSignal(const std::string& deployment_id,
                                                   const std::string& signal,
                                                   const std::string& device_class,
                                                   int64_t from_ms, int64_t to_ms) {
  static const std::vector<std::string> kSignals = {"accuracy", "failure_rate", "load_failures",
                                                    "p95_latency_ms"};
  if (std::find(kSignals.begin(), kSignals.end(), signal) == kSignals.end()) {
    return InvalidArgument("unknown telemetry signal '" + signal + "'");
  }
  ASSIGN_OR_RETURN(Deployment d, GetDeployment(deployment_id));
  std::map<std::string, int64_t> counts;
  int64_t correct = 0;
  std::vector<double> latencies;
  for (const ModelEntry& m : d.models) {
    int64_t after = 0;
    for (;;) {
      ASSIGN_OR_RETURN(auto page, Telemetry(m.name, m.version, after, 5000));
      if (page.empty()) break;
      after = page.back().seq;
      for (const store::Event& e : page) {
        json j = json::parse(e.value, nullptr, false);
        if (!j.is_object()) continue;
        int64_t t = j.value("time", e.time);
        if (t < from_ms || t > to_ms) continue;
        if (!device_class.empty() && j.value("device_class", "") != device_class) continue;
        std::string kind = j.value("event", "");
        ++counts[kind];
        if (kind == "feedback" && j.value("correct", false)) ++correct;
        if (kind == "prediction" && j.contains("error")) ++counts["prediction_errors"];
        if (kind == "prediction" && j.contains("latency_ms") && j["latency_ms"].is_number()) {
          latencies.push_back(j["latency_ms"].get<double>());
        }
      }
    }
  }
  Signal out;
  auto share = [&out](int64_t part, int64_t whole) {
    out.samples = whole;
    out.value = whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0;
  };
  if (signal == "accuracy") share(correct, counts["feedback"]);
  if (signal == "failure_rate") {
    share(counts["failed"] + counts["prediction_errors"],
          counts["failed"] + counts["loaded"] + counts["prediction"]);
  }
  if (signal == "load_failures") share(counts["failed"], counts["failed"] + counts["loaded"]);
  if (signal == "p95_latency_ms" && !latencies.empty()) {
    size_t k = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(latencies.size()))) - 1;
    std::nth_element(latencies.begin(), latencies.begin() + static_cast<std::ptrdiff_t>(k),
                     latencies.end());
    out.value = latencies[k];
    out.samples = static_cast<int64_t>(latencies.size());
  }
  return out;
}

Result<std::string> Service::TelemetrySummary(const std::string& model,
                                              const std::string& version,
                                              const std::string& device_class, int buckets) {
  if (buckets < 1 || buckets > 1000) return InvalidArgument("buckets must be between 1 and 1000");
  // Every event, in pages, reduced to a few numbers each: true totals whatever their number.
  std::vector<std::string> devices;
  std::map<std::string, int> device_index;
  std::vector<Point> points;
  std::vector<json> failures;  // kept sorted by time, newest first, at most kMaxFailures
  constexpr size_t kMaxFailures = 20;
  auto failure_newer = [](const json& a, const json& b) {
    return a.value("time", int64_t{0}) > b.value("time", int64_t{0});
  };
  int64_t after = 0;
  for (;;) {
    ASSIGN_OR_RETURN(auto page, Telemetry(model, version, after, 5000));
    if (page.empty()) break;
    after = page.back().seq;
    for (const store::Event& e : page) {
      json j = json::parse(e.value, nullptr, false);
      if (!j.is_object()) continue;
      std::string kind = j.value("event", "");
      auto k = std::find(kTelemetryKinds.begin(), kTelemetryKinds.end(), kind);
      if (k == kTelemetryKinds.end()) continue;
      std::string d = j.contains("device_class") && j["device_class"].is_string()
                          ? j["device_class"].get<std::string>()
                          : "";
      if (d.empty()) d = "unknown";
      auto [it, added] = device_index.emplace(d, static_cast<int>(devices.size()));
      if (added) devices.push_back(d);
      if (!device_class.empty() && d != device_class) continue;
      Point p;
      p.time = j.contains("time") && j["time"].is_number() ? j["time"].get<int64_t>() : e.time;
      p.kind = static_cast<int>(k - kTelemetryKinds.begin());
      p.device = it->second;
      if (kind == "prediction" && j.contains("latency_ms") && j["latency_ms"].is_number()) {
        p.latency = j["latency_ms"].get<double>();
        p.has_latency = true;
      }
      points.push_back(p);
      if (kind == "failed") {
        j["time"] = p.time;
        if (failures.size() < kMaxFailures || failure_newer(j, failures.back())) {
          failures.insert(std::upper_bound(failures.begin(), failures.end(), j, failure_newer),
                          std::move(j));
          if (failures.size() > kMaxFailures) failures.pop_back();
        }
      }
    }
  }

  json out = {{"model", model}, {"version", version}, {"total", points.size()}};
  std::vector<std::string> sorted_devices = devices;
  std::sort(sorted_devices.begin(), sorted_devices.end());
  out["device_classes"] = sorted_devices;
  out["latest_failures"] = failures;
  if (points.empty()) {
    out["devices"] = json::array();
    return out.dump();
  }
  int64_t lo = points[0].time, hi = points[0].time;
  for (const Point& p : points) {
    lo = std::min(lo, p.time);
    hi = std::max(hi, p.time);
  }
  out["first_time"] = lo;
  out["last_time"] = hi;

  // Per device class: counts of each event type and latency quantiles.
  struct PerDevice {
    std::vector<int64_t> counts = std::vector<int64_t>(kTelemetryKinds.size(), 0);
    std::vector<double> latencies;
  };
  std::map<std::string, PerDevice> per_device;
  for (const Point& p : points) {
    PerDevice& pd = per_device[devices[p.device]];
    ++pd.counts[p.kind];
    if (p.has_latency) pd.latencies.push_back(p.latency);
  }
  json dev = json::array();
  for (auto& [name, pd] : per_device) {
    json counts = json::object();
    for (size_t k = 0; k < kTelemetryKinds.size(); ++k) counts[kTelemetryKinds[k]] = pd.counts[k];
    dev.push_back({{"device_class", name},
                   {"counts", counts},
                   {"p50_latency_ms", Quantile(pd.latencies, 0.5)},
                   {"p95_latency_ms", Quantile(pd.latencies, 0.95)}});
  }
  out["devices"] = dev;

  // Time buckets of at least a second each, at most `buckets` of them.
  double width = std::max(1000.0, static_cast<double>(hi - lo) / buckets);
  int n = std::max(1, std::min(buckets, static_cast<int>((hi - lo) / width) + 1));
  auto at = [&](int64_t t) {
    return std::min(n - 1, static_cast<int>(static_cast<double>(t - lo) / width));
  };
  std::vector<std::vector<int64_t>> counts(kTelemetryKinds.size());
  std::map<std::string, std::vector<std::vector<double>>> lat;
  for (const Point& p : points) {
    int b = at(p.time);
    if (counts[p.kind].empty()) counts[p.kind].assign(n, 0);
    ++counts[p.kind][b];
    if (p.has_latency) {
      auto& v = lat[devices[p.device]];
      if (v.empty()) v.resize(n);
      v[b].push_back(p.latency);
    }
  }
  json start = json::array();
  for (int i = 0; i < n; ++i) start.push_back(lo + static_cast<int64_t>(i * width));
  json by_kind = json::object();
  for (size_t k = 0; k < kTelemetryKinds.size(); ++k) {
    if (!counts[k].empty()) by_kind[kTelemetryKinds[k]] = counts[k];
  }
  json latency = json::object();
  for (auto& [name, per_bucket] : lat) {
    json v = json::array();
    for (auto& xs : per_bucket) v.push_back(Quantile(xs, 0.5));
    latency[name] = v;
  }
  out["buckets"] = {{"start", start},
                    {"width_ms", static_cast<int64_t>(width)},
                    {"counts", by_kind},
                    {"latency_p50_ms", latency}};
  return out.dump();
}

}  // namespace ringo::deploy
