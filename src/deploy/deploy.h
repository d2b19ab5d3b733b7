// Over-the-air delivery: collections, deployments, channels with staged rollout and rollback,
// signed device manifests, content-addressed model blobs, device telemetry.
#ifndef RINGO_DEPLOY_DEPLOY_H_
#define RINGO_DEPLOY_DEPLOY_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "artifacts/artifacts.h"
#include "common/status.h"
#include "store/store.h"

namespace ringo::deploy {

// A set of registered models shipped together (Apple's MLModelCollection).
struct Collection {
  std::string name;
  std::vector<std::string> models;
  int64_t creation_time = 0;
};

// One model of a deployment as devices see it.
struct ModelEntry {
  std::string name;
  std::string version;
  std::string sha256;  // of the blob
  int64_t size = 0;
  std::string format;  // "mlmodel" (the file) | "mlpackage.tar" (the package as a ustar archive)
  std::string interface_hash;
};

// An immutable snapshot {model -> registry version} of a collection.
struct Deployment {
  std::string id;
  std::string collection;
  int64_t creation_time = 0;
  std::vector<ModelEntry> models;
};

// A channel (staging, release, ...) of a collection. During a staged rollout `rollout` percent
// of devices (by a stable hash of the device id) get `deployment_id`, the rest
// `previous_deployment_id`; at 100 everyone gets `deployment_id`.
struct Channel {
  std::string collection;
  std::string name;
  std::string deployment_id;
  std::string previous_deployment_id;
  int rollout = 100;
  int64_t updated_time = 0;
  int64_t revision = 0;
};

// One recorded change of a channel: who, when, why, from -> to.
struct HistoryEntry {
  int64_t time = 0;
  std::string action;  // promote | rollout | rollback
  std::string from_deployment;
  std::string to_deployment;
  int rollout = 100;
  std::string actor;
  std::string reason;
  bool forced = false;
};

// What a device says about itself when it asks for a manifest.
struct DeviceQuery {
  std::string device_id;
  std::string device_class;
  std::string os;
  std::string os_version;
  std::string app_version;
  std::string region;
  std::string language;
};

// A manifest response: the exact body bytes, their strong ETag, and the Ed25519 signature of
// the body (base64).
struct Manifest {
  std::string body;
  std::string etag;
  std::string signature;
  std::string deployment_id;
};

// The delivery service. Admin operations persist through the store (documents and events,
// with optimistic concurrency for channel changes) and block until committed; manifest reads
// are store reads. Thread-safe.
class Service {
 public:
  // `dir` holds the signing key (deploy_key.pem, created on first use) and blobs/.
  static Result<std::unique_ptr<Service>> Open(store::Store* store,
                                               artifacts::LocalRepository* artifacts,
                                               const std::filesystem::path& dir);
  ~Service();

  // Raw 32-byte Ed25519 public key, base64.
  std::string PublicKey() const;

  Result<Collection> CreateCollection(const std::string& name,
                                      const std::vector<std::string>& models);
  Result<Collection> GetCollection(const std::string& name);
  Result<std::vector<Collection>> ListCollections();

  // Freezes the given versions (every model of the collection must be named, with a registry
  // version whose source is a Core ML model in the artifact store) and copies their blobs.
  Result<Deployment> CreateDeployment(const std::string& collection,
                                      const std::map<std::string, std::string>& versions);
  Result<Deployment> GetDeployment(const std::string& id);

  // Points a channel at a deployment (rollout percent of devices; 100 = all). Records history.
  Result<Channel> Promote(const std::string& collection, const std::string& channel,
                          const std::string& deployment_id, int rollout, const std::string& reason,
                          const std::string& actor, bool force);
  // Changes the rollout percent of the current deployment (100 completes it).
  Result<Channel> SetRollout(const std::string& collection, const std::string& channel, int rollout,
                             const std::string& reason, const std::string& actor);
  // Back to the previous deployment, for everyone.
  Result<Channel> Rollback(const std::string& collection, const std::string& channel,
                           const std::string& reason, const std::string& actor);
  Result<Channel> GetChannel(const std::string& collection, const std::string& channel);
  Result<std::vector<Channel>> ListChannels(const std::string& collection);
  Result<std::vector<HistoryEntry>> History(const std::string& collection,
                                            const std::string& channel);

  // The manifest this device should follow. kNotFound for an unknown collection/channel or a
  // channel with no deployment.
  Result<Manifest> ManifestFor(const std::string& collection, const std::string& channel,
                               const DeviceQuery& device);
  // The file of a blob; kNotFound when unknown, kInvalidArgument for a malformed digest.
  Result<std::filesystem::path> BlobPath(const std::string& sha256) const;

  // Stores a batch of device events (JSON array of objects with at least "event", "model",
  // "version"). kInvalidArgument naming the first bad event.
  Status RecordTelemetry(const std::string& events_json);
  // Events of a model version (all device classes), oldest first.
  Result<std::vector<store::Event>> Telemetry(const std::string& model, const std::string& version,
                                              int64_t limit);

  // Which deployment a device gets from a channel (exposed for tests).
  static bool InRollout(const std::string& collection, const std::string& channel,
                        const std::string& device_id, int rollout);

  struct Impl;  // private state; public only so the implementation's helpers can name it

 private:
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringo::deploy

#endif  // RINGO_DEPLOY_DEPLOY_H_
