// The pipeline runner: runs an entry point or a DAG of steps as (nested) tracked runs.
#include <signal.h>

#include <atomic>
#include <iostream>

#include "pipeline/process.h"
#include "pipeline/runner_impl.h"

namespace ringo::pipeline {

std::atomic<bool> g_stop{false};
std::mutex g_console;

namespace {

void OnSignal(int) { g_stop.store(true); }

class SignalScope {
 public:
  SignalScope() {
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

std::atomic<bool> g_env_noted{false};

// Every executor the run will use can be driven, checked before anything runs.
Status CheckExecutors(const Project& project, const RunOptions& options) {
  std::set<std::string> names;
  if (project.steps.empty()) names.insert(options.executor);
  for (const Step& s : project.steps)
    names.insert(s.executor.empty() ? options.executor : s.executor);
  for (const std::string& name : names) {
    auto executor = NewExecutor(name);
    if (!executor.ok()) return executor.status();
  }
  return Status::Ok();
}

}  // namespace

void NoteLocalEnv(const std::string& kind) {
  if (g_env_noted.exchange(true)) return;
  std::cout << "ringo: " << kind << " is not created with --env-manager local; "
            << "commands run in the current environment" << std::endl;
}

Result<RunResult> Run(const RunOptions& options) {
  g_stop.store(false);
  g_env_noted.store(false);
  SignalScope signals;
  ASSIGN_OR_RETURN(Project project, LoadProject(options.project_dir));
  if (options.env_manager != "local" && options.env_manager != "docker") {
    return InvalidArgument("--env-manager must be local or docker; got '" + options.env_manager +
                           "'");
  }
  if (options.env_manager == "docker") {
    // A pipeline's steps may each bring their own image; a single project must declare one.
    if (project.env_kind != "docker_env" && project.steps.empty()) {
      return InvalidArgument("--env-manager docker needs a project with docker_env");
    }
    std::atomic<bool> never{false};
    ProcessSpec probe;
    probe.command = "docker info >/dev/null 2>&1";
    probe.cwd = project.dir;
    probe.stdout_file = "/dev/null";
    probe.stderr_file = "/dev/null";
    auto r = RunProcess(probe, never);
    if (!r.ok() || r->exit_code != 0) {
      return FailedPrecondition(
          "docker_env needs a running Docker engine, and 'docker info' found none");
    }
  } else if (!project.env_kind.empty()) {
    NoteLocalEnv(project.env_kind);
  }
  RETURN_IF_ERROR(CheckExecutors(project, options));
  std::string uri = options.tracking_uri;
  if (uri.empty()) return InvalidArgument("no tracking URI");
  Tracker tracker;
  tracker.uri = uri;
  tracker.step_uri = options.step_tracking_uri.empty() ? uri : options.step_tracking_uri;
  ASSIGN_OR_RETURN(auto c, client::Client::Connect(uri));
  ASSIGN_OR_RETURN(tracker.experiment_id, ResolveExperiment(*c, options));

  auto ep = project.entry_points.find(options.entry_point);
  if (project.steps.empty() && ep == project.entry_points.end()) {
    return InvalidArgument("project '" + project.dir.string() + "' has no entry point '" +
                           options.entry_point + "'");
  }
  EntryPoint pipeline_entry;
  if (ep != project.entry_points.end()) pipeline_entry = ep->second;
  pipeline_entry.name = options.entry_point;
  std::map<std::string, std::string> extra;
  ASSIGN_OR_RETURN(auto values, ResolveParameters(pipeline_entry, options.parameters,
                                                  fs::current_path(), &extra));
  std::vector<std::pair<std::string, std::string>> tags = {
      {"mlflow.source.type", "PROJECT"},
      {"mlflow.source.name", project.dir.string()},
      {"mlflow.project.entryPoint", options.entry_point},
      {"mlflow.project.env", options.env_manager}};
  if (!options.parent_run_id.empty()) tags.push_back({"mlflow.parentRunId", options.parent_run_id});
  for (const auto& [k, v] : options.tags) tags.push_back({k, v});
  ASSIGN_OR_RETURN(std::string run_id,
                   CreateRun(*c, tracker.experiment_id,
                             options.run_name.empty() ? project.name : options.run_name, tags));
  std::map<std::string, std::string> logged = values;
  for (const auto& [k, v] : extra) logged[k] = v;
  RETURN_IF_ERROR(LogParams(*c, run_id, logged));

  RunResult result;
  if (!project.steps.empty()) {
    if (!extra.empty()) {
      (void)EndRun(*c, run_id, "FAILED");
      return InvalidArgument("pipeline parameter '" + extra.begin()->first +
                             "' is not declared by the main entry point");
    }
    PipelineRun pipeline(project, options, tracker, run_id, values);
    auto r = pipeline.Go();
    if (!r.ok()) {
      (void)EndRun(*c, run_id, "FAILED");
      return r.status();
    }
    result = std::move(*r);
  } else {
    Execution e;
    e.label = options.entry_point;
    e.cwd = project.dir;
    e.command = RenderCommand(pipeline_entry, values, extra);
    e.env = BaseEnv(tracker, run_id);
    std::cout << "ringo: run " << run_id << ": " << e.command << std::endl;
    auto executor = NewExecutor(options.executor);
    if (!executor.ok()) {
      (void)EndRun(*c, run_id, "FAILED");
      return executor.status();
    }
    auto er = Execute(*c, run_id, e, options, project.docker_image, **executor);
    if (!er.ok()) {
      (void)EndRun(*c, run_id, "FAILED");
      return er.status();
    }
    result.run_id = run_id;
    result.status = er->status;
  }
  RETURN_IF_ERROR(EndRun(*c, run_id, result.status));
  return result;
}

}  // namespace ringo::pipeline
