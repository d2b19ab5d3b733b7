// Steps with file transfer "artifacts": the project's code snapshot, uploaded once per pipeline
// run, and the `ringo step exec` command that runs a step away from the project directory.
#include <cstdlib>

#include "common/util.h"
#include "pipeline/process.h"
#include "pipeline/runner_impl.h"

namespace ringo::pipeline {

namespace {

// What the snapshot leaves out: the runner's own state, version control, stores and caches
// (the same directories the cache key's code hash ignores).
constexpr const char* kSnapshotExcludes[] = {"./.ringo", "./.git", "./mlruns", "./ringo-data",
                                             "__pycache__"};

}  // namespace

std::string PipelineRun::FileTransfer(const Step& step) const {
  return step.file_transfer.empty() ? options_.file_transfer : step.file_transfer;
}

Result<std::string> PipelineRun::CodeSnapshot(client::Client& c) {
  std::lock_guard lock(code_mu_);
  if (!code_snapshot_.empty()) return code_snapshot_;
  fs::path dir = fs::temp_directory_path() / ("ringo-code-" + NewId());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create '" + dir.string() + "': " + ec.message());
  std::string cmd = "tar -czf " + ShellQuote((dir / kCodeSnapshotFile).string());
  for (const char* e : kSnapshotExcludes) cmd += " --exclude=" + ShellQuote(e);
  cmd += " -C " + ShellQuote(root_) + " . 2>&1";
  Result<CommandOutput> tar = CaptureCommand(cmd);
  Status s = !tar.ok()              ? tar.status()
             : tar->exit_code != 0 ? Internal("cannot pack the project's code: " + tar->text)
                                    : c.LogArtifact(parent_, dir, "ringo/code");
  fs::remove_all(dir, ec);
  if (!s.ok()) return s;
  code_snapshot_ = parent_ + ":ringo/code";
  Log("project code uploaded to the pipeline run's artifacts (ringo/code/" +
      std::string(kCodeSnapshotFile) + ")");
  return code_snapshot_;
}

Result<std::string> PipelineRun::NodeCommand(client::Client& c, const Step& step,
                                             const PreparedStep& p, const std::string& run_id,
                                             const std::map<std::string, fs::path>& outputs) {
  StepExec e;
  e.tracking_uri = tracker_.step_uri;
  e.run_id = run_id;
  ASSIGN_OR_RETURN(e.code, CodeSnapshot(c));
  e.root = root_;
  e.dir = p.dir.lexically_relative(root_).string();
  if (e.dir.empty() || e.dir.rfind("..", 0) == 0)
    return InvalidArgument("step '" + step.name + "': its project is outside the pipeline's");
  e.command = p.command;
  // Slurm's output files stay on the node when its temporary directory is not this machine's:
  // the node sends the logs itself.
  if ((step.executor.empty() ? options_.executor : step.executor) == "slurm") e.logs = "logs/node";
  for (const std::string& d : Dependencies(step)) {
    std::lock_guard lock(mu_);
    const StepState& up = states_[d];
    // A cache hit has no artifacts of its own: its outputs are the reused run's.
    const std::string& from = up.reused_run_id.empty() ? up.run_id : up.reused_run_id;
    for (const auto& [o, path] : up.outputs)
      e.inputs.push_back({"", from, "outputs/" + o, path.lexically_relative(root_).string()});
  }
  for (const auto& [o, path] : outputs)
    e.outputs.push_back({o, "", "", path.lexically_relative(root_).string()});
  return StepExecCommand(NodeRingo(), e);
}

std::string PipelineRun::NodeRingo() const {
  if (!options_.node_ringo.empty()) return options_.node_ringo;
  if (const char* env = std::getenv("RINGO_NODE_BIN"); env && *env) return env;
  return ExePath();
}

}  // namespace ringo::pipeline
