// Tests of the search SQL compiler every SQL engine shares.
#include "store/search_sql.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ringo::store {
namespace {

std::string TestLike(const std::string& column, bool ci) {
  return std::string(ci ? "ILIKE(" : "LIKE(") + column + ", ?)";
}
const SqlDialect kTestDialect{TestLike};

size_t Placeholders(const std::string& sql) { return std::count(sql.begin(), sql.end(), '?'); }

TEST(SearchSqlTest, RunSearchBindsOneValuePerPlaceholder) {
  RunSearch s;
  s.experiment_ids = {"1", "2"};
  s.filter =
      "metrics.acc > 0.9 AND params.lr = '0.1' AND tags.t ILIKE 'x%' AND run_name LIKE 'a%' AND "
      "attributes.run_id IN ('a', 'b') AND datasets.name = 'd'";
  s.order_by = {"metrics.acc DESC", "start_time"};
  s.max_results = 10;
  Result<SqlQuery> q = CompileRunSearch(s, 20, kTestDialect);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(Placeholders(q->sql), q->binds.size()) << q->sql;
  EXPECT_NE(q->sql.find("ILIKE(f.value, ?)"), std::string::npos) << q->sql;
  EXPECT_NE(q->sql.find("LIKE(r.name, ?)"), std::string::npos) << q->sql;
  // The page: max_results + 1 rows from the offset, bound last.
  EXPECT_EQ(std::get<int64_t>(q->binds[q->binds.size() - 2]), 11);
  EXPECT_EQ(std::get<int64_t>(q->binds.back()), 20);
  EXPECT_EQ(std::get<int64_t>(q->binds[0]), 1);
  EXPECT_EQ(std::get<double>(q->binds[3]), 0.9);
}

// Given a driver, that clause alone is an IN-subquery and the other metric, param and tag
// clauses are checked run by run; the probes count each clause's index rows in filter order.
TEST(SearchSqlTest, OneClauseDrivesTheOthersAreCheckedPerRun) {
  RunSearch s;
  s.experiment_ids = {"1"};
  s.filter = "metrics.acc > 0.9 AND attributes.status = 'FINISHED' AND params.lr = '0.1' AND "
             "tags.t LIKE 'x%'";
  s.max_results = 10;
  Result<SqlQuery> q = CompileRunSearch(s, 0, kTestDialect, 1);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(Placeholders(q->sql), q->binds.size()) << q->sql;
  EXPECT_NE(q->sql.find("r.run_id IN (SELECT f.run_id FROM params f WHERE f.key = ? AND "
                        "f.value = ?)"),
            std::string::npos)
      << q->sql;
  EXPECT_NE(q->sql.find("EXISTS (SELECT 1 FROM latest_metrics f WHERE f.key = ? AND f.is_nan = 0 "
                        "AND f.value > ? AND f.run_id = r.run_id)"),
            std::string::npos)
      << q->sql;
  EXPECT_NE(q->sql.find("EXISTS (SELECT 1 FROM tags f WHERE f.key = ? AND LIKE(f.value, ?) AND "
                        "f.run_id = r.run_id)"),
            std::string::npos)
      << q->sql;
  EXPECT_EQ(std::get<std::string>(q->binds[1]), "acc");
  EXPECT_EQ(std::get<double>(q->binds[2]), 0.9);

  Result<std::vector<SqlQuery>> probes = CompileClauseProbes(s, 500, kTestDialect);
  ASSERT_TRUE(probes.ok()) << probes.status().ToString();
  ASSERT_EQ(probes->size(), 3u);
  EXPECT_EQ((*probes)[1].sql,
            "SELECT COUNT(*) FROM (SELECT 1 FROM params f WHERE f.key = ? AND f.value = ? "
            "LIMIT ?)");
  for (const SqlQuery& p : *probes) {
    EXPECT_EQ(Placeholders(p.sql), p.binds.size()) << p.sql;
    EXPECT_EQ(std::get<int64_t>(p.binds.back()), 500);
  }
}

// A driving clause keeps the experiments' runs from being walked by their index (the unary
// plus); with kRunsDrive they are walked and every clause is checked run by run; the runs probe
// counts the runs in view.
TEST(SearchSqlTest, DriverDecidesWhetherTheExperimentsRunsAreWalked) {
  RunSearch s;
  s.experiment_ids = {"1", "2"};
  s.filter = "metrics.acc > 0.9 AND params.lr = '0.1'";
  s.max_results = 10;
  Result<SqlQuery> by_clause = CompileRunSearch(s, 0, kTestDialect, 1);
  ASSERT_TRUE(by_clause.ok()) << by_clause.status().ToString();
  EXPECT_NE(by_clause->sql.find("WHERE +r.experiment_id IN (?, ?) AND"), std::string::npos)
      << by_clause->sql;
  EXPECT_NE(by_clause->sql.find("r.run_id IN (SELECT f.run_id FROM params f"), std::string::npos)
      << by_clause->sql;

  Result<SqlQuery> by_runs = CompileRunSearch(s, 0, kTestDialect, kRunsDrive);
  ASSERT_TRUE(by_runs.ok()) << by_runs.status().ToString();
  EXPECT_NE(by_runs->sql.find("WHERE r.experiment_id IN (?, ?) AND"), std::string::npos)
      << by_runs->sql;
  EXPECT_EQ(by_runs->sql.find(" IN (SELECT"), std::string::npos) << by_runs->sql;
  EXPECT_NE(by_runs->sql.find("EXISTS (SELECT 1 FROM params f"), std::string::npos) << by_runs->sql;
  EXPECT_EQ(Placeholders(by_runs->sql), by_runs->binds.size()) << by_runs->sql;

  Result<SqlQuery> probe = CompileRunsProbe(s, 7, kTestDialect);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->sql,
            "SELECT COUNT(*) FROM (SELECT 1 FROM runs r WHERE r.experiment_id IN (?, ?) AND "
            "r.lifecycle_stage = 'active' LIMIT ?)");
  EXPECT_EQ(std::get<int64_t>(probe->binds.back()), 7);
}

TEST(SearchSqlTest, ExperimentSearchOrdersAndFilters) {
  ExperimentSearch s;
  s.filter = "name LIKE 'e%' AND tags.k = 'v' AND creation_time > 5";
  s.order_by = {"name DESC"};
  s.max_results = 5;
  Result<SqlQuery> q = CompileExperimentSearch(s, 0, kTestDialect);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(Placeholders(q->sql), q->binds.size()) << q->sql;
  EXPECT_NE(q->sql.find("ORDER BY e.name DESC, e.experiment_id ASC"), std::string::npos) << q->sql;
}

TEST(SearchSqlTest, RefusesBadInput) {
  RunSearch s;
  s.experiment_ids = {"1"};
  s.max_results = 0;
  EXPECT_EQ(CompileRunSearch(s, 0, kTestDialect).status().code(), Code::kInvalidArgument);
  s.max_results = 10;
  s.experiment_ids = {};
  EXPECT_EQ(CompileRunSearch(s, 0, kTestDialect).status().code(), Code::kInvalidArgument);
  s.experiment_ids = {"x"};
  EXPECT_EQ(CompileRunSearch(s, 0, kTestDialect).status().code(), Code::kInvalidArgument);
  s.experiment_ids = {"1"};
  s.filter = "metrics.a >> 1";
  EXPECT_EQ(CompileRunSearch(s, 0, kTestDialect).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace ringo::store
