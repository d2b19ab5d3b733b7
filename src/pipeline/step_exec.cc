// `ringo step exec`: a step with file transfer "artifacts" on the machine that runs it, in a
// scratch directory filled from and emptied into the artifact store.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "client/client.h"
#include "common/util.h"
#include "pipeline/pipeline.h"
#include "pipeline/process.h"
#include "pipeline/transfer.h"

extern char** environ;

namespace ringo::pipeline {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_exec_stop{false};

void OnExecSignal(int) { g_exec_stop.store(true); }

Status CheckPath(const std::string& spec, const std::string& path) {
  if (!IsInsidePath(path)) {
    return InvalidArgument("'" + spec + "': '" + path +
                           "' must be a relative path inside the project");
  }
  return Status::Ok();
}

// The scratch directory, removed with everything in it when this goes out of scope.
class Scratch {
 public:
  static Result<Scratch> Make(fs::path base) {
    if (base.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp && *tmp ? tmp : "/tmp";
    }
    std::string templ = (base / "ringo-step-XXXXXX").string();
    if (!mkdtemp(templ.data()))
      return Internal("cannot make a scratch directory in '" + base.string() + "'");
    return Scratch(templ);
  }
  Scratch(Scratch&& other) noexcept : dir_(std::move(other.dir_)) { other.dir_.clear(); }
  Scratch(const Scratch&) = delete;
  ~Scratch() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

 private:
  explicit Scratch(fs::path dir) : dir_(std::move(dir)) {}
  fs::path dir_;
};

// Unpacks the snapshot the runner uploaded ("RUN_ID:ARTIFACT_DIR") into `project`.
Status FetchCode(client::Client& c, const std::string& code, const fs::path& scratch,
                 const fs::path& project) {
  size_t colon = code.find(':');
  if (colon == std::string::npos || colon == 0)
    return InvalidArgument("--code expects RUN_ID:ARTIFACT_DIR; got '" + code + "'");
  fs::path download = scratch / "code";
  RETURN_IF_ERROR(c.DownloadArtifacts(code.substr(0, colon), code.substr(colon + 1), download));
  std::error_code ec;
  fs::create_directories(project, ec);
  std::string cmd = "tar -xzf " + ShellQuote((download / kCodeSnapshotFile).string()) + " -C " +
                    ShellQuote(project.string()) + " 2>&1";
  ASSIGN_OR_RETURN(CommandOutput tar, CaptureCommand(cmd));
  if (tar.exit_code != 0) return Internal("cannot unpack the project's code: " + tar.text);
  fs::remove_all(download, ec);
  return Status::Ok();
}

// Each input's artifacts at its path; an output that held nothing was never uploaded, so an
// input with no artifacts is an empty directory.
Status FetchInputs(client::Client& c, const std::vector<StepFile>& inputs,
                   const fs::path& project) {
  for (const StepFile& in : inputs) {
    fs::path to = project / in.path;
    std::error_code ec;
    fs::remove_all(to, ec);
    fs::create_directories(to, ec);
    if (ec) return Internal("cannot create '" + to.string() + "': " + ec.message());
    Status s = c.DownloadArtifacts(in.run_id, in.artifact_path, to);
    if (!s.ok() && s.code() != Code::kNotFound) {
      return Status(s.code(), "cannot fetch input '" + in.path + "' from run " + in.run_id + ": " +
                                  s.message());
    }
  }
  return Status::Ok();
}

// Runs the command with its output passed through; stops it on SIGTERM/SIGINT.
Result<int> RunCommand(const StepExec& e, const fs::path& scratch, const fs::path& project) {
  const std::string as_root = project.string(), as_prefix = as_root + "/";
  ProcessSpec spec;
  spec.command = RebasePaths(e.command, e.root, as_root, as_prefix);
  spec.cwd = (project / e.dir).lexically_normal();
  for (char** env = environ; *env; ++env) {
    std::string kv = *env;
    size_t eq = kv.find('=');
    if (kv.rfind("RINGO_OUTPUT_", 0) == 0 && eq != std::string::npos)
      spec.env[kv.substr(0, eq)] = RebasePaths(kv.substr(eq + 1), e.root, as_root, as_prefix);
  }
  spec.stdout_file = scratch / "stdout.txt";
  spec.stderr_file = scratch / "stderr.txt";
  spec.on_output = [](int stream, std::string_view chunk) {
    FILE* f = stream == 1 ? stdout : stderr;
    std::fwrite(chunk.data(), 1, chunk.size(), f);
    std::fflush(f);
  };
  struct sigaction sa {}, old_term{}, old_int{};
  sa.sa_handler = OnExecSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGINT, &sa, &old_int);
  Result<ProcessResult> ran = RunProcess(spec, g_exec_stop);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  if (!ran.ok()) return ran.status();
  return ran->signal != 0 ? 128 + ran->signal : ran->exit_code;
}

// Empty when every output is a directory and reached the step's run, else why not.
std::string UploadOutputs(client::Client& c, const StepExec& e, const fs::path& project) {
  for (const StepFile& out : e.outputs) {
    fs::path dir = project / out.path;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      return "output '" + out.name + "' is missing: the step left no directory " + out.path;
    if (fs::is_empty(dir, ec)) continue;
    Status s = c.LogArtifact(e.run_id, dir, "outputs/" + out.name);
    if (!s.ok()) return "cannot upload output '" + out.name + "': " + s.message();
  }
  return "";
}

// The outputs, then the command's logs when asked; the exit code the job ends with.
int Finish(client::Client& c, const StepExec& e, const fs::path& scratch, const fs::path& project,
           int code) {
  std::string error = code == 0 ? UploadOutputs(c, e, project) : "";
  if (!error.empty()) {
    std::cerr << "ringo: error: " << error << std::endl;
    std::ofstream(scratch / "stderr.txt", std::ios::app) << "ringo: error: " << error << "\n";
    code = 1;
  }
  if (!e.logs.empty()) {
    for (const char* name : {"stdout.txt", "stderr.txt"}) {
      Status s = c.LogArtifact(e.run_id, scratch / name, e.logs);
      if (!s.ok())
        std::cerr << "ringo: warning: cannot upload " << name << ": " << s.message() << "\n";
    }
  }
  return code;
}

}  // namespace

Result<StepFile> ParseStepInput(const std::string& spec) {
  size_t colon = spec.find(':');
  size_t eq = spec.find('=', colon == std::string::npos ? 0 : colon);
  if (colon == std::string::npos || colon == 0 || eq == std::string::npos || eq == colon + 1 ||
      eq + 1 == spec.size()) {
    return InvalidArgument("input '" + spec + "' must be RUN_ID:ARTIFACT_PATH=PATH");
  }
  StepFile f;
  f.run_id = spec.substr(0, colon);
  f.artifact_path = spec.substr(colon + 1, eq - colon - 1);
  f.path = spec.substr(eq + 1);
  RETURN_IF_ERROR(CheckPath(spec, f.artifact_path));
  RETURN_IF_ERROR(CheckPath(spec, f.path));
  return f;
}

Result<StepFile> ParseStepOutput(const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return InvalidArgument("output '" + spec + "' must be NAME=PATH");
  StepFile f;
  f.name = spec.substr(0, eq);
  f.path = spec.substr(eq + 1);
  if (f.name.find('/') != std::string::npos || f.name == "." || f.name == "..")
    return InvalidArgument("output '" + spec + "': the name '" + f.name + "' cannot be a path");
  RETURN_IF_ERROR(CheckPath(spec, f.path));
  return f;
}

std::string StepExecCommand(const std::string& ringo, const StepExec& e) {
  std::string cmd = ShellQuote(ringo) + " step exec --tracking-uri " + ShellQuote(e.tracking_uri) +
                    " --run-id " + ShellQuote(e.run_id) + " --code " + ShellQuote(e.code) +
                    " --root " + ShellQuote(e.root) + " --dir " + ShellQuote(e.dir);
  for (const StepFile& in : e.inputs)
    cmd += " --input " + ShellQuote(in.run_id + ":" + in.artifact_path + "=" + in.path);
  for (const StepFile& out : e.outputs) cmd += " --output " + ShellQuote(out.name + "=" + out.path);
  if (!e.scratch_base.empty()) cmd += " --scratch " + ShellQuote(e.scratch_base.string());
  if (!e.logs.empty()) cmd += " --logs " + ShellQuote(e.logs);
  return cmd + " -- " + ShellQuote(e.command);
}

Result<int> ExecStep(const StepExec& e) {
  if (e.run_id.empty()) return InvalidArgument("step exec needs the step's run id (--run-id)");
  if (e.root.empty() || e.root.front() != '/')
    return InvalidArgument("--root must be the absolute project directory; got '" + e.root + "'");
  RETURN_IF_ERROR(CheckPath("--dir", e.dir));
  ASSIGN_OR_RETURN(auto c, client::Client::Connect(e.tracking_uri));
  ASSIGN_OR_RETURN(Scratch scratch, Scratch::Make(e.scratch_base));
  fs::path project = scratch.dir() / "project";
  RETURN_IF_ERROR(FetchCode(*c, e.code, scratch.dir(), project));
  RETURN_IF_ERROR(FetchInputs(*c, e.inputs, project));
  for (const StepFile& out : e.outputs) {
    std::error_code ec;
    fs::remove_all(project / out.path, ec);
    fs::create_directories(project / out.path, ec);
    if (ec) return Internal("cannot create output '" + out.name + "': " + ec.message());
  }
  ASSIGN_OR_RETURN(int code, RunCommand(e, scratch.dir(), project));
  return Finish(*c, e, scratch.dir(), project, code);
}

}  // namespace ringo::pipeline
