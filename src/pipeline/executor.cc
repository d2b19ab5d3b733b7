// Executors by name, and the local one: a process group on this machine.
#include "pipeline/executor.h"

#include "pipeline/process.h"

namespace ringo::pipeline {

namespace {

class LocalExecutor : public Executor {
 public:
  Result<JobResult> Run(const Job& job, const std::atomic<bool>& stop) override {
    ProcessSpec spec;
    spec.command = job.command;
    spec.cwd = job.cwd;
    spec.env = job.env;
    spec.stdout_file = job.stdout_file;
    spec.stderr_file = job.stderr_file;
    spec.on_output = job.on_output;
    ASSIGN_OR_RETURN(ProcessResult pr, RunProcess(spec, stop));
    JobResult result;
    result.exit_code = pr.exit_code;
    result.status = pr.killed ? "KILLED" : pr.exit_code == 0 ? "FINISHED" : "FAILED";
    if (pr.signal != 0 && !pr.killed) result.reason = "signal " + std::to_string(pr.signal);
    return result;
  }
};

}  // namespace

Result<std::unique_ptr<Executor>> NewExecutor(const std::string& name) {
  if (!IsExecutor(name))
    return InvalidArgument("executor must be local, slurm or ray; got '" + name + "'");
  if (name == "local") return std::unique_ptr<Executor>(std::make_unique<LocalExecutor>());
  if (name == "slurm") return NewSlurmExecutor();
  return NewRayExecutor();
}

}  // namespace ringo::pipeline
