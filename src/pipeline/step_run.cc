// Running one step of a pipeline: resolving its command, its attempts with retries, and
// recording its outputs.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include "common/hash.h"
#include "pipeline/runner_impl.h"

namespace ringo::pipeline {

Status PipelineRun::RunStepImpl(const std::string& name) {
  const Step* step;
  {
    std::lock_guard lock(mu_);
    step = states_[name].step;
  }
  ASSIGN_OR_RETURN(auto c, tracker_.Connect());
  ASSIGN_OR_RETURN(PreparedStep p, Prepare(*step));
  std::map<std::string, std::string> portable = Portable(p.values);
  ASSIGN_OR_RETURN(std::string cache_key, CacheKey(*step, p, portable));
  std::vector<std::pair<std::string, std::string>> tags = {
      {"mlflow.parentRunId", parent_},
      {"mlflow.source.type", "PROJECT"},
      {"mlflow.source.name", p.dir.string()},
      {"mlflow.project.entryPoint", step->entry_point},
      {"ringo.step", step->name}};
  if (step->cache && options_.use_cache) {
    bool hit = false;
    RETURN_IF_ERROR(TryCacheHit(*c, name, *step, cache_key, portable, tags, &hit));
    if (hit) return Status::Ok();
  }
  return RunFresh(*c, name, *step, p, cache_key, portable, tags);
}

Result<PipelineRun::PreparedStep> PipelineRun::Prepare(const Step& step) {
  PreparedStep p;
  p.dir = (project_.dir / step.project).lexically_normal();
  ASSIGN_OR_RETURN(Project sub, LoadProject(p.dir));
  p.docker = sub.docker.image.empty() ? project_.docker : sub.docker;
  if (options_.env_manager == "docker" && p.docker.image.empty()) {
    return InvalidArgument("step '" + step.name + "': --env-manager docker needs docker_env in '" +
                           step.project + "' or in the pipeline project");
  }
  if (options_.env_manager == "local" && !sub.env_kind.empty()) NoteLocalEnv(sub.env_kind);
  auto ep = sub.entry_points.find(step.entry_point);
  if (ep == sub.entry_points.end()) {
    return InvalidArgument("project '" + step.project + "' has no entry point '" +
                           step.entry_point + "'");
  }
  std::map<std::string, std::string> given;
  for (const auto& [k, v] : step.parameters) {
    ASSIGN_OR_RETURN(given[k], Substitute(step, v));
  }
  ASSIGN_OR_RETURN(p.values, ResolveParameters(ep->second, given, p.dir, &p.extra));
  p.command = RenderCommand(ep->second, p.values, p.extra);
  p.entry_command = ep->second.command;
  return p;
}

Status PipelineRun::RunFresh(client::Client& c, const std::string& name, const Step& step,
                             const PreparedStep& p, const std::string& cache_key,
                             const std::map<std::string, std::string>& portable,
                             const std::vector<std::pair<std::string, std::string>>& tags) {
  ASSIGN_OR_RETURN(std::string run_id, CreateRun(c, tracker_.experiment_id, step.name, tags));
  {
    std::lock_guard lock(mu_);
    states_[name].run_id = run_id;
  }
  RETURN_IF_ERROR(LogParams(c, run_id, portable));
  std::map<std::string, fs::path> outputs;
  {
    std::lock_guard lock(mu_);
    outputs = states_[name].outputs;
  }
  Execution e;
  e.label = step.name;
  e.cwd = p.dir;
  e.project_root = project_.dir;
  e.tracking_uri = tracker_.uri;
  e.pipeline_run_id = parent_;
  e.container = p.docker;
  e.command = p.command;
  e.resources = step.resources;
  // The step's own variables cannot hide the ones that tie it to its run.
  e.env = step.env;
  for (const auto& [k, v] : BaseEnv(tracker_, run_id)) e.env[k] = v;
  for (const auto& [o, path] : outputs) e.env["RINGO_OUTPUT_" + UpperName(o)] = path.string();
  e.prefix_output = project_.steps.size() > 1;
  e.quiet = options_.live_status;
  bool transfer = FileTransfer(step) == "artifacts";
  if (transfer) {
    // Nothing on the node refers to the project directory: the job starts at "/" and
    // `ringo step exec` makes its own scratch copy.
    ASSIGN_OR_RETURN(e.command, NodeCommand(c, step, p, run_id, outputs));
    e.cwd = "/";
    e.env["RINGO_BIN"] = NodeRingo();
    RETURN_IF_ERROR(SetTag(c, run_id, "ringo.fileTransfer", "artifacts"));
  }
  Log("step " + name + ": running (run " + run_id + (transfer ? ", files through artifacts" : "") +
      "): " + p.command);
  ASSIGN_OR_RETURN(ExecutionResult er, RunAttempts(c, run_id, step, e, outputs));
  if (er.status != "FINISHED") {
    (void)EndRun(c, run_id, er.status);
    if (options_.live_status || !er.stderr_tail.empty()) {
      std::lock_guard lock(g_console);
      if (options_.live_status) std::cerr << er.stderr_tail;
    }
    Log("step " + name + ": " +
        (er.status == "KILLED" ? "killed"
                               : "failed with exit code " + std::to_string(er.exit_code)) +
        (er.reason.empty() ? "" : " (" + er.reason + ")"));
    Finish(name, er.status == "KILLED" ? "killed" : "failed");
    return Status::Ok();
  }
  // Outputs become artifacts, and only a successful run carries the cache key.
  std::map<std::string, std::string> hashes;
  RETURN_IF_ERROR(RecordOutputs(c, run_id, outputs, transfer, &hashes));
  RETURN_IF_ERROR(SetTag(c, run_id, "ringo.cacheKey", cache_key));
  RETURN_IF_ERROR(EndRun(c, run_id, "FINISHED"));
  {
    std::lock_guard lock(mu_);
    states_[name].output_hashes = hashes;
  }
  Log("step " + name + ": finished");
  Finish(name, "done");
  return Status::Ok();
}

Status PipelineRun::RecordOutputs(client::Client& c, const std::string& run_id,
                                  const std::map<std::string, fs::path>& outputs, bool transfer,
                                  std::map<std::string, std::string>* hashes) {
  for (const auto& [o, path] : outputs) {
    // With file transfer "artifacts" the node uploaded them; they come back here the way a
    // cache hit's do, so the hash is of the same files either way.
    if (transfer) RETURN_IF_ERROR(DownloadOutput(c, run_id, o, path, ""));
    ASSIGN_OR_RETURN(std::string h, HashPath(path));
    (*hashes)[o] = h;
    std::error_code ec;
    if (!transfer && !fs::is_empty(path, ec))
      RETURN_IF_ERROR(c.LogArtifact(run_id, path, "outputs/" + o));
    RETURN_IF_ERROR(SetTag(c, run_id, "ringo.outputHash." + o, h));
  }
  return Status::Ok();
}

Result<ExecutionResult> PipelineRun::RunAttempts(client::Client& c, const std::string& run_id,
                                                 const Step& step, Execution e,
                                                 const std::map<std::string, fs::path>& outputs) {
  ASSIGN_OR_RETURN(ChosenExecutor executor,
                   ChooseExecutor(options_, step.executor.empty() ? options_.executor
                                                                  : step.executor));
  RETURN_IF_ERROR(SetTag(c, run_id, "ringo.executor", executor.name));
  if (options_.env_manager == "docker") {
    ASSIGN_OR_RETURN(std::string image, ResolveImage(options_.container_cli, e.container.image));
    RETURN_IF_ERROR(SetTag(c, run_id, "ringo.containerImage", image));
  }
  for (int attempt = 1;; ++attempt) {
    RETURN_IF_ERROR(ResetOutputs(outputs));
    if (attempt > 1) e.logs_path = "logs/attempt-" + std::to_string(attempt);
    ASSIGN_OR_RETURN(ExecutionResult er, Execute(c, run_id, e, *executor.executor));
    RETURN_IF_ERROR(SetTag(c, run_id, "ringo.attempts", std::to_string(attempt)));
    RETURN_IF_ERROR(SetTag(c, run_id, "ringo.exitCode", std::to_string(er.exit_code)));
    if (!er.job_id.empty()) RETURN_IF_ERROR(SetTag(c, run_id, "ringo.jobId", er.job_id));
    if (!er.reason.empty())
      RETURN_IF_ERROR(SetTag(c, run_id, "ringo.failureReason", er.reason));
    if (er.status != "FAILED" || attempt > step.retry.retries) return er;
    double wait = step.retry.backoff_seconds * std::pow(2.0, attempt - 1);
    Log("step " + step.name + ": attempt " + std::to_string(attempt) +
        " failed with exit code " + std::to_string(er.exit_code) + "; retrying in " +
        FormatSeconds(wait));
    if (!SleepUnlessStopped(wait)) {
      er.status = "KILLED";
      return er;
    }
  }
}

Status PipelineRun::ResetOutputs(const std::map<std::string, fs::path>& outputs) {
  for (const auto& [o, path] : outputs) {
    std::error_code ec;
    fs::remove_all(path, ec);
    fs::create_directories(path, ec);
    if (ec)
      return Internal("cannot create output directory '" + path.string() + "': " + ec.message());
  }
  return Status::Ok();
}

bool PipelineRun::SleepUnlessStopped(double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (g_stop.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !g_stop.load();
}

std::string PipelineRun::FormatSeconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  return buf;
}

}  // namespace ringo::pipeline
