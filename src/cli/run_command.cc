// `ringo run`: runs an MLproject, on a tracking server or the embedded store.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <vector>

#include "cli/command.h"
#include "cli/server_command.h"
#include "pipeline/pipeline.h"

namespace ringo::cli {

namespace {

struct RunFlags {
  pipeline::RunOptions options;
  std::string dir = ".";
  std::vector<std::string> params;
  std::vector<std::string> tags;
  bool no_cache = false;
  std::string store = "ringo-data";
};

int Run(RunFlags& f) {
  pipeline::RunOptions& ro = f.options;
  ro.project_dir = f.dir;
  ro.use_cache = !f.no_cache;
  for (const std::string& p : f.params) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      return Fail(InvalidArgument("-P expects KEY=VALUE; got '" + p + "'"));
    ro.parameters[p.substr(0, eq)] = p.substr(eq + 1);
  }
  for (const std::string& t : f.tags) {
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0)
      return Fail(InvalidArgument("--tag expects KEY=VALUE; got '" + t + "'"));
    ro.tags[t.substr(0, eq)] = t.substr(eq + 1);
  }
  if (ro.tracking_uri.empty()) ro.tracking_uri = EnvOr("MLFLOW_TRACKING_URI", "RINGO_TRACKING_URI", "");
  if (ro.step_tracking_uri.empty()) {
    if (const char* e = std::getenv("RINGO_STEP_TRACKING_URI"); e && *e) ro.step_tracking_uri = e;
  }
  if (ro.parent_run_id.empty() && std::getenv("RINGO_PARENT_RUN_ID")) {
    ro.parent_run_id = std::getenv("RINGO_PARENT_RUN_ID");
  }
  ro.live_status = isatty(1) && std::getenv("TERM") && std::string(std::getenv("TERM")) != "dumb";
  // No tracking server given: serve the embedded store on a loopback port for the run, so steps
  // log over HTTP like any MLflow client.
  std::unique_ptr<TrackingService> embedded;
  if (ro.tracking_uri.empty()) {
    ServerFlags flags;
    flags.schedules = false;
    flags.port = 0;
    flags.store_dir = f.store;
    flags.threads = 2;
    auto svc = TrackingService::Start(flags);
    if (!svc.ok()) return Fail(svc.status());
    embedded = std::move(*svc);
    ro.tracking_uri = embedded->url();
    std::cout << "ringo: tracking to the embedded store " << f.store << "/ (served at "
              << ro.tracking_uri << " during the run)" << std::endl;
  }
  auto result = pipeline::Run(ro);
  if (!result.ok()) return Fail(result.status());
  std::cout << "ringo: run " << result->run_id << " " << result->status << std::endl;
  // One line per step, in the order they ran: "  NAME: RESULT (run ID[, reusing ID])".
  for (const pipeline::StepResult& step : result->steps) {
    std::cout << "  " << step.name << ": " << step.result;
    if (!step.run_id.empty()) {
      std::cout << " (run " << step.run_id;
      if (!step.reused_run_id.empty()) std::cout << ", reusing " << step.reused_run_id;
      std::cout << ")";
    }
    std::cout << std::endl;
  }
  if (embedded) {
    std::cout << "ringo: see the runs with: ringo server --store " << f.store << std::endl;
  }
  return result->status == "FINISHED" ? 0 : 1;
}

}  // namespace

void AddRunCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<RunFlags>();
  pipeline::RunOptions& ro = f->options;
  auto* run = app.add_subcommand("run", "Run an MLproject (its steps, or one entry point)");
  run->add_option("dir", f->dir, "Project directory")->capture_default_str();
  run->add_option("-e,--entry-point", ro.entry_point, "Entry point")->capture_default_str();
  run->add_option("-P,--param", f->params, "KEY=VALUE (repeatable)");
  run->add_option("--tag", f->tags, "KEY=VALUE set on the pipeline's run (repeatable)");
  run->add_option("--experiment-name", ro.experiment_name, "Experiment (created if needed)");
  run->add_option("--experiment-id", ro.experiment_id, "Experiment id");
  run->add_option("--run-name", ro.run_name, "Name of the run");
  run->add_option("--env-manager", ro.env_manager,
                  "local, or docker: docker_env steps in containers")->capture_default_str();
  run->add_option("--container-cli", ro.container_cli,
                  "Container CLI for --env-manager docker, e.g. podman (default: "
                  "$RINGO_CONTAINER_CLI, else docker when its engine answers, else podman)");
  run->add_option("--executor", ro.executor, "Where steps that name none run: local, slurm or ray")
      ->capture_default_str();
  run->add_option("--file-transfer", ro.file_transfer,
                  "How steps that name none get their files: shared (they run in the project "
                  "directory, which their machines must see) or artifacts (a scratch directory "
                  "filled from the artifact store)")
      ->capture_default_str();
  run->add_option("--node-ringo", ro.node_ringo,
                  "The ringo binary on the machines that run steps with file transfer artifacts "
                  "(default: $RINGO_NODE_BIN, else this binary's path)");
  run->add_flag("--no-cache", f->no_cache, "Run every step, ignoring the step cache");
  run->add_option("--jobs", ro.jobs, "Steps to run at once")->capture_default_str();
  run->add_option("--store", f->store, "Embedded store when no tracking URI is given")
      ->capture_default_str();
  run->add_option("--tracking-uri", ro.tracking_uri,
                  "Log to this server (default: $MLFLOW_TRACKING_URI, else the embedded store)");
  run->add_option("--step-tracking-uri", ro.step_tracking_uri,
                  "Tracking URI the steps log to, one cluster nodes can reach "
                  "(default: $RINGO_STEP_TRACKING_URI, else the tracking URI)");
  run->add_option("--parent-run-id", ro.parent_run_id, "Make the run a nested run of this one");
  AddCaCertFlag(run);
  OnRun(run, &ctx, [f] { return Run(*f); });
}

}  // namespace ringo::cli
