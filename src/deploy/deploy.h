// Over-the-air delivery: collections, deployments, channels with staged rollout and rollback,
// signed device manifests, content-addressed model blobs, device telemetry.
#ifndef RINGO_DEPLOY_DEPLOY_H_
#define RINGO_DEPLOY_DEPLOY_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artifacts/artifacts.h"
#include "common/status.h"
#include "store/store.h"

namespace ringo::deploy {

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

// ---- targeting ----

// Compares dotted numeric versions ("17", "17.4.1", "2.10"): component by component as
// numbers, a missing component counting as 0 (so "17" == "17.0"). -1, 0 or 1; nullopt when
// either side is not a dotted numeric version.
std::optional<int> CompareVersions(std::string_view a, std::string_view b);

// An interval of versions. An empty bound is open; an unbounded range contains every version,
// even a missing or malformed one.
struct VersionRange {
  std::string min;
  bool min_inclusive = true;
  std::string max;
  bool max_inclusive = true;

  bool unbounded() const { return min.empty() && max.empty(); }
  // False for a version that is not dotted numeric (unless unbounded).
  bool Contains(std::string_view version) const;
  // Whether some version lies in both ranges.
  bool Overlaps(const VersionRange& other) const;
  // Canonical text: ">=2.0,<3.0", "==2.1", "*" when unbounded. Parses back to the same range.
  std::string ToString() const;
};

// Parses a comma-separated list of constraints, each one of >=, >, <=, <, == (or a bare
// version, meaning ==) followed by a dotted numeric version; "" and "*" mean any version.
// kInvalidArgument naming the bad constraint, or when the bounds leave no version.
Result<VersionRange> ParseVersionRange(std::string_view text);

// A targeting rule of a channel: devices matching every condition it sets get `deployment_id`.
// Unset conditions match everything. device_ids and device_classes compare exactly; os,
// regions and languages ignore case; version ranges use CompareVersions (a device that does not
// report a version fails a bounded range).
struct Rule {
  std::string name;  // optional label, shown in history and listings
  std::string deployment_id;
  std::vector<std::string> device_ids;  // explicit testers
  std::vector<std::string> device_classes;
  std::vector<std::string> os;
  VersionRange os_version;
  VersionRange app_version;
  std::vector<std::string> regions;
  std::vector<std::string> languages;

  bool Matches(const DeviceQuery& device) const;
};

// Parses rules from JSON: an array (or {"rules": [...]}) of objects with "deployment_id" and
// any of "name", "device_ids", "device_class", "os", "region", "language" (each a string or a
// list of strings), "os_version", "app_version" (a range string as ParseVersionRange takes, or
// {"min": V, "max": V}, both inclusive). kInvalidArgument naming the rule and field, including
// for unknown fields (a typo must not silently widen a rule). At most 100 rules.
Result<std::vector<Rule>> ParseRules(std::string_view json);
// A device telemetry event, checked and rebuilt from the fields the schema knows.
struct TelemetryEvent {
  std::string model;
  std::string version;
  std::string json;  // the event as stored: only known fields, "time" always set
};

// Parses a telemetry post: a JSON array of at most 1000 events (or {"events": [...]}), each a
// flat object with "event" (downloaded, compiled, loaded, failed, prediction, feedback), "model"
// and "version", "correct" (true/false; required for feedback: whether an earlier prediction was
// right), and optionally "time" (ms since the epoch; now when absent), "latency_ms" (finite,
// >= 0), "device_class", "os", "os_version", "app_version", "region", "compute_unit", "error"
// (strings, each with a size bound). Unknown fields are dropped. kInvalidArgument naming the
// first bad event and field, or for nesting deeper than a flat event needs. Thread-safe.
Result<std::vector<TelemetryEvent>> ParseTelemetry(std::string_view body);

// The canonical JSON array of rules (lists always, ranges as strings); ParseRules reads it back.
std::string RulesToJson(const std::vector<Rule>& rules);
// Index of the first rule matching the device, or -1.
int MatchRule(const std::vector<Rule>& rules, const DeviceQuery& device);

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
  std::string interface;  // coreml::InfoToJson of the model (empty for older deployments)
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
  std::vector<Rule> rules;  // checked in order before the rollout; the first match wins
  int64_t updated_time = 0;
  int64_t revision = 0;
  // Grows with every change of the channel, also across replicas and when a channel is made
  // again under the same name (never below the change's time in ms): manifests carry it so that
  // a device can refuse an older one.
  int64_t sequence = 0;
};

// One recorded change of a channel: who, when, why, from -> to.
struct HistoryEntry {
  int64_t time = 0;
  std::string action;  // promote | rollout | complete | rollback | rules
  std::string from_deployment;
  std::string to_deployment;
  int rollout = 100;
  std::string actor;
  std::string reason;
  bool forced = false;
  std::string rules;                // action "rules": the new rules (RulesToJson)
  std::vector<std::string> overridden;  // forced: the breaking changes the gate reported
};

// The interface an app version range was built against: per model, the interface JSON that
// `ringo inspect --json` prints (coreml::InfoToJson) of the model bundled in those apps.
struct Contract {
  std::string collection;
  VersionRange app_versions;
  std::map<std::string, std::string> interfaces;  // model name -> interface JSON
  int64_t creation_time = 0;
  std::string actor;
};

// An outbound webhook, called on every channel change of its collection (all collections when
// `collection` is empty). The secret is never returned.
struct Webhook {
  std::string id;
  std::string url;
  std::string collection;
  bool has_secret = false;
  int64_t creation_time = 0;
};


// A manifest response: the exact body bytes, their strong ETag, and the Ed25519 signature of
// the body (base64) by the current key, and by the next key while a rotation is under way.
// The body carries the channel's sequence and the time it was issued and expires (ms since the
// epoch): a device refuses a manifest older than one it accepted, or past its expiry.
struct Manifest {
  std::string body;
  std::string etag;
  std::string signature;
  std::string next_signature;
  std::string deployment_id;
};

inline constexpr int64_t kDefaultManifestLifetimeSeconds = 7 * 24 * 3600;

// The manifest signing public keys (base64 of the raw 32 bytes); `next` during a rotation.
struct SigningKeys {
  std::string current;
  std::string next;
};

// The delivery service. Admin operations persist through the store (documents and events,
// with optimistic concurrency for channel changes) and block until committed; manifest reads
// are store reads. Thread-safe.
class Service {
 public:
  // `dir` holds the signing key (deploy_key.pem, created on first use) and blobs/.
  static Result<std::unique_ptr<Service>> Open(store::Store* store,
                                               artifacts::Repository* artifacts,
                                               const std::filesystem::path& dir);
  ~Service();

  // Raw 32-byte Ed25519 public key, base64.
  std::string PublicKey() const;
  SigningKeys Keys() const;
  // Starts a signing key rotation (a new key signs beside the current one, so apps can ship
  // with both) or, with `finish`, ends it (the new key alone signs; the old one is retired).
  Result<SigningKeys> RotateKeys(bool finish);
  // How long a signed manifest stays valid (60 s .. 1 year). Manifests are re-issued, with the
  // same content and a new expiry, every seventh of it.
  Status SetManifestLifetime(int64_t seconds);

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
  // The interface gate: each model is compared (coreml::CompareInterfaces) with every contract
  // of the collection; a breaking change fails with kFailedPrecondition listing the changes,
  // unless `force`, which needs a reason and is recorded with the changes it overrode.
  Result<Channel> Promote(const std::string& collection, const std::string& channel,
                          const std::string& deployment_id, int rollout, const std::string& reason,
                          const std::string& actor, bool force);
  // Changes the rollout percent of the current deployment (100 completes it).
  Result<Channel> SetRollout(const std::string& collection, const std::string& channel, int rollout,
                             const std::string& reason, const std::string& actor);
  // Back to the previous deployment, for everyone.
  Result<Channel> Rollback(const std::string& collection, const std::string& channel,
                           const std::string& reason, const std::string& actor);
  // Replaces the targeting rules of an existing channel (empty clears them). Every rule's
  // deployment must belong to the collection and pass the interface gate for the app versions
  // the rule can serve, unless `force` (which needs a reason). Records history.
  Result<Channel> SetRules(const std::string& collection, const std::string& channel,
                           const std::vector<Rule>& rules, const std::string& reason,
                           const std::string& actor, bool force);
  Result<Channel> GetChannel(const std::string& collection, const std::string& channel);
  Result<std::vector<Channel>> ListChannels(const std::string& collection);
  Result<std::vector<HistoryEntry>> History(const std::string& collection,
                                            const std::string& channel);

  // Declares the interface apps in `app_versions` (ParseVersionRange) were built against;
  // replaces the contract of the same range. kInvalidArgument for a bad range, an unknown model
  // or interface JSON that is not an inspected interface; kNotFound for an unknown collection.
  Result<Contract> SetContract(const std::string& collection, const std::string& app_versions,
                               const std::map<std::string, std::string>& interfaces,
                               const std::string& actor);
  Result<std::vector<Contract>> ListContracts(const std::string& collection);
  // kNotFound when the collection has no contract for exactly this range.
  Status DeleteContract(const std::string& collection, const std::string& app_versions);

  // Registers an http:// URL (https is not supported by the sender). kInvalidArgument for a bad
  // URL, kNotFound for an unknown collection.
  Result<Webhook> AddWebhook(const std::string& url, const std::string& secret,
                             const std::string& collection);
  // Webhooks of a collection (and the global ones); all when `collection` is empty.
  Result<std::vector<Webhook>> ListWebhooks(const std::string& collection);
  Status RemoveWebhook(const std::string& id);

  // Called after every committed channel change, on the thread that made it (an admin request),
  // with the channel's new state and the history entry. Listeners must return quickly and not
  // call back into the Service. Changes made by other server processes are not seen.
  using ChangeListener =
      std::function<void(const Channel& channel, const HistoryEntry& change)>;
  void AddChangeListener(ChangeListener listener);

  // Called when a channel changes, whether by this server or by another one sharing the store
  // (seen within about half a second), with the collection and channel names. For waking
  // requests that wait on a channel; what must happen once per change belongs to a
  // ChangeListener. Watchers must return quickly. The first one starts a thread that polls the
  // store's channel revisions; Shutdown stops it.
  using ChannelWatcher =
      std::function<void(const std::string& collection, const std::string& channel)>;
  void AddChannelWatcher(ChannelWatcher watcher);

  // Stops the webhook sender and the channel watch (deliveries still queued are dropped and logged). Idempotent; the
  // destructor calls it.
  void Shutdown();

  // The manifest this device should follow: the deployment of the first rule the device
  // matches, else the channel's deployment (or, outside the rollout share, the previous one).
  // kNotFound for an unknown collection/channel or a channel with no deployment.
  // Shared and immutable: built and signed once, then handed to every device it is for.
  Result<std::shared_ptr<const Manifest>> ManifestFor(const std::string& collection,
                                                      const std::string& channel,
                               const DeviceQuery& device);
  // The file of a blob; kNotFound when unknown, kInvalidArgument for a malformed digest.
  Result<std::filesystem::path> BlobPath(const std::string& sha256) const;

  // Devices fetch blobs from the object store: BlobRedirect answers a presigned URL valid for
  // `seconds` (signed for `endpoint_url` when not empty: the address devices reach the store
  // by). 0 seconds (the default) serves blobs through the server. kFailedPrecondition when the
  // artifact repository is not an object store.
  Status SetBlobRedirect(int64_t seconds, const std::string& endpoint_url);
  // The URL to send a device to for a blob, or nullopt when blobs are served here (no redirect
  // configured, or this blob is not in the object store). kInvalidArgument for a malformed digest.
  Result<std::optional<std::string>> BlobRedirect(const std::string& sha256);

  // Stores a batch of device events as ParseTelemetry reads them; kInvalidArgument naming the
  // first bad event (nothing of the batch is stored then).
  Status RecordTelemetry(const std::string& events_json);
  // Events of a model version (all device classes) in arrival order: at most `limit` of those
  // after `after_seq` (0: from the first). Page with the last returned event's seq.
  Result<std::vector<store::Event>> Telemetry(const std::string& model, const std::string& version,
                                              int64_t after_seq, int64_t limit);
  // Aggregates over every event of a model version with an event time in [from_ms, to_ms] (of
  // one device class when `device_class` is not empty; "unknown" names events without one), as
  // a JSON object:
  //   total                 events counted (true totals: nothing is sampled or capped)
  //   device_classes        every device class of the version, whatever the filters
  //   first_time, last_time event times (ms) of the oldest and newest event
  //   failure_rate          (failed + predictions with an "error") / (failed + loaded +
  //                         prediction), as the failure_rate signal; null without those events
  //   devices               [{device_class, counts: {<event>: n for each event type},
  //                           failure_rate, p50_latency_ms, p95_latency_ms (null without
  //                           predictions)}]
  //   os_versions           the same rows by os_version, app_versions by app_version
  //   buckets               {start: [ms], width_ms, counts: {<event>: [n per bucket]},
  //                          latency_p50_ms: {<device_class>: [ms or null per bucket]}}
  //                         at most `buckets` equal time buckets from first_time
  //   latest_failures       the newest 20 "failed" events by event time, newest first
  // Events are ordered by their own `time`, not by arrival. Reads every event of the version, so
  // it costs time in proportion to their number. kInvalidArgument for buckets outside 1..1000
  // and for a range that ends before it starts.
  Result<std::string> TelemetrySummary(
      const std::string& model, const std::string& version, const std::string& device_class,
      int buckets, int64_t from_ms = std::numeric_limits<int64_t>::min(),
      int64_t to_ms = std::numeric_limits<int64_t>::max());

  // A health signal of the deployment a channel serves now, from the telemetry of its model
  // versions with event times in [now_ms - window_ms, now_ms] (of one device class when set):
  //   accuracy        share of "feedback" events that say "correct"
  //   failure_rate    (failed + predictions with an "error") / (failed + loaded + prediction)
  //   load_failures   failed / (failed + loaded): "failed" is a model that could not be
  //                   downloaded, compiled or loaded; a failed prediction is a "prediction"
  //                   event with an "error"
  //   p95_latency_ms  95th percentile of the latencies of "prediction" events
  // and the number of events it rests on (the denominator; 0 and value 0 when none).
  // kNotFound for an unknown channel or one without a deployment; kInvalidArgument for another
  // signal.
  struct Signal {
    double value = 0;
    int64_t samples = 0;
  };
  Result<Signal> TelemetrySignal(const std::string& collection, const std::string& channel,
                                 const std::string& signal, const std::string& device_class,
                                 int64_t window_ms, int64_t now_ms);
  // The same signal of one deployment's model versions, over event times [from_ms, to_ms].
  Result<Signal> DeploymentSignal(const std::string& deployment_id, const std::string& signal,
                                  const std::string& device_class, int64_t from_ms, int64_t to_ms);

  // Whether a device is in the rollout share of a channel (exposed for tests).
  static bool InRollout(const std::string& collection, const std::string& channel,
                        const std::string& device_id, int rollout);

  struct Impl;  // private state; public only so the implementation's helpers can name it

 private:
  explicit Service(std::unique_ptr<Impl> impl);
  // Builds, signs and caches under `cache_key` the manifest of deployment `id`.
  Result<std::shared_ptr<const Manifest>> BuildManifest(const std::string& collection,
                                                        const std::string& channel,
                                                        const std::string& id, int64_t sequence,
                                                        int64_t issued,
                                                        const std::string& cache_key);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringo::deploy

#endif  // RINGO_DEPLOY_DEPLOY_H_
