// The PostgreSQL store's class, private to the engine's folder: the Store interface over the
// write engine, its methods defined by concern in experiments.cc, runs.cc, batch.cc, metrics.cc,
// registry.cc and documents.cc, over the SQL both engines share (store/*_sql.h).
#ifndef RINGO_STORE_POSTGRES_STORE_IMPL_H_
#define RINGO_STORE_POSTGRES_STORE_IMPL_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/search_sql.h"
#include "store/postgres/db.h"
#include "store/postgres/engine.h"
#include "store/postgres/postgres_store.h"
#include "store/store.h"

namespace ringo::store::pg {

inline constexpr std::string_view kActive = "active";
inline constexpr std::string_view kDeleted = "deleted";

// PostgreSQL's spelling of the shared search SQL (postgres_store.cc).
extern const SqlDialect kPostgresDialect;

// Binds `values` to ?1, ?2, ... of `stmt`.
void BindAll(Stmt& stmt, const std::vector<SqlValue>& values);

class PostgresStore final : public Store {
 public:
  PostgresStore(const PostgresOptions& options, std::unique_ptr<Db> writer)
      : artifact_root_(options.artifact_root),
        engine_(options.conninfo, options.max_ops_per_commit, std::move(writer)) {}
  ~PostgresStore() override { Shutdown(); }

  StoreStats Stats() override { return engine_.Stats(); }
  void Shutdown() override { engine_.Shutdown(); }

  // Experiments (experiments.cc), runs (runs.cc), histories (metrics.cc), the registry
  // (registry.cc), documents and events (documents.cc).

  void CreateExperiment(std::string name, std::string artifact_location, std::vector<Tag> tags,
                        DoneWith<std::string> done) override;

  Result<Experiment> GetExperiment(const std::string& experiment_id) override;

  Result<Experiment> GetExperimentByName(const std::string& name) override;

  Result<ExperimentPage> SearchExperiments(const ExperimentSearch& search) override;

  void RenameExperiment(std::string experiment_id, std::string new_name, Done done) override;

  void DeleteExperiment(std::string experiment_id, Done done) override;

  void RestoreExperiment(std::string experiment_id, Done done) override;

  void SetExperimentTag(std::string experiment_id, Tag tag, Done done) override;

  void DeleteExperimentTag(std::string experiment_id, std::string key, Done done) override;

  void CreateRun(CreateRunRequest req, DoneWith<Run> done) override;

  Result<Run> GetRun(const std::string& run_id) override;

  void UpdateRun(UpdateRunRequest req, DoneWith<RunInfo> done) override;

  void DeleteRun(std::string run_id, Done done) override;

  void RestoreRun(std::string run_id, Done done) override;

  void LogBatch(std::string run_id, Batch batch, Done done) override;

  void AppendLoggedModel(std::string run_id, std::string model_json, Done done) override;

  void DeleteTag(std::string run_id, std::string key, Done done) override;

  void LogInputs(std::string run_id, std::vector<DatasetInput> inputs, Done done) override;

  Result<RunPage> SearchRuns(const RunSearch& search) override;

  Result<MetricPage> GetMetricHistory(const std::string& run_id, const std::string& key,
                                      int64_t max_results, const std::string& page_token) override;

  Result<std::string> VisitMetricHistory(const std::string& run_id, const std::string& key,
                                         int64_t max_results, const std::string& page_token,
                                         const PointVisitor& visit) override;

  Result<std::vector<RunMetric>> GetMetricHistoryBulkInterval(
      const std::vector<std::string>& run_ids, const std::string& key,
      std::optional<int64_t> start_step, std::optional<int64_t> end_step,
      int64_t max_results) override;

  Result<std::vector<RunMetric>> GetLoggedModelMetrics(const std::string& model_id) override;

  Result<std::vector<DatasetSummary>> SearchDatasets(
      const std::vector<std::string>& experiment_ids) override;

  void CreateRegisteredModel(std::string name, std::string description, std::vector<Tag> tags,
                             DoneWith<RegisteredModel> done) override;

  Result<RegisteredModel> GetRegisteredModel(const std::string& name) override;

  void RenameRegisteredModel(std::string name, std::string new_name,
                             DoneWith<RegisteredModel> done) override;

  void UpdateRegisteredModel(std::string name, std::string description,
                             DoneWith<RegisteredModel> done) override;

  void DeleteRegisteredModel(std::string name, Done done) override;

  Result<RegisteredModelPage> SearchRegisteredModels(const RegistrySearch& search) override;

  void SetRegisteredModelTag(std::string name, Tag tag, Done done) override;

  void DeleteRegisteredModelTag(std::string name, std::string key, Done done) override;

  void SetRegisteredModelAlias(std::string name, std::string alias, int64_t version,
                               Done done) override;

  void DeleteRegisteredModelAlias(std::string name, std::string alias, Done done) override;

  void CreateModelVersion(ModelVersion version, DoneWith<ModelVersion> done) override;

  Result<ModelVersion> GetModelVersion(const std::string& name, int64_t version) override;

  Result<ModelVersion> GetModelVersionByAlias(const std::string& name,
                                              const std::string& alias) override;

  void UpdateModelVersion(std::string name, int64_t version, std::string description,
                          DoneWith<ModelVersion> done) override;

  void TransitionModelVersionStage(std::string name, int64_t version, std::string stage,
                                   bool archive_existing, DoneWith<ModelVersion> done) override;

  void DeleteModelVersion(std::string name, int64_t version, Done done) override;

  Result<ModelVersionPage> SearchModelVersions(const RegistrySearch& search) override;

  void SetModelVersionTag(std::string name, int64_t version, Tag tag, Done done) override;

  void DeleteModelVersionTag(std::string name, int64_t version, std::string key,
                             Done done) override;

  void PutDocument(std::string kind, std::string key, std::string value, int64_t expected_revision,
                   std::string event, DoneWith<int64_t> done) override;

  Result<Document> GetDocument(const std::string& kind, const std::string& key) override;
  void DeleteDocument(std::string kind, std::string key, int64_t expected_revision,
                      Done done) override;

  Result<std::vector<Document>> ListDocuments(const std::string& kind,
                                              const std::string& prefix) override;

  void AppendEvent(std::string kind, std::string key, std::string value, Done done) override;

  Result<std::vector<Event>> ListEvents(const std::string& kind, const std::string& key,
                                        int64_t after_seq, int64_t limit) override;

 private:
  // Helpers on the writer or a reader connection.

  void SetExperimentStage(std::string experiment_id, std::string stage, Done done);

  // A log-batch, set-based (batch.cc).
  Status WriteBatch(Db& db, const std::string& run_id, const Batch& batch);

  template <typename T>
  void SubmitThenLoad(std::function<Status(Db&)> apply, std::function<Result<T>(Db&)> load,
                      DoneWith<T> done) {
    engine_.Submit(std::move(apply),
                   [this, load = std::move(load), done = std::move(done)](Status s) {
                     if (!s.ok()) return done(s);
                     // Read back through the writer's connection: the commit has happened.
                     done(load(engine_.writer_db()));
                   });
  }

  const std::string artifact_root_;  // of experiments created without a location
  WriteEngine engine_;
};

}  // namespace ringo::store::pg

#endif  // RINGO_STORE_POSTGRES_STORE_IMPL_H_
