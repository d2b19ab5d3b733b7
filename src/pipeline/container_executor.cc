// The container executor: docker_env steps in containers of a docker-compatible CLI.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <utility>

#include "common/util.h"
#include "pipeline/executor.h"
#include "pipeline/process.h"

namespace ringo::pipeline {

namespace fs = std::filesystem;

namespace {

// Variables of a job's environment that name paths of this machine: meaningless inside an
// image, and a PYTHONPATH would hide the image's own.
const std::set<std::string> kHostOnly = {"PYTHONPATH", "RINGO_BIN"};

// What MLflow's clients read for credentials and TLS. A local step inherits them from ringo's
// environment; a container sees only what it is given, so they are passed when set.
constexpr const char* kClientVariables[] = {
    "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_INSECURE_TLS"};

std::string LastLine(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end - begin);
}

std::string Program(const std::string& cli) { return cli.substr(0, cli.find(' ')); }

// Empty when `cli info` answers, else why it did not. `timeout` bounds a CLI that waits on an
// engine socket nobody serves.
std::string Probe(const std::string& cli) {
  auto which = CaptureCommand("command -v " + ShellQuote(Program(cli)) + " >/dev/null 2>&1");
  if (!which.ok() || which->exit_code != 0) return "not found";
  auto info = CaptureCommand("timeout 30 " + cli + " info 2>&1 >/dev/null");
  if (!info.ok()) return info.status().message();
  if (info->exit_code == 0) return "";
  std::string why = LastLine(info->text);
  return "'" + cli + " info' failed" + (why.empty() ? "" : ": " + why);
}

// A name without a registry host ("python:3.11", "team/train"): Docker resolves it on Docker
// Hub, podman only through a registry list; podman's local images are named "localhost/...".
bool IsShortName(const std::string& image) {
  size_t slash = image.find('/');
  if (slash == std::string::npos) return true;
  std::string first = image.substr(0, slash);
  return first != "localhost" && first.find_first_of(".:") == std::string::npos;
}

bool HasImage(const std::string& cli, const std::string& image) {
  auto r = CaptureCommand(cli + " image inspect --format '{{.Id}}' " + ShellQuote(image) +
                          " >/dev/null 2>&1");
  return r.ok() && r->exit_code == 0;
}

// The host directories a job's container mounts at their own paths: the job's mounts, and its
// directory when none of them holds it.
std::vector<fs::path> Mounts(const Job& job) {
  std::vector<fs::path> mounts = job.mounts;
  for (const fs::path& m : job.mounts) {
    auto rel = job.cwd.lexically_relative(m);
    if (!rel.empty() && *rel.begin() != "..") return mounts;
  }
  mounts.push_back(job.cwd);
  return mounts;
}

// `-e NAME` for each variable the container gets; the values go into `env`, the client's
// environment, not its arguments, so tokens stay out of `ps`. The run's own variables win over
// docker_env's.
std::string EnvironmentFlags(const Job& job, std::map<std::string, std::string>* env) {
  std::set<std::string> names;
  for (const auto& [k, v] : job.container.environment) {
    if (v) (*env)[k] = *v;
    names.insert(k);
  }
  for (const auto& [k, v] : job.env) {
    if (kHostOnly.count(k)) continue;
    (*env)[k] = v;
    names.insert(k);
  }
  for (const char* k : kClientVariables) {
    if (const char* v = std::getenv(k); v && *v) names.insert(k);
  }
  std::string flags;
  for (const std::string& k : names) flags += " -e " + ShellQuote(k);
  return flags;
}

// The CA bundle MLflow's clients verify an https tracking server with is a file of this machine:
// mounted read-only at its absolute path, which the variable is set to.
std::string CaBundleMount(const Job& job, std::map<std::string, std::string>* env) {
  auto ca = job.env.find("MLFLOW_TRACKING_SERVER_CERT_PATH");
  std::error_code ec;
  if (ca == job.env.end() || !fs::is_regular_file(ca->second, ec) ||
      ca->second.find(',') != std::string::npos)
    return "";
  fs::path file = fs::absolute(ca->second, ec);
  (*env)["MLFLOW_TRACKING_SERVER_CERT_PATH"] = file.string();
  return " --mount " +
         ShellQuote("type=bind,source=" + file.string() + ",target=" + file.string() + ",readonly");
}

// Kills and removes the container; quiet when it is already gone (or was never created).
void Remove(const std::string& cli, const std::string& name) {
  (void)CaptureCommand(cli + " kill " + name + " >/dev/null 2>&1");
  (void)CaptureCommand(cli + " rm -f " + name + " >/dev/null 2>&1");
}

class ContainerExecutor : public Executor {
 public:
  explicit ContainerExecutor(std::string cli) : cli_(std::move(cli)) {}

  Result<JobResult> Run(const Job& job, const std::atomic<bool>& stop) override {
    ASSIGN_OR_RETURN(std::string image, ResolveImage(cli_, job.container.image));
    for (const fs::path& m : Mounts(job)) {
      // --mount's fields are comma-separated, and docker and podman quote them differently.
      if (m.string().find(',') != std::string::npos)
        return InvalidArgument("cannot mount '" + m.string() + "' into a container: ',' in it");
    }
    // After the run, so `ps` shows whose it is; the suffix keeps retries and leftovers apart.
    std::string name = "ringo-" + (job.run_id.empty() ? "job" : job.run_id) + "-" +
                       NewId().substr(0, 8);
    // Not among the logs, which become the run's artifacts while the step runs.
    fs::path cidfile = fs::temp_directory_path() / (name + ".cid");
    ProcessSpec spec;
    spec.cwd = job.cwd;
    spec.stdout_file = job.stdout_file;
    spec.stderr_file = job.stderr_file;
    spec.on_output = job.on_output;
    spec.command = RunCommand(job, image, name, cidfile, &spec.env);

    // Stopping the CLI client does not stop its container (a shell as PID 1 ignores SIGTERM,
    // and a killed client leaves the container running): the engine is told to kill it.
    std::atomic<bool> stop_client{false}, killed{false};
    Result<ProcessResult> ran = Internal("not run");
    {
      Ticker watcher(std::chrono::milliseconds(50), [&] {
        if (!stop.load()) return true;
        Remove(cli_, name);
        killed.store(true);
        stop_client.store(true);
        return false;
      });
      ran = RunProcess(spec, stop_client);
    }
    // A container still being created when the stop came may have started since.
    if (killed.load()) Remove(cli_, name);
    if (!ran.ok()) return ran.status();

    JobResult result;
    result.exit_code = ran->exit_code;
    result.status =
        killed.load() || ran->killed ? "KILLED" : ran->exit_code == 0 ? "FINISHED" : "FAILED";
    {
      std::ifstream cid(cidfile);
      std::getline(cid, result.job_id);
    }
    std::error_code ec;
    fs::remove(cidfile, ec);
    if (result.status == "FAILED") result.reason = EngineError(job, ran->exit_code);
    return result;
  }

 private:
  std::string RunCommand(const Job& job, const std::string& image, const std::string& name,
                         const fs::path& cidfile, std::map<std::string, std::string>* env) const {
    // No pulls: an image missing here was already an error. The host network makes a tracking
    // server on this machine's loopback reachable from the step.
    std::string cmd = cli_ + " run --rm --pull never --network host --name " + name +
                      " --label " + ShellQuote("ringo.runId=" + job.run_id) + " --cidfile " +
                      ShellQuote(cidfile.string());
    // --mount, not -v: a ':' in a path would split a -v argument.
    for (const fs::path& m : Mounts(job))
      cmd += " --mount " + ShellQuote("type=bind,source=" + m.string() + ",target=" + m.string());
    // Also where MLflow puts a project in its image, for commands that name that path.
    cmd += " --mount " + ShellQuote("type=bind,source=" + job.cwd.string() +
                                    ",target=/mlflow/projects/code");
    for (const std::string& v : job.container.volumes) cmd += " -v " + ShellQuote(v);
    cmd += " -w " + ShellQuote(job.cwd.string());
    cmd += EnvironmentFlags(job, env);
    cmd += CaBundleMount(job, env);  // after: it sets the variable to the file's absolute path
    return cmd + " " + ShellQuote(image) + " /bin/sh -c " + ShellQuote(job.command);
  }

  // The engine's own words when it, not the step, failed: docker and podman exit 125 when the
  // container could not be created, 126/127 when its command could not be started, and then
  // print "Error: ..." (podman) or "docker: ..." as the last line.
  std::string EngineError(const Job& job, int exit_code) const {
    if (exit_code < 125 || exit_code > 127) return "";
    std::ifstream err(job.stderr_file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(err)), {});
    std::string line = LastLine(text);
    if (line.rfind("Error: ", 0) != 0 && line.rfind("docker: ", 0) != 0) return "";
    return Program(cli_) + " could not run the container: " + line;
  }

  std::string cli_;
};

}  // namespace

Result<std::string> FindContainerCli(const std::string& requested) {
  std::string chosen = requested;
  if (chosen.empty()) {
    if (const char* e = std::getenv("RINGO_CONTAINER_CLI"); e && *e) chosen = e;
  }
  std::vector<std::string> candidates = {"docker", "podman"};
  if (!chosen.empty()) candidates = {chosen};
  std::string tried;
  for (const std::string& cli : candidates) {
    std::string why = Probe(cli);
    if (why.empty()) return cli;
    tried += (tried.empty() ? "" : "; ") + cli + ": " + why;
  }
  return FailedPrecondition("docker_env needs a container engine, and none answered (" + tried +
                            "); install podman or start Docker, or name a CLI with "
                            "--container-cli or RINGO_CONTAINER_CLI");
}

Result<std::string> ResolveImage(const std::string& cli, const std::string& image) {
  static std::mutex mu;
  static std::map<std::pair<std::string, std::string>, std::string> known;
  {
    std::lock_guard lock(mu);
    auto it = known.find({cli, image});
    if (it != known.end()) return it->second;
  }
  std::vector<std::string> names = {image};
  if (IsShortName(image)) names.push_back("localhost/" + image);
  for (const std::string& name : names) {
    if (!HasImage(cli, name)) continue;
    std::lock_guard lock(mu);
    known[{cli, image}] = name;
    return name;
  }
  return FailedPrecondition("image '" + image + "' is not on this machine for " + Program(cli) +
                            (names.size() > 1 ? " (nor is '" + names[1] + "')" : "") +
                            "; ringo pulls no images: build it, or pull it with '" + cli +
                            " pull " + image + "'");
}

std::unique_ptr<Executor> NewContainerExecutor(std::string cli) {
  return std::make_unique<ContainerExecutor>(std::move(cli));
}

}  // namespace ringo::pipeline
