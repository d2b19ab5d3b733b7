// Store: tracking metadata (experiments, runs, params, metrics, tags, datasets).
#ifndef RINGO_STORE_STORE_H_
#define RINGO_STORE_STORE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/prometheus.h"
#include "common/status.h"
#include "store/paging.h"         // IWYU pragma: export (page tokens are part of the contract)
#include "store/search_filter.h"  // IWYU pragma: export (the filter grammar is part of the contract)

namespace ringo::store {

struct Tag {
  std::string key;
  std::string value;
};

struct Param {
  std::string key;
  std::string value;
};

// One point of a metric's history, its key known to the reader.
struct MetricPoint {
  double value = 0;  // NaN and +-infinity are kept as such
  int64_t timestamp = 0;
  int64_t step = 0;
};

// A page of one metric's history, in (step, timestamp) order.
struct MetricPoints {
  std::vector<MetricPoint> points;
  std::string next_page_token;  // "" after the last page
};

struct Metric {
  std::string key;
  double value = 0;  // NaN and +-infinity are kept as such
  int64_t timestamp = 0;
  int64_t step = 0;
  // MLflow 3: the logged model the value is about and the dataset it was computed on (empty
  // when not given). A metric with a model id is also kept as the model's metric.
  std::string model_id{};
  std::string dataset_name{};
  std::string dataset_digest{};
};

struct Experiment {
  std::string experiment_id;
  std::string name;
  std::string artifact_location;
  std::string lifecycle_stage;  // "active" | "deleted"
  int64_t creation_time = 0;
  int64_t last_update_time = 0;
  std::vector<Tag> tags;
};

struct RunInfo {
  std::string run_id;
  std::string experiment_id;
  std::string run_name;
  std::string user_id;
  std::string status;  // RUNNING | SCHEDULED | FINISHED | FAILED | KILLED
  int64_t start_time = 0;
  std::optional<int64_t> end_time;
  std::string artifact_uri;
  std::string lifecycle_stage;  // "active" | "deleted"
};

struct Dataset {
  std::string name;
  std::string digest;
  std::string source_type;
  std::string source;
  std::string schema;   // optional
  std::string profile;  // optional
};

struct DatasetInput {
  std::vector<Tag> tags;  // e.g. mlflow.data.context
  Dataset dataset;
};

struct Run {
  RunInfo info;
  std::vector<Metric> metrics;  // latest value per key
  std::vector<Param> params;
  std::vector<Tag> tags;
  std::vector<DatasetInput> inputs;
};

// Which lifecycle stages a search covers (MLflow's ViewType).
enum class ViewType { kActiveOnly, kDeletedOnly, kAll };

struct RunSearch {
  std::vector<std::string> experiment_ids;
  std::string filter;
  ViewType view = ViewType::kActiveOnly;
  int64_t max_results = 1000;
  std::vector<std::string> order_by;
  std::string page_token;
};

struct RunPage {
  std::vector<Run> runs;
  std::string next_page_token;  // empty when there are no more results
};

struct ExperimentSearch {
  std::string filter;
  ViewType view = ViewType::kActiveOnly;
  int64_t max_results = 1000;
  std::vector<std::string> order_by;
  std::string page_token;
};

struct ExperimentPage {
  std::vector<Experiment> experiments;
  std::string next_page_token;
};

struct MetricPage {
  std::vector<Metric> metrics;
  std::string next_page_token;
};

// A metric point tagged with its run, for the multi-run history endpoints.
struct RunMetric {
  std::string run_id;
  Metric metric;
};

// Dataset summary for experiments/search-datasets.
struct DatasetSummary {
  std::string experiment_id;
  std::string name;
  std::string digest;
  std::string context;
};

struct CreateRunRequest {
  std::string experiment_id;
  std::string user_id;
  std::string run_name;
  int64_t start_time = 0;  // 0: now
  std::vector<Tag> tags;
};

struct UpdateRunRequest {
  std::string run_id;
  std::optional<std::string> status;
  std::optional<int64_t> end_time;
  std::optional<std::string> run_name;
};

struct Batch {
  std::vector<Metric> metrics;
  std::vector<Param> params;
  std::vector<Tag> tags;
};

// ---- model registry (MLflow's shape) ----

struct ModelVersion {
  std::string name;
  int64_t version = 0;
  int64_t creation_time = 0;
  int64_t last_updated_time = 0;
  std::string description;
  std::string user_id;
  std::string current_stage = "None";
  std::string source;
  std::string run_id;
  std::string run_link;
  std::string status = "READY";
  std::vector<Tag> tags;
  std::vector<std::string> aliases;
  // What ringo read from a Core ML source: inspect's JSON summary (empty when the source is not
  // a Core ML model), its digest and its size in bytes. A single file (.mlmodel) has `sha256`,
  // the file's SHA-256 as `shasum -a 256` prints it; a directory (.mlpackage) has `tree_sha256`,
  // ringo's tree hash (common/hash.h HashPath). The other one is empty.
  std::string coreml;
  std::string sha256;
  std::string tree_sha256;
  // MLflow 3: the logged model this version was registered from ("m-..."), or empty.
  std::string model_id;
  int64_t size = 0;
};

struct RegisteredModel {
  std::string name;
  int64_t creation_time = 0;
  int64_t last_updated_time = 0;
  std::string description;
  std::vector<Tag> tags;
  std::vector<std::pair<std::string, int64_t>> aliases;  // alias -> version
  std::vector<ModelVersion> latest_versions;             // the newest version per stage
};

struct RegistrySearch {
  std::string filter;  // name/tags (models); name, run_id, source_path, version_number, tags
  int64_t max_results = 100;
  std::vector<std::string> order_by;
  std::string page_token;
};

struct RegisteredModelPage {
  std::vector<RegisteredModel> models;
  std::string next_page_token;
};

struct ModelVersionPage {
  std::vector<ModelVersion> versions;
  std::string next_page_token;
};

// ---- documents and events (state of components above the store) ----

struct Document {
  std::string kind;
  std::string key;
  std::string value;     // JSON
  int64_t revision = 0;  // 1 on creation, +1 per write
  int64_t updated_time = 0;
};

struct Event {
  int64_t seq = 0;
  int64_t time = 0;
  std::string value;  // JSON
};

// A latency histogram for /metrics: counts per upper bound in seconds (kBounds), the last
// count past every bound, and the sum of the observations.
struct LatencyHistogram {
  static constexpr const auto& kBounds = kLatencyBoundsSeconds;
  static constexpr size_t kBuckets = std::size(kBounds) + 1;
  std::array<uint64_t, kBuckets> counts{};
  double sum_seconds = 0;
};

// Counters for /metrics.
struct StoreStats {
  int64_t write_queue_depth = 0;
  int64_t commits = 0;
  int64_t writes_committed = 0;
  int64_t writes_failed = 0;
  // Each batch the writer took, from taking it to its completions (apply, commit, upkeep).
  LatencyHistogram batch_seconds{};
  // Each write, from being queued to its completion: what an acknowledged request waits for.
  LatencyHistogram write_seconds{};
  // Bytes of SQLite's write-ahead log on disk; -1 for engines without one.
  int64_t wal_bytes = -1;
};

// Completion callbacks of writes run on the store's writer thread after the transaction
// holding the write has committed (or failed); they must be quick and must not call back
// into the store synchronously.
using Done = std::function<void(Status)>;
template <typename T>
using DoneWith = std::function<void(Result<T>)>;

// The tracking store. Writes are queued to a single writer thread and acknowledged through
// their callback only after commit (group commit), so an acknowledged write survives a crash
// of the process. Reads run on the calling thread against committed data. All methods are
// thread-safe. Validation follows MLflow: kInvalidArgument for bad keys/values/limits and for
// writes to runs that are not active, kNotFound for unknown ids, kAlreadyExists for names.
class Store {
 public:
  virtual ~Store() = default;

  // --- experiments ---
  virtual void CreateExperiment(std::string name, std::string artifact_location,
                                std::vector<Tag> tags, DoneWith<std::string> done) = 0;
  virtual Result<Experiment> GetExperiment(const std::string& experiment_id) = 0;
  virtual Result<Experiment> GetExperimentByName(const std::string& name) = 0;
  virtual Result<ExperimentPage> SearchExperiments(const ExperimentSearch& search) = 0;
  virtual void RenameExperiment(std::string experiment_id, std::string new_name, Done done) = 0;
  virtual void DeleteExperiment(std::string experiment_id, Done done) = 0;
  virtual void RestoreExperiment(std::string experiment_id, Done done) = 0;
  virtual void SetExperimentTag(std::string experiment_id, Tag tag, Done done) = 0;
  virtual void DeleteExperimentTag(std::string experiment_id, std::string key, Done done) = 0;

  // --- runs ---
  virtual void CreateRun(CreateRunRequest request, DoneWith<Run> done) = 0;
  virtual Result<Run> GetRun(const std::string& run_id) = 0;
  virtual void UpdateRun(UpdateRunRequest request, DoneWith<RunInfo> done) = 0;
  virtual void DeleteRun(std::string run_id, Done done) = 0;
  virtual void RestoreRun(std::string run_id, Done done) = 0;
  virtual void LogBatch(std::string run_id, Batch batch, Done done) = 0;
  virtual void DeleteTag(std::string run_id, std::string key, Done done) = 0;
  virtual void LogInputs(std::string run_id, std::vector<DatasetInput> inputs, Done done) = 0;
  virtual Result<RunPage> SearchRuns(const RunSearch& search) = 0;
  // Appends `model_json` (one serialised JSON object, validated by the caller) to the JSON list
  // in the run's mlflow.log-model.history tag, as MLflow's log-model does.
  virtual void AppendLoggedModel(std::string run_id, std::string model_json, Done done) = 0;

  // History of one metric ordered by step, then timestamp. max_results <= 0 means all.
  virtual Result<MetricPage> GetMetricHistory(const std::string& run_id, const std::string& key,
                                              int64_t max_results,
                                              const std::string& page_token) = 0;
  // The same history as bare points (histories run to millions of points: no key string each).
  virtual Result<MetricPoints> ReadMetricHistory(const std::string& run_id, const std::string& key,
                                                 int64_t max_results,
                                                 const std::string& page_token) = 0;
  // Points of one metric for several runs with start_step <= step <= end_step (absent bounds:
  // unbounded), at most max_results per run, evenly sampled over the steps when there are
  // more (first and last step always kept), as MLflow's bulk-interval endpoint.
  virtual Result<std::vector<RunMetric>> GetMetricHistoryBulkInterval(
      const std::vector<std::string>& run_ids, const std::string& key,
      std::optional<int64_t> start_step, std::optional<int64_t> end_step, int64_t max_results) = 0;
  virtual Result<std::vector<DatasetSummary>> SearchDatasets(
      const std::vector<std::string>& experiment_ids) = 0;
  // The metrics logged with `model_id` (MLflow 3's logged models): the latest point of each
  // (key, dataset_name, dataset_digest) by step, then timestamp, with its run; ordered by key.
  virtual Result<std::vector<RunMetric>> GetLoggedModelMetrics(const std::string& model_id) = 0;

  // --- model registry ---
  // kAlreadyExists for a taken name; kNotFound for unknown models/versions/aliases.
  virtual void CreateRegisteredModel(std::string name, std::string description,
                                     std::vector<Tag> tags, DoneWith<RegisteredModel> done) = 0;
  virtual Result<RegisteredModel> GetRegisteredModel(const std::string& name) = 0;
  virtual void RenameRegisteredModel(std::string name, std::string new_name,
                                     DoneWith<RegisteredModel> done) = 0;
  virtual void UpdateRegisteredModel(std::string name, std::string description,
                                     DoneWith<RegisteredModel> done) = 0;
  virtual void DeleteRegisteredModel(std::string name, Done done) = 0;
  virtual Result<RegisteredModelPage> SearchRegisteredModels(const RegistrySearch& search) = 0;
  virtual void SetRegisteredModelTag(std::string name, Tag tag, Done done) = 0;
  virtual void DeleteRegisteredModelTag(std::string name, std::string key, Done done) = 0;
  virtual void SetRegisteredModelAlias(std::string name, std::string alias, int64_t version,
                                       Done done) = 0;
  virtual void DeleteRegisteredModelAlias(std::string name, std::string alias, Done done) = 0;
  // Creates the next version (1, 2, ...) of an existing model; `version` fields other than
  // name/source/run_id/run_link/description/user_id/tags/coreml/sha256/tree_sha256/size are
  // ignored.
  virtual void CreateModelVersion(ModelVersion version, DoneWith<ModelVersion> done) = 0;
  virtual Result<ModelVersion> GetModelVersion(const std::string& name, int64_t version) = 0;
  virtual Result<ModelVersion> GetModelVersionByAlias(const std::string& name,
                                                      const std::string& alias) = 0;
  virtual void UpdateModelVersion(std::string name, int64_t version, std::string description,
                                  DoneWith<ModelVersion> done) = 0;
  virtual void TransitionModelVersionStage(std::string name, int64_t version, std::string stage,
                                           bool archive_existing, DoneWith<ModelVersion> done) = 0;
  virtual void DeleteModelVersion(std::string name, int64_t version, Done done) = 0;
  virtual Result<ModelVersionPage> SearchModelVersions(const RegistrySearch& search) = 0;
  virtual void SetModelVersionTag(std::string name, int64_t version, Tag tag, Done done) = 0;
  virtual void DeleteModelVersionTag(std::string name, int64_t version, std::string key,
                                     Done done) = 0;

  // --- documents and events ---
  // Writes a document. With expected_revision >= 0 the write happens only if the stored revision
  // equals it (0: the document must not exist), else kFailedPrecondition: optimistic
  // concurrency for read-modify-write. With `event` non-empty, appends it to the (kind, key)
  // event log in the same transaction. Returns the new revision.
  virtual void PutDocument(std::string kind, std::string key, std::string value,
                           int64_t expected_revision, std::string event,
                           DoneWith<int64_t> done) = 0;
  virtual Result<Document> GetDocument(const std::string& kind, const std::string& key) = 0;
  // Deletes a document (its event log stays). With expected_revision >= 0 only if the stored
  // revision equals it, else kFailedPrecondition. kNotFound when there is no such document.
  virtual void DeleteDocument(std::string kind, std::string key, int64_t expected_revision,
                              Done done) = 0;
  // Documents of a kind whose key starts with `prefix`, in key order.
  virtual Result<std::vector<Document>> ListDocuments(const std::string& kind,
                                                      const std::string& prefix) = 0;
  virtual void AppendEvent(std::string kind, std::string key, std::string value, Done done) = 0;
  // Events of (kind, key) after `after_seq`, oldest first, at most `limit`.
  virtual Result<std::vector<Event>> ListEvents(const std::string& kind, const std::string& key,
                                                int64_t after_seq, int64_t limit) = 0;

  virtual StoreStats Stats() = 0;

  // Stops accepting writes (they fail with kUnavailable), commits everything queued, and
  // joins the writer thread. Idempotent.
  virtual void Shutdown() = 0;
};

// Synchronous wrappers for callers without an event loop (CLI, tests): block until done.
Status Wait(const std::function<void(Done)>& start);
template <typename T>
Result<T> WaitFor(const std::function<void(DoneWith<T>)>& start);

// Validation of MLflow's key and value rules, exposed for the API layer's early checks.
Status ValidateKey(const std::string& kind, const std::string& key);

}  // namespace ringo::store

#include "store/wait_impl.h"  // IWYU pragma: keep

#endif  // RINGO_STORE_STORE_H_
