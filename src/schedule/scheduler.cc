// The scheduler: schedules as store documents, one thread evaluating them every second.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/hash.h"
#include "common/periodic.h"
#include "common/util.h"
#include "schedule/schedule.h"

namespace ringo::schedule {

namespace {

using nlohmann::json;

constexpr const char* kKind = "schedule";
constexpr const char* kFirings = "schedule_firing";
// A cron slot older than this when it is seen was missed (the server was down).
constexpr int64_t kGraceSeconds = 60;

std::string RuleText(const Trigger& t) {
  char num[64];
  std::snprintf(num, sizeof num, "%g", t.threshold);
  std::string cmp = std::string(t.above ? " > " : " < ") + num;
  if (t.type == "cron") return "cron '" + t.cron + "' (" + t.time_zone + ")";
  if (t.type == "metric") {
    return "mean " + t.metric + " of the last " + std::to_string(t.last_n) + " runs of '" +
           t.experiment + "'" + (t.filter.empty() ? "" : " where " + t.filter) + cmp;
  }
  if (t.type == "telemetry") {
    return t.signal + " of " + t.collection + "/" + t.channel +
           (t.device_class.empty() ? "" : " on " + t.device_class) + " over " +
           std::to_string(t.window_seconds) + " s" + cmp + " (at least " +
           std::to_string(t.min_samples) + " events)";
  }
  if (!t.dataset.empty()) return "dataset '" + t.dataset + "' of '" + t.experiment + "' changed";
  return "content of " + t.path + " changed";
}

// The digest of dataset `name` as the newest run of `experiment` that logged it has it; "" when
// none did.
std::string DatasetDigest(store::Store* store, const std::string& experiment,
                          const std::string& name) {
  auto exp = store->GetExperimentByName(experiment);
  if (!exp.ok()) return "";
  store::RunSearch search;
  search.experiment_ids = {exp->experiment_id};
  search.filter = "datasets.name = '" + name + "'";
  search.order_by = {"attributes.start_time DESC"};
  search.max_results = 1;
  auto page = store->SearchRuns(search);
  if (!page.ok() || page->runs.empty()) return "";
  for (const store::DatasetInput& in : page->runs.front().inputs) {
    if (in.dataset.name == name) return in.dataset.digest;
  }
  return "";
}

bool Crosses(const Trigger& t, double v) { return t.above ? v > t.threshold : v < t.threshold; }

Status Validate(const Schedule& s) {
  if (s.name.empty() || s.name.size() > 128 ||
      s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
          std::string::npos) {
    return InvalidArgument("invalid schedule name '" + s.name +
                           "': use 1 to 128 letters, digits, '-', '_' and '.'");
  }
  if (s.project.empty()) return InvalidArgument("a schedule needs a project");
  if (s.catch_up != "once" && s.catch_up != "skip") {
    return InvalidArgument("invalid catch_up '" + s.catch_up + "': expected once or skip");
  }
  const Trigger& t = s.trigger;
  if (t.type == "cron") return Cron::Parse(t.cron, t.time_zone).status();
  if (t.check_seconds < 1) return InvalidArgument("check_seconds must be at least 1");
  if (t.type == "metric") {
    if (t.experiment.empty() || t.metric.empty()) {
      return InvalidArgument("a metric trigger needs an experiment and a metric");
    }
    if (t.last_n < 1 || t.last_n > 1000) return InvalidArgument("last_n must be 1 to 1000");
    return store::ParseRunFilter(t.filter).status();
  }
  if (t.type == "telemetry") {
    static const std::vector<std::string> kSignals = {"accuracy", "failure_rate", "load_failures",
                                                      "p95_latency_ms"};
    if (t.collection.empty() || t.channel.empty()) {
      return InvalidArgument("a telemetry trigger needs a collection and a channel");
    }
    if (std::find(kSignals.begin(), kSignals.end(), t.signal) == kSignals.end()) {
      return InvalidArgument("invalid telemetry signal '" + t.signal +
                             "': expected accuracy, failure_rate, load_failures or p95_latency_ms");
    }
    if (t.window_seconds < 1 || t.min_samples < 1) {
      return InvalidArgument("window_seconds and min_samples must be positive");
    }
    return Status::Ok();
  }
  if (t.type == "data") {
    if (t.path.empty() == (t.dataset.empty() || t.experiment.empty())) {
      return InvalidArgument("a data trigger needs a path, or a dataset and its experiment");
    }
    return Status::Ok();
  }
  return InvalidArgument("invalid trigger type '" + t.type +
                         "': expected cron, metric, telemetry or data");
}

// What a trigger sees now: whether it fires, and why.
struct Verdict {
  bool fire = false;
  std::optional<double> observed;
  std::string window;
  std::string evidence;  // a firing happens once per distinct evidence
  std::string reason;
};

}  // namespace

struct Scheduler::Impl {
  store::Store* store;
  Launcher launcher;
  TelemetryProbe telemetry;
  std::mutex mu;  // one evaluation or change at a time
  Periodic ticker;  // the background evaluation, once a second
  std::map<std::string, int64_t> last_check_ms;

  Result<std::pair<Schedule, int64_t>> Load(const std::string& name) {
    auto doc = store->GetDocument(kKind, name);
    if (!doc.ok()) {
      if (doc.status().code() == Code::kNotFound) {
        return NotFound("schedule '" + name + "' does not exist");
      }
      return doc.status();
    }
    ASSIGN_OR_RETURN(Schedule s, ScheduleFromJson(doc->value));
    if (s.name.empty()) return NotFound("schedule '" + name + "' does not exist");
    return std::make_pair(std::move(s), doc->revision);
  }

  // Writes the schedule only if nobody changed it since `revision`: the claim on a slot.
  Result<int64_t> Save(const Schedule& s, int64_t revision) {
    return store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
      store->PutDocument(kKind, s.name, ScheduleToJson(s), revision, "", std::move(done));
    });
  }

  void Record(const std::string& name, const Firing& f) {
    (void)store::Wait([&](store::Done done) {
      store->AppendEvent(kFirings, name, FiringToJson(f), std::move(done));
    });
  }

  Verdict Evaluate(const Schedule& s, int64_t now_ms);
  Verdict EvaluateMetric(const Trigger& t);
  void Fire(Schedule s, int64_t revision, Firing f);
  void Reap(Schedule& s, int64_t& revision);
  void TickOne(Schedule s, int64_t revision, int64_t now_ms);
  void CronTick(Schedule s, int64_t revision, int64_t now_s);
};

Verdict Scheduler::Impl::EvaluateMetric(const Trigger& t) {
  Verdict v;
  auto exp = store->GetExperimentByName(t.experiment);
  if (!exp.ok()) return v;
  store::RunSearch search;
  search.experiment_ids = {exp->experiment_id};
  search.filter = t.filter;
  search.order_by = {"attributes.start_time DESC"};
  search.max_results = std::min<int64_t>(t.last_n * 10, 10000);
  auto page = store->SearchRuns(search);
  if (!page.ok()) return v;
  double sum = 0;
  int64_t n = 0;
  for (const store::Run& r : page->runs) {
    for (const store::Metric& m : r.metrics) {
      if (m.key != t.metric || std::isnan(m.value)) continue;
      sum += m.value;
      ++n;
      v.evidence += (v.evidence.empty() ? "" : ",") + r.info.run_id;
    }
    if (n == t.last_n) break;
  }
  if (n == 0) return v;
  v.observed = sum / static_cast<double>(n);
  v.window = "the last " + std::to_string(n) + " runs of '" + t.experiment + "'";
  v.fire = Crosses(t, *v.observed);
  return v;
}

Verdict Scheduler::Impl::Evaluate(const Schedule& s, int64_t now_ms) {
  const Trigger& t = s.trigger;
  Verdict v;
  if (t.type == "metric") {
    v = EvaluateMetric(t);
  } else if (t.type == "telemetry") {
    if (!telemetry) return v;
    auto o = telemetry(t, now_ms);
    if (!o.ok() || o->samples < t.min_samples) return v;
    v.observed = o->value;
    v.window = std::to_string(o->samples) + " events of the last " +
               std::to_string(t.window_seconds) + " s";
    // At most one firing per window: the evidence is the window the value was seen in.
    v.evidence = "window " + std::to_string(now_ms / 1000 / t.window_seconds);
    v.fire = Crosses(t, o->value);
  } else if (t.type == "data") {
    if (t.dataset.empty()) {
      auto digest = HashPath(t.path);
      v.evidence = digest.ok() ? *digest : "";
      v.window = t.path;
    } else {
      v.evidence = DatasetDigest(store, t.experiment, t.dataset);
      v.window = "dataset '" + t.dataset + "' of '" + t.experiment + "'";
    }
    v.fire = !v.evidence.empty() && v.evidence != s.last_evidence;
    v.reason = v.window + " changed (" + v.evidence.substr(0, 12) + ")";
  }
  if (v.fire && v.evidence == s.last_evidence) v.fire = false;  // already fired on this
  if (v.fire && v.reason.empty()) {
    char value[64], limit[64];
    std::snprintf(value, sizeof value, "%g", *v.observed);
    std::snprintf(limit, sizeof limit, "%g", t.threshold);
    v.reason = (t.type == "metric" ? t.metric : t.signal) + " " + value +
               (t.above ? " > " : " < ") + limit;
  }
  return v;
}

// Claims the firing in the store (the schedule's `running`), then starts the run.
void Scheduler::Impl::Fire(Schedule s, int64_t revision, Firing f) {
  f.id = NewId().substr(0, 16);
  f.time = NowMillis();
  f.rule = RuleText(s.trigger);
  s.running = f.id;
  auto claimed = Save(s, revision);
  if (!claimed.ok()) return;  // changed meanwhile (another replica, a user): next tick decides
  auto pid = launcher(s, f);
  if (!pid.ok()) {
    f.outcome = "failed to start";
    f.reason += "; " + pid.status().message();
    s.running.clear();
    (void)Save(s, *claimed);
  } else {
    f.outcome = "started";
    s.running_pid = *pid;
    (void)Save(s, *claimed);
  }
  Record(s.name, f);
}

// Notices the end of the schedule's run in progress.
void Scheduler::Impl::Reap(Schedule& s, int64_t& revision) {
  if (s.running.empty()) return;
  Firing f;
  f.id = s.running;
  f.time = NowMillis();
  pid_t pid = static_cast<pid_t>(s.running_pid);
  int status = 0;
  pid_t r = pid > 0 ? ::waitpid(pid, &status, WNOHANG) : -1;
  if (r == 0) return;  // still running
  if (r == pid) {
    f.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    f.outcome = f.exit_code == 0 ? "finished" : "failed";
  } else if (pid > 0 && ::kill(pid, 0) == 0) {
    return;  // not our child (started before a restart) but alive
  } else {
    f.outcome = "finished";
    f.reason = "ended while the server was not watching; see the run for its status";
  }
  s.running.clear();
  s.running_pid = 0;
  auto saved = Save(s, revision);
  if (!saved.ok()) return;
  revision = *saved;
  Record(s.name, f);
}

void Scheduler::Impl::CronTick(Schedule s, int64_t revision, int64_t now_s) {
  auto cron = Cron::Parse(s.trigger.cron, s.trigger.time_zone);
  if (!cron.ok()) return;
  auto next = cron->Next(s.last_slot);
  if (!next || *next > now_s) return;
  int64_t latest = *next;
  int64_t due = 1;
  for (; due < 1000000; ++due) {
    auto n = cron->Next(latest);
    if (!n || *n > now_s) break;
    latest = *n;
  }
  // Slots that passed while the server was down: all of them, or all but an on-time latest.
  const bool on_time = latest + kGraceSeconds >= now_s;
  const int64_t missed = due - (on_time ? 1 : 0);
  Firing f;
  f.slot = latest;
  f.window = "slot " + FormatUtcMinute(latest);
  s.last_slot = latest;
  std::string skip_reason;
  if (!s.running.empty()) {
    skip_reason = "the previous run of this schedule is still in progress";
  } else if (!on_time && s.catch_up == "skip") {
    skip_reason = "missed while the server was down (catch_up: skip)";
  }
  if (!skip_reason.empty()) {
    f.id = NewId().substr(0, 16);
    f.time = NowMillis();
    f.rule = RuleText(s.trigger);
    f.outcome = "skipped";
    f.reason = skip_reason;
    if (Save(s, revision).ok()) Record(s.name, f);
    return;
  }
  f.reason = "cron slot " + FormatUtcMinute(latest);
  if (!on_time) f.reason += " (missed while the server was down; caught up once)";
  if (on_time && missed > 0) {
    f.reason += "; " + std::to_string(missed) + " earlier slot(s) missed while the server was down " +
                (s.catch_up == "skip" ? "were skipped" : "are covered by this run");
  }
  Fire(std::move(s), revision, std::move(f));
}

void Scheduler::Impl::TickOne(Schedule s, int64_t revision, int64_t now_ms) {
  Reap(s, revision);
  if (s.paused) return;
  if (s.trigger.type == "cron") return CronTick(std::move(s), revision, now_ms / 1000);
  int64_t& last = last_check_ms[s.name];
  if (now_ms - last < s.trigger.check_seconds * 1000) return;
  last = now_ms;
  if (!s.running.empty()) return;  // never while a run of it is in progress
  Verdict v = Evaluate(s, now_ms);
  if (!v.fire) return;
  Firing f;
  f.reason = v.reason;
  f.observed = v.observed;
  f.window = v.window;
  s.last_evidence = v.evidence;
  Fire(std::move(s), revision, std::move(f));
}

Scheduler::Scheduler(store::Store* store, Launcher launcher, TelemetryProbe telemetry)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = store;
  impl_->launcher = std::move(launcher);
  impl_->telemetry = std::move(telemetry);
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  impl_->ticker.Start(std::chrono::seconds(1), [this] { Tick(NowMillis()); });
}

void Scheduler::Stop() { impl_->ticker.Stop(); }

void Scheduler::Tick(int64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto docs = impl_->store->ListDocuments(kKind, "");
  if (!docs.ok()) return;
  for (const store::Document& d : *docs) {
    auto s = ScheduleFromJson(d.value);
    if (!s.ok() || s->name.empty()) continue;  // deleted
    impl_->TickOne(std::move(*s), d.revision, now_ms);
  }
}

std::optional<int64_t> Scheduler::NextSlot(const Schedule& s) {
  if (s.trigger.type != "cron" || s.paused) return std::nullopt;
  auto cron = Cron::Parse(s.trigger.cron, s.trigger.time_zone);
  if (!cron.ok()) return std::nullopt;
  return cron->Next(std::max(s.last_slot, NowMillis() / 1000 - 1));
}

Result<Schedule> Scheduler::Create(Schedule s) {
  RETURN_IF_ERROR(Validate(s));
  std::lock_guard lock(impl_->mu);
  s.creation_time = NowMillis();
  s.last_slot = s.creation_time / 1000;  // the first slot is the next one
  s.running.clear();
  s.running_pid = 0;
  s.last_evidence.clear();
  if (s.trigger.type == "data" && s.trigger.dataset.empty()) {
    auto digest = HashPath(s.trigger.path);
    if (digest.ok()) s.last_evidence = *digest;
  } else if (s.trigger.type == "data") {
    s.last_evidence = DatasetDigest(impl_->store, s.trigger.experiment, s.trigger.dataset);
  }
  auto saved = impl_->Save(s, 0);
  if (!saved.ok()) {
    if (saved.status().code() == Code::kFailedPrecondition) {
      // A deleted schedule's name may be taken again.
      auto old = impl_->store->GetDocument(kKind, s.name);
      auto previous = old.ok() ? ScheduleFromJson(old->value) : Result<Schedule>(Schedule{});
      if (old.ok() && previous.ok() && previous->name.empty()) {
        RETURN_IF_ERROR(impl_->Save(s, old->revision).status());
        return s;
      }
      return AlreadyExists("schedule '" + s.name + "' already exists");
    }
    return saved.status();
  }
  return s;
}

Result<std::vector<Schedule>> Scheduler::List() {
  ASSIGN_OR_RETURN(auto docs, impl_->store->ListDocuments(kKind, ""));
  std::vector<Schedule> out;
  for (const store::Document& d : docs) {
    auto s = ScheduleFromJson(d.value);
    if (s.ok() && !s->name.empty()) out.push_back(std::move(*s));
  }
  return out;
}

Result<Schedule> Scheduler::Get(const std::string& name) {
  ASSIGN_OR_RETURN(auto loaded, impl_->Load(name));
  return loaded.first;
}

Result<Schedule> Scheduler::SetPaused(const std::string& name, bool paused) {
  std::lock_guard lock(impl_->mu);
  ASSIGN_OR_RETURN(auto loaded, impl_->Load(name));
  Schedule& s = loaded.first;
  // Slots passed while paused are not caught up on resume.
  if (s.paused && !paused) s.last_slot = std::max(s.last_slot, NowMillis() / 1000);
  s.paused = paused;
  RETURN_IF_ERROR(impl_->Save(s, loaded.second).status());
  return s;
}

Status Scheduler::Delete(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  ASSIGN_OR_RETURN(auto loaded, impl_->Load(name));
  // Documents are kept; a deleted schedule is an empty one.
  return store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
           impl_->store->PutDocument(kKind, name, "{}", loaded.second, "", std::move(done));
         })
      .status();
}

Result<Firing> Scheduler::RunNow(const std::string& name) {
  std::lock_guard lock(impl_->mu);
  ASSIGN_OR_RETURN(auto loaded, impl_->Load(name));
  Schedule& s = loaded.first;
  impl_->Reap(s, loaded.second);
  if (!s.running.empty()) {
    return FailedPrecondition("schedule '" + name + "' has a run in progress (firing " +
                              s.running + ")");
  }
  Firing f;
  f.reason = "run now, by request";
  impl_->Fire(s, loaded.second, f);
  ASSIGN_OR_RETURN(auto firings, Firings(name, 1));
  if (firings.empty()) return Internal("the firing was not recorded");
  return firings.front();
}

Result<std::vector<Firing>> Scheduler::Firings(const std::string& name, int64_t limit) {
  std::vector<Firing> all;
  int64_t after = 0;
  for (;;) {
    ASSIGN_OR_RETURN(auto page, impl_->store->ListEvents(kFirings, name, after, 1000));
    if (page.empty()) break;
    after = page.back().seq;
    for (const store::Event& e : page) {
      auto f = FiringFromJson(e.value);
      if (!f.ok()) continue;
      all.push_back(std::move(*f));
    }
  }
  std::reverse(all.begin(), all.end());
  if (limit > 0 && static_cast<int64_t>(all.size()) > limit) all.resize(static_cast<size_t>(limit));
  return all;
}

}  // namespace ringo::schedule
