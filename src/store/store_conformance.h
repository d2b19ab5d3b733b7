// The fixture of the Store conformance tests: each case runs on every engine, SQLite on a fresh
// database file in its own temp dir, PostgreSQL on a fresh database of a private test server.
// Test-only; included by the *_conformance_test.cc files.
#ifndef RINGO_STORE_STORE_CONFORMANCE_H_
#define RINGO_STORE_STORE_CONFORMANCE_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/test_postgres.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace ringo::store {

namespace fs = std::filesystem;

inline constexpr double kInf = std::numeric_limits<double>::infinity();

enum class Engine { kSqlite, kPostgres };

inline std::string EngineName(const ::testing::TestParamInfo<Engine>& info) {
  return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
}

// Opens a store of the test's engine on a new database (SQLite: a file in a fresh temporary
// directory; PostgreSQL: a new database on the process's test server); removes the directory
// afterwards.
class StoreTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ringo-store-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    OpenFresh("mlflow-artifacts:");
  }

  void TearDown() override {
    if (store_) store_->Shutdown();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Replaces the store by one on a new, empty database whose experiments keep their artifacts
  // under `artifact_root`.
  void OpenFresh(const std::string& artifact_root) {
    if (GetParam() == Engine::kPostgres) {
      Result<TestPostgres*> server = SharedTestPostgres();
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      Result<std::string> uri = (*server)->CreateDatabase();
      ASSERT_TRUE(uri.ok()) << uri.status().ToString();
      conninfo_ = *uri;
    } else {
      db_name_ = db_name_.empty() ? "ringo.db" : "fresh.db";
    }
    artifact_root_ = artifact_root;
    Reopen();
  }

  // Shuts the current store down (if any) and opens the same database file
  // again.
  void Reopen() {
    if (store_) store_->Shutdown();
    store_.reset();
    Result<std::unique_ptr<Store>> opened = Internal("no engine");
    if (GetParam() == Engine::kSqlite) {
      SqliteOptions options;
      options.path = (dir_ / db_name_).string();
      options.artifact_root = artifact_root_;
      opened = OpenSqliteStore(options);
    } else {
      PostgresOptions options;
      options.conninfo = conninfo_;
      options.artifact_root = artifact_root_;
      opened = OpenPostgresStore(options);
    }
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  Result<std::string> CreateExperiment(const std::string& name, std::vector<Tag> tags = {},
                                       const std::string& artifact_location = "") {
    return WaitFor<std::string>([&](DoneWith<std::string> done) {
      store_->CreateExperiment(name, artifact_location, tags, std::move(done));
    });
  }

  std::string MustCreateExperiment(const std::string& name, std::vector<Tag> tags = {}) {
    Result<std::string> id = CreateExperiment(name, std::move(tags));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }

  Result<store::Run> CreateRun(CreateRunRequest request) {
    return WaitFor<store::Run>(
        [&](DoneWith<store::Run> done) { store_->CreateRun(request, std::move(done)); });
  }

  // Creates a run in `experiment_id` named `name`, started at `start_time` (0:
  // now).
  store::Run MustCreateRun(const std::string& experiment_id, const std::string& name = "",
                           int64_t start_time = 0) {
    CreateRunRequest request;
    request.experiment_id = experiment_id;
    request.run_name = name;
    request.start_time = start_time;
    Result<store::Run> run = CreateRun(request);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? *run : store::Run{};
  }

  Result<RunInfo> UpdateRun(UpdateRunRequest request) {
    return WaitFor<RunInfo>(
        [&](DoneWith<RunInfo> done) { store_->UpdateRun(request, std::move(done)); });
  }

  Status LogBatch(const std::string& run_id, Batch batch) {
    return Wait([&](Done done) { store_->LogBatch(run_id, batch, std::move(done)); });
  }

  Status LogMetric(const std::string& run_id, const std::string& key, double value, int64_t step,
                   int64_t timestamp) {
    Batch b;
    b.metrics.push_back(Metric{key, value, timestamp, step});
    return LogBatch(run_id, std::move(b));
  }

  Status LogParam(const std::string& run_id, const std::string& key, const std::string& value) {
    Batch b;
    b.params.push_back(Param{key, value});
    return LogBatch(run_id, std::move(b));
  }

  Status SetTag(const std::string& run_id, const std::string& key, const std::string& value) {
    Batch b;
    b.tags.push_back(Tag{key, value});
    return LogBatch(run_id, std::move(b));
  }

  Status DeleteRun(const std::string& run_id) {
    return Wait([&](Done done) { store_->DeleteRun(run_id, std::move(done)); });
  }
  Status RestoreRun(const std::string& run_id) {
    return Wait([&](Done done) { store_->RestoreRun(run_id, std::move(done)); });
  }
  Status DeleteExperiment(const std::string& id) {
    return Wait([&](Done done) { store_->DeleteExperiment(id, std::move(done)); });
  }
  Status RestoreExperiment(const std::string& id) {
    return Wait([&](Done done) { store_->RestoreExperiment(id, std::move(done)); });
  }
  Status RenameExperiment(const std::string& id, const std::string& name) {
    return Wait([&](Done done) { store_->RenameExperiment(id, name, std::move(done)); });
  }

  // All points of one metric, following page tokens.
  std::vector<Metric> History(const std::string& run_id, const std::string& key) {
    Result<MetricPage> page = store_->GetMetricHistory(run_id, key, 0, "");
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->metrics : std::vector<Metric>{};
  }

  // store::Run ids of a search, in result order; fails the test if the search
  // fails.
  std::vector<std::string> SearchIds(RunSearch search) {
    Result<RunPage> page = store_->SearchRuns(search);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const store::Run& r : page->runs) ids.push_back(r.info.run_id);
    }
    return ids;
  }

  fs::path dir_;
  std::string conninfo_;
  std::string db_name_;  // the SQLite file: ringo.db, fresh.db after OpenFresh
  std::string artifact_root_ = "mlflow-artifacts:";
  std::unique_ptr<Store> store_;
};

inline std::optional<std::string> FindTag(const std::vector<Tag>& tags, const std::string& key) {
  for (const Tag& t : tags) {
    if (t.key == key) return t.value;
  }
  return std::nullopt;
}

inline std::optional<std::string> FindParam(const store::Run& run, const std::string& key) {
  for (const Param& p : run.params) {
    if (p.key == key) return p.value;
  }
  return std::nullopt;
}

inline std::optional<Metric> FindMetric(const store::Run& run, const std::string& key) {
  for (const Metric& m : run.metrics) {
    if (m.key == key) return m;
  }
  return std::nullopt;
}

// A dataset input named `name` with `digest`, tagged with `context` unless empty.
inline DatasetInput MakeInput(const std::string& name, const std::string& digest,
                       const std::string& context) {
  DatasetInput in;
  in.dataset = Dataset{name, digest, "local", "/data/" + name, "{\"cols\":[]}", ""};
  if (!context.empty()) in.tags.push_back(Tag{"mlflow.data.context", context});
  return in;
}

// Runs every case of `suite` on each engine.
#define RINGO_ON_EVERY_ENGINE(suite)                                                            \
  INSTANTIATE_TEST_SUITE_P(Engines, suite,                                                     \
                           ::testing::Values(Engine::kSqlite, Engine::kPostgres), EngineName)

}  // namespace ringo::store

#endif  // RINGO_STORE_STORE_CONFORMANCE_H_
