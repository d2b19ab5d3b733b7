// `ringo runs list|show|search|kill`.
#include <iostream>
#include <memory>
#include <vector>

#include "cli/command.h"
#include "common/util.h"

namespace ringo::cli {

namespace {

using client::Json;

struct RunsFlags {
  std::string experiment_id = "0";
  std::string run_id;
  std::string filter;
  std::vector<std::string> order_by;
  int64_t max_results = 100;
};

void PrintRunRow(const Json& run) {
  const Json& info = run["info"];
  std::cout << info.value("run_id", "") << "  " << info.value("status", "") << "  "
            << FormatTime(info.value("start_time", int64_t{0})) << "  "
            << info.value("run_name", "") << "\n";
}

void PrintRun(const Json& run) {
  const Json& info = run["info"];
  std::cout << "run " << info.value("run_id", "") << " (" << info.value("run_name", "") << ")\n"
            << "  experiment: " << info.value("experiment_id", "") << "\n"
            << "  status:     " << info.value("status", "") << " ("
            << info.value("lifecycle_stage", "") << ")\n"
            << "  started:    " << FormatTime(info.value("start_time", int64_t{0})) << "\n"
            << "  artifacts:  " << info.value("artifact_uri", "") << "\n";
  const Json& data = run.contains("data") ? run["data"] : Json::object();
  for (const char* section : {"params", "metrics", "tags"}) {
    if (!data.contains(section)) continue;
    std::cout << "  " << section << ":\n";
    for (const Json& kv : data[section]) {
      std::cout << "    " << kv.value("key", "") << " = ";
      if (kv["value"].is_string()) {
        std::cout << kv["value"].get<std::string>();
      } else {
        std::cout << kv["value"].dump();
      }
      if (kv.contains("step")) std::cout << "  (step " << kv["step"].dump() << ")";
      std::cout << "\n";
    }
  }
}

Status Search(client::Client& c, const Context& ctx, const RunsFlags& f) {
  // runs/search answers an unknown experiment with no runs, as MLflow's does; a person asking
  // for one experiment's runs wants to hear that it does not exist.
  auto exp = c.Get("/api/2.0/mlflow/experiments/get", {{"experiment_id", f.experiment_id}});
  if (!exp.ok()) {
    if (exp.status().code() == Code::kNotFound)
      return NotFound("experiment '" + f.experiment_id + "' not found");
    return exp.status();
  }
  Json body{{"experiment_ids", Json::array({f.experiment_id})}, {"max_results", f.max_results}};
  if (!f.filter.empty()) body["filter"] = f.filter;
  if (!f.order_by.empty()) body["order_by"] = f.order_by;
  ASSIGN_OR_RETURN(Json j, c.Post("/api/2.0/mlflow/runs/search", body));
  if (ctx.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    for (const Json& r : j.value("runs", Json::array())) PrintRunRow(r);
  }
  return Status::Ok();
}

// Marks a running run KILLED. The `ringo run` executing it watches its run and its pipeline's,
// and stops the step's process, job or container when it sees this.
Status Kill(client::Client& c, const std::string& run_id) {
  ASSIGN_OR_RETURN(Json run, c.GetRun(run_id));
  std::string status = run["info"].value("status", "");
  if (status != "RUNNING" && status != "SCHEDULED")
    return FailedPrecondition("run '" + run_id + "' is not running (" + status + ")");
  ASSIGN_OR_RETURN(Json ignored, c.Post("/api/2.0/mlflow/runs/update",
                                        Json{{"run_id", run_id},
                                             {"status", "KILLED"},
                                             {"end_time", NowMillis()}}));
  std::cout << "run " << run_id << " KILLED; the ringo run executing it stops it\n";
  return Status::Ok();
}

}  // namespace

void AddRunsCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<RunsFlags>();
  auto* runs = app.add_subcommand("runs", "List, show, search and kill runs");
  runs->require_subcommand(1);
  auto* list = runs->add_subcommand("list", "List the runs of an experiment");
  list->add_option("--experiment-id", f->experiment_id, "Experiment id")->capture_default_str();
  list->add_option("--max-results", f->max_results, "Runs to show at most")->capture_default_str();
  auto* show = runs->add_subcommand("show", "Show one run");
  show->add_option("run_id", f->run_id, "Run id")->required();
  auto* search = runs->add_subcommand("search", "Search runs with MLflow's filter language");
  search->add_option("--experiment-id", f->experiment_id, "Experiment id")->capture_default_str();
  search->add_option("--filter", f->filter, "e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\"");
  search->add_option("--order-by", f->order_by, "e.g. \"metrics.acc DESC\" (repeatable)");
  search->add_option("--max-results", f->max_results, "Runs to show at most")->capture_default_str();
  auto* kill = runs->add_subcommand("kill", "Stop a running run (a step's, or a pipeline's)");
  kill->add_option("run_id", f->run_id, "Run id")->required();
  for (auto* c : {list, show, search, kill}) AddServerFlags(c, &ctx);

  Context* x = &ctx;
  OnRun(show, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json run, c.GetRun(f->run_id));
      if (x->json) {
        std::cout << run.dump(2) << "\n";
      } else {
        PrintRun(run);
      }
      return Status::Ok();
    });
  });
  OnRun(kill, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) { return Kill(c, f->run_id); });
  });
  for (auto* cmd : {list, search}) {
    OnRun(cmd, x, [x, f] {
      return WithClient(*x, [&](client::Client& c) { return Search(c, *x, *f); });
    });
  }
}

}  // namespace ringo::cli
