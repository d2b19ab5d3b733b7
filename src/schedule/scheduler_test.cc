// Tests of the scheduler on a real SQLite store, driven by Tick at chosen times: one firing per
// slot across restarts, pause, the missed-slot policies, no overlapping runs, the triggers.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/util.h"
#include "schedule/schedule.h"
#include "store/sqlite/sqlite_store.h"

namespace ringo::schedule {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNoon = 1796472000;  // 2026-12-05T12:00:00Z, a slot of "* * * * *"

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ringo-sched-" + NewId());
    fs::create_directories(dir_);
    store::SqliteOptions o;
    o.path = (dir_ / "ringo.db").string();
    auto opened = store::OpenSqliteStore(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    Restart();
  }
  void TearDown() override {
    scheduler_.reset();
    store_->Shutdown();
    fs::remove_all(dir_);
  }
  // A new scheduler on the same store: what a server restart does.
  void Restart() {
    scheduler_ = std::make_unique<Scheduler>(
        store_.get(),
        [this](const Schedule& s, const Firing& f) -> Result<int64_t> {
          launched_.push_back(s.name + ":" + f.reason);
          pid_t pid = ::fork();
          if (pid == 0) {
            ::execl("/bin/sh", "sh", "-c", command_.c_str(), nullptr);
            ::_exit(127);
          }
          return int64_t{pid};
        },
        [this](const Trigger&, int64_t) -> Result<Observation> { return observation_; });
  }
  Schedule Every(const std::string& name, const std::string& catch_up = "once") {
    Schedule s;
    s.name = name;
    s.project = dir_.string();
    s.trigger.type = "cron";
    s.trigger.cron = "* * * * *";
    s.catch_up = catch_up;
    return s;
  }
  // Creates a schedule as if at `created` (seconds).
  void CreateAt(Schedule s, int64_t created) {
    ASSERT_TRUE(scheduler_->Create(s).ok());
    auto doc = store_->GetDocument("schedule", s.name);
    auto loaded = *ScheduleFromJson(doc->value);
    loaded.last_slot = created;
    ASSERT_TRUE(store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
                  store_->PutDocument("schedule", s.name, ScheduleToJson(loaded), doc->revision,
                                      "", std::move(done));
                }).ok());
  }
  // Waits for the runs started so far to end, so the next tick sees them finished.
  void SettleRuns() { ::usleep(200 * 1000); }
  std::vector<std::string> Outcomes(const std::string& name) {
    std::vector<std::string> out;
    Result<std::vector<Firing>> firings = scheduler_->Firings(name, 100);
    if (!firings.ok()) return out;
    for (const Firing& f : *firings) out.insert(out.begin(), f.outcome);
    return out;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::string> launched_;
  std::string command_ = "true";
  Observation observation_;
};

TEST_F(SchedulerTest, FiresOncePerSlotAcrossRestarts) {
  CreateAt(Every("m"), kNoon - 30);
  for (int64_t t = kNoon; t < kNoon + 60; t += 7) scheduler_->Tick(t * 1000);
  EXPECT_EQ(launched_.size(), 1u);
  SettleRuns();
  Restart();
  scheduler_->Tick((kNoon + 45) * 1000);  // same slot after the restart: nothing
  EXPECT_EQ(launched_.size(), 1u);
  scheduler_->Tick((kNoon + 61) * 1000);
  SettleRuns();
  Restart();
  scheduler_->Tick((kNoon + 62) * 1000);
  scheduler_->Tick((kNoon + 121) * 1000);
  EXPECT_EQ(launched_.size(), 3u);
  EXPECT_NE(launched_[0].find("cron slot 2026-12-05T12:00Z"), std::string::npos) << launched_[0];
  SettleRuns();
  scheduler_->Tick((kNoon + 122) * 1000);
  EXPECT_EQ(Outcomes("m"), (std::vector<std::string>{"started", "finished", "started", "finished",
                                                     "started", "finished"}));
}

TEST_F(SchedulerTest, PausedSchedulesDoNotFireAndDoNotCatchUp) {
  CreateAt(Every("p"), kNoon - 30);
  ASSERT_TRUE(scheduler_->SetPaused("p", true).ok());
  for (int64_t t = kNoon; t < kNoon + 300; t += 10) scheduler_->Tick(t * 1000);
  EXPECT_TRUE(launched_.empty());
  ASSERT_TRUE(scheduler_->SetPaused("p", false).ok());
  // Resumed now (wall clock, long after these slots): the old slots are not caught up.
  scheduler_->Tick((kNoon + 310) * 1000);
  EXPECT_TRUE(launched_.empty());
}

TEST_F(SchedulerTest, MissedSlotsAreCaughtUpOnceOrSkipped) {
  Schedule once = Every("once", "once"), skip = Every("skip", "skip");
  once.trigger.cron = skip.trigger.cron = "*/5 * * * *";
  CreateAt(once, kNoon - 30);
  CreateAt(skip, kNoon - 30);
  // The server was down from 11:59 to 12:13:30: the 12:00, 12:05 and 12:10 slots passed.
  scheduler_->Tick((kNoon + 810) * 1000);
  ASSERT_EQ(launched_.size(), 1u);
  EXPECT_NE(launched_[0].find("once:cron slot 2026-12-05T12:10Z (missed"), std::string::npos)
      << launched_[0];
  auto skipped = *scheduler_->Firings("skip", 10);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].outcome, "skipped");
  EXPECT_NE(skipped[0].reason.find("missed while the server was down"), std::string::npos);
  // Back on time: the next slot fires for both.
  SettleRuns();
  scheduler_->Tick((kNoon + 900 + 5) * 1000);
  EXPECT_EQ(launched_.size(), 3u);
  // An every-minute schedule's latest slot is on time; the ones before it are noted.
  CreateAt(Every("minutely", "skip"), kNoon - 30);
  scheduler_->Tick((kNoon + 300 + 10) * 1000);
  ASSERT_EQ(launched_.size(), 4u);
  EXPECT_NE(launched_[3].find("5 earlier slot(s) missed while the server was down were skipped"),
            std::string::npos)
      << launched_[3];
}

TEST_F(SchedulerTest, NeverTwoRunsAtOnce) {
  command_ = "sleep 30";
  CreateAt(Every("slow"), kNoon - 30);
  scheduler_->Tick(kNoon * 1000);
  scheduler_->Tick((kNoon + 60) * 1000);
  ASSERT_EQ(launched_.size(), 1u);
  auto firings = *scheduler_->Firings("slow", 10);
  EXPECT_EQ(firings[0].outcome, "skipped");
  EXPECT_NE(firings[0].reason.find("still in progress"), std::string::npos);
  EXPECT_EQ(scheduler_->RunNow("slow").status().code(), Code::kFailedPrecondition);
  ::kill(static_cast<pid_t>(scheduler_->Get("slow")->running_pid), SIGKILL);
  SettleRuns();
  scheduler_->Tick((kNoon + 70) * 1000);
  EXPECT_EQ(scheduler_->Firings("slow", 1)->front().outcome, "failed");
  EXPECT_TRUE(scheduler_->RunNow("slow").ok());
  EXPECT_EQ(launched_.size(), 2u);
}

TEST_F(SchedulerTest, TelemetryTriggerFiresOncePerWindowAndNotWhileRunning) {
  command_ = "sleep 30";
  Schedule s = Every("t");
  s.trigger = Trigger{};
  s.trigger.type = "telemetry";
  s.trigger.collection = "c";
  s.trigger.channel = "release";
  s.trigger.signal = "accuracy";
  s.trigger.threshold = 0.9;
  s.trigger.min_samples = 100;
  s.trigger.check_seconds = 1;
  s.trigger.window_seconds = 3600;
  ASSERT_TRUE(scheduler_->Create(s).ok());
  observation_ = {0.95, 500};
  scheduler_->Tick(kNoon * 1000);
  observation_ = {0.5, 50};  // below, but too few events
  scheduler_->Tick((kNoon + 2) * 1000);
  EXPECT_TRUE(launched_.empty());
  observation_ = {0.8, 500};
  scheduler_->Tick((kNoon + 4) * 1000);
  ASSERT_EQ(launched_.size(), 1u);
  EXPECT_NE(launched_[0].find("accuracy 0.8 < 0.9"), std::string::npos) << launched_[0];
  scheduler_->Tick((kNoon + 6) * 1000);  // still low, run in progress
  ::kill(static_cast<pid_t>(scheduler_->Get("t")->running_pid), SIGKILL);
  SettleRuns();
  scheduler_->Tick((kNoon + 8) * 1000);  // finished, same window: not again
  EXPECT_EQ(launched_.size(), 1u);
  auto f = scheduler_->Firings("t", 10)->back();
  EXPECT_EQ(f.outcome, "started");
  EXPECT_DOUBLE_EQ(*f.observed, 0.8);
  EXPECT_NE(f.window.find("500 events"), std::string::npos);
}

TEST_F(SchedulerTest, DataTriggerFiresWhenContentChanges) {
  fs::path data = dir_ / "data.csv";
  std::ofstream(data) << "a,b\n";
  Schedule s = Every("d");
  s.trigger = Trigger{};
  s.trigger.type = "data";
  s.trigger.path = data.string();
  s.trigger.check_seconds = 1;
  ASSERT_TRUE(scheduler_->Create(s).ok());
  scheduler_->Tick(kNoon * 1000);
  EXPECT_TRUE(launched_.empty());
  std::ofstream(data) << "a,b\n1,2\n";
  scheduler_->Tick((kNoon + 2) * 1000);
  EXPECT_EQ(launched_.size(), 1u);
  SettleRuns();
  scheduler_->Tick((kNoon + 4) * 1000);
  EXPECT_EQ(launched_.size(), 1u);
}

TEST_F(SchedulerTest, DatasetTriggerFiresWhenTheNewestLoggedDigestChanges) {
  auto exp = store::WaitFor<std::string>([&](store::DoneWith<std::string> done) {
    store_->CreateExperiment("training", "", {}, std::move(done));
  });
  ASSERT_TRUE(exp.ok());
  auto log = [&](const std::string& digest) {
    store::CreateRunRequest req;
    req.experiment_id = *exp;
    auto run = store::WaitFor<store::Run>([&](store::DoneWith<store::Run> done) {
      store_->CreateRun(req, std::move(done));
    });
    ASSERT_TRUE(run.ok());
    store::DatasetInput in;
    in.dataset = {"labelled", digest, "local", "/data/labelled.csv", "", ""};
    ASSERT_TRUE(store::Wait([&](store::Done done) {
      store_->LogInputs(run->info.run_id, {in}, std::move(done));
    }).ok());
  };
  log("aaa");
  Schedule s = Every("ds");
  s.trigger = Trigger{};
  s.trigger.type = "data";
  s.trigger.dataset = "labelled";
  s.trigger.experiment = "training";
  s.trigger.check_seconds = 1;
  ASSERT_TRUE(scheduler_->Create(s).ok());
  scheduler_->Tick(kNoon * 1000);
  EXPECT_TRUE(launched_.empty());  // the digest when the schedule was made
  ::usleep(5 * 1000);              // a later start time for the next run
  log("bbb");
  scheduler_->Tick((kNoon + 2) * 1000);
  ASSERT_EQ(launched_.size(), 1u);
  EXPECT_NE(launched_[0].find("dataset 'labelled' of 'training' changed (bbb)"), std::string::npos)
      << launched_[0];
}

TEST_F(SchedulerTest, BadSchedulesAreRefused) {
  Schedule s = Every("x");
  s.trigger.cron = "61 * * * *";
  EXPECT_EQ(scheduler_->Create(s).status().code(), Code::kInvalidArgument);
  s = Every("bad name!");
  EXPECT_EQ(scheduler_->Create(s).status().code(), Code::kInvalidArgument);
  s = Every("y", "sometimes");
  EXPECT_EQ(scheduler_->Create(s).status().code(), Code::kInvalidArgument);
  s = Every("z");
  s.trigger.type = "metric";
  s.trigger.experiment = "e";
  s.trigger.metric = "acc";
  s.trigger.filter = "metrics.acc >> 1";
  EXPECT_EQ(scheduler_->Create(s).status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(scheduler_->Create(Every("dup")).ok());
  EXPECT_EQ(scheduler_->Create(Every("dup")).status().code(), Code::kAlreadyExists);
  EXPECT_TRUE(scheduler_->List()->size() == 1);
  ASSERT_TRUE(scheduler_->Delete("dup").ok());
  EXPECT_EQ(scheduler_->Get("dup").status().code(), Code::kNotFound);
  EXPECT_TRUE(scheduler_->Create(Every("dup")).ok());  // the name is free again
}

}  // namespace
}  // namespace ringo::schedule
