// Tests of the SQLite write engine's upkeep as readers see it.
#include "store/sqlite/engine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "common/util.h"
#include "store/sqlite/store_impl.h"
#include "store/sqlite/test_db.h"

namespace ringo::store {
namespace {

// What a reader's planner makes of a search for runs by a param value: by the run's key once it
// knows that the value matches few of the experiment's runs, or by experiment and stage.
std::string PlanOfSearch(WriteEngine& engine) {
  auto lease = engine.AcquireReader();
  EXPECT_TRUE(lease.ok());
  if (!lease.ok()) return "";
  auto q = lease->db->PrepareUncached(
      "EXPLAIN QUERY PLAN SELECT r.run_id FROM runs r WHERE r.experiment_id IN (0) AND "
      "r.lifecycle_stage = 'active' AND r.run_id IN (SELECT f.run_id FROM params f WHERE "
      "f.key = 'p' AND f.value = '3')");
  EXPECT_TRUE(q.ok());
  if (!q.ok()) return "";
  std::string plan;
  Status s;
  while ((*q)->Step(&s)) plan += std::string((*q)->Text(3)) + "\n";
  EXPECT_TRUE(s.ok()) << s.ToString();
  return plan;
}

Status Write(WriteEngine& engine, std::function<Status(Db&)> apply) {
  std::promise<Status> done;
  engine.Submit(std::move(apply), [&done](Status s) { done.set_value(s); });
  return done.get_future().get();
}

// A reader opened on an empty store planned every later search from the empty store's
// statistics, however many runs were written and analyzed since: the search over 10k runs
// scanned every run of the experiment (18 ms where the param's 1,000 runs take 3).
TEST(SqliteEngineTest, ReadersPlanWithTheStatisticsOfTheLastAnalyze) {
  auto dir = std::filesystem::temp_directory_path() / ("ringo-engine-test-" + NewId());
  std::filesystem::create_directories(dir);
  std::string path = (dir / "ringo.db").string();
  {
    auto writer = OpenMigrated(path, false, (dir / "artifacts").string());
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    WriteEngine engine(path, 1000, std::move(writer).value());
    std::string before = PlanOfSearch(engine);  // the reader pooled from here on
    EXPECT_EQ(before.find("USING PRIMARY KEY"), std::string::npos) << before;

    // Past the writes after which the engine analyzes a growing store (engine.cc).
    std::vector<std::future<Status>> writes;
    for (int i = 0; i < 6000; ++i) {
      auto done = std::make_shared<std::promise<Status>>();
      writes.push_back(done->get_future());
      engine.Submit([i](Db& db) { return InsertRunWithParam(db, i); },
                    [done](Status s) { done->set_value(s); });
    }
    for (auto& w : writes) ASSERT_TRUE(w.get().ok());
    // The analysis follows the batch it was due after: one more write waits for it.
    ASSERT_TRUE(Write(engine, [](Db&) { return Status::Ok(); }).ok());

    std::string after = PlanOfSearch(engine);
    EXPECT_NE(after.find("SEARCH r USING PRIMARY KEY"), std::string::npos) << after;
    engine.Shutdown();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace ringo::store
