// The Slurm executor: each job a batch script submitted with sbatch and followed with scontrol.
#include <chrono>
#include <fstream>
#include <thread>

#include "common/util.h"
#include "pipeline/executor.h"
#include "pipeline/process.h"

namespace ringo::pipeline {

namespace fs = std::filesystem;

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// A short Slurm client command with what it prints on both streams. The commands find the
// cluster the way Slurm's own tools do ($SLURM_CONF, else the system configuration).
Result<CommandOutput> Capture(const std::string& command) {
  return CaptureCommand(command + " 2>&1");
}

// Values of `scontrol show job -o`: space-separated Key=Value fields.
std::string Field(const std::string& line, const std::string& key) {
  size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) at = line.rfind(key + "=", 0) == 0 ? 0 : std::string::npos;
  else ++at;
  if (at == std::string::npos) return "";
  size_t from = at + key.size() + 1;
  size_t end = line.find(' ', from);
  return line.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

bool IsFinal(const std::string& state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT" ||
         state == "NODE_FAIL" || state == "OUT_OF_MEMORY" || state == "PREEMPTED" ||
         state == "BOOT_FAIL" || state == "DEADLINE";
}

// Passes on what a job has appended to one of its output files since the last call, and keeps
// it in the job's own file.
class Tail {
 public:
  Tail(fs::path path, int stream, const fs::path& keep)
      : path_(std::move(path)), stream_(stream), keep_(keep, std::ios::binary) {}
  void Poll(const Job& job) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(in)), {});
    offset_ += chunk.size();
    if (chunk.empty()) return;
    keep_ << chunk << std::flush;
    if (job.on_output) job.on_output(stream_, chunk);
  }

 private:
  fs::path path_;
  int stream_;
  size_t offset_ = 0;
  std::ofstream keep_;
};

// Where Slurm writes the job's output: files right in the temporary directory, which every node
// has, not in a directory of this machine that a node without a shared file system lacks (Slurm
// fails such a job's launch). Removed here when the job ends.
class OutputFiles {
 public:
  OutputFiles() {
    fs::path base = fs::temp_directory_path() / ("ringo-slurm-" + NewId());
    out = base.string() + ".out";
    err = base.string() + ".err";
  }
  ~OutputFiles() {
    std::error_code ec;
    fs::remove(out, ec);
    fs::remove(err, ec);
  }
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;
  fs::path out, err;
};

// The batch script: the step's environment and directory, then its command under /bin/sh.
Result<fs::path> WriteScript(const Job& job) {
  fs::path script = job.stdout_file.parent_path() / "job.sh";
  std::ofstream out(script, std::ios::binary);
  out << "#!/bin/sh\n";
  for (const auto& [k, v] : job.env) out << "export " << k << "=" << ShellQuote(v) << "\n";
  out << "cd " << ShellQuote(job.cwd.string()) << " || exit 127\n";
  out << "exec /bin/sh -c " << ShellQuote(job.command) << "\n";
  out.close();
  if (!out) return Internal("cannot write the batch script '" + script.string() + "'");
  return script;
}

std::string SbatchCommand(const Job& job, const fs::path& script, const OutputFiles& files) {
  const Resources& r = job.resources;
  std::string cmd = "sbatch --parsable --job-name " + ShellQuote("ringo-" + job.label) +
                    " --output " + ShellQuote(files.out.string()) + " --error " +
                    ShellQuote(files.err.string());
  if (r.cpus > 0) cmd += " --cpus-per-task " + std::to_string(r.cpus);
  if (!r.memory.empty()) cmd += " --mem " + ShellQuote(r.memory);
  if (r.gpus > 0) cmd += " --gres gpu:" + std::to_string(r.gpus);
  if (!r.time_limit.empty()) cmd += " --time " + ShellQuote(r.time_limit);
  if (!r.partition.empty()) cmd += " --partition " + ShellQuote(r.partition);
  return cmd + " " + ShellQuote(script.string());
}

class SlurmExecutor : public Executor {
 public:
  Result<JobResult> Run(const Job& job, const std::atomic<bool>& stop) override {
    ASSIGN_OR_RETURN(fs::path script, WriteScript(job));
    OutputFiles files;
    ASSIGN_OR_RETURN(CommandOutput submitted, Capture(SbatchCommand(job, script, files)));
    std::string id = Trim(submitted.text);
    if (submitted.exit_code != 0 || id.empty() ||
        id.find_first_not_of("0123456789;") != std::string::npos) {
      return Unavailable("sbatch failed: " + Trim(submitted.text));
    }
    id = id.substr(0, id.find(';'));  // "<id>;<cluster>" on federated setups
    JobResult result;
    result.job_id = id;
    Tail out(files.out, 1, job.stdout_file), err(files.err, 2, job.stderr_file);
    bool cancelled = false;
    for (;;) {
      if (stop.load() && !cancelled) {
        (void)Capture("scancel " + id);
        cancelled = true;
      }
      ASSIGN_OR_RETURN(CommandOutput shown, Capture("scontrol show job -o " + id));
      out.Poll(job);
      err.Poll(job);
      if (shown.exit_code != 0) {
        // The controller forgot the job (restarted without its state, or the job aged out).
        result.status = cancelled ? "KILLED" : "FAILED";
        result.exit_code = 1;
        result.reason = "Slurm no longer knows job " + id + ": " + Trim(shown.text);
        return result;
      }
      std::string state = Field(shown.text, "JobState");
      if (IsFinal(state)) return Finish(shown.text, state, cancelled, result);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

 private:
  static JobResult Finish(const std::string& shown, const std::string& state, bool cancelled,
                          JobResult result) {
    // ExitCode=<code>:<signal>
    std::string code = Field(shown, "ExitCode");
    int exit = std::atoi(code.c_str());
    int sig = std::atoi(code.substr(code.find(':') + 1).c_str());
    result.exit_code = sig != 0 ? 128 + sig : exit;
    if (state == "COMPLETED") {
      result.status = "FINISHED";
    } else if (cancelled) {
      result.status = "KILLED";
    } else {
      result.status = "FAILED";
      if (result.exit_code == 0) result.exit_code = 1;
      std::string reason = Field(shown, "Reason");
      result.reason = "Slurm job " + result.job_id + " " + state +
                      (reason.empty() || reason == "None" ? "" : " (" + reason + ")");
    }
    return result;
  }
};

}  // namespace

std::unique_ptr<Executor> NewSlurmExecutor() { return std::make_unique<SlurmExecutor>(); }

}  // namespace ringo::pipeline
