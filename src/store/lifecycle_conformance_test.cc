// Store conformance on every engine: persistence, concurrent writers, shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "store/store_conformance.h"

namespace ringo::store {
namespace {

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
  // Every write and every batch is timed once.
  int64_t writes = 0, batches = 0;
  for (int64_t n : stats.write_seconds.counts) writes += n;
  for (int64_t n : stats.batch_seconds.counts) batches += n;
  EXPECT_EQ(writes, stats.writes_committed + stats.writes_failed);
  EXPECT_GE(batches, stats.commits);
  EXPECT_LE(batches, writes);
  EXPECT_GT(stats.write_seconds.sum_seconds, 0);
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

RINGO_ON_EVERY_ENGINE(StoreLifecycleTest);

}  // namespace
}  // namespace ringo::store
