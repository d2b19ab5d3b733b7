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
#include <vector>

#include "common/status.h"
#include "pipeline/pipeline.h"

namespace ringo::pipeline {

// One attempt of a command, as the runner hands it to an executor.
struct Job {
  std::string label;  // the step's name, or the entry point
  std::string run_id;  // the run the attempt belongs to
  std::filesystem::path cwd;
  std::string command;                     // run by /bin/sh -c
  std::map<std::string, std::string> env;  // added to the environment the command sees
  Resources resources;
  std::filesystem::path stdout_file;  // the executor keeps everything the command prints here
  std::filesystem::path stderr_file;
  // Called with each chunk of output (stream 1 or 2) as it reaches this machine.
  std::function<void(int stream, std::string_view chunk)> on_output;
  // For the container executor (others ignore them): the image and what it mounts and sets,
  // and the host directories mounted at their own paths (the project, so that paths of inputs
  // and outputs mean the same inside the container).
  DockerEnv container;
  std::vector<std::filesystem::path> mounts;
};

struct JobResult {
  std::string status;  // FINISHED | FAILED | KILLED
  int exit_code = 0;
  std::string job_id;  // the engine's id for the job (a container's id); empty for processes
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
// configuration) names, follows it with scontrol, and cancels it with scancel. Slurm writes the
// job's output to files right in the temporary directory, streamed from there when the node
// shares it with this machine (else they stay on the node).
std::unique_ptr<Executor> NewSlurmExecutor();

// Submits each job to the job submission REST API of the Ray head at $RAY_ADDRESS (default
// http://127.0.0.1:8265), polls its status and logs, and stops it when the run is stopped. The
// job's directory must exist on the Ray workers; stdout and stderr arrive merged, as stdout.
std::unique_ptr<Executor> NewRayExecutor();

// The container CLI to run docker_env steps with, as a command prefix ("podman", "docker",
// "podman --runtime runc"). `requested` (else $RINGO_CONTAINER_CLI) is checked with `info`;
// without one, docker when its engine answers `docker info`, else podman when `podman info`
// answers. kFailedPrecondition when none answers, naming each CLI tried and what it said.
Result<std::string> FindContainerCli(const std::string& requested);

// The local name of `image` for `cli`: the image itself when the engine has it, else, for a
// short name (no registry), "localhost/<image>" when the engine has that (podman names the
// images it builds or imports so, and resolves no short names without a registry list). Images
// are never pulled: kFailedPrecondition naming the image and how to get it. Answers are
// remembered for the process; thread-safe.
Result<std::string> ResolveImage(const std::string& cli, const std::string& image);

// Runs each job in a container of job.container.image (resolved by ResolveImage) through
// `cli`: the job's mounts at their own paths with the job's directory as the working directory
// (and also at /mlflow/projects/code, where MLflow puts it), docker_env's volumes and
// environment, the job's environment (less the variables that name paths of this machine), and
// the host's network, so a tracking server on loopback is reachable. The container is named
// "ringo-<run id>-<suffix>" and labelled with the run; a stopped run kills and removes it. The
// job id is the container's id. A container that the engine could not start is a FAILED result
// with the engine's words as the reason; a project path with a ',' is kInvalidArgument.
std::unique_ptr<Executor> NewContainerExecutor(std::string cli);

}  // namespace ringo::pipeline

#endif  // RINGO_PIPELINE_EXECUTOR_H_
