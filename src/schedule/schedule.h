// Continuous training: pipelines that run by themselves, on a cron schedule or when a trigger
// fires (tracked metrics dropping, device telemetry crossing a limit, input data changing).
// Schedules and their firings live in the store, so they survive restarts: each cron slot fires
// at most once (the slot is claimed in the store before the run starts), a slot missed while the
// server was down is caught up once or skipped as the schedule says, and a schedule never runs
// twice at once. Every firing records why it fired: the rule, the value observed and its window.
#ifndef RINGO_SCHEDULE_SCHEDULE_H_
#define RINGO_SCHEDULE_SCHEDULE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace ringo::schedule {

// A 5-field cron expression (minute hour day-of-month month day-of-week; lists, ranges, steps,
// names of months and days, @hourly/@daily/@weekly/@monthly/@yearly) in an IANA time zone.
// Day-of-month and day-of-week restricted both: either matches, as in Vixie cron.
class Cron {
 public:
  // kInvalidArgument naming the bad field or the unknown time zone; kFailedPrecondition when
  // ICU, which holds the time zones, cannot be loaded.
  static Result<Cron> Parse(std::string_view expression, std::string_view time_zone = "UTC");
  // The first slot strictly after `after` (seconds since the epoch); nullopt when none comes
  // within five years (e.g. "0 0 30 2 *").
  std::optional<int64_t> Next(int64_t after) const;
  const std::string& time_zone() const { return zone_; }

 private:
  bool Matches(int minute, int hour, int mday, int month, int wday) const;
  uint64_t minutes_ = 0;  // bit i: minute i
  uint32_t hours_ = 0, mdays_ = 0, months_ = 0, wdays_ = 0;
  bool mday_any_ = true, wday_any_ = true;
  std::string zone_;
};

// What makes a schedule fire.
struct Trigger {
  std::string type;  // "cron" | "metric" | "telemetry" | "data"
  // cron
  std::string cron;
  std::string time_zone = "UTC";
  // metric: the mean of `metric` over the newest `last_n` runs of `experiment` matching
  // `filter` (MLflow's search filter), compared with `threshold`.
  std::string experiment, metric, filter;
  int64_t last_n = 1;
  // telemetry: `signal` (accuracy, failure_rate, load_failures, p95_latency_ms) of the
  // deployment in `collection`/`channel` over the last `window_seconds`, from at least
  // `min_samples` events (of `device_class` when set), compared with `threshold`.
  std::string collection, channel, signal, device_class;
  int64_t window_seconds = 3600, min_samples = 1;
  // metric and telemetry: fire when the value is below the threshold (or above, for `above`).
  double threshold = 0;
  bool above = false;
  // data: the content digest of a file or directory changed since the last firing; or, with
  // `dataset` (and `experiment`), the digest of the dataset of that name logged (log_input) by
  // the newest run of the experiment that logged it.
  std::string path;
  std::string dataset;
  // How often a non-cron trigger is evaluated.
  int64_t check_seconds = 60;
};

struct Schedule {
  std::string name;
  std::string project;      // a directory on the server's machine
  std::string entry_point = "main";
  std::map<std::string, std::string> parameters;
  std::string experiment;   // where the pipeline runs are logged; empty: Default
  Trigger trigger;
  std::string catch_up = "once";  // a cron slot missed while down: "once" or "skip"
  bool paused = false;
  int64_t creation_time = 0;
  // State kept by the scheduler.
  int64_t last_slot = 0;      // cron: the newest slot handled (fired or skipped)
  std::string last_evidence;  // triggers: what the last firing saw (run ids, window, digest)
  std::string running;        // firing id of the run in progress; empty when none
  int64_t running_pid = 0;
};

// One firing (or a slot that was not fired, with why).
struct Firing {
  std::string id;
  int64_t time = 0;        // ms
  std::string outcome;     // "started" | "skipped" | "failed to start" | "finished" | "failed"
  std::string reason;      // e.g. "cron slot 2026-12-05T12:00Z", "accuracy 0.81 < 0.9"
  std::string rule;        // the trigger as text
  std::optional<double> observed;
  std::string window;      // what was looked at
  int64_t slot = 0;        // cron
  int exit_code = 0;
};

// Starts a pipeline run for a firing (tags: ringo.schedule, ringo.schedule.firing,
// ringo.schedule.reason) and returns its process id.
using Launcher = std::function<Result<int64_t>(const Schedule&, const Firing&)>;

// A telemetry observation: the signal's value and how many events it rests on.
struct Observation {
  double value = 0;
  int64_t samples = 0;
};
using TelemetryProbe = std::function<Result<Observation>(const Trigger&, int64_t now_ms)>;

// Keeps the schedules of a store and fires them from one background thread (a tick a second).
// Thread-safe.
class Scheduler {
 public:
  Scheduler(store::Store* store, Launcher launcher, TelemetryProbe telemetry);
  ~Scheduler();

  void Start();
  void Stop();  // idempotent; runs in progress keep running

  // kInvalidArgument naming the bad field; kAlreadyExists for a taken name.
  Result<Schedule> Create(Schedule schedule);
  Result<std::vector<Schedule>> List();
  Result<Schedule> Get(const std::string& name);
  Result<Schedule> SetPaused(const std::string& name, bool paused);
  Status Delete(const std::string& name);
  // Fires now, whatever the trigger says (not while a run of it is in progress).
  Result<Firing> RunNow(const std::string& name);
  // The newest firings first.
  Result<std::vector<Firing>> Firings(const std::string& name, int64_t limit);
  // The next cron slot (seconds), for display; nullopt for other triggers.
  static std::optional<int64_t> NextSlot(const Schedule& s);

  // One evaluation of every schedule at `now_ms` (what the thread does each second).
  void Tick(int64_t now_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// JSON forms for the API and the CLI.
std::string ScheduleToJson(const Schedule& s);
Result<Schedule> ScheduleFromJson(std::string_view json);
std::string FiringToJson(const Firing& f);
Result<Firing> FiringFromJson(std::string_view json);

}  // namespace ringo::schedule

#endif  // RINGO_SCHEDULE_SCHEDULE_H_
