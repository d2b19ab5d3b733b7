// One execution of a command for a run: the environment that ties it to the run, output to the
// console, and its logs as the run's artifacts.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "common/util.h"
#include "pipeline/process.h"
#include "pipeline/runner_impl.h"

namespace ringo::pipeline {

std::string ExePath() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

namespace {

// ringo's Python client, next to the binary in a source tree (build/ringo -> clients/python),
// or where RINGO_PYTHON_CLIENT says.
std::string PythonClientDir() {
  if (const char* env = std::getenv("RINGO_PYTHON_CLIENT"); env && *env) return env;
  fs::path exe = ExePath();
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path()) {
    std::error_code ec;
    if (fs::exists(dir / "clients" / "python" / "ringo" / "__init__.py", ec)) {
      return (dir / "clients" / "python").string();
    }
  }
  return "";
}

bool IsKilled(client::Client& c, const std::string& run_id) {
  if (run_id.empty()) return false;
  auto run = c.GetRun(run_id);
  return run.ok() && (*run)["info"].value("status", "") == "KILLED";
}

// Watches an execution while it runs, called by a Ticker every 50 ms: sets `stop` on Ctrl-C;
// once a second asks the server whether the run or its pipeline's run was marked KILLED (a
// killed pipeline stops all of its steps through g_stop); every few seconds uploads the logs
// that grew, so the run shows them before the step ends. It talks to the server on a
// connection of its own: clients are one per thread.
class RunWatch {
 public:
  RunWatch(const Execution& e, std::string run_id, std::vector<fs::path> logs,
           std::atomic<bool>& stop)
      : e_(e), run_id_(std::move(run_id)), logs_(std::move(logs)), stop_(stop) {}

  bool operator()() {
    if (g_stop.load()) {
      stop_.store(true);
      return false;
    }
    auto now = std::chrono::steady_clock::now();
    if (e_.tracking_uri.empty() || now < next_check_) return true;
    next_check_ = now + std::chrono::seconds(1);
    if (!c_) {
      auto connected = client::Client::Connect(e_.tracking_uri);
      if (!connected.ok()) return true;
      c_ = std::move(*connected);
    }
    if (IsKilled(*c_, e_.pipeline_run_id)) {
      g_stop.store(true);
    } else if (IsKilled(*c_, run_id_)) {
      stop_.store(true);
      return false;
    }
    if (now >= next_upload_) {
      next_upload_ = now + kUploadEvery;
      UploadGrownLogs();
    }
    return true;
  }

 private:
  static constexpr std::chrono::seconds kUploadEvery{3};

  // A failed upload is tried again next time; the end of the execution uploads them anyway.
  void UploadGrownLogs() {
    for (const fs::path& file : logs_) {
      std::error_code ec;
      auto size = fs::file_size(file, ec);
      if (ec || size == uploaded_[file]) continue;
      if (c_->LogArtifact(run_id_, file, e_.logs_path).ok()) uploaded_[file] = size;
    }
  }

  const Execution& e_;
  std::string run_id_;
  std::vector<fs::path> logs_;
  std::atomic<bool>& stop_;
  std::unique_ptr<client::Client> c_;
  std::map<fs::path, std::uintmax_t> uploaded_;
  std::chrono::steady_clock::time_point next_check_ =
      std::chrono::steady_clock::now() + std::chrono::seconds(1);
  std::chrono::steady_clock::time_point next_upload_ = next_check_ + kUploadEvery;
};

}  // namespace

std::string UpperName(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? char(std::toupper(c)) : '_';
  return out;
}

Result<ChosenExecutor> ChooseExecutor(const RunOptions& options, const std::string& name) {
  ChosenExecutor chosen;
  if (options.env_manager == "docker") {
    if (name != "local") {
      return InvalidArgument("--env-manager docker runs steps in containers on this machine; "
                             "executor '" + name + "' cannot run them");
    }
    chosen.executor = NewContainerExecutor(options.container_cli);
    chosen.name = "container";
    return chosen;
  }
  ASSIGN_OR_RETURN(chosen.executor, NewExecutor(name));
  chosen.name = name;
  return chosen;
}

Result<ExecutionResult> Execute(client::Client& c, const std::string& run_id, const Execution& e,
                                Executor& executor) {
  fs::path logs = fs::temp_directory_path() / ("ringo-run-" + NewId());
  fs::create_directories(logs);
  Job spec;
  spec.label = e.label;
  spec.run_id = run_id;
  spec.resources = e.resources;
  spec.cwd = e.cwd;
  spec.env = e.env;
  spec.command = e.command;
  spec.stdout_file = logs / "stdout.txt";
  spec.stderr_file = logs / "stderr.txt";
  spec.container = e.container;
  // Inputs and outputs are paths inside the pipeline project; mounted at its own path, they
  // mean the same in a container.
  spec.mounts.push_back(e.project_root.empty() ? e.cwd : e.project_root);
  std::string pending[3];
  spec.on_output = [&](int stream, std::string_view chunk) {
    if (e.quiet) return;
    std::lock_guard lock(g_console);
    FILE* f = stream == 1 ? stdout : stderr;
    if (!e.prefix_output) {
      std::fwrite(chunk.data(), 1, chunk.size(), f);
      std::fflush(f);
      return;
    }
    // Whole lines, each prefixed with the step's name.
    std::string& buf = pending[stream];
    buf.append(chunk);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::fprintf(f, "[%s] %.*s\n", e.label.c_str(), static_cast<int>(nl), buf.data());
      buf.erase(0, nl + 1);
    }
    std::fflush(f);
  };
  std::atomic<bool> stop{false};
  Result<JobResult> ran = Internal("not run");
  {
    auto watch = std::make_shared<RunWatch>(
        e, run_id, std::vector<fs::path>{spec.stdout_file, spec.stderr_file}, stop);
    Ticker watcher(std::chrono::milliseconds(50), [watch] { return (*watch)(); });
    ran = executor.Run(spec, stop);
  }
  if (!ran.ok()) {
    std::error_code ec;
    fs::remove_all(logs, ec);
    return ran.status();
  }
  for (int s = 1; s <= 2; ++s) {
    if (!pending[s].empty() && !e.quiet) {
      std::lock_guard lock(g_console);
      std::fprintf(s == 1 ? stdout : stderr, "[%s] %s\n", e.label.c_str(), pending[s].c_str());
    }
  }
  ExecutionResult result;
  result.exit_code = ran->exit_code;
  result.status = ran->status;
  result.job_id = ran->job_id;
  result.reason = ran->reason;
  {
    std::ifstream err(spec.stderr_file, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(err)), {});
    result.stderr_tail = all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }
  // The logs are the run's artifacts whatever happened.
  Status up = c.LogArtifact(run_id, logs, e.logs_path);
  std::error_code ec;
  fs::remove_all(logs, ec);
  if (!up.ok())
    std::cerr << "ringo: warning: could not upload the logs of " << e.label << ": " << up.message()
              << "\n";
  return result;
}

std::map<std::string, std::string> BaseEnv(const Tracker& t, const std::string& run_id) {
  std::map<std::string, std::string> env = {{"MLFLOW_TRACKING_URI", t.step_uri},
                                            {"RINGO_TRACKING_URI", t.step_uri},
                                            {"MLFLOW_RUN_ID", run_id},
                                            {"RINGO_RUN_ID", run_id},
                                            {"MLFLOW_EXPERIMENT_ID", t.experiment_id},
                                            {"RINGO_EXPERIMENT_ID", t.experiment_id},
                                            {"RINGO_BIN", ExePath()}};
  // What reaches an https server: MLflow's own variables, so its Python client reads them too
  // (executors that start steps elsewhere pass only this environment).
  for (const char* name : {"MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_INSECURE_TLS"}) {
    if (const char* v = std::getenv(name); v && *v) env[name] = v;
  }
  std::string py = PythonClientDir();
  if (!py.empty()) {
    const char* old = std::getenv("PYTHONPATH");
    env["PYTHONPATH"] = py + (old && *old ? ":" + std::string(old) : "");
  }
  return env;
}

}  // namespace ringo::pipeline
