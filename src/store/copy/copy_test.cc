// ringo store copy's table copier: the table list matches both engines' schemas, a store copied
// from SQLite to PostgreSQL (and back) reads the same through the Store interface, a second run
// skips verified tables, an interrupted copy resumes, and a destination holding other data is
// refused or fails verification.
#include "store/copy/copy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store/postgres/postgres_store.h"
#include "store/postgres/test_postgres.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace ringo::store {
namespace {

namespace fs = std::filesystem;

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ringo-copy-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto server = SharedTestPostgres();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    auto uri = (*server)->CreateDatabase();
    ASSERT_TRUE(uri.ok()) << uri.status().ToString();
    pg_ = *uri;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Db(const std::string& name) const { return (dir_ / name).string(); }

  static std::unique_ptr<Store> Sqlite(const std::string& path) {
    SqliteOptions o;
    o.path = path;
    auto s = OpenSqliteStore(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<Store> Postgres() const {
    PostgresOptions o;
    o.conninfo = pg_;
    auto s = OpenPostgresStore(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // A store with something in every table, including NULLs, NaN and infinities.
  static void Fill(Store& st, std::string* run_id) {
    auto exp = WaitFor<std::string>([&](DoneWith<std::string> d) {
      st.CreateExperiment("ios", "", {{"team", "vision"}}, std::move(d));
    });
    ASSERT_TRUE(exp.ok()) << exp.status().ToString();
    CreateRunRequest req;
    req.experiment_id = *exp;
    req.run_name = "resnet";
    auto run =
        WaitFor<store::Run>([&](DoneWith<store::Run> d) { st.CreateRun(req, std::move(d)); });
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    *run_id = run->info.run_id;
    Batch b;
    b.params = {{"lr", "0.01"}};
    b.tags = {{"note", "ünïcode ✓"}};
    for (int i = 0; i < 7000; ++i) b.metrics.push_back(Metric{"loss", 1.0 / (i + 1), 1000 + i, i});
    b.metrics.push_back(Metric{"odd", std::nan(""), 5, 0});
    b.metrics.push_back(Metric{"odd", std::numeric_limits<double>::infinity(), 6, 1});
    b.metrics.push_back(Metric{"acc", 0.9, 7, 0, "m-1", "val", "abc"});
    for (size_t at = 0; at < b.metrics.size(); at += 900) {
      Batch part;
      if (at == 0) part.params = b.params, part.tags = b.tags;
      size_t end = std::min(at + 900, b.metrics.size());
      part.metrics.assign(b.metrics.begin() + static_cast<ptrdiff_t>(at),
                          b.metrics.begin() + static_cast<ptrdiff_t>(end));
      Status s = Wait([&](Done d) { st.LogBatch(*run_id, part, std::move(d)); });
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    DatasetInput in{{{"mlflow.data.context", "train"}}, {"digits", "d1", "local", "/x", "", ""}};
    ASSERT_TRUE(Wait([&](Done d) { st.LogInputs(*run_id, {in}, std::move(d)); }).ok());
    ASSERT_TRUE(WaitFor<RegisteredModel>([&](DoneWith<RegisteredModel> d) {
                  st.CreateRegisteredModel("Classifier", "cnn", {{"k", "v"}}, std::move(d));
                }).ok());
    ModelVersion v;
    v.name = "Classifier";
    v.source = "runs:/" + *run_id + "/model";
    v.run_id = *run_id;
    ASSERT_TRUE(WaitFor<ModelVersion>([&](DoneWith<ModelVersion> d) {
                  st.CreateModelVersion(v, std::move(d));
                }).ok());
    ASSERT_TRUE(Wait([&](Done d) {
                  st.SetRegisteredModelAlias("Classifier", "prod", 1, std::move(d));
                }).ok());
    ASSERT_TRUE(WaitFor<int64_t>([&](DoneWith<int64_t> d) {
                  st.PutDocument("signing_key", "manifest", "{\"pem\":\"k\"}", 0, "made",
                                 std::move(d));
                }).ok());
  }

  // The filled SQLite store src.db, closed.
  void MakeSource(std::string* run_id) {
    auto st = Sqlite(Db("src.db"));
    ASSERT_NO_FATAL_FAILURE(Fill(*st, run_id));
    st->Shutdown();
  }

  fs::path dir_;
  std::string pg_;
};

std::set<std::string> Names(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

TEST_F(CopyTest, TableListMatchesBothEnginesSchemas) {
  auto sqlite = OpenSqliteTables(Db("a.db"), true);
  auto postgres = OpenPostgresTables(pg_, true);
  ASSERT_TRUE(sqlite.ok() && postgres.ok());
  std::set<std::string> listed;
  for (const Table& t : StoreTables()) {
    listed.insert(t.name);
    std::set<std::string> cols;
    for (const Column& c : t.columns) cols.insert(c.name);
    for (Tables* side : {sqlite->get(), postgres->get()}) {
      auto have = side->Columns(t.name);
      ASSERT_TRUE(have.ok());
      EXPECT_EQ(Names(*have), cols) << side->Describe() << " " << t.name;
    }
  }
  for (Tables* side : {sqlite->get(), postgres->get()}) {
    auto tables = side->TableNames();
    ASSERT_TRUE(tables.ok());
    EXPECT_EQ(Names(*tables), listed) << side->Describe();
  }
}

TEST_F(CopyTest, SqliteToPostgresAndBackReadsTheSame) {
  std::string run_id;
  ASSERT_NO_FATAL_FAILURE(MakeSource(&run_id));
  auto from = OpenSqliteTables(Db("src.db"), false);
  auto to = OpenPostgresTables(pg_, true);
  ASSERT_TRUE(from.ok() && to.ok());
  CopyOptions o;
  o.chunk_rows = 1000;  // several chunks for the history
  auto reports = CopyTables(**from, **to, o);
  ASSERT_TRUE(reports.ok()) << reports.status().ToString();
  EXPECT_EQ(reports->size(), StoreTables().size());
  for (const TableReport& r : *reports) {
    // Empty tables are equal on both sides from the start; the others were copied.
    EXPECT_EQ(r.skipped, r.rows == 0) << r.table;
    // The 7,000 points of "loss" went into chunks as they were logged; the three others
    // are rows (fewer than a chunk's worth of their keys).
    if (r.table == "metrics") {
      EXPECT_EQ(r.rows, 3);
    }
    if (r.table == "metric_chunks") {
      EXPECT_GE(r.rows, 7);
    }
  }

  auto pg = Postgres();
  auto run = pg->GetRun(run_id);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->info.run_name, "resnet");
  EXPECT_FALSE(run->info.end_time.has_value());
  auto history = pg->GetMetricHistory(run_id, "loss", 0, "");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->metrics.size(), 7000u);
  EXPECT_EQ(history->metrics[6999].value, 1.0 / 7000);
  auto odd = pg->GetMetricHistory(run_id, "odd", 0, "");
  ASSERT_TRUE(odd.ok() && odd->metrics.size() == 2);
  EXPECT_TRUE(std::isnan(odd->metrics[0].value));
  EXPECT_TRUE(std::isinf(odd->metrics[1].value));
  auto version = pg->GetModelVersionByAlias("Classifier", "prod");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->run_id, run_id);
  auto key = pg->GetDocument("signing_key", "manifest");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->value, "{\"pem\":\"k\"}");
  // The copy keeps numbering: the next version is 2 on the new engine too.
  ModelVersion v;
  v.name = "Classifier";
  v.source = "s3://b/m";
  auto next = WaitFor<ModelVersion>([&](DoneWith<ModelVersion> d) {
    pg->CreateModelVersion(v, std::move(d));
  });
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->version, 2);
  pg->Shutdown();

  // And back to a new SQLite file: every table verifies.
  auto back_from = OpenPostgresTables(pg_, false);
  auto back_to = OpenSqliteTables(Db("back.db"), true);
  ASSERT_TRUE(back_from.ok() && back_to.ok());
  auto back = CopyTables(**back_from, **back_to, CopyOptions{});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
}

TEST_F(CopyTest, SecondRunSkipsVerifiedTables) {
  std::string run_id;
  ASSERT_NO_FATAL_FAILURE(MakeSource(&run_id));
  auto from = OpenSqliteTables(Db("src.db"), false);
  auto to = OpenSqliteTables(Db("dst.db"), true);
  ASSERT_TRUE(from.ok() && to.ok());
  ASSERT_TRUE(CopyTables(**from, **to, CopyOptions{}).ok());
  // Without --resume a destination holding data is refused.
  auto refused = CopyTables(**from, **to, CopyOptions{});
  ASSERT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("already holds data"), std::string::npos);
  CopyOptions resume;
  resume.resume = true;
  auto again = CopyTables(**from, **to, resume);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (const TableReport& r : *again) EXPECT_TRUE(r.skipped) << r.table;
}

// Fails every write after the first `budget` chunks, as a copy killed midway.
class FailingTables final : public Tables {
 public:
  FailingTables(Tables* inner, int budget) : inner_(inner), budget_(budget) {}
  std::string Describe() const override { return inner_->Describe(); }
  Status BeginSnapshot() override { return inner_->BeginSnapshot(); }
  Status EndSnapshot() override { return inner_->EndSnapshot(); }
  Result<std::vector<std::string>> TableNames() override { return inner_->TableNames(); }
  Result<std::vector<std::string>> Columns(const std::string& t) override {
    return inner_->Columns(t);
  }
  Status Scan(const Table& t, const Row& after, int64_t limit, std::vector<Row>* rows) override {
    return inner_->Scan(t, after, limit, rows);
  }
  Status Upsert(const Table& t, const std::vector<Row>& rows) override {
    if (budget_-- <= 0) return Unavailable("connection lost");
    return inner_->Upsert(t, rows);
  }

 private:
  Tables* inner_;
  int budget_;
};

TEST_F(CopyTest, InterruptedCopyResumes) {
  std::string run_id;
  ASSERT_NO_FATAL_FAILURE(MakeSource(&run_id));
  auto from = OpenSqliteTables(Db("src.db"), false);
  auto to = OpenPostgresTables(pg_, true);
  ASSERT_TRUE(from.ok() && to.ok());
  CopyOptions o;
  o.chunk_rows = 1000;
  FailingTables failing(to->get(), 8);  // dies inside the metric history
  auto first = CopyTables(**from, failing, o);
  ASSERT_EQ(first.status().code(), Code::kUnavailable);
  auto refused = CopyTables(**from, **to, o);
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  o.resume = true;
  auto resumed = CopyTables(**from, **to, o);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_TRUE(resumed->front().skipped);  // experiments were done before the failure
}

TEST_F(CopyTest, DestinationWithOtherRowsFailsVerification) {
  std::string run_id;
  ASSERT_NO_FATAL_FAILURE(MakeSource(&run_id));
  {
    auto st = Sqlite(Db("dst.db"));
    // Experiments 1 and 2; the source has only 1, so 2 stays behind.
    for (const char* name : {"other", "another"}) {
      auto exp = WaitFor<std::string>([&](DoneWith<std::string> d) {
        st->CreateExperiment(name, "", {}, std::move(d));
      });
      ASSERT_TRUE(exp.ok());
    }
    st->Shutdown();
  }
  auto from = OpenSqliteTables(Db("src.db"), false);
  auto to = OpenSqliteTables(Db("dst.db"), true);
  ASSERT_TRUE(from.ok() && to.ok());
  CopyOptions o;
  o.resume = true;
  auto r = CopyTables(**from, **to, o);
  ASSERT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("'experiments' does not verify"), std::string::npos)
      << r.status().message();
}

TEST_F(CopyTest, SourceMustExistAndPasswordsStayOutOfMessages) {
  EXPECT_EQ(OpenSqliteTables(Db("missing.db"), false).status().code(), Code::kNotFound);
  EXPECT_EQ(DescribePostgres("postgresql://ann:secret@db:5432/ringo"),
            "postgresql://ann@db:5432/ringo");
  EXPECT_EQ(DescribePostgres("postgres://db/ringo"), "postgres://db/ringo");
  EXPECT_EQ(DescribePostgres("host=db password=x"), "the PostgreSQL database");
}

}  // namespace
}  // namespace ringo::store
