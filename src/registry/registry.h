// The model registry's own logic, beside MLflow's registry API (api) and delivery (deploy):
// where a version's source lives in the artifact store, what ringo records of a Core ML source
// when a version is created (its inspection, content digest and size), and the one way a model's
// bytes leave the registry for devices (a file as it is, a package as a deterministic archive),
// read in one pass that also re-checks the registered digest.
#ifndef RINGO_REGISTRY_REGISTRY_H_
#define RINGO_REGISTRY_REGISTRY_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artifacts/artifacts.h"
#include "common/status.h"
#include "store/store.h"

namespace ringo::registry {

// Where a source's files are in ringo's artifact store, relative to its root: `runs:/<run>/<path>`,
// `mlflow-artifacts:...`, MLflow 3's `models:/<model_id>`, or a copy's `models:/<name>/<version>`
// (the files of that version), or a file: URI or absolute path beneath a local repository's
// directory (written there directly by the client). kFailedPrecondition for a source outside the
// store; kNotFound for an unknown run or version; kInvalidArgument for escaping paths.
Result<std::string> SourceArtifactPath(store::Store* store, const artifacts::Repository* artifacts,
                                       const std::string& source);

// The source of the version a copy was made from: a copied version's source is
// `models:/<name>/<version>`, followed (at most 8 hops) to the first source that is not such a
// copy. A source that is not a copy, or names a version that no longer exists, is returned as is.
std::string OriginalSource(store::Store* store, const std::string& source);

// The Core ML model a registry source refers to in ringo's artifact store: `runs:/<run>/<path>`,
// `mlflow-artifacts:...` or MLflow 3's `models:/<model_id>`, naming a .mlmodel/.mlpackage or a
// directory holding one (searched two levels deep). kFailedPrecondition when the source is
// outside the store or holds no model; kNotFound for an unknown run; kInvalidArgument for
// escaping paths.
Result<std::filesystem::path> ResolveModelSource(store::Store* store,
                                                 artifacts::Repository* artifacts,
                                                 const std::string& source);

// MLflow's rules for a model version's source, checked before anything is recorded. A local
// source (a path, or a file: URI of this machine) is accepted only with a run_id whose artifact
// URI is a local directory containing it; any other source must name an absolute path without
// "." or ".." segments (after percent-decoding to a fixed point) and without NUL. kInvalidArgument
// in MLflow's words otherwise ("Invalid model version source: ... To use a local path ..." /
// "... If supplying a source as an http, https, ..."). `run_artifact_uri` gives a run's artifact
// URI (it is called only for local sources with a run_id; its failures are returned).
// With `owner` "model_id" (MLflow 3: a version made of a logged model), `run_id` is the logged
// model's id and `run_artifact_uri` gives its artifact location.
Status CheckSourceRules(const std::string& source, const std::string& run_id,
                        const std::function<Result<std::string>(const std::string&)>&
                            run_artifact_uri,
                        std::string_view owner = "run_id");

// Completes a version about to be created from what its source holds: the run id of a runs:/
// source; for a Core ML model in the store, `coreml` (inspect's JSON summary), `size`, and the
// content digest (`sha256` of a file, `tree_sha256` of a package; common/hash.h). Like MLflow,
// any source is accepted: one outside the store or without a model is left unread, and an
// unreadable Core ML model is recorded as {"problem": ...}. Never fails on the source itself:
// CheckSourceRules is the gate; only store errors are returned.
Status DescribeSource(store::Store* store, artifacts::Repository* artifacts,
                      store::ModelVersion* version);

// Model files are shipped as they are on disk; a symbolic link (at the top or inside a
// package) could carry any file the server can read, so none is followed: kInvalidArgument
// naming the link.
Status RefuseSymlinks(const std::filesystem::path& model);

// What PackModel produced.
struct Packed {
  std::string format;          // "mlmodel" (the file) or "mlpackage.tar"
  std::string sha256;          // of the bytes given to the sink
  std::string content_digest;  // the registry's digest of the model: file sha256 or tree hash
  int64_t size = 0;            // bytes given to the sink
};

// Streams the bytes a device receives for `model` to `sink` in chunks (never the whole model in
// memory): a .mlmodel file as it is; a .mlpackage directory as a ustar archive with sorted
// entries, mtime 0 and owner 0, so one package always archives to the same bytes. Each file is
// read once, for the archive and for both digests. Refuses symlinks and names an extractor could
// place outside its folder (kInvalidArgument); a sink error stops the stream and is returned.
Result<Packed> PackModel(const std::filesystem::path& model,
                         const std::function<Status(std::string_view)>& sink);

// ---- MLflow 3's webhooks (MLflow 3.3+'s REST API, kept as store documents) ----

// An event a webhook subscribes to, in MLflow's lowercase words: entity "model_version", action
// "created" and so on.
struct WebhookEvent {
  std::string entity;
  std::string action;
  bool operator==(const WebhookEvent&) const = default;
};

// Reads an event as clients send it (proto enum names "MODEL_VERSION"/"CREATED" or lowercase).
// kInvalidArgument for an unknown entity or action, or a pair MLflow does not define.
Result<WebhookEvent> ParseWebhookEvent(std::string_view entity, std::string_view action);

struct Webhook {
  std::string webhook_id;
  std::string name;
  std::string description;
  std::string url;
  std::vector<WebhookEvent> events;
  std::string status = "ACTIVE";  // or "DISABLED"
  std::string secret;             // signs deliveries; never shown
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
};

// The fields of an update; unset ones stay as they are.
struct WebhookUpdate {
  std::optional<std::string> name, description, url, secret, status;
  std::optional<std::vector<WebhookEvent>> events;
};

struct WebhookTestResult {
  bool success = false;
  int response_status = 0;  // 0 when no HTTP answer came
  std::string response_body;
  std::string error_message;
};

// MLflow's webhooks: registry events POSTed as {"entity", "action", "timestamp", "data"} to the
// active webhooks subscribed to them, from a background thread with retries, with MLflow's
// headers (X-MLflow-Delivery-Id, X-MLflow-Timestamp, and with a secret X-MLflow-Signature
// "v1,<base64 HMAC-SHA256 of '<delivery id>.<timestamp>.<body>'>"). Thread-safe.
class MlflowWebhooks {
 public:
  explicit MlflowWebhooks(store::Store* store);
  ~MlflowWebhooks();

  // kInvalidArgument, in MLflow's words, for a bad name, URL (http:// only), event list or
  // status; nothing is stored then.
  Result<Webhook> Create(Webhook webhook);
  // Newest first; max_results 1..1000 (default 100).
  Result<std::vector<Webhook>> List(int64_t max_results, const std::string& page_token,
                                    std::string* next_page_token);
  // kNotFound: "Webhook with ID <id> not found."
  Result<Webhook> Get(const std::string& webhook_id);
  Result<Webhook> Update(const std::string& webhook_id, const WebhookUpdate& update);
  Status Delete(const std::string& webhook_id);
  // Sends MLflow's example payload of `event` (default: the webhook's first event) now and
  // reports the answer; a failed delivery is a result, not an error.
  Result<WebhookTestResult> Test(const std::string& webhook_id,
                                 const std::optional<WebhookEvent>& event);

  // Queues `data` (a JSON object) for every active webhook subscribed to `event`; returns at
  // once.
  void Fire(const WebhookEvent& event, std::string data);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringo::registry

#endif  // RINGO_REGISTRY_REGISTRY_H_
