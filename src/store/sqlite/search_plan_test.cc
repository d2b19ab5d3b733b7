// Tests of the plans SQLite makes of the shared search SQL, whatever its statistics say.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/util.h"
#include "store/search_sql.h"
#include "store/sqlite/store_impl.h"
#include "store/sqlite/test_db.h"

namespace ringo::store {
namespace {

class SearchPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ringo-plan-test-" + NewId());
    std::filesystem::create_directories(dir_);
    auto db = OpenMigrated((dir_ / "ringo.db").string(), false, (dir_ / "artifacts").string());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    // 2,000 runs of the Default experiment, a param matching a tenth of them, and statistics
    // from when the store was empty.
    ASSERT_TRUE(db_->ExecScript("ANALYZE").ok());
    ASSERT_TRUE(db_->ExecScript("BEGIN").ok());
    for (int i = 0; i < 2000; ++i) ASSERT_TRUE(InsertRunWithParam(*db_, i).ok());
    ASSERT_TRUE(db_->ExecScript("COMMIT").ok());
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Plan(std::optional<size_t> driver) {
    RunSearch s;
    s.experiment_ids = {"0"};
    s.filter = "params.p = '3'";
    s.max_results = 100;
    Result<SqlQuery> q = CompileRunSearch(s, 0, SqliteEngine::Dialect(), driver);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    if (!q.ok()) return "";
    auto stmt = db_->PrepareUncached("EXPLAIN QUERY PLAN " + q->sql);
    EXPECT_TRUE(stmt.ok());
    if (!stmt.ok()) return "";
    BindAll(**stmt, q->binds);
    std::string plan;
    Status st;
    while ((*stmt)->Step(&st)) plan += std::string((*stmt)->Text(3)) + "\n";
    EXPECT_TRUE(st.ok()) << st.ToString();
    return plan;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Db> db_;
};

// The planner, on the empty store's statistics, would walk all 2,000 runs of the experiment;
// the driving clause's 200 runs are looked up by key instead.
TEST_F(SearchPlanTest, DrivingClauseIsFollowedOnStaleStatistics) {
  std::string plan = Plan(0);
  EXPECT_NE(plan.find("SEARCH r USING PRIMARY KEY (run_id=?)"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("runs_by_experiment"), std::string::npos) << plan;
}

TEST_F(SearchPlanTest, RunsDriveWhenTheyAreFewer) {
  std::string plan = Plan(kRunsDrive);
  EXPECT_NE(plan.find("runs_by_experiment"), std::string::npos) << plan;
}

}  // namespace
}  // namespace ringo::store
