// What the delivery service's files share (private to deploy/): the store document kinds and
// the service's state (store, artifact repository, signing key, blob directory, webhooks).
#ifndef RINGO_DEPLOY_SERVICE_IMPL_H_
#define RINGO_DEPLOY_SERVICE_IMPL_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/paths.h"
#include "common/util.h"
#include "coreml/coreml.h"
#include "deploy/deploy.h"
#include "deploy/signer.h"
#include "registry/registry.h"
#include "webhooks/webhooks.h"

namespace ringo::deploy {

namespace fs = std::filesystem;
using nlohmann::json;

inline constexpr const char* kCollection = "collection";
inline constexpr const char* kDeployment = "deployment";
inline constexpr const char* kChannel = "channel";
inline constexpr const char* kTelemetry = "telemetry";
// The event types a device reports, in the order the UI shows them.
// "feedback" carries the true label's verdict on an earlier prediction ("correct"), reported by
// the app once it knows it: on-device accuracy.
inline const std::vector<std::string> kTelemetryKinds = {"downloaded", "compiled", "loaded", "failed",
                                                  "prediction", "feedback"};
inline constexpr const char* kContract = "contract";
inline constexpr const char* kWebhook = "webhook";
inline constexpr const char* kSigningKey = "signing_key";

struct Service::Impl {
  store::Store* store;
  artifacts::Repository* artifacts;
  fs::path dir;
  std::unique_ptr<Signer> signer;
  // How long a signed manifest is valid (expires_at - issued_at), in milliseconds.
  int64_t manifest_lifetime_ms = kDefaultManifestLifetimeSeconds * 1000;
  std::mutex mu;  // serialises read-modify-write of channels within this process
  // Blob redirects (SetBlobRedirect) and the blobs known to be in the object store.
  int64_t redirect_seconds = 0;
  std::string redirect_endpoint;
  std::mutex redirect_mu;
  std::set<std::string> blobs_in_bucket;

  std::mutex manifest_mu;
  // collection/channel/deployment/sequence/issued -> signed manifest, shared with the answers
  std::map<std::string, std::shared_ptr<const Manifest>> manifests;
  // Channel states for manifest requests, kept 250 ms: devices poll far more often than channels
  // change. Changes made here drop the entry at once; other replicas' show within 250 ms.
  struct CachedChannel {
    std::shared_ptr<const Channel> channel;  // shared, not copied, by each request
    std::chrono::steady_clock::time_point loaded;
  };
  std::map<std::string, CachedChannel> channels;
  std::mutex listeners_mu;
  std::vector<ChangeListener> listeners;
  std::unique_ptr<webhooks::Sender> webhooks;
  // The channel watch (AddChannelWatcher): the last revision seen of each channel document.
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool watch_stop = false;
  std::vector<ChannelWatcher> watchers;
  std::map<std::string, int64_t> seen_revisions;
  std::thread watch_thread;

  // One look at every channel's revision; watchers hear of the ones that moved.
  void WatchOnce(bool first) {
    auto docs = store->ListDocuments(kChannel, "");
    if (!docs.ok()) return;
    std::vector<std::string> moved;
    std::vector<ChannelWatcher> copy;
    {
      std::lock_guard lock(watch_mu);
      for (const auto& d : *docs) {
        int64_t& seen = seen_revisions[d.key];
        if (seen != d.revision && !first) moved.push_back(d.key);
        seen = d.revision;
      }
      copy = watchers;
    }
    for (const std::string& key : moved) {
      size_t slash = key.find('/');
      if (slash == std::string::npos) continue;
      for (const auto& w : copy) w(key.substr(0, slash), key.substr(slash + 1));
    }
  }

  void WatchLoop() {
    WatchOnce(true);
    std::unique_lock lock(watch_mu);
    while (!watch_stop) {
      watch_cv.wait_for(lock, std::chrono::milliseconds(500), [this] { return watch_stop; });
      if (watch_stop) break;
      lock.unlock();
      WatchOnce(false);
      lock.lock();
    }
  }

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

  // Where a blob is kept in a shared artifact repository.
  static std::string SharedBlobPath(const std::string& sha256) { return "_ringo/blobs/" + sha256; }

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
    if (s.ok() && artifacts->IsShared()) {
      // Servers sharing the store serve each other's deployments: the blob goes where they
      // all read (PutFile consumes its source, so it gets a link of its own).
      fs::path link = dir / "blobs" / (".tmp-" + NewId());
      fs::create_hard_link(dir / "blobs" / packed->sha256, link, ec);
      if (ec) fs::copy_file(dir / "blobs" / packed->sha256, link, ec);
      s = ec ? Internal("cannot stage a blob: " + ec.message())
             : artifacts->PutFile(SharedBlobPath(packed->sha256), link);
    }
    if (!s.ok()) {
      fs::remove(tmp, ec);
      return s;
    }
    return *packed;
  }
};

}  // namespace ringo::deploy

#endif  // RINGO_DEPLOY_SERVICE_IMPL_H_
