// Conformance tests of the Store interface, each case run on every engine: SQLite on a fresh
// database file in its own temp dir, PostgreSQL on a fresh database of a private test server.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/test_postgres.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace ringo::store {
namespace {

namespace fs = std::filesystem;

constexpr double kInf = std::numeric_limits<double>::infinity();

enum class Engine { kSqlite, kPostgres };

std::string EngineName(const ::testing::TestParamInfo<Engine>& info) {
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
    if (GetParam() == Engine::kPostgres) {
      Result<TestPostgres*> server = SharedTestPostgres();
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      Result<std::string> uri = (*server)->CreateDatabase();
      ASSERT_TRUE(uri.ok()) << uri.status().ToString();
      conninfo_ = *uri;
    }
    Reopen();
  }

  void TearDown() override {
    if (store_) store_->Shutdown();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Shuts the current store down (if any) and opens the same database file
  // again.
  void Reopen() {
    if (store_) store_->Shutdown();
    store_.reset();
    Result<std::unique_ptr<Store>> opened = Internal("no engine");
    if (GetParam() == Engine::kSqlite) {
      SqliteOptions options;
      options.path = (dir_ / "ringo.db").string();
      opened = OpenSqliteStore(options);
    } else {
      PostgresOptions options;
      options.conninfo = conninfo_;
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
  std::unique_ptr<Store> store_;
};

std::optional<std::string> FindTag(const std::vector<Tag>& tags, const std::string& key) {
  for (const Tag& t : tags) {
    if (t.key == key) return t.value;
  }
  return std::nullopt;
}

std::optional<std::string> FindParam(const store::Run& run, const std::string& key) {
  for (const Param& p : run.params) {
    if (p.key == key) return p.value;
  }
  return std::nullopt;
}

std::optional<Metric> FindMetric(const store::Run& run, const std::string& key) {
  for (const Metric& m : run.metrics) {
    if (m.key == key) return m;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Experiments

using ExperimentStoreTest = StoreTest;

TEST_P(ExperimentStoreTest, DefaultExperimentExists) {
  Result<Experiment> by_id = store_->GetExperiment("0");
  ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
  EXPECT_EQ(by_id->experiment_id, "0");
  EXPECT_EQ(by_id->name, "Default");
  EXPECT_EQ(by_id->lifecycle_stage, "active");
  EXPECT_EQ(by_id->artifact_location, "mlflow-artifacts:/0");

  Result<Experiment> by_name = store_->GetExperimentByName("Default");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(by_name->experiment_id, "0");
}

TEST_P(ExperimentStoreTest, CreateThenGetByIdAndName) {
  Result<std::string> id = CreateExperiment("exp-a", {{"team", "vision"}, {"owner", "ana"}});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "1");

  Result<Experiment> e = store_->GetExperiment(*id);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->name, "exp-a");
  EXPECT_EQ(e->lifecycle_stage, "active");
  EXPECT_EQ(e->artifact_location, "mlflow-artifacts:/1");
  EXPECT_GT(e->creation_time, 0);
  EXPECT_EQ(FindTag(e->tags, "team"), "vision");
  EXPECT_EQ(FindTag(e->tags, "owner"), "ana");

  Result<Experiment> by_name = store_->GetExperimentByName("exp-a");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(by_name->experiment_id, "1");

  EXPECT_EQ(CreateExperiment("exp-b").value(), "2");
}

TEST_P(ExperimentStoreTest, CreateKeepsGivenArtifactLocation) {
  Result<std::string> id = CreateExperiment("exp", {}, "file:///data/exp");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(store_->GetExperiment(*id)->artifact_location, "file:///data/exp");
}

TEST_P(ExperimentStoreTest, CreateRejectsEmptyNameAndBadTags) {
  EXPECT_EQ(CreateExperiment("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CreateExperiment("x", {{"bad key!", "v"}}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetExperimentByName("x").status().code(), Code::kNotFound);
}

TEST_P(ExperimentStoreTest, UnknownExperimentIsNotFound) {
  EXPECT_EQ(store_->GetExperiment("42").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExperimentByName("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExperiment("abc").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetExperiment("-1").status().code(), Code::kInvalidArgument);
}

TEST_P(ExperimentStoreTest, DuplicateNameIsAlreadyExistsEvenWhenDeleted) {
  std::string id = MustCreateExperiment("dup");
  EXPECT_EQ(CreateExperiment("dup").status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(DeleteExperiment(id).ok());
  EXPECT_EQ(CreateExperiment("dup").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(CreateExperiment("Default").status().code(), Code::kAlreadyExists);
}

TEST_P(ExperimentStoreTest, Rename) {
  std::string id = MustCreateExperiment("old");
  MustCreateExperiment("taken");
  ASSERT_TRUE(RenameExperiment(id, "new").ok());
  EXPECT_EQ(store_->GetExperiment(id)->name, "new");
  EXPECT_EQ(store_->GetExperimentByName("old").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExperimentByName("new")->experiment_id, id);

  EXPECT_TRUE(RenameExperiment(id, "new").ok());  // to its own name
  EXPECT_EQ(RenameExperiment(id, "taken").code(), Code::kAlreadyExists);
  EXPECT_EQ(RenameExperiment(id, "").code(), Code::kInvalidArgument);
  EXPECT_EQ(RenameExperiment("99", "x").code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExperiment(id)->name, "new");
}

TEST_P(ExperimentStoreTest, RenameOfDeletedExperimentIsInvalidState) {
  std::string id = MustCreateExperiment("gone");
  ASSERT_TRUE(DeleteExperiment(id).ok());
  EXPECT_EQ(RenameExperiment(id, "back").code(), Code::kFailedPrecondition);
  EXPECT_EQ(store_->GetExperiment(id)->name, "gone");
}

TEST_P(ExperimentStoreTest, DeleteAndRestoreCascadeToRuns) {
  std::string id = MustCreateExperiment("exp");
  store::Run run = MustCreateRun(id);

  ASSERT_TRUE(DeleteExperiment(id).ok());
  EXPECT_EQ(store_->GetExperiment(id)->lifecycle_stage, "deleted");
  EXPECT_EQ(store_->GetRun(run.info.run_id)->info.lifecycle_stage, "deleted");
  EXPECT_EQ(SetTag(run.info.run_id, "t", "v").code(), Code::kInvalidArgument);

  ASSERT_TRUE(RestoreExperiment(id).ok());
  EXPECT_EQ(store_->GetExperiment(id)->lifecycle_stage, "active");
  EXPECT_EQ(store_->GetRun(run.info.run_id)->info.lifecycle_stage, "active");
  EXPECT_TRUE(SetTag(run.info.run_id, "t", "v").ok());
}

TEST_P(ExperimentStoreTest, DeleteFailures) {
  EXPECT_EQ(DeleteExperiment("0").code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetExperiment("0")->lifecycle_stage, "active");
  EXPECT_EQ(DeleteExperiment("77").code(), Code::kNotFound);
  EXPECT_EQ(RestoreExperiment("77").code(), Code::kNotFound);
  EXPECT_EQ(DeleteExperiment("x").code(), Code::kInvalidArgument);
}

TEST_P(ExperimentStoreTest, SetAndDeleteTags) {
  std::string id = MustCreateExperiment("exp");
  auto set = [&](const std::string& exp, const std::string& k, const std::string& v) {
    return Wait([&](Done done) { store_->SetExperimentTag(exp, Tag{k, v}, std::move(done)); });
  };
  auto del = [&](const std::string& exp, const std::string& k) {
    return Wait([&](Done done) { store_->DeleteExperimentTag(exp, k, std::move(done)); });
  };
  ASSERT_TRUE(set(id, "a", "1").ok());
  ASSERT_TRUE(set(id, "b", "2").ok());
  ASSERT_TRUE(set(id, "a", "3").ok());
  std::vector<Tag> tags = store_->GetExperiment(id)->tags;
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(FindTag(tags, "a"), "3");
  EXPECT_EQ(FindTag(tags, "b"), "2");

  ASSERT_TRUE(del(id, "a").ok());
  tags = store_->GetExperiment(id)->tags;
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].key, "b");

  EXPECT_EQ(del(id, "a").code(), Code::kNotFound);
  EXPECT_EQ(set(id, "bad key!", "v").code(), Code::kInvalidArgument);
  EXPECT_EQ(set(id, "k", std::string(8001, 'v')).code(), Code::kInvalidArgument);
  EXPECT_EQ(set("99", "k", "v").code(), Code::kNotFound);

  ASSERT_TRUE(DeleteExperiment(id).ok());
  EXPECT_EQ(set(id, "c", "v").code(), Code::kInvalidArgument);
  EXPECT_EQ(del(id, "b").code(), Code::kInvalidArgument);
  EXPECT_EQ(FindTag(store_->GetExperiment(id)->tags, "c"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Experiment search

using ExperimentSearchTest = StoreTest;

std::vector<std::string> ExperimentNames(const Result<ExperimentPage>& page) {
  std::vector<std::string> names;
  if (page.ok()) {
    for (const Experiment& e : page->experiments) names.push_back(e.name);
  }
  return names;
}

TEST_P(ExperimentSearchTest, FiltersByNameAndTags) {
  MustCreateExperiment("vision-a", {{"team", "cv"}});
  MustCreateExperiment("vision-b", {{"team", "CV"}});
  MustCreateExperiment("nlp", {{"team", "text"}});

  auto names = [&](const std::string& filter) {
    ExperimentSearch s;
    s.filter = filter;
    s.order_by = {"name ASC"};
    Result<ExperimentPage> page = store_->SearchExperiments(s);
    EXPECT_TRUE(page.ok()) << filter << ": " << page.status().ToString();
    return ExperimentNames(page);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(""), (V{"Default", "nlp", "vision-a", "vision-b"}));
  EXPECT_EQ(names("name = 'nlp'"), (V{"nlp"}));
  EXPECT_EQ(names("name != 'nlp'"), (V{"Default", "vision-a", "vision-b"}));
  EXPECT_EQ(names("name LIKE 'vision-%'"), (V{"vision-a", "vision-b"}));
  EXPECT_EQ(names("name LIKE 'VISION%'"), (V{}));
  EXPECT_EQ(names("name ILIKE 'VISION%'"), (V{"vision-a", "vision-b"}));
  EXPECT_EQ(names("tags.team = 'cv'"), (V{"vision-a"}));
  EXPECT_EQ(names("tags.team ILIKE 'cv'"), (V{"vision-a", "vision-b"}));
  EXPECT_EQ(names("tags.team LIKE 'c%' AND name LIKE '%a'"), (V{"vision-a"}));
  EXPECT_EQ(names("creation_time > 0 AND name = 'nlp'"), (V{"nlp"}));
  EXPECT_EQ(names("tags.missing = 'x'"), (V{}));
}

TEST_P(ExperimentSearchTest, OrdersByRequestedKeys) {
  MustCreateExperiment("b");
  MustCreateExperiment("c");
  MustCreateExperiment("a");
  auto names = [&](std::vector<std::string> order_by) {
    ExperimentSearch s;
    s.order_by = std::move(order_by);
    return ExperimentNames(store_->SearchExperiments(s));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names({"name"}), (V{"Default", "a", "b", "c"}));
  EXPECT_EQ(names({"name DESC"}), (V{"c", "b", "a", "Default"}));
  EXPECT_EQ(names({"experiment_id DESC"}), (V{"a", "c", "b", "Default"}));
  EXPECT_EQ(names({"experiment_id ASC"}), (V{"Default", "b", "c", "a"}));
}

TEST_P(ExperimentSearchTest, PagesCoverEveryExperimentOnce) {
  for (int i = 0; i < 6; ++i) MustCreateExperiment("e" + std::to_string(i));
  ExperimentSearch s;
  s.max_results = 3;
  s.order_by = {"name ASC"};
  std::vector<std::string> seen;
  int pages = 0;
  do {
    Result<ExperimentPage> page = store_->SearchExperiments(s);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->experiments.size(), 3u);
    for (const Experiment& e : page->experiments) seen.push_back(e.name);
    s.page_token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!s.page_token.empty());
  EXPECT_EQ(pages, 3);  // 7 experiments: 3 + 3 + 1
  EXPECT_EQ(seen, (std::vector<std::string>{"Default", "e0", "e1", "e2", "e3", "e4", "e5"}));
}

TEST_P(ExperimentSearchTest, ExactMultipleOfPageSizeEndsWithoutToken) {
  MustCreateExperiment("x");
  ExperimentSearch s;
  s.max_results = 2;
  Result<ExperimentPage> page = store_->SearchExperiments(s);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->experiments.size(), 2u);
  EXPECT_TRUE(page->next_page_token.empty());
}

TEST_P(ExperimentSearchTest, ViewTypes) {
  std::string gone = MustCreateExperiment("gone");
  MustCreateExperiment("kept");
  ASSERT_TRUE(DeleteExperiment(gone).ok());
  auto names = [&](ViewType view) {
    ExperimentSearch s;
    s.view = view;
    s.order_by = {"name"};
    return ExperimentNames(store_->SearchExperiments(s));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(ViewType::kActiveOnly), (V{"Default", "kept"}));
  EXPECT_EQ(names(ViewType::kDeletedOnly), (V{"gone"}));
  EXPECT_EQ(names(ViewType::kAll), (V{"Default", "gone", "kept"}));
}

TEST_P(ExperimentSearchTest, RejectsBadArguments) {
  ExperimentSearch s;
  s.filter = "name === 'x'";
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s = {};
  s.filter = "metrics.acc > 1";
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s = {};
  s.order_by = {"nonsense"};
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s = {};
  s.max_results = 0;
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s.max_results = 50001;
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s = {};
  s.page_token = "not a token";
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Runs

using RunStoreTest = StoreTest;

TEST_P(RunStoreTest, CreateRunGeneratesNameAndRunNameTag) {
  std::string exp = MustCreateExperiment("exp");
  store::Run run = MustCreateRun(exp, "", 1234);
  const RunInfo& info = run.info;
  EXPECT_EQ(info.run_id.size(), 32u);
  EXPECT_EQ(info.experiment_id, exp);
  EXPECT_FALSE(info.run_name.empty());
  EXPECT_EQ(FindTag(run.tags, "mlflow.runName"), info.run_name);
  EXPECT_EQ(info.status, "RUNNING");
  EXPECT_EQ(info.lifecycle_stage, "active");
  EXPECT_EQ(info.start_time, 1234);
  EXPECT_FALSE(info.end_time.has_value());
  EXPECT_EQ(info.artifact_uri, "mlflow-artifacts:/" + exp + "/" + info.run_id + "/artifacts");

  Result<store::Run> got = store_->GetRun(info.run_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->info.run_name, info.run_name);
  EXPECT_EQ(got->info.artifact_uri, info.artifact_uri);
  EXPECT_EQ(FindTag(got->tags, "mlflow.runName"), info.run_name);

  store::Run other = MustCreateRun(exp);
  EXPECT_NE(other.info.run_id, info.run_id);
}

TEST_P(RunStoreTest, CreateRunUsesGivenNameOrRunNameTag) {
  store::Run named = MustCreateRun("0", "my-run");
  EXPECT_EQ(named.info.run_name, "my-run");
  EXPECT_EQ(FindTag(named.tags, "mlflow.runName"), "my-run");

  CreateRunRequest req;
  req.experiment_id = "0";
  req.tags = {{"mlflow.runName", "from-tag"}, {"mlflow.user", "ana"}};
  Result<store::Run> tagged = CreateRun(req);
  ASSERT_TRUE(tagged.ok()) << tagged.status().ToString();
  EXPECT_EQ(tagged->info.run_name, "from-tag");
  EXPECT_EQ(tagged->info.user_id, "ana");
  EXPECT_EQ(FindTag(tagged->tags, "mlflow.runName"), "from-tag");
}

TEST_P(RunStoreTest, CreateRunDefaultsToExperimentZeroAndNow) {
  CreateRunRequest req;
  Result<store::Run> run = CreateRun(req);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->info.experiment_id, "0");
  EXPECT_GT(run->info.start_time, int64_t{1577836800000});
}

TEST_P(RunStoreTest, CreateRunFailures) {
  std::string exp = MustCreateExperiment("exp");
  ASSERT_TRUE(DeleteExperiment(exp).ok());
  CreateRunRequest req;
  req.experiment_id = exp;
  EXPECT_EQ(CreateRun(req).status().code(), Code::kInvalidArgument);
  req.experiment_id = "123";
  EXPECT_EQ(CreateRun(req).status().code(), Code::kNotFound);
  req.experiment_id = "abc";
  EXPECT_EQ(CreateRun(req).status().code(), Code::kInvalidArgument);
  req.experiment_id = "0";
  req.tags = {{"bad key!", "x"}};
  EXPECT_EQ(CreateRun(req).status().code(), Code::kInvalidArgument);
}

TEST_P(RunStoreTest, GetUnknownRunIsNotFound) {
  EXPECT_EQ(store_->GetRun("0123456789abcdef0123456789abcdef").status().code(), Code::kNotFound);
}

TEST_P(RunStoreTest, UpdateRunSetsStatusEndTimeAndName) {
  store::Run run = MustCreateRun("0", "before");
  UpdateRunRequest req;
  req.run_id = run.info.run_id;
  req.status = "FINISHED";
  req.end_time = 5000;
  req.run_name = "after";
  Result<RunInfo> info = UpdateRun(req);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->status, "FINISHED");
  EXPECT_EQ(info->end_time, 5000);
  EXPECT_EQ(info->run_name, "after");

  Result<store::Run> got = store_->GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->info.status, "FINISHED");
  EXPECT_EQ(got->info.end_time, 5000);
  EXPECT_EQ(got->info.run_name, "after");
  EXPECT_EQ(FindTag(got->tags, "mlflow.runName"), "after");

  // Only the given fields change.
  UpdateRunRequest status_only;
  status_only.run_id = run.info.run_id;
  status_only.status = "RUNNING";
  info = UpdateRun(status_only);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->status, "RUNNING");
  EXPECT_EQ(info->end_time, 5000);
  EXPECT_EQ(info->run_name, "after");
}

TEST_P(RunStoreTest, UpdateRunFailures) {
  store::Run run = MustCreateRun("0");
  UpdateRunRequest req;
  req.run_id = run.info.run_id;
  req.status = "DONE";
  EXPECT_EQ(UpdateRun(req).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetRun(run.info.run_id)->info.status, "RUNNING");

  req.status = "FINISHED";
  req.run_id = "ffffffffffffffffffffffffffffffff";
  EXPECT_EQ(UpdateRun(req).status().code(), Code::kNotFound);

  req.run_id = run.info.run_id;
  ASSERT_TRUE(DeleteRun(run.info.run_id).ok());
  EXPECT_EQ(UpdateRun(req).status().code(), Code::kInvalidArgument);
}

TEST_P(RunStoreTest, DeleteAndRestoreRun) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  ASSERT_TRUE(DeleteRun(id).ok());
  EXPECT_EQ(store_->GetRun(id)->info.lifecycle_stage, "deleted");

  EXPECT_EQ(LogMetric(id, "m", 1, 0, 1).code(), Code::kInvalidArgument);
  EXPECT_EQ(LogParam(id, "p", "v").code(), Code::kInvalidArgument);
  EXPECT_EQ(SetTag(id, "t", "v").code(), Code::kInvalidArgument);
  Result<store::Run> got = store_->GetRun(id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->metrics.empty());
  EXPECT_TRUE(got->params.empty());

  ASSERT_TRUE(RestoreRun(id).ok());
  EXPECT_EQ(store_->GetRun(id)->info.lifecycle_stage, "active");
  EXPECT_TRUE(LogMetric(id, "m", 1, 0, 1).ok());

  EXPECT_EQ(DeleteRun("ffffffffffffffffffffffffffffffff").code(), Code::kNotFound);
  EXPECT_EQ(RestoreRun("ffffffffffffffffffffffffffffffff").code(), Code::kNotFound);
}

TEST_P(RunStoreTest, LogBatchToUnknownRunIsNotFound) {
  EXPECT_EQ(LogMetric("ffffffffffffffffffffffffffffffff", "m", 1, 0, 0).code(), Code::kNotFound);
}

TEST_P(RunStoreTest, LogBatchRejectsInvalidBatchUpFront) {
  store::Run run = MustCreateRun("0");
  Batch b;
  b.metrics.push_back(Metric{"ok", 1, 0, 0});
  b.tags.push_back(Tag{"bad/", "v"});
  EXPECT_EQ(LogBatch(run.info.run_id, b).code(), Code::kInvalidArgument);
  EXPECT_TRUE(store_->GetRun(run.info.run_id)->metrics.empty());
}

TEST_P(RunStoreTest, LogBatchWritesMetricsParamsAndTags) {
  store::Run run = MustCreateRun("0");
  Batch b;
  b.metrics = {{"loss", 0.5, 100, 1}, {"acc", 0.9, 100, 1}};
  b.params = {{"lr", "0.01"}, {"layers", "3"}};
  b.tags = {{"note", "hello"}, {"note", "overwritten"}};
  ASSERT_TRUE(LogBatch(run.info.run_id, b).ok());
  Result<store::Run> got = store_->GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(FindParam(*got, "lr"), "0.01");
  EXPECT_EQ(FindParam(*got, "layers"), "3");
  EXPECT_EQ(FindTag(got->tags, "note"), "overwritten");
  ASSERT_TRUE(FindMetric(*got, "loss").has_value());
  EXPECT_EQ(FindMetric(*got, "loss")->value, 0.5);
  EXPECT_EQ(FindMetric(*got, "acc")->step, 1);
  EXPECT_EQ(FindMetric(*got, "acc")->timestamp, 100);
}

TEST_P(RunStoreTest, SetRunNameTagRenamesRun) {
  store::Run run = MustCreateRun("0", "first");
  ASSERT_TRUE(SetTag(run.info.run_id, "mlflow.runName", "second").ok());
  EXPECT_EQ(store_->GetRun(run.info.run_id)->info.run_name, "second");
}

TEST_P(RunStoreTest, ParamsAreImmutableAndFailingBatchWritesNothing) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  ASSERT_TRUE(LogParam(id, "lr", "0.1").ok());
  EXPECT_TRUE(LogParam(id, "lr", "0.1").ok());  // same value again is fine

  Batch b;
  b.params = {{"other", "x"}, {"lr", "0.2"}};
  b.metrics = {{"m", 1.0, 10, 0}};
  b.tags = {{"t", "v"}};
  EXPECT_EQ(LogBatch(id, b).code(), Code::kInvalidArgument);

  Result<store::Run> got = store_->GetRun(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(FindParam(*got, "lr"), "0.1");
  EXPECT_EQ(FindParam(*got, "other"), std::nullopt);
  EXPECT_EQ(FindMetric(*got, "m"), std::nullopt);
  EXPECT_EQ(FindTag(got->tags, "t"), std::nullopt);
  EXPECT_TRUE(History(id, "m").empty());
}

TEST_P(RunStoreTest, FailingWriteDoesNotAffectNeighboursInTheSameCommit) {
  store::Run run = MustCreateRun("0");
  const std::string id = run.info.run_id;
  ASSERT_TRUE(LogParam(id, "lr", "0.1").ok());

  // Queue three writes back to back so the writer thread is likely to commit
  // them together.
  std::promise<Status> before, bad, after;
  Batch b1;
  b1.tags = {{"before", "1"}};
  b1.metrics = {{"m", 1.0, 1, 1}};
  Batch b2;
  b2.params = {{"lr", "0.5"}};
  b2.metrics = {{"m", 2.0, 2, 2}};
  Batch b3;
  b3.params = {{"after", "3"}};
  b3.metrics = {{"m", 3.0, 3, 3}};
  store_->LogBatch(id, b1, [&](Status s) { before.set_value(s); });
  store_->LogBatch(id, b2, [&](Status s) { bad.set_value(s); });
  store_->LogBatch(id, b3, [&](Status s) { after.set_value(s); });
  EXPECT_TRUE(before.get_future().get().ok());
  EXPECT_EQ(bad.get_future().get().code(), Code::kInvalidArgument);
  EXPECT_TRUE(after.get_future().get().ok());

  Result<store::Run> got = store_->GetRun(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(FindTag(got->tags, "before"), "1");
  EXPECT_EQ(FindParam(*got, "after"), "3");
  EXPECT_EQ(FindParam(*got, "lr"), "0.1");
  std::vector<Metric> history = History(id, "m");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].value, 1.0);
  EXPECT_EQ(history[1].value, 3.0);
  EXPECT_EQ(FindMetric(*got, "m")->value, 3.0);
}

TEST_P(RunStoreTest, NonFiniteMetricValuesRoundTrip) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  const double nan = std::nan("");
  Batch b;
  b.metrics = {{"nan", nan, 10, 0},    {"pinf", kInf, 10, 0}, {"ninf", -kInf, 10, 0},
               {"mixed", 1.0, 10, 0},  {"mixed", nan, 11, 1}, {"mixed", kInf, 12, 2},
               {"mixed", -kInf, 13, 3}};
  ASSERT_TRUE(LogBatch(id, b).ok());

  std::vector<Metric> mixed = History(id, "mixed");
  ASSERT_EQ(mixed.size(), 4u);
  EXPECT_EQ(mixed[0].value, 1.0);
  EXPECT_TRUE(std::isnan(mixed[1].value));
  EXPECT_EQ(mixed[2].value, kInf);
  EXPECT_EQ(mixed[3].value, -kInf);

  Result<store::Run> got = store_->GetRun(id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(std::isnan(FindMetric(*got, "nan")->value));
  EXPECT_EQ(FindMetric(*got, "pinf")->value, kInf);
  EXPECT_EQ(FindMetric(*got, "ninf")->value, -kInf);
  EXPECT_EQ(FindMetric(*got, "mixed")->value, -kInf);
  EXPECT_EQ(FindMetric(*got, "mixed")->step, 3);

  ASSERT_EQ(History(id, "nan").size(), 1u);
  EXPECT_TRUE(std::isnan(History(id, "nan")[0].value));
  EXPECT_EQ(History(id, "pinf")[0].value, kInf);
  EXPECT_EQ(History(id, "ninf")[0].value, -kInf);
}

TEST_P(RunStoreTest, HistoryKeepsDuplicateSteps) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  ASSERT_TRUE(LogMetric(id, "m", 1.0, 5, 100).ok());
  ASSERT_TRUE(LogMetric(id, "m", 2.0, 5, 100).ok());
  ASSERT_TRUE(LogMetric(id, "m", 1.0, 5, 200).ok());
  ASSERT_TRUE(LogMetric(id, "m", 0.0, 4, 300).ok());

  std::vector<Metric> h = History(id, "m");
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].step, 4);
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(h[i].step, 5);
  std::multiset<std::pair<int64_t, double>> at_step5;
  for (size_t i = 1; i < 4; ++i) at_step5.insert({h[i].timestamp, h[i].value});
  EXPECT_EQ(at_step5,
            (std::multiset<std::pair<int64_t, double>>{{100, 1.0}, {100, 2.0}, {200, 1.0}}));
  for (const Metric& m : h) EXPECT_EQ(m.key, "m");
}

TEST_P(RunStoreTest, LatestMetricIsMaxStepThenTimestampThenValue) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  auto latest = [&]() {
    std::optional<Metric> m = FindMetric(store_->GetRun(id).value(), "m");
    EXPECT_TRUE(m.has_value());
    return m.value_or(Metric{});
  };
  ASSERT_TRUE(LogMetric(id, "m", 10.0, 1, 500).ok());
  EXPECT_EQ(latest().value, 10.0);
  ASSERT_TRUE(LogMetric(id, "m", 1.0, 2, 100).ok());  // higher step wins over later timestamp
  EXPECT_EQ(latest().value, 1.0);
  ASSERT_TRUE(LogMetric(id, "m", 99.0, 1, 900).ok());  // a lower step never wins
  EXPECT_EQ(latest().value, 1.0);
  ASSERT_TRUE(LogMetric(id, "m", 0.5, 2, 100).ok());  // same step and time: larger value wins
  EXPECT_EQ(latest().value, 1.0);
  ASSERT_TRUE(LogMetric(id, "m", 100.0, 2, 50).ok());  // same step, earlier time
  EXPECT_EQ(latest().value, 1.0);
  ASSERT_TRUE(LogMetric(id, "m", -5.0, 2, 101).ok());  // same step, later time
  Metric m = latest();
  EXPECT_EQ(m.value, -5.0);
  EXPECT_EQ(m.step, 2);
  EXPECT_EQ(m.timestamp, 101);
  ASSERT_TRUE(LogMetric(id, "m", 3.0, 2, 101).ok());
  EXPECT_EQ(latest().value, 3.0);

  // The same points logged in another order in one batch give the same latest
  // value.
  store::Run other = MustCreateRun("0");
  Batch b;
  b.metrics = {{"m", 3.0, 101, 2},
               {"m", 100.0, 50, 2},
               {"m", -5.0, 101, 2},
               {"m", 99.0, 900, 1},
               {"m", 1.0, 100, 2}};
  ASSERT_TRUE(LogBatch(other.info.run_id, b).ok());
  EXPECT_EQ(FindMetric(store_->GetRun(other.info.run_id).value(), "m")->value, 3.0);
}

TEST_P(RunStoreTest, MetricHistoryPagesCoverEveryPointOnce) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  Batch b;
  for (int i = 0; i < 25; ++i) b.metrics.push_back(Metric{"m", double(i), 1000 + i, 24 - i});
  ASSERT_TRUE(LogBatch(id, b).ok());

  std::vector<Metric> all;
  std::string token;
  int pages = 0;
  do {
    Result<MetricPage> page = store_->GetMetricHistory(id, "m", 7, token);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->metrics.size(), 7u);
    all.insert(all.end(), page->metrics.begin(), page->metrics.end());
    token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 4);
  ASSERT_EQ(all.size(), 25u);
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(all[i].step, i);
    EXPECT_EQ(all[i].value, double(24 - i));
  }

  Result<MetricPage> whole = store_->GetMetricHistory(id, "m", 0, "");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->metrics.size(), 25u);
  EXPECT_TRUE(whole->next_page_token.empty());

  Result<MetricPage> exact = store_->GetMetricHistory(id, "m", 25, "");
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->metrics.size(), 25u);
  EXPECT_TRUE(exact->next_page_token.empty());
}

TEST_P(RunStoreTest, MetricHistoryFailures) {
  store::Run run = MustCreateRun("0");
  EXPECT_EQ(
      store_->GetMetricHistory("ffffffffffffffffffffffffffffffff", "m", 0, "").status().code(),
      Code::kNotFound);
  EXPECT_EQ(store_->GetMetricHistory(run.info.run_id, "m", 10, "%%%").status().code(),
            Code::kInvalidArgument);
  Result<MetricPage> none = store_->GetMetricHistory(run.info.run_id, "absent", 0, "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->metrics.empty());
}

TEST_P(RunStoreTest, BulkIntervalSamplesStepsKeepingFirstAndLast) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  Batch b;
  for (int step = 0; step < 100; ++step) b.metrics.push_back(Metric{"m", double(step), 0, step});
  b.metrics.push_back(Metric{"m", 1000.0, 1, 50});  // a second point at step 50
  ASSERT_TRUE(LogBatch(id, b).ok());

  auto steps_of = [](const std::vector<RunMetric>& points) {
    std::vector<int64_t> steps;
    for (const RunMetric& p : points) {
      if (steps.empty() || steps.back() != p.metric.step) steps.push_back(p.metric.step);
    }
    return steps;
  };

  Result<std::vector<RunMetric>> sampled =
      store_->GetMetricHistoryBulkInterval({id}, "m", std::nullopt, std::nullopt, 10);
  ASSERT_TRUE(sampled.ok()) << sampled.status().ToString();
  std::vector<int64_t> steps = steps_of(*sampled);
  EXPECT_LE(steps.size(), 10u);
  EXPECT_GE(steps.size(), 2u);
  EXPECT_EQ(steps.front(), 0);
  EXPECT_EQ(steps.back(), 99);
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end()));
  for (const RunMetric& p : *sampled) EXPECT_EQ(p.run_id, id);

  Result<std::vector<RunMetric>> bounded =
      store_->GetMetricHistoryBulkInterval({id}, "m", 20, 30, 5);
  ASSERT_TRUE(bounded.ok()) << bounded.status().ToString();
  steps = steps_of(*bounded);
  EXPECT_LE(steps.size(), 5u);
  EXPECT_EQ(steps.front(), 20);
  EXPECT_EQ(steps.back(), 30);
  for (int64_t s : steps) {
    EXPECT_GE(s, 20);
    EXPECT_LE(s, 30);
  }

  Result<std::vector<RunMetric>> all = store_->GetMetricHistoryBulkInterval({id}, "m", 45, 55, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 12u);  // steps 45..55 plus the second point at 50

  Result<std::vector<RunMetric>> one =
      store_->GetMetricHistoryBulkInterval({id}, "m", std::nullopt, std::nullopt, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(steps_of(*one).size(), 1u);
}

TEST_P(RunStoreTest, BulkIntervalCoversEachRun) {
  store::Run a = MustCreateRun("0");
  store::Run b = MustCreateRun("0");
  for (int step = 0; step < 3; ++step) {
    ASSERT_TRUE(LogMetric(a.info.run_id, "m", step, step, 0).ok());
    ASSERT_TRUE(LogMetric(b.info.run_id, "m", 10 + step, step, 0).ok());
  }
  Result<std::vector<RunMetric>> got = store_->GetMetricHistoryBulkInterval(
      {a.info.run_id, b.info.run_id}, "m", std::nullopt, std::nullopt, 10);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::map<std::string, int> per_run;
  for (const RunMetric& p : *got) ++per_run[p.run_id];
  EXPECT_EQ(per_run[a.info.run_id], 3);
  EXPECT_EQ(per_run[b.info.run_id], 3);

  EXPECT_EQ(
      store_->GetMetricHistoryBulkInterval({a.info.run_id}, "m", std::nullopt, std::nullopt, 0)
          .status()
          .code(),
      Code::kInvalidArgument);
  EXPECT_EQ(store_
                ->GetMetricHistoryBulkInterval({"ffffffffffffffffffffffffffffffff"}, "m",
                                               std::nullopt, std::nullopt, 10)
                .status()
                .code(),
            Code::kNotFound);
}

TEST_P(RunStoreTest, DeleteTag) {
  store::Run run = MustCreateRun("0");
  const std::string id = run.info.run_id;
  auto del = [&](const std::string& run_id, const std::string& key) {
    return Wait([&](Done done) { store_->DeleteTag(run_id, key, std::move(done)); });
  };
  ASSERT_TRUE(SetTag(id, "a", "1").ok());
  ASSERT_TRUE(SetTag(id, "b", "2").ok());
  ASSERT_TRUE(del(id, "a").ok());
  Result<store::Run> got = store_->GetRun(id);
  EXPECT_EQ(FindTag(got->tags, "a"), std::nullopt);
  EXPECT_EQ(FindTag(got->tags, "b"), "2");

  EXPECT_EQ(del(id, "a").code(), Code::kNotFound);
  EXPECT_EQ(del("ffffffffffffffffffffffffffffffff", "b").code(), Code::kNotFound);
  ASSERT_TRUE(DeleteRun(id).ok());
  EXPECT_EQ(del(id, "b").code(), Code::kInvalidArgument);
}

DatasetInput MakeInput(const std::string& name, const std::string& digest,
                       const std::string& context) {
  DatasetInput in;
  in.dataset = Dataset{name, digest, "local", "/data/" + name, "{\"cols\":[]}", ""};
  if (!context.empty()) in.tags.push_back(Tag{"mlflow.data.context", context});
  return in;
}

TEST_P(RunStoreTest, LogInputsAndSearchDatasets) {
  std::string exp = MustCreateExperiment("exp");
  store::Run a = MustCreateRun(exp);
  store::Run b = MustCreateRun(exp);
  auto log = [&](const std::string& run_id, std::vector<DatasetInput> inputs) {
    return Wait([&](Done done) { store_->LogInputs(run_id, inputs, std::move(done)); });
  };
  ASSERT_TRUE(log(a.info.run_id,
                  {MakeInput("train", "d1", "training"), MakeInput("eval", "d2", "validation")})
                  .ok());
  ASSERT_TRUE(log(b.info.run_id, {MakeInput("train", "d1", "training")}).ok());
  ASSERT_TRUE(log(a.info.run_id, {MakeInput("train", "d1", "training")}).ok());  // again

  Result<store::Run> got = store_->GetRun(a.info.run_id);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->inputs.size(), 2u);
  EXPECT_EQ(got->inputs[0].dataset.name, "eval");
  EXPECT_EQ(got->inputs[1].dataset.name, "train");
  EXPECT_EQ(got->inputs[1].dataset.digest, "d1");
  EXPECT_EQ(got->inputs[1].dataset.source, "/data/train");
  EXPECT_EQ(got->inputs[1].dataset.schema, "{\"cols\":[]}");
  EXPECT_EQ(FindTag(got->inputs[1].tags, "mlflow.data.context"), "training");

  Result<std::vector<DatasetSummary>> summaries = store_->SearchDatasets({exp});
  ASSERT_TRUE(summaries.ok()) << summaries.status().ToString();
  ASSERT_EQ(summaries->size(), 2u);
  EXPECT_EQ((*summaries)[0].experiment_id, exp);
  EXPECT_EQ((*summaries)[0].name, "eval");
  EXPECT_EQ((*summaries)[0].digest, "d2");
  EXPECT_EQ((*summaries)[0].context, "validation");
  EXPECT_EQ((*summaries)[1].name, "train");
  EXPECT_EQ((*summaries)[1].context, "training");

  Result<std::vector<DatasetSummary>> other = store_->SearchDatasets({"0"});
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
}

TEST_P(RunStoreTest, LogInputsFailures) {
  store::Run run = MustCreateRun("0");
  auto log = [&](const std::string& run_id, std::vector<DatasetInput> inputs) {
    return Wait([&](Done done) { store_->LogInputs(run_id, inputs, std::move(done)); });
  };
  DatasetInput no_digest = MakeInput("d", "", "");
  EXPECT_EQ(log(run.info.run_id, {no_digest}).code(), Code::kInvalidArgument);
  DatasetInput bad_tag = MakeInput("d", "x", "");
  bad_tag.tags.push_back(Tag{"bad key!", "v"});
  EXPECT_EQ(log(run.info.run_id, {bad_tag}).code(), Code::kInvalidArgument);
  EXPECT_EQ(log("ffffffffffffffffffffffffffffffff", {MakeInput("d", "x", "")}).code(),
            Code::kNotFound);
  ASSERT_TRUE(DeleteRun(run.info.run_id).ok());
  EXPECT_EQ(log(run.info.run_id, {MakeInput("d", "x", "")}).code(), Code::kInvalidArgument);
  EXPECT_TRUE(store_->GetRun(run.info.run_id)->inputs.empty());
}

// ---------------------------------------------------------------------------------------------
// store::Run search

// Four runs in one experiment with known attributes, metrics, params, tags and
// datasets:
//   name   start  status    acc   loss  params.model  tags.team  dataset
//   (context) alpha  1000   FINISHED  0.9   0.3   cnn           vision train/d1
//   (training) beta   2000   RUNNING   0.5   -     CNN           Vision eval/d2
//   (validation) gamma  3000   FAILED    -     0.1   rnn           text       -
//   delta  4000   RUNNING   NaN   -     -             -          -
class SearchRunsTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    exp_ = MustCreateExperiment("search");
    alpha_ = MustCreateRun(exp_, "alpha", 1000).info.run_id;
    beta_ = MustCreateRun(exp_, "beta", 2000).info.run_id;
    gamma_ = MustCreateRun(exp_, "gamma", 3000).info.run_id;
    delta_ = MustCreateRun(exp_, "delta", 4000).info.run_id;

    Batch a;
    a.metrics = {{"acc", 0.9, 1, 0}, {"loss", 0.3, 1, 0}};
    a.params = {{"model", "cnn"}};
    a.tags = {{"team", "vision"}};
    ASSERT_TRUE(LogBatch(alpha_, a).ok());
    Batch b;
    b.metrics = {{"acc", 0.2, 1, 0}, {"acc", 0.5, 2, 1}};  // latest is 0.5
    b.params = {{"model", "CNN"}};
    b.tags = {{"team", "Vision"}};
    ASSERT_TRUE(LogBatch(beta_, b).ok());
    Batch c;
    c.metrics = {{"loss", 0.1, 1, 0}};
    c.params = {{"model", "rnn"}};
    c.tags = {{"team", "text"}};
    ASSERT_TRUE(LogBatch(gamma_, c).ok());
    Batch d;
    d.metrics = {{"acc", std::nan(""), 1, 0}};
    ASSERT_TRUE(LogBatch(delta_, d).ok());

    UpdateRunRequest finish;
    finish.run_id = alpha_;
    finish.status = "FINISHED";
    finish.end_time = 1500;
    ASSERT_TRUE(UpdateRun(finish).ok());
    UpdateRunRequest fail;
    fail.run_id = gamma_;
    fail.status = "FAILED";
    ASSERT_TRUE(UpdateRun(fail).ok());

    auto log = [&](const std::string& run_id, DatasetInput in) {
      return Wait([&](Done done) { store_->LogInputs(run_id, {in}, std::move(done)); });
    };
    ASSERT_TRUE(log(alpha_, MakeInput("train", "d1", "training")).ok());
    ASSERT_TRUE(log(beta_, MakeInput("eval", "d2", "validation")).ok());
  }

  std::vector<std::string> Filter(const std::string& filter) {
    RunSearch s;
    s.experiment_ids = {exp_};
    s.filter = filter;
    std::vector<std::string> names;
    Result<RunPage> page = store_->SearchRuns(s);
    EXPECT_TRUE(page.ok()) << filter << ": " << page.status().ToString();
    if (page.ok()) {
      for (const store::Run& r : page->runs) names.push_back(r.info.run_name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::vector<std::string> Ordered(std::vector<std::string> order_by) {
    RunSearch s;
    s.experiment_ids = {exp_};
    s.order_by = std::move(order_by);
    std::vector<std::string> names;
    Result<RunPage> page = store_->SearchRuns(s);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (page.ok()) {
      for (const store::Run& r : page->runs) names.push_back(r.info.run_name);
    }
    return names;
  }

  std::string exp_, alpha_, beta_, gamma_, delta_;
};

using Names = std::vector<std::string>;

TEST_P(SearchRunsTest, FiltersOnAttributes) {
  EXPECT_EQ(Filter(""), (Names{"alpha", "beta", "delta", "gamma"}));
  EXPECT_EQ(Filter("attributes.run_name = 'alpha'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("run_name != 'alpha'"), (Names{"beta", "delta", "gamma"}));
  EXPECT_EQ(Filter("run_name LIKE '%a'"), (Names{"alpha", "beta", "delta", "gamma"}));
  EXPECT_EQ(Filter("run_name LIKE 'A%'"), (Names{}));
  EXPECT_EQ(Filter("run_name ILIKE 'A%'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("attributes.status = 'RUNNING'"), (Names{"beta", "delta"}));
  EXPECT_EQ(Filter("status != 'RUNNING'"), (Names{"alpha", "gamma"}));
  EXPECT_EQ(Filter("attributes.start_time > 2000"), (Names{"delta", "gamma"}));
  EXPECT_EQ(Filter("start_time >= 2000 AND start_time < 4000"), (Names{"beta", "gamma"}));
  EXPECT_EQ(Filter("attributes.end_time = 1500"), (Names{"alpha"}));
  EXPECT_EQ(Filter("attributes.run_id = '" + gamma_ + "'"), (Names{"gamma"}));
  EXPECT_EQ(Filter("attributes.run_id IN ('" + alpha_ + "', '" + delta_ + "')"),
            (Names{"alpha", "delta"}));
  EXPECT_EQ(Filter("attributes.run_id NOT IN ('" + alpha_ + "', '" + delta_ + "')"),
            (Names{"beta", "gamma"}));
}

TEST_P(SearchRunsTest, FiltersOnLatestMetricValues) {
  EXPECT_EQ(Filter("metrics.acc > 0.4"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("metrics.acc >= 0.9"), (Names{"alpha"}));
  EXPECT_EQ(Filter("metrics.acc < 0.3"), (Names{}));  // beta's older 0.2 does not count
  EXPECT_EQ(Filter("metrics.acc = 0.5"), (Names{"beta"}));
  EXPECT_EQ(Filter("metrics.acc != 0.5"), (Names{"alpha"}));
  EXPECT_EQ(Filter("metrics.loss <= 0.3"), (Names{"alpha", "gamma"}));
  EXPECT_EQ(Filter("metrics.acc > 0 AND metrics.loss > 0"), (Names{"alpha"}));
  EXPECT_EQ(Filter("metrics.missing > 0"), (Names{}));
}

TEST_P(SearchRunsTest, FiltersOnParamsAndTags) {
  EXPECT_EQ(Filter("params.model = 'cnn'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("params.model != 'cnn'"), (Names{"beta", "gamma"}));
  EXPECT_EQ(Filter("params.model LIKE 'c%'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("params.model LIKE 'C%'"), (Names{"beta"}));
  EXPECT_EQ(Filter("params.model ILIKE 'c%'"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("params.model LIKE '_nn'"), (Names{"alpha", "gamma"}));
  EXPECT_EQ(Filter("tags.team = 'vision'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("tags.team LIKE 'V%'"), (Names{"beta"}));
  EXPECT_EQ(Filter("tags.team ILIKE 'vis%'"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("tags.team != 'text'"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("tags.\"mlflow.runName\" = 'beta'"), (Names{"beta"}));
  EXPECT_EQ(Filter("tags.mlflow.runName = 'gamma'"), (Names{"gamma"}));
  EXPECT_EQ(Filter("params.model ILIKE 'cnn' AND tags.team = 'Vision'"), (Names{"beta"}));
}

TEST_P(SearchRunsTest, FiltersOnDatasets) {
  EXPECT_EQ(Filter("datasets.name = 'train'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("datasets.name IN ('train', 'eval')"), (Names{"alpha", "beta"}));
  EXPECT_EQ(Filter("datasets.digest = 'd2'"), (Names{"beta"}));
  EXPECT_EQ(Filter("datasets.context = 'training'"), (Names{"alpha"}));
  EXPECT_EQ(Filter("datasets.context LIKE '%tion'"), (Names{"beta"}));
  EXPECT_EQ(Filter("datasets.name != 'train'"), (Names{"beta"}));
}

TEST_P(SearchRunsTest, DefaultOrderIsStartTimeDescending) {
  EXPECT_EQ(Ordered({}), (Names{"delta", "gamma", "beta", "alpha"}));
  EXPECT_EQ(Ordered({"start_time ASC"}), (Names{"alpha", "beta", "gamma", "delta"}));
  EXPECT_EQ(Ordered({"attributes.run_name"}), (Names{"alpha", "beta", "delta", "gamma"}));
}

TEST_P(SearchRunsTest, OrderByMetricPutsMissingAndNaNLast) {
  EXPECT_EQ(Ordered({"metrics.acc DESC"}), (Names{"alpha", "beta", "delta", "gamma"}));
  EXPECT_EQ(Ordered({"metrics.acc ASC"}), (Names{"beta", "alpha", "delta", "gamma"}));
  EXPECT_EQ(Ordered({"metrics.loss"}), (Names{"gamma", "alpha", "delta", "beta"}));
}

TEST_P(SearchRunsTest, OrderBySeveralKeys) {
  EXPECT_EQ(Ordered({"params.model ASC"}), (Names{"beta", "alpha", "gamma", "delta"}));
  EXPECT_EQ(Ordered({"status ASC", "metrics.acc DESC"}),
            (Names{"gamma", "alpha", "beta", "delta"}));
  EXPECT_EQ(Ordered({"status DESC", "start_time ASC"}), (Names{"beta", "delta", "alpha", "gamma"}));
  EXPECT_EQ(Ordered({"tags.team DESC", "run_name DESC"}),
            (Names{"alpha", "gamma", "beta", "delta"}));
}

TEST_P(SearchRunsTest, PagesAreExact) {
  for (int64_t page_size : {1, 2, 3, 4, 5}) {
    RunSearch s;
    s.experiment_ids = {exp_};
    s.max_results = page_size;
    Names seen;
    int pages = 0;
    do {
      Result<RunPage> page = store_->SearchRuns(s);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      EXPECT_LE(static_cast<int64_t>(page->runs.size()), page_size);
      for (const store::Run& r : page->runs) seen.push_back(r.info.run_name);
      s.page_token = page->next_page_token;
      ASSERT_LT(++pages, 10);
    } while (!s.page_token.empty());
    EXPECT_EQ(pages, (4 + page_size - 1) / page_size) << "page size " << page_size;
    EXPECT_EQ(seen, (Names{"delta", "gamma", "beta", "alpha"})) << "page size " << page_size;
  }
}

TEST_P(SearchRunsTest, ViewTypes) {
  ASSERT_TRUE(DeleteRun(beta_).ok());
  RunSearch s;
  s.experiment_ids = {exp_};
  EXPECT_EQ(SearchIds(s), (std::vector<std::string>{delta_, gamma_, alpha_}));
  s.view = ViewType::kDeletedOnly;
  EXPECT_EQ(SearchIds(s), (std::vector<std::string>{beta_}));
  s.view = ViewType::kAll;
  EXPECT_EQ(SearchIds(s), (std::vector<std::string>{delta_, gamma_, beta_, alpha_}));
}

TEST_P(SearchRunsTest, SearchesOnlyTheGivenExperiments) {
  store::Run other = MustCreateRun("0", "elsewhere", 9000);
  RunSearch s;
  s.experiment_ids = {"0"};
  EXPECT_EQ(SearchIds(s), (std::vector<std::string>{other.info.run_id}));
  s.experiment_ids = {"0", exp_};
  EXPECT_EQ(SearchIds(s).size(), 5u);
}

TEST_P(SearchRunsTest, RejectsBadArguments) {
  auto code = [&](RunSearch s) { return store_->SearchRuns(s).status().code(); };
  RunSearch s;
  s.experiment_ids = {exp_};
  for (const char* bad : {"metrics.acc >> 1", "metrics.acc > 'x'", "params.model > 'a'",
                          "run_name = ", "bogus.key = 'x'", "metrics.acc > 1 OR metrics.acc < 0"}) {
    RunSearch f = s;
    f.filter = bad;
    EXPECT_EQ(code(f), Code::kInvalidArgument) << bad;
  }
  RunSearch o = s;
  o.order_by = {"metrics.acc SIDEWAYS"};
  EXPECT_EQ(code(o), Code::kInvalidArgument);
  RunSearch m = s;
  m.max_results = 0;
  EXPECT_EQ(code(m), Code::kInvalidArgument);
  m.max_results = 50001;
  EXPECT_EQ(code(m), Code::kInvalidArgument);
  RunSearch t = s;
  t.page_token = "garbage!";
  EXPECT_EQ(code(t), Code::kInvalidArgument);
  RunSearch e;
  EXPECT_EQ(code(e), Code::kInvalidArgument);
  e.experiment_ids = {"nope"};
  EXPECT_EQ(code(e), Code::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: persistence, concurrency, shutdown

using StoreLifecycleTest = StoreTest;

TEST_P(StoreLifecycleTest, ReopenKeepsData) {
  std::string exp = MustCreateExperiment("durable", {{"k", "v"}});
  store::Run run = MustCreateRun(exp, "kept", 42);
  Batch b;
  b.metrics = {{"m", std::nan(""), 1, 0}, {"m", 2.5, 2, 1}};
  b.params = {{"p", "1"}};
  b.tags = {{"t", "x"}};
  ASSERT_TRUE(LogBatch(run.info.run_id, b).ok());

  Reopen();

  Result<Experiment> e = store_->GetExperimentByName("durable");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->experiment_id, exp);
  EXPECT_EQ(FindTag(e->tags, "k"), "v");
  Result<store::Run> got = store_->GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->info.run_name, "kept");
  EXPECT_EQ(got->info.start_time, 42);
  EXPECT_EQ(FindParam(*got, "p"), "1");
  EXPECT_EQ(FindTag(got->tags, "t"), "x");
  EXPECT_EQ(FindMetric(*got, "m")->value, 2.5);
  std::vector<Metric> h = History(run.info.run_id, "m");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_TRUE(std::isnan(h[0].value));

  // Ids keep counting after a reopen.
  EXPECT_EQ(CreateExperiment("next").value(), std::to_string(std::stoi(exp) + 1));
}

TEST_P(StoreLifecycleTest, ConcurrentWritersAreAllAcknowledgedAndPresent) {
  constexpr int kRuns = 4;
  constexpr int kThreadsPerRun = 2;
  constexpr int kWritesPerThread = 150;
  std::vector<std::string> run_ids;
  for (int i = 0; i < kRuns; ++i) run_ids.push_back(MustCreateRun("0").info.run_id);

  std::atomic<int> acked{0}, failed{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < kRuns; ++r) {
    for (int t = 0; t < kThreadsPerRun; ++t) {
      threads.emplace_back([&, r, t] {
        std::vector<std::future<Status>> pending;
        for (int i = 0; i < kWritesPerThread; ++i) {
          auto promise = std::make_shared<std::promise<Status>>();
          pending.push_back(promise->get_future());
          Batch b;
          int64_t step = int64_t{t} * kWritesPerThread + i;
          b.metrics = {{"m", double(step), step, step}};
          if (i % 10 == 0) b.params = {{"p" + std::to_string(t) + "_" + std::to_string(i), "v"}};
          store_->LogBatch(run_ids[r], std::move(b),
                           [promise](Status s) { promise->set_value(std::move(s)); });
        }
        for (auto& f : pending) {
          if (f.get().ok()) {
            ++acked;
          } else {
            ++failed;
          }
        }
      });
    }
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(acked.load(), kRuns * kThreadsPerRun * kWritesPerThread);
  EXPECT_EQ(failed.load(), 0);

  for (const std::string& id : run_ids) {
    std::vector<Metric> h = History(id, "m");
    ASSERT_EQ(h.size(), size_t{kThreadsPerRun * kWritesPerThread});
    for (size_t i = 0; i < h.size(); ++i) EXPECT_EQ(h[i].step, int64_t(i));
    Result<store::Run> run = store_->GetRun(id);
    ASSERT_TRUE(run.ok());
    EXPECT_EQ(run->params.size(), size_t{kThreadsPerRun * kWritesPerThread / 10});
    EXPECT_EQ(FindMetric(*run, "m")->step, kThreadsPerRun * kWritesPerThread - 1);
  }
  StoreStats stats = store_->Stats();
  EXPECT_GE(stats.writes_committed, kRuns * kThreadsPerRun * kWritesPerThread);
  EXPECT_EQ(stats.writes_failed, 0);
  EXPECT_LE(stats.commits, stats.writes_committed);
}

TEST_P(StoreLifecycleTest, WritesAfterShutdownAreUnavailable) {
  store::Run run = MustCreateRun("0");
  store_->Shutdown();
  store_->Shutdown();  // idempotent
  EXPECT_EQ(LogMetric(run.info.run_id, "m", 1, 0, 0).code(), Code::kUnavailable);
  EXPECT_EQ(CreateExperiment("late").status().code(), Code::kUnavailable);
  CreateRunRequest req;
  EXPECT_EQ(CreateRun(req).status().code(), Code::kUnavailable);
  EXPECT_EQ(DeleteRun(run.info.run_id).code(), Code::kUnavailable);
}

TEST_P(StoreLifecycleTest, ShutdownCommitsQueuedWrites) {
  store::Run run = MustCreateRun("0");
  std::vector<std::future<Status>> pending;
  for (int i = 0; i < 200; ++i) {
    auto promise = std::make_shared<std::promise<Status>>();
    pending.push_back(promise->get_future());
    Batch b;
    b.metrics = {{"m", double(i), i, i}};
    store_->LogBatch(run.info.run_id, std::move(b),
                     [promise](Status s) { promise->set_value(std::move(s)); });
  }
  store_->Shutdown();
  for (auto& f : pending) EXPECT_TRUE(f.get().ok());
  Reopen();
  EXPECT_EQ(History(run.info.run_id, "m").size(), 200u);
}

INSTANTIATE_TEST_SUITE_P(Engines, ExperimentStoreTest, ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         EngineName);
INSTANTIATE_TEST_SUITE_P(Engines, ExperimentSearchTest, ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         EngineName);
INSTANTIATE_TEST_SUITE_P(Engines, RunStoreTest, ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         EngineName);
INSTANTIATE_TEST_SUITE_P(Engines, StoreLifecycleTest, ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         EngineName);
INSTANTIATE_TEST_SUITE_P(Engines, SearchRunsTest, ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         EngineName);

}  // namespace
}  // namespace ringo::store
