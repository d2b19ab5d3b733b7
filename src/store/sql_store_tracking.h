// SqlStore's tracking methods: experiments, runs, metric histories and datasets. Included only by
// an engine's instantiating file (see sql_store.h).
#ifndef RINGO_STORE_SQL_STORE_TRACKING_H_
#define RINGO_STORE_SQL_STORE_TRACKING_H_

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/util.h"
#include "store/experiments_sql.h"
#include "store/metrics_sql.h"
#include "store/paging.h"
#include "store/runs_load_sql.h"
#include "store/runs_sql.h"
#include "store/series_sql.h"
#include "store/sql_store.h"
#include "store/validation.h"
#include "store/write_queue.h"

namespace ringo::store {

template <typename E>
void SqlStore<E>::CreateExperiment(std::string name, std::string artifact_location,
                                   std::vector<Tag> tags, DoneWith<std::string> done) {
  if (name.empty()) return done(InvalidArgument("experiment name must be a non-empty string"));
  for (const Tag& t : tags) {
    Status s = ValidateTag(t);
    if (!s.ok()) return done(s);
  }
  auto id = std::make_shared<int64_t>(0);
  engine_.Submit(
      [=, root = artifact_root_](Db& db) -> Status {
        ASSIGN_OR_RETURN(*id, experiments::Insert(db, name, artifact_location, tags, root));
        return Status::Ok();
      },
      [id, done](Status s) {
        if (!s.ok()) return done(s);
        done(std::to_string(*id));
      });
}

template <typename E>
Result<Experiment> SqlStore<E>::GetExperiment(const std::string& experiment_id) {
  ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return experiments::Load(*lease->db, "experiment_id", id,
                           "No Experiment with id=" + experiment_id + " exists");
}

template <typename E>
Result<Experiment> SqlStore<E>::GetExperimentByName(const std::string& name) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return experiments::Load(*lease->db, "name", name,
                           "Could not find experiment with name '" + name + "'");
}

template <typename E>
Result<ExperimentPage> SqlStore<E>::SearchExperiments(const ExperimentSearch& search) {
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
  ASSIGN_OR_RETURN(SqlQuery query, CompileExperimentSearch(search, offset, E::Dialect()));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  Db& db = *lease->db;
  ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(query.sql));
  BindAll(*stmt, query.binds);
  std::vector<int64_t> ids;
  Status s;
  while (stmt->Step(&s)) ids.push_back(stmt->Int(0));
  RETURN_IF_ERROR(s);
  ExperimentPage page;
  if (static_cast<int64_t>(ids.size()) > search.max_results) {
    ids.pop_back();
    page.next_page_token = EncodeOffsetToken(offset + search.max_results);
  }
  for (int64_t id : ids) {
    ASSIGN_OR_RETURN(Experiment e, experiments::Load(db, "experiment_id", id, "gone"));
    page.experiments.push_back(std::move(e));
  }
  return page;
}

template <typename E>
void SqlStore<E>::RenameExperiment(std::string experiment_id, std::string new_name, Done done) {
  if (new_name.empty()) return done(InvalidArgument("experiment name must be a non-empty string"));
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit([=](Db& db) { return experiments::Rename(db, *id, new_name); }, std::move(done));
}

template <typename E>
void SqlStore<E>::DeleteExperiment(std::string experiment_id, Done done) {
  SetExperimentStage(std::move(experiment_id), std::string(kDeleted), std::move(done));
}

template <typename E>
void SqlStore<E>::RestoreExperiment(std::string experiment_id, Done done) {
  SetExperimentStage(std::move(experiment_id), std::string(kActive), std::move(done));
}

template <typename E>
void SqlStore<E>::SetExperimentStage(std::string experiment_id, std::string stage, Done done) {
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit([=](Db& db) { return experiments::SetStage(db, *id, stage); }, std::move(done));
}

template <typename E>
void SqlStore<E>::SetExperimentTag(std::string experiment_id, Tag tag, Done done) {
  Status v = ValidateTag(tag);
  if (!v.ok()) return done(v);
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit(
      [=](Db& db) -> Status {
        RETURN_IF_ERROR(experiments::CheckActive(db, *id));
        return experiments::UpsertTag(db, *id, tag);
      },
      std::move(done));
}

template <typename E>
void SqlStore<E>::DeleteExperimentTag(std::string experiment_id, std::string key, Done done) {
  auto id = ParseExperimentId(experiment_id);
  if (!id.ok()) return done(id.status());
  engine_.Submit(
      [=](Db& db) -> Status {
        RETURN_IF_ERROR(experiments::CheckActive(db, *id));
        return experiments::DeleteTag(db, *id, key);
      },
      std::move(done));
}

template <typename E>
void SqlStore<E>::CreateRun(CreateRunRequest req, DoneWith<Run> done) {
  for (const Tag& t : req.tags) {
    Status s = ValidateTag(t);
    if (!s.ok()) return done(s);
  }
  if (req.experiment_id.empty()) req.experiment_id = "0";
  auto exp_id = ParseExperimentId(req.experiment_id);
  if (!exp_id.ok()) return done(exp_id.status());
  auto run_id = std::make_shared<std::string>(NewId());
  engine_.Submit([=](Db& db) { return runs::Insert(db, *run_id, *exp_id, req); },
                 [this, run_id, done](Status s) {
                   if (!s.ok()) return done(s);
                   // Read back through the writer's view: the commit has happened.
                   done(runs::Load(engine_.writer_db(), *run_id));
                 });
}

template <typename E>
Result<Run> SqlStore<E>::GetRun(const std::string& run_id) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return runs::Load(*lease->db, run_id);
}

template <typename E>
void SqlStore<E>::UpdateRun(UpdateRunRequest req, DoneWith<RunInfo> done) {
  if (req.status && !IsRunStatus(*req.status)) {
    return done(InvalidArgument("invalid run status '" + *req.status +
                                "': expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"));
  }
  auto run_id = req.run_id;
  engine_.Submit([=](Db& db) { return runs::Update(db, req); },
                 [this, run_id, done](Status s) {
                   if (!s.ok()) return done(s);
                   auto run = runs::Load(engine_.writer_db(), run_id);
                   if (!run.ok()) return done(run.status());
                   done(std::move(run->info));
                 });
}

template <typename E>
void SqlStore<E>::DeleteRun(std::string run_id, Done done) {
  engine_.Submit([=](Db& db) { return runs::SetStage(db, run_id, std::string(kDeleted)); },
                 std::move(done));
}

template <typename E>
void SqlStore<E>::RestoreRun(std::string run_id, Done done) {
  engine_.Submit([=](Db& db) { return runs::SetStage(db, run_id, std::string(kActive)); },
                 std::move(done));
}

template <typename E>
void SqlStore<E>::LogBatch(std::string run_id, Batch batch, Done done) {
  Status v = ValidateBatch(batch);
  if (!v.ok()) return done(v);
  auto shared = std::make_shared<const Batch>(std::move(batch));
  std::shared_ptr<const MetricWrite> metrics;
  bool metrics_only = E::kMergesMetricWrites && shared->params.empty() &&
                      shared->tags.empty() &&
                      std::all_of(shared->metrics.begin(), shared->metrics.end(),
                                  [](const Metric& m) { return m.model_id.empty(); });
  if (metrics_only) metrics = std::make_shared<const MetricWrite>(MetricWrite{run_id, shared});
  engine_.Submit(
      [run_id = std::move(run_id), shared](Db& db) -> Status {
        RETURN_IF_ERROR(runs::CheckActive(db, run_id));
        return E::WriteBatch(db, run_id, *shared);
      },
      std::move(done), std::move(metrics));
}

template <typename E>
void SqlStore<E>::AppendLoggedModel(std::string run_id, std::string model_json, Done done) {
  engine_.Submit([=](Db& db) { return runs::AppendLoggedModel(db, run_id, model_json); },
                 std::move(done));
}

template <typename E>
void SqlStore<E>::DeleteTag(std::string run_id, std::string key, Done done) {
  engine_.Submit([=](Db& db) { return runs::DeleteTag(db, run_id, key); }, std::move(done));
}

template <typename E>
void SqlStore<E>::LogInputs(std::string run_id, std::vector<DatasetInput> inputs, Done done) {
  for (const DatasetInput& in : inputs) {
    if (in.dataset.name.empty() || in.dataset.digest.empty() || in.dataset.source_type.empty() ||
        in.dataset.source.empty()) {
      return done(
          InvalidArgument("each dataset needs a non-empty name, digest, source_type and source"));
    }
    for (const Tag& t : in.tags) {
      Status s = ValidateTag(t);
      if (!s.ok()) return done(s);
    }
  }
  engine_.Submit(
      [run_id = std::move(run_id), inputs = std::move(inputs)](Db& db) {
        return runs::LogInputs(db, run_id, inputs);
      },
      std::move(done));
}

// What drives a search, chosen by counting rather than from the planner's statistics (which lag
// behind a store being filled): the metric, param or tag clause whose index holds the fewest
// rows for it (each counted up to 10,000), or kRunsDrive when the experiments' runs are no more
// than that; none when the filter has no such clause.
template <typename Db>
Result<std::optional<size_t>> ChooseSearchDriver(Db& db, const RunSearch& search,
                                                 const SqlDialect& dialect) {
  auto count = [&db](const SqlQuery& probe) -> Result<int64_t> {
    ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(probe.sql));
    BindAll(*stmt, probe.binds);
    Status s;
    int64_t rows = stmt->Step(&s) ? stmt->Int(0) : 0;
    RETURN_IF_ERROR(s);
    return rows;
  };
  ASSIGN_OR_RETURN(std::vector<SqlQuery> probes, CompileClauseProbes(search, 10000, dialect));
  if (probes.empty()) return std::optional<size_t>();
  size_t best = 0;
  int64_t fewest = 0;
  for (size_t i = 0; i < probes.size(); ++i) {
    ASSIGN_OR_RETURN(int64_t rows, count(probes[i]));
    if (i == 0 || rows < fewest) {
      best = i;
      fewest = rows;
    }
  }
  // Walking the experiments' runs may be cheaper still (a small experiment, a common value).
  ASSIGN_OR_RETURN(SqlQuery runs_probe, CompileRunsProbe(search, fewest + 1, dialect));
  ASSIGN_OR_RETURN(int64_t runs, count(runs_probe));
  return std::optional<size_t>(runs <= fewest ? kRunsDrive : best);
}

template <typename E>
Result<RunPage> SqlStore<E>::SearchRuns(const RunSearch& search) {
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(search.page_token));
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  Db& db = *lease->db;
  std::optional<size_t> driver;
  if constexpr (E::kChoosesSearchDriver) {
    ASSIGN_OR_RETURN(driver, ChooseSearchDriver(db, search, E::Dialect()));
  }
  ASSIGN_OR_RETURN(SqlQuery query, CompileRunSearch(search, offset, E::Dialect(), driver));
  ASSIGN_OR_RETURN(auto stmt, db.PrepareUncached(query.sql));
  BindAll(*stmt, query.binds);
  std::vector<RunInfo> infos;
  Status s;
  while (stmt->Step(&s)) runs::ReadInfo(*stmt, infos.emplace_back());
  RETURN_IF_ERROR(s);
  stmt.reset();
  RunPage page;
  if (static_cast<int64_t>(infos.size()) > search.max_results) {
    infos.pop_back();
    page.next_page_token = EncodeOffsetToken(offset + search.max_results);
  }
  ASSIGN_OR_RETURN(page.runs, runs::LoadWithInfos(db, std::move(infos)));
  return page;
}

template <typename E>
Result<MetricPage> SqlStore<E>::GetMetricHistory(const std::string& run_id, const std::string& key,
                                                 int64_t max_results,
                                                 const std::string& page_token) {
  ASSIGN_OR_RETURN(MetricPoints points, ReadMetricHistory(run_id, key, max_results, page_token));
  MetricPage page;
  page.metrics.reserve(points.points.size());
  for (const MetricPoint& p : points.points) {
    page.metrics.push_back(Metric{key, p.value, p.timestamp, p.step});
  }
  page.next_page_token = std::move(points.next_page_token);
  return page;
}

template <typename E>
Result<MetricPoints> SqlStore<E>::ReadMetricHistory(const std::string& run_id,
                                                    const std::string& key, int64_t max_results,
                                                    const std::string& page_token) {
  ASSIGN_OR_RETURN(int64_t offset, DecodeOffsetToken(page_token));
  std::vector<series::Point> all;
  {
    auto lease = engine_.AcquireReader();
    if (!lease.ok()) return lease.status();
    Db& db = *lease->db;
    RETURN_IF_ERROR(runs::CheckExists(db, run_id));
    ASSIGN_OR_RETURN(all, series::Read(db, run_id, key));
  }
  return series::Page(all, max_results, offset);
}

template <typename E>
Result<std::vector<RunMetric>>
SqlStore<E>::GetMetricHistoryBulkInterval(const std::vector<std::string>& run_ids,
                                          const std::string& key, std::optional<int64_t> start_step,
                                          std::optional<int64_t> end_step, int64_t max_results) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::BulkInterval(*lease->db, run_ids, key, start_step, end_step, max_results);
}

template <typename E>
Result<std::vector<DatasetSummary>>
SqlStore<E>::SearchDatasets(const std::vector<std::string>& experiment_ids) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::SearchDatasets(*lease->db, experiment_ids);
}

template <typename E>
Result<std::vector<RunMetric>> SqlStore<E>::GetLoggedModelMetrics(const std::string& model_id) {
  auto lease = engine_.AcquireReader();
  if (!lease.ok()) return lease.status();
  return metrics::LoggedModelMetrics(*lease->db, model_id);
}

}  // namespace ringo::store

#endif  // RINGO_STORE_SQL_STORE_TRACKING_H_
