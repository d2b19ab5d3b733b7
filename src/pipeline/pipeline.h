// Pipelines: MLflow MLproject projects, ringo's step extension, the step cache, and the runner.
#ifndef RINGO_PIPELINE_PIPELINE_H_
#define RINGO_PIPELINE_PIPELINE_H_

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ringo::pipeline {

// One declared parameter of an entry point. MLflow's types: string, float, path, uri (ringo also
// accepts int). No default means required.
struct Parameter {
  std::string name;
  std::string type = "string";
  std::optional<std::string> default_value;
};

struct EntryPoint {
  std::string name;
  std::vector<Parameter> parameters;  // in declaration order
  std::string command;                // template with {param} placeholders
};

// What a step asks of the machine that runs it. Zero or empty: the executor's default. The local
// executor runs on this machine and ignores them; cluster executors pass them to the engine.
struct Resources {
  int cpus = 0;
  std::string memory;      // as the engine spells it, e.g. "4G"
  int gpus = 0;
  std::string time_limit;  // e.g. "00:30:00"
  std::string partition;   // Slurm partition or Ray queue
};

// A failed attempt is tried again up to `retries` more times; the n-th retry waits
// backoff_seconds * 2^(n-1) first. A killed run is never retried.
struct RetryPolicy {
  int retries = 0;
  double backoff_seconds = 1;
};

// One step of ringo's `steps:` extension: a sub-project's entry point run as a nested run.
// The step cache keys a step by what it runs and on what: its command and parameters with paths
// inside the pipeline project spelled relative to the project (so another clone or a moved
// checkout hits the same entries), the content hashes of its inputs, its upstream outputs and
// its code. A cache hit is a new run that reuses the outputs, params and metrics of the run
// that produced them.
struct Step {
  std::string name;
  std::string project = ".";  // directory relative to the pipeline project
  std::string entry_point = "main";
  std::map<std::string, std::string> parameters;  // values may contain {pipeline_param} and
                                                  // {steps.<name>.outputs.<output>}
  std::vector<std::string> inputs;   // files/dirs (relative to the pipeline project) or
                                     // steps.<name>.outputs.<output> references
  std::vector<std::string> outputs;  // output names; each is a directory the step fills
  std::vector<std::string> needs;    // explicit dependencies (references add implicit ones)
  bool cache = true;
  std::string executor;  // "local" | "slurm" | "ray"; empty: the run's executor
  // How the step's files reach the machine that runs it: "shared" (it runs in the project
  // directory, which that machine must see at the same path) or "artifacts" (it runs in a scratch
  // directory with the project's code and its inputs fetched from the artifact store, and its
  // outputs go back there); empty: the run's file transfer.
  std::string file_transfer;
  Resources resources;
  RetryPolicy retry;
  std::map<std::string, std::string> env;  // added to the step's environment
};

// The executors a step may name.
bool IsExecutor(const std::string& name);
// The file transfers a step may name: shared, artifacts.
bool IsFileTransfer(const std::string& name);

// MLflow's docker_env: the image a project runs in, the host directories it mounts and the
// environment variables it sets or copies from the host.
struct DockerEnv {
  std::string image;
  std::vector<std::string> volumes;  // "HOST:CONTAINER[:OPTIONS]", as `docker run -v` takes them
  // [NAME, VALUE] sets NAME; a bare NAME (no value) copies NAME from the environment of ringo.
  std::vector<std::pair<std::string, std::optional<std::string>>> environment;
};

struct Project {
  std::filesystem::path dir;
  std::string name;
  std::map<std::string, EntryPoint> entry_points;
  std::string env_kind;  // "", "conda_env", "python_env", "docker_env"
  DockerEnv docker;      // for docker_env
  std::vector<Step> steps;   // empty for plain MLflow projects
};

// Parses DIR/MLproject (or DIR/MLproject.yaml). kNotFound when there is none; kInvalidArgument
// for bad YAML (with its line) or a malformed project (naming the field).
Result<Project> LoadProject(const std::filesystem::path& dir);

// Resolves parameter values for an entry point: given values checked against their types
// (float/int must parse; path made absolute against `base`), defaults filled, a missing
// required parameter is kInvalidArgument naming it. Values for undeclared names are kept and
// returned in *extra (MLflow appends them to the command as --name value).
Result<std::map<std::string, std::string>> ResolveParameters(
    const EntryPoint& entry, const std::map<std::string, std::string>& given,
    const std::filesystem::path& base, std::map<std::string, std::string>* extra);

// Renders the command: each {name} of a declared parameter becomes its shell-quoted value;
// extra parameters are appended as --name value, both quoted. Other braces are left alone.
std::string RenderCommand(const EntryPoint& entry, const std::map<std::string, std::string>& values,
                          const std::map<std::string, std::string>& extra);

// Quotes a value for /bin/sh (single quotes; safe for spaces, quotes, $, newlines).
std::string ShellQuote(const std::string& value);

// Orders steps so that every step follows the ones it needs (explicitly or through an output
// reference); kInvalidArgument for unknown step names, unknown outputs or cycles.
Result<std::vector<std::vector<std::string>>> PlanSteps(const Project& project);

struct RunOptions {
  std::filesystem::path project_dir = ".";
  std::string entry_point = "main";
  std::map<std::string, std::string> parameters;
  std::string experiment_name;  // empty: MLFLOW_EXPERIMENT_NAME, else the Default experiment
  std::string experiment_id;    // alternatively an id (MLFLOW_EXPERIMENT_ID)
  std::string run_name;
  std::string env_manager = "local";  // local | docker
  // With --env-manager docker: the container CLI, a command such as "podman" or
  // "podman --runtime runc"; empty: $RINGO_CONTAINER_CLI, else docker when its engine answers,
  // else podman.
  std::string container_cli;
  std::string executor = "local";     // for steps that name none: local | slurm | ray
  std::string file_transfer = "shared";  // for steps that name none: shared | artifacts
  // The ringo binary on the machines that run steps with file transfer "artifacts" (it runs
  // `ringo step exec` there); empty: $RINGO_NODE_BIN, else this binary's own path.
  std::string node_ringo;
  bool use_cache = true;
  int jobs = 1;
  std::string tracking_uri;  // empty: embedded store at store_dir, served on a loopback port
  // The tracking URI steps are given; empty: tracking_uri. Steps on other machines need one they
  // can route to (the server's name on the cluster network, not loopback).
  std::string step_tracking_uri;
  std::filesystem::path store_dir = "ringo-data";
  std::string parent_run_id;  // makes the run a nested run (ringo.run from Python)
  std::map<std::string, std::string> tags;  // set on the pipeline's run (e.g. why a schedule fired)
  bool live_status = false;   // a terminal: redraw step states in place
};

// What became of one step of a pipeline run.
struct StepResult {
  std::string name;
  std::string result;         // "ran" | "cached" | "failed" | "killed" | "skipped"
  std::string run_id;         // the step's run; empty when it was skipped before it started
  std::string reused_run_id;  // for "cached": the earlier run whose outputs it reuses
};

struct RunResult {
  std::string run_id;
  std::string status;              // FINISHED | FAILED | KILLED
  std::vector<StepResult> steps;   // in the order they started; steps never started last, in
                                   // the order the project declares them
};

// Runs a project (its steps, or the one entry point), logging everything to the tracking
// server. Returns the pipeline run's final state; a failed step is a FAILED result, not an error
// Status. Errors: bad project or parameters (kInvalidArgument), the tracking server unreachable
// (kUnavailable), docker requested without a container engine that answers or without a step's
// image on this machine (kFailedPrecondition, naming what was tried).
Result<RunResult> Run(const RunOptions& options);

// ---- `ringo step exec`: a step with file transfer "artifacts", on the machine that runs it ----

// A file tree a step reads or writes, at `path` relative to the project. For an input, the run
// and artifact directory it is fetched from; for an output, its name (uploaded to the step's
// run as outputs/<name>).
struct StepFile {
  std::string name;           // outputs only
  std::string run_id;         // inputs only
  std::string artifact_path;  // inputs only
  std::string path;
};

// Parses an input spec "RUN_ID:ARTIFACT_PATH=PATH" or an output spec "NAME=PATH".
// kInvalidArgument naming the spec when a part is missing or a path is absolute or leaves the
// project ("..").
Result<StepFile> ParseStepInput(const std::string& spec);
Result<StepFile> ParseStepOutput(const std::string& spec);

// What `ringo step exec` does: in a fresh scratch directory under `scratch_base` (empty:
// $TMPDIR, else /tmp) it unpacks the project's code snapshot, fetches the inputs, creates the
// outputs, runs `command` with /bin/sh -c in `dir` with every path inside `root` (the project
// directory on the machine that submitted the step) moved into the scratch copy (in the command
// and in the RINGO_OUTPUT_* variables), uploads the outputs (and, with `logs`, its output) to
// run `run_id`, and removes the scratch directory.
struct StepExec {
  std::string tracking_uri;
  std::string run_id;
  std::string code;  // "RUN_ID:ARTIFACT_DIR" holding the snapshot (kCodeSnapshotFile)
  std::string root;
  std::string dir = ".";  // the step's directory, relative to the project
  std::vector<StepFile> inputs;
  std::vector<StepFile> outputs;
  std::string command;
  std::filesystem::path scratch_base;
  // Where the command's stdout.txt and stderr.txt go among the run's artifacts, for engines whose
  // output files stay on the node (Slurm without a shared temporary directory); empty: nowhere.
  std::string logs;
};

inline constexpr const char* kCodeSnapshotFile = "code.tar.gz";

// The shell command that runs `e` with the ringo binary `ringo`, every argument quoted.
std::string StepExecCommand(const std::string& ringo, const StepExec& e);

// Runs `e` and returns the exit code the step's job should end with: the command's (128 + the
// signal that ended it), or 1 when an output is missing or cannot be uploaded (said on stderr,
// naming it). Errors: a bad spec (kInvalidArgument), the tracking server unreachable
// (kUnavailable), the snapshot or an input that cannot be fetched (its Status).
Result<int> ExecStep(const StepExec& e);

}  // namespace ringo::pipeline

#endif  // RINGO_PIPELINE_PIPELINE_H_
