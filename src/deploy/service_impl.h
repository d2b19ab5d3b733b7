// What the delivery service's files share (private to deploy/): the store document kinds and
// the service's state (store, artifact repository, signing key, blob directory, webhooks).
#ifndef RINGO_DEPLOY_SERVICE_IMPL_H_
#define RINGO_DEPLOY_SERVICE_IMPL_H_

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
#include "deploy/deploy.h"
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

struct Service::Impl {
  store::Store* store;
  artifacts::Repository* artifacts;
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

}  // namespace ringo::deploy

#endif  // RINGO_DEPLOY_SERVICE_IMPL_H_
