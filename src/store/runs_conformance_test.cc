// Store conformance on every engine: runs, batches, metric histories, inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "store/store_conformance.h"

namespace ringo::store {
namespace {

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

// A run's metrics, params and tags load together (runs_load_sql.h): each kind stays apart even
// where keys are shared, in key order, with metric values exact to the last bit.
TEST_P(RunStoreTest, GetRunKeepsMetricsParamsAndTagsApartInKeyOrder) {
  store::Run run = MustCreateRun("0", "kinds");
  const double tiny = 0.1 + 0.2;  // 0.30000000000000004
  Batch b;
  b.metrics = {{"z", tiny, 5, 2}, {"a", 1e-300, 6, 3}};
  b.params = {{"z", "pz"}, {"a", "pa"}};
  b.tags = {{"z", "tz"}, {"a", "ta"}};
  ASSERT_TRUE(LogBatch(run.info.run_id, b).ok());
  Result<store::Run> got = store_->GetRun(run.info.run_id);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->metrics.size(), 2u);
  EXPECT_EQ(got->metrics[0].key, "a");
  EXPECT_EQ(got->metrics[0].value, 1e-300);
  EXPECT_EQ(got->metrics[0].timestamp, 6);
  EXPECT_EQ(got->metrics[0].step, 3);
  EXPECT_EQ(got->metrics[1].key, "z");
  EXPECT_EQ(got->metrics[1].value, tiny);
  ASSERT_EQ(got->params.size(), 2u);
  EXPECT_EQ(got->params[0].key + "=" + got->params[0].value, "a=pa");
  EXPECT_EQ(got->params[1].key + "=" + got->params[1].value, "z=pz");
  std::vector<std::string> tags;
  for (const Tag& t : got->tags) tags.push_back(t.key + "=" + t.value);
  EXPECT_EQ(tags, (std::vector<std::string>{"a=ta", "mlflow.runName=kinds", "z=tz"}));
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

// Repeated keys inside one batch behave as if the entries were logged one by one.
TEST_P(RunStoreTest, LogBatchRepeatedKeysActInOrder) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  Batch same;
  same.params = {{"p", "a"}, {"p", "a"}};
  same.tags = {{"t", "1"}, {"t", "2"}};
  same.metrics = {{"m", 5.0, 1, 3}, {"m", 7.0, 2, 3}, {"m", 6.0, 1, 3}};
  ASSERT_TRUE(LogBatch(id, same).ok());
  Result<store::Run> got = store_->GetRun(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(FindParam(*got, "p"), "a");
  EXPECT_EQ(FindTag(got->tags, "t"), "2");
  EXPECT_EQ(FindMetric(*got, "m")->value, 7.0);
  EXPECT_EQ(History(id, "m").size(), 3u);

  Batch changed;
  changed.params = {{"q", "1"}, {"q", "2"}};
  EXPECT_EQ(LogBatch(id, changed).code(), Code::kInvalidArgument);
  EXPECT_EQ(FindParam(*store_->GetRun(id), "q"), std::nullopt);
}

// Values travel through SQL literals on some engines; none of these characters may be lost.
TEST_P(RunStoreTest, LogBatchKeepsEveryCharacter) {
  store::Run run = MustCreateRun("0");
  const std::string& id = run.info.run_id;
  const std::vector<std::string> odd = {"va\"l\\ue", "{a,b}", "NULL", "", " lead", "\u00fc\u20ac",
                                        "'quoted'", "x\ny"};
  Batch b;
  for (size_t i = 0; i < odd.size(); ++i) {
    b.params.push_back({"p" + std::to_string(i), odd[i]});
    b.tags.push_back({"t" + std::to_string(i), odd[i]});
  }
  b.metrics = {{"dir/sub.key name-1", 1.5, 1, 1}};
  ASSERT_TRUE(LogBatch(id, b).ok());
  Result<store::Run> got = store_->GetRun(id);
  ASSERT_TRUE(got.ok());
  for (size_t i = 0; i < odd.size(); ++i) {
    EXPECT_EQ(FindParam(*got, "p" + std::to_string(i)), odd[i]) << i;
    EXPECT_EQ(FindTag(got->tags, "t" + std::to_string(i)), odd[i]) << i;
  }
  EXPECT_EQ(FindMetric(*got, "dir/sub.key name-1")->value, 1.5);
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

// Metric-only log-batches of several runs queued together (both engines write such writes of one
// commit together): a write to a deleted run fails alone, the latest value per run and key is the
// highest step even when points arrive out of order within one commit.
TEST_P(RunStoreTest, MetricWritesOfSeveralRunsCommittedTogether) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(MustCreateRun("0").info.run_id);
  // Queued back to back to `runs` runs, answered in order: the statuses.
  auto fire = [&](size_t runs, int writes) {
    std::vector<std::promise<Status>> answers(static_cast<size_t>(writes));
    for (int i = 0; i < writes; ++i) {
      Batch b;
      int step = (i * 7) % 100;  // out of order, with repeats
      b.metrics = {{"loss", 1.0 / (step + 1), 1000 + i, step},
                   {"acc", step / 100.0, 1000 + i, step}};
      store_->LogBatch(ids[static_cast<size_t>(i) % runs], b,
                       [&answers, i](Status s) { answers[static_cast<size_t>(i)].set_value(s); });
    }
    std::vector<Status> out;
    for (auto& a : answers) out.push_back(a.get_future().get());
    return out;
  };
  for (const Status& s : fire(2, 300)) EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(Wait([&](Done d) { store_->DeleteRun(ids[2], std::move(d)); }).ok());
  std::vector<Status> mixed = fire(3, 300);
  for (size_t i = 0; i < mixed.size(); ++i) {
    if (i % 3 == 2) {
      EXPECT_EQ(mixed[i].code(), Code::kInvalidArgument) << i;
    } else {
      EXPECT_TRUE(mixed[i].ok()) << i << ": " << mixed[i].ToString();
    }
  }
  for (size_t r = 0; r < 2; ++r) {
    // Points are distinct by timestamp (1000 + i): 150 of the first round, 100 of the second,
    // 50 of which are the same points again.
    EXPECT_EQ(History(ids[r], "loss").size(), 200u);
    Result<store::Run> got = store_->GetRun(ids[r]);
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(FindMetric(*got, "acc").has_value());
    EXPECT_EQ(FindMetric(*got, "acc")->step, 99);
    EXPECT_EQ(FindMetric(*got, "loss")->value, 1.0 / 100);
  }
  EXPECT_TRUE(History(ids[2], "loss").empty());
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

// Longer than any engine's internal chunk of a history read: every point once, in order, from
// the start and from a page token.
TEST_P(RunStoreTest, LongHistoryIsReadWhole) {
  store::Run run = MustCreateRun("0");
  constexpr int64_t kPoints = 25000;
  for (int64_t start = 0; start < kPoints; start += 1000) {
    Batch b;
    for (int64_t step = start; step < start + 1000; ++step) {
      b.metrics.push_back({"m", step * 0.1, kPoints - step, step});
    }
    ASSERT_TRUE(LogBatch(run.info.run_id, std::move(b)).ok());
  }
  std::vector<Metric> all = History(run.info.run_id, "m");
  ASSERT_EQ(all.size(), size_t{kPoints});
  for (int64_t i = 0; i < kPoints; ++i) ASSERT_EQ(all[size_t(i)].step, i);
  std::string token;
  int64_t seen = 0;
  do {
    Result<MetricPage> page = store_->GetMetricHistory(run.info.run_id, "m", 12000, token);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const Metric& m : page->metrics) ASSERT_EQ(m.step, seen++);
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(seen, kPoints);
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
  EXPECT_EQ(steps.size(), 11u);  // every 10th step of 100, and the last
  EXPECT_GE(steps.size(), 2u);
  EXPECT_EQ(steps.front(), 0);
  EXPECT_EQ(steps.back(), 99);
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end()));
  for (const RunMetric& p : *sampled) EXPECT_EQ(p.run_id, id);

  Result<std::vector<RunMetric>> bounded =
      store_->GetMetricHistoryBulkInterval({id}, "m", 20, 30, 5);
  ASSERT_TRUE(bounded.ok()) << bounded.status().ToString();
  steps = steps_of(*bounded);
  EXPECT_EQ(steps.size(), 6u);  // every 2nd of 20..30
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
  EXPECT_EQ(steps_of(*one), (std::vector<int64_t>{0, 99}));  // the first and the last
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

RINGO_ON_EVERY_ENGINE(RunStoreTest);

}  // namespace
}  // namespace ringo::store
