// The pipeline runner's private parts, shared by runner.cc and the files of its steps: the
// tracking calls, one execution of a command, and the run of a DAG of steps.
#ifndef RINGO_PIPELINE_RUNNER_IMPL_H_
#define RINGO_PIPELINE_RUNNER_IMPL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "common/status.h"
#include "pipeline/executor.h"
#include "pipeline/pipeline.h"

namespace ringo::pipeline {

namespace fs = std::filesystem;
using client::Json;

// Set by SIGINT/SIGTERM while a pipeline runs: running steps are stopped, their runs KILLED.
extern std::atomic<bool> g_stop;
// Serialises console output of parallel steps.
extern std::mutex g_console;

// Says once per run that conda_env/python_env/docker_env are not created by the local env manager.
void NoteLocalEnv(const std::string& kind);
// `s` as an environment variable name: upper case, other characters '_'.
std::string UpperName(const std::string& s);
// This binary's path; empty when it cannot be read.
std::string ExePath();

struct Tracker {
  std::string uri;
  std::string step_uri;  // what steps are told: one other machines can route to
  std::string experiment_id;

  Result<std::unique_ptr<client::Client>> Connect() const { return client::Client::Connect(uri); }
};

// ---- tracking.cc: the tracking server's runs ----

Result<std::string> ResolveExperiment(client::Client& c, const RunOptions& o);
Result<std::string> CreateRun(client::Client& c, const std::string& experiment_id,
                              const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& tags);
Status EndRun(client::Client& c, const std::string& run_id, const std::string& status);
Status SetTag(client::Client& c, const std::string& run_id, const std::string& k,
              const std::string& v);
Status LogParams(client::Client& c, const std::string& run_id,
                 const std::map<std::string, std::string>& params);

// ---- execution.cc ----

// What one execution of a command needs.
struct Execution {
  std::string label;  // step name, or the entry point
  fs::path cwd;
  fs::path project_root;  // the (pipeline) project: mounted into a container at its own path
  // Watched while the command runs: its run marked KILLED (`ringo runs kill`) stops it, the
  // pipeline's run marked so stops the whole pipeline.
  std::string tracking_uri;
  std::string pipeline_run_id;  // empty for a single entry point
  DockerEnv container;    // what a container runs with (the container executor only)
  std::string command;
  std::map<std::string, std::string> env;
  Resources resources;
  std::string logs_path = "logs";  // where the attempt's stdout/stderr go among the artifacts
  bool prefix_output = false;  // several steps may print at once
  bool quiet = false;          // live status owns the terminal
};

struct ExecutionResult {
  std::string status;  // FINISHED | FAILED | KILLED
  int exit_code = 0;
  std::string stderr_tail;
  std::string job_id;  // the executor's id for the job, if it has one
  std::string reason;  // the executor's reason for a failure, if it gave one
};

// Runs `e` on `executor` as run `run_id`, streaming its output to the console and uploading its
// logs as the run's artifacts whatever happened.
Result<ExecutionResult> Execute(client::Client& c, const std::string& run_id, const Execution& e,
                                Executor& executor);

// The executor a command runs on, and its name for the ringo.executor tag: `name` (local,
// slurm, ray), or with --env-manager docker the container executor (only instead of local:
// kInvalidArgument for another executor, as containers run on this machine).
struct ChosenExecutor {
  std::unique_ptr<Executor> executor;
  std::string name;
};
Result<ChosenExecutor> ChooseExecutor(const RunOptions& options, const std::string& name);
std::map<std::string, std::string> BaseEnv(const Tracker& t, const std::string& run_id);

// ---- pipeline_run.cc and step_*.cc ----

struct StepState {
  const Step* step = nullptr;
  std::string state = "waiting";  // waiting | running | cached | done | failed | killed | skipped
  std::string run_id;
  std::chrono::steady_clock::time_point started;
  double seconds = 0;
  std::map<std::string, fs::path> outputs;
  std::map<std::string, std::string> output_hashes;
  std::string reused_run_id;  // a cache hit: the run whose outputs, params and metrics it reuses
};

// Runs the steps of a pipeline project as nested runs of `parent_run_id`, up to options.jobs at
// once, each when the steps it depends on are done or cached.
class PipelineRun {
 public:
  PipelineRun(const Project& project, const RunOptions& options, Tracker tracker,
              std::string parent_run_id, std::map<std::string, std::string> pipeline_params);
  Result<RunResult> Go();

 private:
  std::set<std::string> Dependencies(const Step& s) const;

  // `text` with every path inside the pipeline project spelled relative to it ("<root>/a/b"
  // -> "a/b", "<root>" -> "."), so that cache keys and logged params are the same in every
  // clone of the project. A match must start and end at a path boundary.
  std::string Portable(const std::string& text) const;
  std::map<std::string, std::string> Portable(const std::map<std::string, std::string>& m) const;
  void Log(const std::string& line);
  void DrawStatus();

  // Replaces {param}, {outputs.X} and {steps.S.outputs.X} in a step's parameter value.
  Result<std::string> Substitute(const Step& s, const std::string& value);
  void Finish(const std::string& name, const std::string& state);
  void RunStep(const std::string& name);

  // ---- one step (step_run.cc) ----
  Status RunStepImpl(const std::string& name);

  // What a step runs, resolved from its project and the pipeline's values.
  struct PreparedStep {
    fs::path dir;                                   // the step's project directory
    DockerEnv docker;                               // for --env-manager docker
    std::string entry_command;                      // the entry point's command template
    std::map<std::string, std::string> values;      // the entry point's parameters
    std::map<std::string, std::string> extra;       // parameters it does not declare
    std::string command;                            // rendered
  };
  Result<PreparedStep> Prepare(const Step& step);

  // Runs the step as a new run (no cache hit): its command, then its outputs as artifacts
  // and the cache key as a tag once it succeeded.
  Status RunFresh(client::Client& c, const std::string& name, const Step& step,
                  const PreparedStep& p, const std::string& cache_key,
                  const std::map<std::string, std::string>& portable,
                  const std::vector<std::pair<std::string, std::string>>& tags);

  // Runs the step's command until it succeeds, is killed, or its retries are spent. Every attempt
  // starts from empty output directories and keeps its own logs; the run's tags say how many
  // attempts were made and how the last one ended.
  Result<ExecutionResult> RunAttempts(client::Client& c, const std::string& run_id,
                                      const Step& step, Execution e,
                                      const std::map<std::string, fs::path>& outputs);
  static Status ResetOutputs(const std::map<std::string, fs::path>& outputs);
  // A finished step's outputs: hashed and tagged, uploaded as outputs/<name> (or, when the node
  // uploaded them, `transfer`, downloaded into the project first).
  Status RecordOutputs(client::Client& c, const std::string& run_id,
                       const std::map<std::string, fs::path>& outputs, bool transfer,
                       std::map<std::string, std::string>* hashes);

  // False when the run was stopped before `seconds` passed.
  static bool SleepUnlessStopped(double seconds);
  static std::string FormatSeconds(double seconds);

  // ---- the step cache (step_cache.cc) ----

  // The cache key: what the step runs, with what, on which inputs, from which code. Paths
  // inside the project count relative to it (`portable`): a clone elsewhere computes the same key.
  Result<std::string> CacheKey(const Step& step, const PreparedStep& p,
                               const std::map<std::string, std::string>& portable);

  // Reuses an earlier successful run with the same key, whose outputs are restored: a new run
  // tagged ringo.cacheHit. Sets *hit when it did; a hit that cannot be restored is logged and
  // leaves *hit false.
  Status TryCacheHit(client::Client& c, const std::string& name, const Step& step,
                     const std::string& cache_key,
                     const std::map<std::string, std::string>& portable,
                     std::vector<std::pair<std::string, std::string>> tags, bool* hit);

  // A cache hit's run gets the params and the latest metric values of the run it reuses, so it
  // reads like that run in tables and matches the same metric filters. The params this pipeline
  // passes win over the origin's spelling of them (an older run may have logged absolute paths).
  Status CopyRunData(client::Client& c, const Json& origin, const std::string& run_id,
                     const std::map<std::string, std::string>& params);

  // Outputs of a cache hit: kept when the local copy matches, else downloaded from the run.
  Status RestoreOutputs(client::Client& c, const std::string& name, const std::string& hit_id,
                        const std::map<std::string, std::string>& hit_tags);

  // Replaces `path` with run `run_id`'s artifacts outputs/<o> (none: an empty directory); with a
  // `want_hash`, only when they hash to it (else kFailedPrecondition, `path` untouched).
  Status DownloadOutput(client::Client& c, const std::string& run_id, const std::string& o,
                        const fs::path& path, const std::string& want_hash);

  // ---- file transfer "artifacts" (step_transfer.cc) ----

  // The step's file transfer: its own, else the run's.
  std::string FileTransfer(const Step& step) const;
  // "RUN_ID:ARTIFACT_DIR" of the project's code snapshot, packed and uploaded to the pipeline's
  // run the first time a step asks for it.
  Result<std::string> CodeSnapshot(client::Client& c);
  // The job command that runs the step with `ringo step exec` in a scratch directory: the code
  // snapshot and its upstream steps' outputs fetched, its outputs uploaded to run `run_id`.
  Result<std::string> NodeCommand(client::Client& c, const Step& step, const PreparedStep& p,
                                  const std::string& run_id,
                                  const std::map<std::string, fs::path>& outputs);
  // The ringo binary on the machines that run steps: --node-ringo, $RINGO_NODE_BIN, this one.
  std::string NodeRingo() const;

  const Project& project_;
  const RunOptions& options_;
  Tracker tracker_;
  std::string parent_;
  std::map<std::string, std::string> params_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, StepState> states_;
  std::map<std::string, std::set<std::string>> deps_;
  std::vector<std::string> started_;  // step names in the order they started
  std::string root_;                  // the project directory, normalized, without a final '/'
  std::mutex code_mu_;                // guards code_snapshot_ (held while it is uploaded)
  std::string code_snapshot_;
  int drawn_lines_ = 0;
};

}  // namespace ringo::pipeline

#endif  // RINGO_PIPELINE_RUNNER_IMPL_H_
