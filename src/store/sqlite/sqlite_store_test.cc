// Tests of what is particular to the SQLite engine (the Store contract itself is tested on every
// engine by store/store_conformance_test.cc).
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "store/sqlite/test_store.h"

namespace ringo::store {
namespace {

TEST(OpenSqliteStoreTest, RejectsMemoryAndEmptyPaths) {
  SqliteOptions options;
  EXPECT_EQ(OpenSqliteStore(options).status().code(), Code::kInvalidArgument);
  options.path = ":memory:";
  EXPECT_EQ(OpenSqliteStore(options).status().code(), Code::kInvalidArgument);
}

// Under writes that never pause the background checkpointer cannot reach the log's end, and
// SQLite then never starts the log over; the writer does (engine.cc), so it stays within a few
// MB where it used to grow to 40 MB and more (116 MB in this test without the writer's restarts).
TEST(SqliteEngineTest, WriteAheadLogStaysSmallUnderContinuousWrites) {
  TestStore store("ringo-wal-test-");
  ASSERT_TRUE(store.status().ok()) << store.status().ToString();
  std::promise<Result<std::string>> exp;
  store.get()->CreateExperiment("wal", "", {}, [&](Result<std::string> r) { exp.set_value(r); });
  Result<std::string> exp_id = exp.get_future().get();
  ASSERT_TRUE(exp_id.ok());
  CreateRunRequest request;
  request.experiment_id = *exp_id;
  std::promise<Result<store::Run>> run;
  store.get()->CreateRun(request, [&](Result<store::Run> r) { run.set_value(std::move(r)); });
  Result<store::Run> created = run.get_future().get();
  ASSERT_TRUE(created.ok());
  const std::string run_id = created->info.run_id;

  std::atomic<bool> writing{true};
  std::atomic<int64_t> largest{0};
  std::thread watcher([&] {
    while (writing.load()) {
      int64_t wal = store.get()->Stats().wal_bytes;
      int64_t seen = largest.load();
      if (wal > seen) largest.store(wal);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // Single points, each waited for, a few keys: many small commits, as the log-metric load
  // makes them.
  constexpr int kThreads = 8, kWrites = 2500;
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::promise<Status> done;
        Batch b;
        b.metrics = {{"k" + std::to_string(t), double(i), i, i}};
        store.get()->LogBatch(run_id, std::move(b), [&done](Status s) { done.set_value(s); });
        failed += done.get_future().get().ok() ? 0 : 1;
      }
    });
  }
  for (auto& w : writers) w.join();
  writing.store(false);
  watcher.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(store.get()->Stats().commits, 2500);
  EXPECT_LT(largest.load(), int64_t{16} << 20) << "the write-ahead log grew to " << largest.load();
}

}  // namespace
}  // namespace ringo::store
