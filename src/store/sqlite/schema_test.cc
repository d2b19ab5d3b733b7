// Tests of the schema migrations on databases written by older ringo versions.
#include "store/sqlite/schema.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/util.h"
#include "store/series_sql.h"
#include "store/sqlite/db.h"
#include "store/sqlite/test_db.h"

namespace ringo::store {
namespace {

using SchemaTest = DbTest;

TEST_F(SchemaTest, Migration4NamesDigestsForWhatTheyAre) {
  // A schema 3 database: model_versions without the columns of migrations 4 and 5
  // (tree_sha256, model_id), no table of migration 6, and digests of the old kind.
  ASSERT_TRUE(Migrate(*db_).ok());
  ASSERT_TRUE(db_->ExecScript("ALTER TABLE registered_models DROP COLUMN last_version;"
                              "ALTER TABLE model_versions DROP COLUMN tree_sha256;"
                              "ALTER TABLE model_versions DROP COLUMN model_id;"
                              "DROP TABLE model_metrics;"
                              "DROP TABLE metric_chunks;"
                              "PRAGMA user_version = 3;")
                  .ok());
  ASSERT_TRUE(db_->ExecScript(
                     "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
                     "source, coreml, sha256) VALUES "
                     "('m', 1, 1, 1, 'mlflow-artifacts:/0/r/artifacts/model/M.mlmodel', "
                     "'{\"model_type\": \"neuralNetwork\"}', 'oldfilehash'), "
                     "('m', 2, 1, 1, 'mlflow-artifacts:/0/r/artifacts/model/M.mlpackage', "
                     "'{\"model_type\": \"mlProgram\"}', 'treehash'), "
                     "('m', 3, 1, 1, 's3://bucket/model', '', '');"
                     "INSERT INTO registered_models (name, creation_time, last_updated_time) "
                     "VALUES ('m', 1, 1)")
                  .ok());
  ASSERT_TRUE(Migrate(*db_).ok());
  EXPECT_EQ(Text("PRAGMA user_version"), std::to_string(kSchemaVersion));
  // Migration 9: a metric filter reads the index alone.
  auto plan = db_->PrepareUncached(
      "EXPLAIN QUERY PLAN SELECT run_id FROM latest_metrics WHERE key = 'm' AND is_nan = 0 AND "
      "value > 0.5");
  ASSERT_TRUE(plan.ok());
  Status step;
  ASSERT_TRUE((*plan)->Step(&step));
  EXPECT_NE(std::string((*plan)->Text(3)).find("COVERING INDEX latest_metrics_by_key"),
            std::string::npos)
      << (*plan)->Text(3);
  // A file's old digest matched no other tool: cleared rather than kept mislabelled.
  EXPECT_EQ(Text("SELECT sha256 || '|' || tree_sha256 FROM model_versions WHERE version = 1"), "|");
  // A package's digest was a tree hash all along, and is now named so.
  EXPECT_EQ(Text("SELECT sha256 || '|' || tree_sha256 FROM model_versions WHERE version = 2"),
            "|treehash");
  EXPECT_EQ(Text("SELECT sha256 || '|' || tree_sha256 FROM model_versions WHERE version = 3"), "|");
  // Migration 7: the highest version number given so far is kept, so none is ever reused.
  EXPECT_EQ(Text("SELECT last_version FROM registered_models WHERE name = 'm'"), "3");
}

TEST_F(SchemaTest, Migration8MovesEveryHistoryIntoChunks) {
  // A schema 7 store: every point a row of the metrics table.
  ASSERT_TRUE(Migrate(*db_).ok());
  ASSERT_TRUE(db_->ExecScript("DROP TABLE metric_chunks; PRAGMA user_version = 7;").ok());
  std::string rows;
  for (int step = 0; step < 3000; ++step) {
    rows += std::string(rows.empty() ? "" : ", ") + "('r', 'loss', " + std::to_string(step) +
            ", " + std::to_string(100 + step) + ", " + std::to_string(step * 0.5) + ", 0)";
  }
  rows += ", ('r', 'loss', 7, 1, 0, 1), ('r2', 'acc', 1, 1, 0.25, 0)";
  ASSERT_TRUE(db_->ExecScript(("INSERT INTO metrics (run_id, key, step, timestamp, value, "
                               "is_nan) VALUES " + rows).c_str())
                  .ok());
  ASSERT_TRUE(Migrate(*db_).ok());
  EXPECT_EQ(Text("SELECT count(*) FROM metrics"), "0");
  EXPECT_EQ(Text("SELECT count(*) || '/' || sum(count) FROM metric_chunks"), "4/3002");
  auto loss = series::Read(*db_, "r", "loss");
  ASSERT_TRUE(loss.ok()) << loss.status().ToString();
  ASSERT_EQ(loss->size(), 3001u);
  EXPECT_EQ((*loss)[7].timestamp, 1);  // the NaN at step 7 sorts before (7, 107)
  EXPECT_TRUE((*loss)[7].is_nan);
  EXPECT_EQ((*loss)[3000].value, 1499.5);
  auto acc = series::Read(*db_, "r2", "acc");
  ASSERT_TRUE(acc.ok() && acc->size() == 1);
  EXPECT_EQ((*acc)[0].value, 0.25);
}

}  // namespace
}  // namespace ringo::store
