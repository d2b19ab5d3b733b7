// JSON forms of schedules and firings (store documents, API, CLI).
#include <nlohmann/json.hpp>

#include "schedule/schedule.h"

namespace ringo::schedule {

namespace {

using nlohmann::json;

json TriggerJson(const Trigger& t) {
  json j = {{"type", t.type}};
  if (t.type == "cron") {
    j.update({{"cron", t.cron}, {"time_zone", t.time_zone}});
    return j;
  }
  j["check_seconds"] = t.check_seconds;
  if (t.type == "metric") {
    j.update({{"experiment", t.experiment}, {"metric", t.metric}, {"filter", t.filter},
              {"last_n", t.last_n}, {"threshold", t.threshold}, {"above", t.above}});
  } else if (t.type == "telemetry") {
    j.update({{"collection", t.collection}, {"channel", t.channel}, {"signal", t.signal},
              {"device_class", t.device_class}, {"window_seconds", t.window_seconds},
              {"min_samples", t.min_samples}, {"threshold", t.threshold}, {"above", t.above}});
  } else if (t.type == "data") {
    j.update({{"path", t.path}, {"dataset", t.dataset}, {"experiment", t.experiment}});
  }
  return j;
}

Trigger TriggerFrom(const json& j) {
  Trigger t;
  t.type = j.value("type", "");
  t.cron = j.value("cron", "");
  t.time_zone = j.value("time_zone", "UTC");
  t.experiment = j.value("experiment", "");
  t.metric = j.value("metric", "");
  t.filter = j.value("filter", "");
  t.last_n = j.value("last_n", int64_t{1});
  t.collection = j.value("collection", "");
  t.channel = j.value("channel", "");
  t.signal = j.value("signal", "");
  t.device_class = j.value("device_class", "");
  t.window_seconds = j.value("window_seconds", int64_t{3600});
  t.min_samples = j.value("min_samples", int64_t{1});
  t.threshold = j.value("threshold", 0.0);
  t.above = j.value("above", false);
  t.path = j.value("path", "");
  t.dataset = j.value("dataset", "");
  t.check_seconds = j.value("check_seconds", int64_t{60});
  return t;
}

}  // namespace

std::string ScheduleToJson(const Schedule& s) {
  json j = {{"name", s.name},
            {"project", s.project},
            {"entry_point", s.entry_point},
            {"parameters", s.parameters},
            {"experiment", s.experiment},
            {"trigger", TriggerJson(s.trigger)},
            {"catch_up", s.catch_up},
            {"paused", s.paused},
            {"creation_time", s.creation_time},
            {"last_slot", s.last_slot},
            {"last_evidence", s.last_evidence},
            {"running", s.running},
            {"running_pid", s.running_pid}};
  if (auto next = Scheduler::NextSlot(s)) j["next_slot"] = *next;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Schedule> ScheduleFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return InvalidArgument("a schedule must be a JSON object");
  try {
    Schedule s;
    s.name = j.value("name", "");
    s.project = j.value("project", "");
    s.entry_point = j.value("entry_point", "main");
    if (j.contains("parameters")) {
      s.parameters = j["parameters"].get<std::map<std::string, std::string>>();
    }
    s.experiment = j.value("experiment", "");
    if (j.contains("trigger") && j["trigger"].is_object()) s.trigger = TriggerFrom(j["trigger"]);
    s.catch_up = j.value("catch_up", "once");
    s.paused = j.value("paused", false);
    s.creation_time = j.value("creation_time", int64_t{0});
    s.last_slot = j.value("last_slot", int64_t{0});
    s.last_evidence = j.value("last_evidence", "");
    s.running = j.value("running", "");
    s.running_pid = j.value("running_pid", int64_t{0});
    return s;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed schedule: ") + e.what());
  }
}

std::string FiringToJson(const Firing& f) {
  json j = {{"id", f.id},         {"time", f.time},     {"outcome", f.outcome},
            {"reason", f.reason}, {"rule", f.rule},     {"window", f.window},
            {"slot", f.slot},     {"exit_code", f.exit_code}};
  if (f.observed) j["observed"] = *f.observed;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Firing> FiringFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return InvalidArgument("a firing must be a JSON object");
  Firing f;
  f.id = j.value("id", "");
  f.time = j.value("time", int64_t{0});
  f.outcome = j.value("outcome", "");
  f.reason = j.value("reason", "");
  f.rule = j.value("rule", "");
  f.window = j.value("window", "");
  f.slot = j.value("slot", int64_t{0});
  f.exit_code = j.value("exit_code", 0);
  if (j.contains("observed") && j["observed"].is_number()) f.observed = j["observed"].get<double>();
  return f;
}

}  // namespace ringo::schedule
