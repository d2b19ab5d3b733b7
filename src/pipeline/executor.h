// Executors: where a step's command runs, on this machine or through a cluster engine.
#ifndef RINGO_PIPELINE_EXECUTOR_H_
#define RINGO_PIPELINE_EXECUTOR_H_

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "pipeline/pipeline.h"

namespace ringo::pipeline {

// One attempt of a command, as the runner hands it to an executor.
struct Job {
  std::string label;  // the step's name, or the entry point
  std::filesystem::path cwd;
  std::string command;                     // run by /bin/sh -c
  std::map<std::string, std::string> env;  // added to the environment the command sees
  Resources resources;
  std::filesystem::path stdout_file;  // the executor keeps everything the command prints here
  std::filesystem::path stderr_file;
  // Called with each chunk of output (stream 1 or 2) as it reaches this machine.
  std::function<void(int stream, std::string_view chunk)> on_output;
};

struct JobResult {
  std::string status;  // FINISHED | FAILED | KILLED
  int exit_code = 0;
  std::string job_id;  // the engine's id for the job; empty for local processes
  std::string reason;  // the engine's reason for a failure; empty when it gave none
};

// Runs jobs to completion. Implementations are safe to use from several threads at once.
class Executor {
 public:
  virtual ~Executor() = default;
  // Runs the job and waits for it. When `stop` becomes true the job is cancelled and the result
  // is KILLED. A failing command is a FAILED result, not an error; errors are kInternal (the job
  // could not be started) or kUnavailable (the engine cannot be reached).
  virtual Result<JobResult> Run(const Job& job, const std::atomic<bool>& stop) = 0;
};

// The executor called `name`; kInvalidArgument for a name IsExecutor rejects. Creating one
// contacts no engine: an unreachable engine is the Run's kUnavailable.
Result<std::unique_ptr<Executor>> NewExecutor(const std::string& name);

// Submits each job with sbatch to the Slurm cluster that $SLURM_CONF (else the system's
// configuration) names, follows it with scontrol, and cancels it with scancel. The job's output
// files must be on a file system the compute nodes share with this machine.
std::unique_ptr<Executor> NewSlurmExecutor();

// Submits each job to the job submission REST API of the Ray head at $RAY_ADDRESS (default
// http://127.0.0.1:8265), polls its status and logs, and stops it when the run is stopped. The
// job's directory must exist on the Ray workers; stdout and stderr arrive merged, as stdout.
std::unique_ptr<Executor> NewRayExecutor();

}  // namespace ringo::pipeline

#endif  // RINGO_PIPELINE_EXECUTOR_H_
