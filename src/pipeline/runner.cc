// The pipeline runner: runs an entry point or a DAG of steps as (nested) tracked runs.
#include <signal.h>

#include <atomic>
#include <iostream>

#include "pipeline/runner_impl.h"
#include "pipeline/transfer.h"

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
    auto executor = ChooseExecutor(options, name);
    if (!executor.ok()) return executor.status();
  }
  return Status::Ok();
}

// File transfer "artifacts" moves the files of steps, which run through an executor: checked
// before anything runs. A step on another machine told a loopback tracking URI would reach
// nothing there; that is only warned about, since a one-node cluster is this machine.
Status CheckFileTransfer(const Project& project, const RunOptions& options,
                         const std::string& step_uri) {
  if (!IsFileTransfer(options.file_transfer)) {
    return InvalidArgument("--file-transfer must be shared or artifacts; got '" +
                           options.file_transfer + "'");
  }
  if (project.steps.empty() && options.file_transfer == "artifacts") {
    return InvalidArgument("--file-transfer artifacts moves the files of pipeline steps; "
                           "project '" + project.dir.string() + "' has none");
  }
  std::set<std::string> remote;
  for (const Step& s : project.steps) {
    const std::string& transfer = s.file_transfer.empty() ? options.file_transfer : s.file_transfer;
    if (transfer != "artifacts") continue;
    if (options.env_manager == "docker") {
      return InvalidArgument("step '" + s.name + "': file transfer artifacts cannot be used with "
                             "--env-manager docker, whose containers mount the project");
    }
    std::string executor = s.executor.empty() ? options.executor : s.executor;
    if (executor != "local") remote.insert(executor);
  }
  if (!remote.empty() && IsLoopbackUri(step_uri)) {
    std::cerr << "ringo: warning: steps on " << *remote.begin() << " move their files through "
              << "the artifact store but are told the tracking URI " << step_uri
              << ", a loopback address other machines cannot reach; pass --step-tracking-uri "
              << "with a name the cluster nodes can route to" << std::endl;
  }
  return Status::Ok();
}

// With --env-manager docker: a container engine answers, and every image the run needs is on
// this machine, checked before anything runs. Sets options->container_cli to the CLI found.
Status CheckContainers(const Project& project, RunOptions* options) {
  if (project.env_kind != "docker_env" && project.steps.empty())
    return InvalidArgument("--env-manager docker needs a project with docker_env");
  ASSIGN_OR_RETURN(options->container_cli, FindContainerCli(options->container_cli));
  const std::string& cli = options->container_cli;
  if (project.steps.empty()) return ResolveImage(cli, project.docker.image).status();
  for (const Step& step : project.steps) {
    // A step's own docker_env, else the pipeline's (as PipelineRun::Prepare picks it).
    auto sub = LoadProject(project.dir / step.project);
    if (!sub.ok()) return sub.status();
    const std::string& image =
        sub->docker.image.empty() ? project.docker.image : sub->docker.image;
    if (image.empty()) {
      return InvalidArgument("step '" + step.name +
                             "': --env-manager docker needs docker_env in '" + step.project +
                             "' or in the pipeline project");
    }
    RETURN_IF_ERROR(ResolveImage(cli, image).status());
  }
  return Status::Ok();
}

// The single entry point of a plain project, on the run's executor, as run `run_id`; its
// final status.
Result<std::string> RunEntryPoint(client::Client& c, const Project& project,
                                  const RunOptions& options, const Tracker& tracker,
                                  const std::string& run_id, std::string command) {
  Execution e;
  e.label = options.entry_point;
  e.cwd = project.dir;
  e.project_root = project.dir;
  e.tracking_uri = tracker.uri;
  e.container = project.docker;
  e.command = std::move(command);
  e.env = BaseEnv(tracker, run_id);
  std::cout << "ringo: run " << run_id << ": " << e.command << std::endl;
  ASSIGN_OR_RETURN(ChosenExecutor executor, ChooseExecutor(options, options.executor));
  RETURN_IF_ERROR(SetTag(c, run_id, "ringo.executor", executor.name));
  if (options.env_manager == "docker") {
    ASSIGN_OR_RETURN(std::string image, ResolveImage(options.container_cli, e.container.image));
    RETURN_IF_ERROR(SetTag(c, run_id, "ringo.containerImage", image));
  }
  ASSIGN_OR_RETURN(ExecutionResult er, Execute(c, run_id, e, *executor.executor));
  RETURN_IF_ERROR(SetTag(c, run_id, "ringo.exitCode", std::to_string(er.exit_code)));
  if (!er.job_id.empty()) RETURN_IF_ERROR(SetTag(c, run_id, "ringo.jobId", er.job_id));
  if (!er.reason.empty()) RETURN_IF_ERROR(SetTag(c, run_id, "ringo.failureReason", er.reason));
  return er.status;
}

}  // namespace

void NoteLocalEnv(const std::string& kind) {
  if (g_env_noted.exchange(true)) return;
  std::cout << "ringo: " << kind << " is not created with --env-manager local; "
            << "commands run in the current environment"
            << (kind == "docker_env" ? " (--env-manager docker runs them in its image)" : "")
            << std::endl;
}

Result<RunResult> Run(const RunOptions& given) {
  g_stop.store(false);
  g_env_noted.store(false);
  SignalScope signals;
  RunOptions options = given;
  ASSIGN_OR_RETURN(Project project, LoadProject(options.project_dir));
  if (options.env_manager != "local" && options.env_manager != "docker") {
    return InvalidArgument("--env-manager must be local or docker; got '" + options.env_manager +
                           "'");
  }
  if (options.env_manager == "docker") {
    RETURN_IF_ERROR(CheckContainers(project, &options));
  } else if (!project.env_kind.empty()) {
    NoteLocalEnv(project.env_kind);
  }
  RETURN_IF_ERROR(CheckExecutors(project, options));
  std::string uri = options.tracking_uri;
  if (uri.empty()) return InvalidArgument("no tracking URI");
  Tracker tracker;
  tracker.uri = uri;
  tracker.step_uri = options.step_tracking_uri.empty() ? uri : options.step_tracking_uri;
  RETURN_IF_ERROR(CheckFileTransfer(project, options, tracker.step_uri));
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
    auto status = RunEntryPoint(*c, project, options, tracker, run_id,
                                RenderCommand(pipeline_entry, values, extra));
    if (!status.ok()) {
      (void)EndRun(*c, run_id, "FAILED");
      return status.status();
    }
    result.status = *status;
    result.run_id = run_id;
  }
  RETURN_IF_ERROR(EndRun(*c, run_id, result.status));
  return result;
}

}  // namespace ringo::pipeline
