// The Store over a SQL engine, written once for every engine: validation, the SQL each domain
// shares (store/*_sql.h), search compilation and page tokens, over an engine's write engine and
// connections. An engine `E` (store/sqlite, store/postgres) provides:
//   E::Db              its connection, with E::Db::Statement and E::Db::Guard (see
//                      store/registry_sql.h for the vocabulary the shared SQL uses);
//   E::WriteEngine     Submit(apply, done) on one writer thread with group commit, writer_db(),
//                      AcquireReader() -> a lease holding `db`, Stats(), Shutdown();
//   E::Dialect()       its spelling of the search SQL (store/search_sql.h);
//   E::WriteBatch(db, run_id, batch)
//                      a log-batch inside the writer's transaction (the run checked active);
//   E::kMergesMetricWrites
//                      whether its write engine writes metric-only log-batches together (then
//                      they are submitted with their MetricWrite);
//   E::kChoosesSearchDriver
//                      whether a run search counts its clauses' rows first to start from the
//                      fewest (search_sql.h).
// The methods are defined in sql_store_tracking.h and sql_store_registry.h, which only an
// engine's instantiating file includes (`template class SqlStore<E>;`). Private to store/ and
// its engines.
#ifndef RINGO_STORE_SQL_STORE_H_
#define RINGO_STORE_SQL_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"
#include "store/search_sql.h"
#include "store/store.h"

namespace ringo::store {

inline constexpr std::string_view kActive = "active";
inline constexpr std::string_view kDeleted = "deleted";

// Binds `values` to ?1, ?2, ... of `stmt`.
template <typename Stmt>
void BindAll(Stmt& stmt, const std::vector<SqlValue>& values) {
  int i = 1;
  for (const SqlValue& v : values) {
    if (auto* s = std::get_if<std::string>(&v)) {
      stmt.Bind(i, *s);
    } else if (auto* n = std::get_if<int64_t>(&v)) {
      stmt.Bind(i, *n);
    } else {
      stmt.BindDouble(i, std::get<double>(v));
    }
    ++i;
  }
}

template <typename E>
class SqlStore final : public Store {
 public:
  using Db = typename E::Db;
  using Stmt = typename E::Db::Statement;
  using StmtGuard = typename E::Db::Guard;
  using WriteEngine = typename E::WriteEngine;

  // `where` names the database for the engine (a file path, a connection string); experiments
  // created without a location keep their artifacts under "<artifact_root>/<id>".
  SqlStore(std::string where, size_t max_ops_per_commit, std::unique_ptr<Db> writer,
           std::string artifact_root)
      : artifact_root_(std::move(artifact_root)),
        engine_(std::move(where), max_ops_per_commit, std::move(writer)) {}
  ~SqlStore() override { Shutdown(); }

  StoreStats Stats() override { return engine_.Stats(); }
  void Shutdown() override { engine_.Shutdown(); }

  // Experiments, runs and histories (sql_store_tracking.h); the registry, documents and events
  // (sql_store_registry.h).

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

  Result<MetricPoints> ReadMetricHistory(const std::string& run_id, const std::string& key,
                                         int64_t max_results,
                                         const std::string& page_token) override;

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

}  // namespace ringo::store

#endif  // RINGO_STORE_SQL_STORE_H_
