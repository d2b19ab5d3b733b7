// `ringo step exec`: the job command of a pipeline step whose files travel through the artifact
// store (file transfer "artifacts"); the runner writes it, a person rarely does.
#include <memory>
#include <vector>

#include "cli/command.h"
#include "pipeline/pipeline.h"

namespace ringo::cli {

namespace {

struct StepExecFlags {
  pipeline::StepExec exec;
  std::vector<std::string> inputs, outputs;
  std::string scratch;
};

int Exec(StepExecFlags& f) {
  pipeline::StepExec& e = f.exec;
  if (e.tracking_uri.empty())
    e.tracking_uri = EnvOr("MLFLOW_TRACKING_URI", "RINGO_TRACKING_URI", "");
  if (e.tracking_uri.empty()) {
    return Fail(
        InvalidArgument("no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI"));
  }
  if (e.run_id.empty()) e.run_id = EnvOr("MLFLOW_RUN_ID", "RINGO_RUN_ID", "");
  e.scratch_base = f.scratch;
  for (const std::string& spec : f.inputs) {
    auto in = pipeline::ParseStepInput(spec);
    if (!in.ok()) return Fail(in.status());
    e.inputs.push_back(*in);
  }
  for (const std::string& spec : f.outputs) {
    auto out = pipeline::ParseStepOutput(spec);
    if (!out.ok()) return Fail(out.status());
    e.outputs.push_back(*out);
  }
  auto code = pipeline::ExecStep(e);
  if (!code.ok()) return Fail(code.status());
  return *code;
}

}  // namespace

void AddStepCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<StepExecFlags>();
  pipeline::StepExec& e = f->exec;
  auto* step = app.add_subcommand("step", "What runs a pipeline step on a cluster node");
  step->require_subcommand(1);
  auto* exec = step->add_subcommand(
      "exec", "Run a step in a scratch directory: the project's code and inputs fetched from the "
              "artifact store, its outputs uploaded to the step's run");
  exec->add_option("--tracking-uri", e.tracking_uri,
                   "Tracking server (default: $MLFLOW_TRACKING_URI, $RINGO_TRACKING_URI)");
  exec->add_option("--run-id", e.run_id, "The step's run (default: $MLFLOW_RUN_ID)");
  exec->add_option("--code", e.code, "RUN_ID:ARTIFACT_DIR of the project's code snapshot")
      ->required();
  exec->add_option("--root", e.root,
                   "The project directory where the step was submitted; paths inside it are "
                   "moved into the scratch copy")
      ->required();
  exec->add_option("--dir", e.dir, "The step's directory, relative to the project")
      ->capture_default_str();
  exec->add_option("--input", f->inputs, "RUN_ID:ARTIFACT_PATH=PATH fetched first (repeatable)")
      ->allow_extra_args(false);
  exec->add_option("--output", f->outputs, "NAME=PATH uploaded as outputs/NAME (repeatable)")
      ->allow_extra_args(false);
  exec->add_option("--scratch", f->scratch, "Where the scratch directory is made "
                                            "(default: $TMPDIR, else /tmp)");
  exec->add_option("--logs", e.logs, "Also upload the command's stdout.txt and stderr.txt to "
                                     "this directory of the run's artifacts");
  exec->add_option("command", e.command, "The step's command, run by /bin/sh -c")->required();
  AddCaCertFlag(exec);
  OnRun(exec, &ctx, [f] { return Exec(*f); });
}

}  // namespace ringo::cli
