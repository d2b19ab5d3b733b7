// `ringo schedules create|list|show|pause|resume|delete|run-now`: pipelines that run by
// themselves, on a cron schedule or when a trigger fires.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "common/util.h"

namespace ringo::cli {

namespace {

using client::Json;

struct ScheduleFlags {
  std::string name, project, entry_point = "main", experiment, catch_up = "once";
  std::vector<std::string> params;
  std::string cron, time_zone = "UTC";
  std::string metric, metric_experiment, filter;
  int64_t last_n = 1;
  std::string telemetry, collection, channel, device_class;
  int64_t window = 3600, min_samples = 1;
  double below = 0, above = 0;
  bool has_below = false, has_above = false;
  std::string data, dataset;
  int64_t check_every = 60;
};

// The schedule a `create` describes; kInvalidArgument unless exactly one trigger is given.
Result<Json> Describe(const ScheduleFlags& f) {
  Json s = {{"name", f.name},       {"project", f.project},   {"entry_point", f.entry_point},
            {"experiment", f.experiment}, {"catch_up", f.catch_up}};
  Json params = Json::object();
  for (const std::string& p : f.params) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) return InvalidArgument("-P expects KEY=VALUE; got '" + p + "'");
    params[p.substr(0, eq)] = p.substr(eq + 1);
  }
  s["parameters"] = params;
  int kinds = !f.cron.empty() + !f.metric.empty() + !f.telemetry.empty() +
              (!f.data.empty() || !f.dataset.empty());
  if (kinds != 1 || (!f.data.empty() && !f.dataset.empty())) {
    return InvalidArgument("give exactly one of --cron, --metric, --telemetry, --data and --dataset");
  }
  Json t = {{"check_seconds", f.check_every}};
  if ((!f.metric.empty() || !f.telemetry.empty()) && f.has_below == f.has_above) {
    return InvalidArgument("a metric or telemetry trigger needs one of --below and --above");
  }
  t["threshold"] = f.has_above ? f.above : f.below;
  t["above"] = f.has_above;
  if (!f.cron.empty()) {
    t = {{"type", "cron"}, {"cron", f.cron}, {"time_zone", f.time_zone}};
  } else if (!f.metric.empty()) {
    t.update({{"type", "metric"}, {"metric", f.metric}, {"experiment", f.metric_experiment},
              {"filter", f.filter}, {"last_n", f.last_n}});
  } else if (!f.telemetry.empty()) {
    t.update({{"type", "telemetry"}, {"signal", f.telemetry}, {"collection", f.collection},
              {"channel", f.channel}, {"device_class", f.device_class},
              {"window_seconds", f.window}, {"min_samples", f.min_samples}});
  } else {
    t.update({{"type", "data"}, {"path", f.data}, {"dataset", f.dataset},
              {"experiment", f.metric_experiment}});
  }
  s["trigger"] = t;
  return s;
}

void PrintSchedule(const Json& s) {
  const Json& t = s.value("trigger", Json::object());
  std::cout << s.value("name", "") << "  " << t.value("type", "");
  if (t.value("type", "") == "cron") std::cout << " '" << t.value("cron", "") << "' " << t.value("time_zone", "");
  std::cout << (s.value("paused", false) ? "  paused" : "");
  if (s.contains("next_slot")) std::cout << "  next " << FormatUtcMinute(s["next_slot"].get<int64_t>());
  if (!s.value("running", "").empty()) std::cout << "  running (" << s.value("running", "") << ")";
  std::cout << "  " << s.value("project", "") << "\n";
}

void PrintFiring(const Json& f) {
  std::cout << "  " << FormatUtcMinute(f.value("time", int64_t{0}) / 1000) << "  " << f.value("outcome", "") << "  " << f.value("reason", "");
  if (f.contains("observed")) std::cout << "  (observed " << f["observed"].get<double>() << ")";
  if (!f.value("window", "").empty()) std::cout << "  [" << f.value("window", "") << "]";
  std::cout << "\n";
}

}  // namespace

void AddSchedulesCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<ScheduleFlags>();
  auto* cmd = app.add_subcommand("schedules", "Pipelines that run on a schedule or a trigger");
  cmd->require_subcommand(1);
  auto* create = cmd->add_subcommand("create", "Create a schedule");
  create->add_option("name", f->name, "Schedule name")->required();
  create->add_option("--project", f->project, "Project directory on the server's machine")->required();
  create->add_option("-e,--entry-point", f->entry_point, "Entry point")->capture_default_str();
  create->add_option("-P,--param", f->params, "KEY=VALUE (repeatable)");
  create->add_option("--experiment-name", f->experiment, "Experiment of the pipeline's runs");
  create->add_option("--cron", f->cron, "Cron expression, e.g. '0 3 * * *'");
  create->add_option("--timezone", f->time_zone, "IANA time zone of --cron")->capture_default_str();
  create->add_option("--catch-up", f->catch_up, "A slot missed while down: once or skip")->capture_default_str();
  create->add_option("--metric", f->metric, "Trigger: a tracked metric (with --experiment)");
  create->add_option("--experiment", f->metric_experiment,
                     "Experiment whose runs --metric (or --dataset) reads");
  create->add_option("--filter", f->filter, "MLflow search filter for those runs");
  create->add_option("--last", f->last_n, "Mean over the newest N runs")->capture_default_str();
  create->add_option("--telemetry", f->telemetry,
                     "Trigger: accuracy, failure_rate, load_failures or p95_latency_ms");
  create->add_option("--collection", f->collection, "Collection of the channel");
  create->add_option("--channel", f->channel, "Channel whose deployment is watched");
  create->add_option("--device-class", f->device_class, "Only this device class");
  create->add_option("--window", f->window, "Seconds of telemetry looked at")->capture_default_str();
  create->add_option("--min-samples", f->min_samples, "Events needed")->capture_default_str();
  create->add_option("--data", f->data, "Trigger: a file or directory whose content changes");
  create->add_option("--dataset", f->dataset,
                     "Trigger: a dataset (log_input) of --experiment whose digest changes");
  create->add_option("--check-every", f->check_every, "Seconds between trigger checks")->capture_default_str();
  create->add_option_function<double>("--below", [f](double v) { f->below = v; f->has_below = true; },
                                      "Fire when the value is below this");
  create->add_option_function<double>("--above", [f](double v) { f->above = v; f->has_above = true; },
                                      "Fire when the value is above this");
  auto* list = cmd->add_subcommand("list", "List schedules");
  auto* show = cmd->add_subcommand("show", "A schedule and its latest firings");
  auto* pause = cmd->add_subcommand("pause", "Stop firing (until resume)");
  auto* resume = cmd->add_subcommand("resume", "Fire again (missed slots are not caught up)");
  auto* remove = cmd->add_subcommand("delete", "Delete a schedule");
  auto* now = cmd->add_subcommand("run-now", "Fire once now");
  for (auto* c : {show, pause, resume, remove, now}) c->add_option("name", f->name, "Schedule")->required();
  for (auto* c : {create, list, show, pause, resume, remove, now}) AddServerFlags(c, &ctx);

  Context* x = &ctx;
  const std::string base = "/api/ringo/v1/schedules";
  OnRun(create, x, [x, f, base] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json body, Describe(*f));
      ASSIGN_OR_RETURN(Json out, c.Post(base, body));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
      } else {
        PrintSchedule(out["schedule"]);
      }
      return Status::Ok();
    });
  });
  OnRun(list, x, [x, base] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Get(base, {}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
        return Status::Ok();
      }
      for (const Json& s : out.value("schedules", Json::array())) PrintSchedule(s);
      return Status::Ok();
    });
  });
  OnRun(show, x, [x, f, base] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Get(base + "/" + client::UrlEncode(f->name, false), {}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
        return Status::Ok();
      }
      PrintSchedule(out["schedule"]);
      for (const Json& firing : out.value("firings", Json::array())) PrintFiring(firing);
      return Status::Ok();
    });
  });
  for (auto [sub, verb] : {std::pair{pause, "pause"}, {resume, "resume"}, {now, "run-now"}}) {
    std::string v = verb;
    OnRun(sub, x, [x, f, base, v] {
      return WithClient(*x, [&](client::Client& c) -> Status {
        ASSIGN_OR_RETURN(Json out, c.Post(base + "/" + client::UrlEncode(f->name, false) + "/" + v, Json::object()));
        if (x->json) {
          std::cout << out.dump(2) << "\n";
        } else if (out.contains("firing")) {
          PrintFiring(out["firing"]);
        } else {
          PrintSchedule(out["schedule"]);
        }
        return Status::Ok();
      });
    });
  }
  OnRun(remove, x, [x, f, base] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      return c.Delete(base + "/" + client::UrlEncode(f->name, false));
    });
  });
}

}  // namespace ringo::cli
