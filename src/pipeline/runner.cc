// The pipeline runner: runs an entry point or a DAG of steps as (nested) tracked runs.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "client/client.h"
#include "common/hash.h"
#include "common/util.h"
#include "pipeline/executor.h"
#include "pipeline/pipeline.h"
#include "pipeline/process.h"

namespace ringo::pipeline {

namespace fs = std::filesystem;
using client::Json;

namespace {

// Set by SIGINT/SIGTERM while a pipeline runs: running steps are stopped, their runs KILLED.
std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

class SignalScope {
 public:
  SignalScope() {
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

std::string ExePath() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

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

std::string UpperName(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? char(std::toupper(c)) : '_';
  return out;
}

// Says once per run that conda_env/python_env/docker_env are not created by the local env manager.
std::atomic<bool> g_env_noted{false};
void NoteLocalEnv(const std::string& kind) {
  if (g_env_noted.exchange(true)) return;
  std::cout << "ringo: " << kind << " is not created with --env-manager local; "
            << "commands run in the current environment" << std::endl;
}

// Serialises console output of parallel steps.
std::mutex g_console;

struct Tracker {
  std::string uri;
  std::string step_uri;  // what steps are told: one other machines can route to
  std::string experiment_id;

  Result<std::unique_ptr<client::Client>> Connect() const { return client::Client::Connect(uri); }
};

Result<std::string> ResolveExperiment(client::Client& c, const RunOptions& o) {
  if (!o.experiment_id.empty()) return o.experiment_id;
  std::string name = o.experiment_name;
  if (name.empty()) {
    if (const char* e = std::getenv("MLFLOW_EXPERIMENT_ID"); e && *e) return std::string(e);
    if (const char* e = std::getenv("MLFLOW_EXPERIMENT_NAME"); e && *e) name = e;
  }
  if (name.empty()) return std::string("0");
  auto got = c.Get("/api/2.0/mlflow/experiments/get-by-name", {{"experiment_name", name}});
  if (got.ok()) return (*got)["experiment"].value("experiment_id", "0");
  if (got.status().code() != Code::kNotFound) return got.status();
  return c.CreateExperiment(name);
}

Result<std::string> CreateRun(client::Client& c, const std::string& experiment_id,
                              const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& tags) {
  Json t = Json::array();
  for (const auto& [k, v] : tags) t.push_back({{"key", k}, {"value", v}});
  const char* user = std::getenv("USER");
  Json body = {{"experiment_id", experiment_id}, {"start_time", NowMillis()}, {"tags", t}};
  if (!name.empty()) body["run_name"] = name;
  if (user) body["user_id"] = user;
  ASSIGN_OR_RETURN(Json r, c.Post("/api/2.0/mlflow/runs/create", body));
  return r["run"]["info"].value("run_id", "");
}

Status EndRun(client::Client& c, const std::string& run_id, const std::string& status) {
  auto r = c.Post("/api/2.0/mlflow/runs/update",
                  Json{{"run_id", run_id}, {"status", status}, {"end_time", NowMillis()}});
  return r.ok() ? Status::Ok() : r.status();
}

Status SetTag(client::Client& c, const std::string& run_id, const std::string& k,
              const std::string& v) {
  auto r =
      c.Post("/api/2.0/mlflow/runs/set-tag", Json{{"run_id", run_id}, {"key", k}, {"value", v}});
  return r.ok() ? Status::Ok() : r.status();
}

Status LogParams(client::Client& c, const std::string& run_id,
                 const std::map<std::string, std::string>& params) {
  Json p = Json::array();
  for (const auto& [k, v] : params) {
    p.push_back({{"key", k}, {"value", v.size() > 6000 ? v.substr(0, 6000) : v}});
    if (p.size() == 100) {
      auto r = c.Post("/api/2.0/mlflow/runs/log-batch", Json{{"run_id", run_id}, {"params", p}});
      if (!r.ok()) return r.status();
      p = Json::array();
    }
  }
  if (p.empty()) return Status::Ok();
  auto r = c.Post("/api/2.0/mlflow/runs/log-batch", Json{{"run_id", run_id}, {"params", p}});
  return r.ok() ? Status::Ok() : r.status();
}

// What one execution of a command needs.
struct Execution {
  std::string label;  // step name, or the entry point
  fs::path cwd;
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

Result<ExecutionResult> Execute(client::Client& c, const std::string& run_id, const Execution& e,
                                const RunOptions& options, const std::string& docker_image,
                                Executor& executor) {
  fs::path logs = fs::temp_directory_path() / ("ringo-run-" + NewId());
  fs::create_directories(logs);
  Job spec;
  spec.label = e.label;
  spec.resources = e.resources;
  spec.cwd = e.cwd;
  spec.env = e.env;
  spec.stdout_file = logs / "stdout.txt";
  spec.stderr_file = logs / "stderr.txt";
  if (options.env_manager == "docker") {
    // The project directory is mounted where MLflow mounts it; the tracking server is on the
    // host's loopback, so the container shares the host network.
    std::string cmd = "docker run --rm --network host -v " + ShellQuote(e.cwd.string()) +
                      ":/mlflow/projects/code -w /mlflow/projects/code";
    for (const auto& [k, v] : e.env) {
      if (k.rfind("MLFLOW_", 0) == 0 || k.rfind("RINGO_", 0) == 0)
        cmd += " -e " + ShellQuote(k + "=" + v);
    }
    spec.command = cmd + " " + ShellQuote(docker_image) + " /bin/sh -c " + ShellQuote(e.command);
  } else {
    spec.command = e.command;
  }
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
  auto ran = executor.Run(spec, g_stop);
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
  std::string py = PythonClientDir();
  if (!py.empty()) {
    const char* old = std::getenv("PYTHONPATH");
    env["PYTHONPATH"] = py + (old && *old ? ":" + std::string(old) : "");
  }
  return env;
}

// ---------------- steps ----------------

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

class PipelineRun {
 public:
  PipelineRun(const Project& project, const RunOptions& options, Tracker tracker,
              std::string parent_run_id, std::map<std::string, std::string> pipeline_params)
      : project_(project),
        options_(options),
        tracker_(std::move(tracker)),
        parent_(std::move(parent_run_id)),
        params_(std::move(pipeline_params)) {
    root_ = project_.dir.lexically_normal().string();
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }

  Result<RunResult> Go() {
    ASSIGN_OR_RETURN(std::vector<std::vector<std::string>> levels, PlanSteps(project_));
    for (const Step& s : project_.steps) {
      StepState st;
      st.step = &s;
      for (const auto& o : s.outputs)
        st.outputs[o] = fs::path(root_) / ".ringo" / "outputs" / s.name / o;
      states_[s.name] = st;
    }
    for (const Step& s : project_.steps) {
      for (const auto& n : Dependencies(s)) deps_[s.name].insert(n);
    }
    Log("pipeline run " + parent_ + " (" + std::to_string(project_.steps.size()) + " steps)");
    // Scheduler: start every step whose dependencies are done, up to `jobs` at once.
    std::unique_lock lock(mu_);
    std::vector<std::thread> threads;
    int running = 0;
    bool failed = false;
    auto last_draw = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    for (;;) {
      if (!failed && !g_stop.load()) {
        for (const Step& s : project_.steps) {
          if (running >= std::max(1, options_.jobs)) break;
          StepState& st = states_[s.name];
          if (st.state != "waiting") continue;
          bool ready = true;
          for (const auto& d : deps_[s.name]) {
            const std::string& ds = states_[d].state;
            ready &= ds == "done" || ds == "cached";
          }
          if (!ready) continue;
          st.state = "running";
          st.started = std::chrono::steady_clock::now();
          started_.push_back(s.name);
          ++running;
          threads.emplace_back([this, name = s.name] { RunStep(name); });
        }
      }
      if (running == 0) break;
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      running = 0;
      for (auto& [name, st] : states_) {
        if (st.state == "running") ++running;
        if (st.state == "failed" || st.state == "killed") failed = true;
      }
      if (options_.live_status &&
          std::chrono::steady_clock::now() - last_draw > std::chrono::milliseconds(200)) {
        DrawStatus();
        last_draw = std::chrono::steady_clock::now();
      }
    }
    lock.unlock();
    for (auto& t : threads) t.join();
    if (options_.live_status) DrawStatus();
    RunResult result;
    result.run_id = parent_;
    bool killed = g_stop.load();
    // The steps in the order they started, then those that never did, as declared.
    std::vector<std::string> order = started_;
    for (const Step& s : project_.steps) {
      if (std::find(order.begin(), order.end(), s.name) == order.end()) order.push_back(s.name);
    }
    for (const std::string& name : order) {
      StepState& st = states_[name];
      if (st.state == "waiting") st.state = "skipped";
      if (st.state == "killed") killed = true;
      if (st.state == "failed") failed = true;
      result.steps.push_back(
          {name, st.state == "done" ? "ran" : st.state, st.run_id, st.reused_run_id});
    }
    result.status = killed ? "KILLED" : failed ? "FAILED" : "FINISHED";
    return result;
  }

 private:
  std::set<std::string> Dependencies(const Step& s) const {
    static const std::regex kRef(R"(steps\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.)");
    std::set<std::string> out(s.needs.begin(), s.needs.end());
    std::vector<std::string> texts = s.inputs;
    for (const auto& [k, v] : s.parameters) texts.push_back(v);
    for (const auto& t : texts) {
      for (std::sregex_iterator it(t.begin(), t.end(), kRef), end; it != end; ++it)
        out.insert((*it)[1]);
    }
    return out;
  }

  // `text` with every path inside the pipeline project spelled relative to it ("<root>/a/b"
  // -> "a/b", "<root>" -> "."), so that cache keys and logged params are the same in every
  // clone of the project. A match must start and end at a path boundary.
  std::string Portable(const std::string& text) const {
    auto path_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
             c == '-' || c == '~' || c == '+';
    };
    std::string out;
    size_t from = 0;
    for (size_t at = text.find(root_); at != std::string::npos; at = text.find(root_, at + 1)) {
      size_t end = at + root_.size();
      if (at < from || (at > 0 && path_char(text[at - 1]))) continue;
      if (end < text.size() && text[end] == '/') {
        out.append(text, from, at - from);
        from = end + 1;
      } else if (end == text.size() || !path_char(text[end])) {
        out.append(text, from, at - from);
        out += '.';
        from = end;
      }
    }
    out.append(text, from, std::string::npos);
    return out;
  }
  std::map<std::string, std::string> Portable(const std::map<std::string, std::string>& m) const {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : m) out[k] = Portable(v);
    return out;
  }

  void Log(const std::string& line) {
    if (options_.live_status) return;
    std::lock_guard lock(g_console);
    std::cout << "ringo: " << line << std::endl;
  }

  void DrawStatus() {
    std::lock_guard lock(g_console);
    if (drawn_lines_ > 0) std::printf("\x1b[%dA", drawn_lines_);
    drawn_lines_ = 0;
    for (const Step& s : project_.steps) {
      const StepState& st = states_[s.name];
      double secs =
          st.state == "running"
              ? std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count()
              : st.seconds;
      const char* mark = st.state == "done"                             ? "\x1b[32m✓\x1b[0m"
                         : st.state == "cached"                         ? "\x1b[36m↺\x1b[0m"
                         : st.state == "running"                        ? "\x1b[33m…\x1b[0m"
                         : st.state == "failed" || st.state == "killed" ? "\x1b[31m✗\x1b[0m"
                                                                        : " ";
      std::printf("\x1b[2K %s %-16s %-8s %6.1fs%s\n", mark, s.name.c_str(), st.state.c_str(), secs,
                  st.state == "cached" ? "  (cache hit)" : "");
      ++drawn_lines_;
    }
    std::fflush(stdout);
  }

  // Replaces {param}, {outputs.X} and {steps.S.outputs.X} in a step's parameter value.
  Result<std::string> Substitute(const Step& s, const std::string& value) {
    static const std::regex kPlaceholder(R"(\{([A-Za-z_][A-Za-z0-9_.-]*)\})");
    std::string out;
    auto begin = value.cbegin();
    for (std::sregex_iterator it(value.begin(), value.end(), kPlaceholder), end; it != end; ++it) {
      out.append(begin, value.cbegin() + it->position());
      std::string name = (*it)[1];
      std::string replacement;
      if (name.rfind("outputs.", 0) == 0) {
        auto o = states_[s.name].outputs.find(name.substr(8));
        if (o == states_[s.name].outputs.end()) {
          return InvalidArgument("step '" + s.name + "' uses {" + name +
                                 "} but declares no such output");
        }
        replacement = o->second.string();
      } else if (name.rfind("steps.", 0) == 0) {
        size_t dot = name.find(".outputs.");
        std::string other = name.substr(6, dot == std::string::npos ? std::string::npos : dot - 6);
        if (dot == std::string::npos || !states_.count(other)) {
          return InvalidArgument("step '" + s.name + "' uses unknown reference {" + name + "}");
        }
        auto o = states_[other].outputs.find(name.substr(dot + 9));
        if (o == states_[other].outputs.end()) {
          return InvalidArgument("step '" + s.name + "' uses unknown output {" + name + "}");
        }
        replacement = o->second.string();
      } else {
        auto p = params_.find(name);
        if (p == params_.end()) {
          return InvalidArgument("step '" + s.name + "' uses {" + name +
                                 "}, which is not a pipeline parameter");
        }
        replacement = p->second;
      }
      out += replacement;
      begin = value.cbegin() + it->position() + it->length();
    }
    out.append(begin, value.cend());
    return out;
  }

  void Finish(const std::string& name, const std::string& state) {
    std::lock_guard lock(mu_);
    StepState& st = states_[name];
    st.state = state;
    st.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
    cv_.notify_all();
  }

  void RunStep(const std::string& name) {
    Status s = RunStepImpl(name);
    if (!s.ok()) {
      {
        std::lock_guard lock(g_console);
        std::cerr << "ringo: step " << name << " failed: " << s.message() << std::endl;
      }
      std::string state, run_id;
      {
        std::lock_guard lock(mu_);
        state = states_[name].state;
        run_id = states_[name].run_id;
      }
      // The step's run may already exist: it failed, it is not still running.
      if (!run_id.empty()) {
        if (auto c = tracker_.Connect(); c.ok()) (void)EndRun(**c, run_id, "FAILED");
      }
      if (state == "running") Finish(name, "failed");
    }
  }

  Status RunStepImpl(const std::string& name) {
    const Step* step;
    {
      std::lock_guard lock(mu_);
      step = states_[name].step;
    }
    ASSIGN_OR_RETURN(auto c, tracker_.Connect());
    fs::path dir = (project_.dir / step->project).lexically_normal();
    ASSIGN_OR_RETURN(Project sub, LoadProject(dir));
    std::string docker_image = sub.docker_image.empty() ? project_.docker_image : sub.docker_image;
    if (options_.env_manager == "docker" && docker_image.empty()) {
      return InvalidArgument("step '" + step->name + "': --env-manager docker needs docker_env in '" +
                             step->project + "' or in the pipeline project");
    }
    if (options_.env_manager == "local" && !sub.env_kind.empty()) NoteLocalEnv(sub.env_kind);
    auto ep = sub.entry_points.find(step->entry_point);
    if (ep == sub.entry_points.end()) {
      return InvalidArgument("project '" + step->project + "' has no entry point '" +
                             step->entry_point + "'");
    }
    std::map<std::string, std::string> given;
    for (const auto& [k, v] : step->parameters) {
      ASSIGN_OR_RETURN(given[k], Substitute(*step, v));
    }
    std::map<std::string, std::string> extra;
    ASSIGN_OR_RETURN(auto values, ResolveParameters(ep->second, given, dir, &extra));
    std::string command = RenderCommand(ep->second, values, extra);

    // The cache key: what the step runs, with what, on which inputs, from which code.
    // Paths inside the project count relative to it: a clone elsewhere computes the same key.
    std::map<std::string, std::string> portable = Portable(values);
    Sha256 key;
    key.Update("ringo-step-v2\n" + step->entry_point + "\n" + ep->second.command + "\n" +
               Portable(command) + "\n");
    for (const auto& [k, v] : portable) key.Update(k + "=" + v + "\n");
    for (const auto& [k, v] : extra) key.Update(k + "=" + Portable(v) + "\n");
    for (const auto& in : step->inputs) {
      std::string resolved = in;
      if (in.rfind("steps.", 0) == 0 || in.rfind("{steps.", 0) == 0) {
        std::string ref = in.front() == '{' ? in : "{" + in + "}";
        ASSIGN_OR_RETURN(resolved, Substitute(*step, ref));
      } else {
        resolved = (project_.dir / in).string();
      }
      ASSIGN_OR_RETURN(std::string h, HashPath(resolved));
      key.Update("input " + in + " " + h + "\n");
    }
    for (const auto& d : Dependencies(*step)) {
      std::lock_guard lock(mu_);
      for (const auto& [o, h] : states_[d].output_hashes)
        key.Update("upstream " + d + "." + o + " " + h + "\n");
    }
    ASSIGN_OR_RETURN(std::string code,
                     HashPath(dir, {".ringo", "__pycache__", ".git", "mlruns", "ringo-data"}));
    key.Update("code " + code + "\n");
    std::string cache_key = key.HexDigest();

    std::vector<std::pair<std::string, std::string>> tags = {
        {"mlflow.parentRunId", parent_},
        {"mlflow.source.type", "PROJECT"},
        {"mlflow.source.name", dir.string()},
        {"mlflow.project.entryPoint", step->entry_point},
        {"ringo.step", step->name}};

    // A cache hit: an earlier successful run of the same key, whose outputs are restored.
    bool cacheable = step->cache && options_.use_cache;
    if (cacheable) {
      std::string filter =
          "tags.`ringo.cacheKey` = '" + cache_key + "' and attributes.status = 'FINISHED'";
      ASSIGN_OR_RETURN(Json found,
                       c->Post("/api/2.0/mlflow/runs/search",
                               Json{{"experiment_ids", Json::array({tracker_.experiment_id})},
                                    {"filter", filter},
                                    {"max_results", 1}}));
      if (found.contains("runs") && !found["runs"].empty()) {
        const Json& hit = found["runs"][0];
        std::string hit_id = hit["info"].value("run_id", "");
        std::map<std::string, std::string> hit_tags;
        for (const Json& t : hit["data"].value("tags", Json::array()))
          hit_tags[t.value("key", "")] = t.value("value", "");
        // The newest run with the key may itself be a cache hit, which has no output artifacts:
        // restore from (and point at) the run that produced them.
        if (auto origin = hit_tags.find("ringo.cacheHit");
            origin != hit_tags.end() && !origin->second.empty()) {
          hit_id = origin->second;
        }
        Status restored = RestoreOutputs(*c, name, hit_id, hit_tags);
        // The run it reuses: its params and metrics are this run's too.
        Result<Json> origin_run = restored.ok() ? c->GetRun(hit_id) : Result<Json>(restored);
        if (!origin_run.ok()) restored = origin_run.status();
        if (restored.ok()) {
          tags.push_back({"ringo.cacheHit", hit_id});
          tags.push_back({"ringo.cacheKey", cache_key});
          for (const auto& [t, v] : hit_tags) {
            if (t.rfind("ringo.outputHash.", 0) == 0) tags.push_back({t, v});
          }
          ASSIGN_OR_RETURN(std::string run_id,
                           CreateRun(*c, tracker_.experiment_id, step->name, tags));
          {
            std::lock_guard lock(mu_);
            states_[name].run_id = run_id;
            states_[name].reused_run_id = hit_id;
          }
          RETURN_IF_ERROR(CopyRunData(*c, *origin_run, run_id, portable));
          RETURN_IF_ERROR(EndRun(*c, run_id, "FINISHED"));
          Log("step " + name + ": cache hit (run " + run_id + " reuses run " + hit_id + ")");
          Finish(name, "cached");
          return Status::Ok();
        }
        Log("step " + name + ": cached run " + hit_id + " cannot be restored (" +
            restored.message() + "); running");
      }
    }

    ASSIGN_OR_RETURN(std::string run_id, CreateRun(*c, tracker_.experiment_id, step->name, tags));
    {
      std::lock_guard lock(mu_);
      states_[name].run_id = run_id;
    }
    RETURN_IF_ERROR(LogParams(*c, run_id, portable));
    std::map<std::string, fs::path> outputs;
    {
      std::lock_guard lock(mu_);
      outputs = states_[name].outputs;
    }
    Execution e;
    e.label = step->name;
    e.cwd = dir;
    e.command = command;
    e.resources = step->resources;
    // The step's own variables cannot hide the ones that tie it to its run.
    e.env = step->env;
    for (const auto& [k, v] : BaseEnv(tracker_, run_id)) e.env[k] = v;
    for (const auto& [o, path] : outputs) e.env["RINGO_OUTPUT_" + UpperName(o)] = path.string();
    e.prefix_output = project_.steps.size() > 1;
    e.quiet = options_.live_status;
    Log("step " + name + ": running (run " + run_id + "): " + command);
    ASSIGN_OR_RETURN(ExecutionResult er, RunAttempts(*c, run_id, *step, e, outputs, docker_image));
    if (er.status != "FINISHED") {
      (void)EndRun(*c, run_id, er.status);
      if (options_.live_status || !er.stderr_tail.empty()) {
        std::lock_guard lock(g_console);
        if (options_.live_status) std::cerr << er.stderr_tail;
      }
      Log("step " + name + ": " +
          (er.status == "KILLED" ? "killed"
                                 : "failed with exit code " + std::to_string(er.exit_code)) +
          (er.reason.empty() ? "" : " (" + er.reason + ")"));
      Finish(name, er.status == "KILLED" ? "killed" : "failed");
      return Status::Ok();
    }
    // Outputs become artifacts, and only a successful run carries the cache key.
    std::map<std::string, std::string> hashes;
    for (const auto& [o, path] : outputs) {
      ASSIGN_OR_RETURN(std::string h, HashPath(path));
      hashes[o] = h;
      std::error_code ec;
      if (!fs::is_empty(path, ec)) RETURN_IF_ERROR(c->LogArtifact(run_id, path, "outputs/" + o));
      RETURN_IF_ERROR(SetTag(*c, run_id, "ringo.outputHash." + o, h));
    }
    RETURN_IF_ERROR(SetTag(*c, run_id, "ringo.cacheKey", cache_key));
    RETURN_IF_ERROR(EndRun(*c, run_id, "FINISHED"));
    {
      std::lock_guard lock(mu_);
      states_[name].output_hashes = hashes;
    }
    Log("step " + name + ": finished");
    Finish(name, "done");
    return Status::Ok();
  }

  // Runs the step's command until it succeeds, is killed, or its retries are spent. Every attempt
  // starts from empty output directories and keeps its own logs; the run's tags say how many
  // attempts were made and how the last one ended.
  Result<ExecutionResult> RunAttempts(client::Client& c, const std::string& run_id,
                                      const Step& step, Execution e,
                                      const std::map<std::string, fs::path>& outputs,
                                      const std::string& docker_image) {
    std::string executor_name = step.executor.empty() ? options_.executor : step.executor;
    ASSIGN_OR_RETURN(std::unique_ptr<Executor> executor, NewExecutor(executor_name));
    RETURN_IF_ERROR(SetTag(c, run_id, "ringo.executor", executor_name));
    for (int attempt = 1;; ++attempt) {
      RETURN_IF_ERROR(ResetOutputs(outputs));
      if (attempt > 1) e.logs_path = "logs/attempt-" + std::to_string(attempt);
      ASSIGN_OR_RETURN(ExecutionResult er,
                       Execute(c, run_id, e, options_, docker_image, *executor));
      RETURN_IF_ERROR(SetTag(c, run_id, "ringo.attempts", std::to_string(attempt)));
      RETURN_IF_ERROR(SetTag(c, run_id, "ringo.exitCode", std::to_string(er.exit_code)));
      if (!er.job_id.empty()) RETURN_IF_ERROR(SetTag(c, run_id, "ringo.jobId", er.job_id));
      if (!er.reason.empty())
        RETURN_IF_ERROR(SetTag(c, run_id, "ringo.failureReason", er.reason));
      if (er.status != "FAILED" || attempt > step.retry.retries) return er;
      double wait = step.retry.backoff_seconds * std::pow(2.0, attempt - 1);
      Log("step " + step.name + ": attempt " + std::to_string(attempt) +
          " failed with exit code " + std::to_string(er.exit_code) + "; retrying in " +
          FormatSeconds(wait));
      if (!SleepUnlessStopped(wait)) {
        er.status = "KILLED";
        return er;
      }
    }
  }

  static Status ResetOutputs(const std::map<std::string, fs::path>& outputs) {
    for (const auto& [o, path] : outputs) {
      std::error_code ec;
      fs::remove_all(path, ec);
      fs::create_directories(path, ec);
      if (ec)
        return Internal("cannot create output directory '" + path.string() + "': " + ec.message());
    }
    return Status::Ok();
  }

  // False when the run was stopped before `seconds` passed.
  static bool SleepUnlessStopped(double seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      if (g_stop.load()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return !g_stop.load();
  }

  static std::string FormatSeconds(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    return buf;
  }

  // A cache hit's run gets the params and the latest metric values of the run it reuses, so it
  // reads like that run in tables and matches the same metric filters. The params this pipeline
  // passes win over the origin's spelling of them (an older run may have logged absolute paths).
  Status CopyRunData(client::Client& c, const Json& origin, const std::string& run_id,
                     const std::map<std::string, std::string>& params) {
    std::map<std::string, std::string> all = params;
    Json data = origin.value("data", Json::object());
    for (const Json& p : data.value("params", Json::array()))
      all.emplace(p.value("key", ""), p.value("value", ""));
    RETURN_IF_ERROR(LogParams(c, run_id, all));
    Json metrics = Json::array();
    auto flush = [&]() -> Status {
      if (metrics.empty()) return Status::Ok();
      auto r = c.Post("/api/2.0/mlflow/runs/log-batch",
                      Json{{"run_id", run_id}, {"metrics", metrics}});
      metrics = Json::array();
      return r.ok() ? Status::Ok() : r.status();
    };
    for (const Json& m : data.value("metrics", Json::array())) {
      metrics.push_back({{"key", m.value("key", "")},
                         {"value", m.contains("value") ? m["value"] : Json(0)},
                         {"timestamp", m.value("timestamp", int64_t{0})},
                         {"step", m.value("step", int64_t{0})}});
      if (metrics.size() == 1000) RETURN_IF_ERROR(flush());
    }
    return flush();
  }

  // Outputs of a cache hit: kept when the local copy matches, else downloaded from the run.
  Status RestoreOutputs(client::Client& c, const std::string& name, const std::string& hit_id,
                        const std::map<std::string, std::string>& hit_tags) {
    std::map<std::string, fs::path> outputs;
    {
      std::lock_guard lock(mu_);
      outputs = states_[name].outputs;
    }
    std::map<std::string, std::string> hashes;
    for (const auto& [o, path] : outputs) {
      auto tag = hit_tags.find("ringo.outputHash." + o);
      if (tag == hit_tags.end())
        return FailedPrecondition("it recorded no hash for output '" + o + "'");
      auto local = HashPath(path);
      if (!local.ok() || *local != tag->second) {
        fs::path tmp = path.parent_path() / ("." + o + ".restore-" + NewId());
        std::error_code ec;
        fs::create_directories(tmp, ec);
        Status s = c.DownloadArtifacts(hit_id, "outputs/" + o, tmp);
        if (!s.ok() && s.code() != Code::kNotFound) {
          fs::remove_all(tmp, ec);
          return s;
        }
        auto restored = HashPath(tmp);
        if (!restored.ok() || *restored != tag->second) {
          fs::remove_all(tmp, ec);
          return FailedPrecondition("restored output '" + o + "' does not match its recorded hash");
        }
        fs::remove_all(path, ec);
        fs::rename(tmp, path, ec);
        if (ec)
          return Internal("cannot move restored output into '" + path.string() +
                          "': " + ec.message());
      }
      hashes[o] = tag->second;
    }
    std::lock_guard lock(mu_);
    states_[name].output_hashes = hashes;
    return Status::Ok();
  }

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
  int drawn_lines_ = 0;
};

// Every executor the run will use can be driven, checked before anything runs.
Status CheckExecutors(const Project& project, const RunOptions& options) {
  std::set<std::string> names;
  if (project.steps.empty()) names.insert(options.executor);
  for (const Step& s : project.steps)
    names.insert(s.executor.empty() ? options.executor : s.executor);
  for (const std::string& name : names) {
    auto executor = NewExecutor(name);
    if (!executor.ok()) return executor.status();
  }
  return Status::Ok();
}

}  // namespace

Result<RunResult> Run(const RunOptions& options) {
  g_stop.store(false);
  g_env_noted.store(false);
  SignalScope signals;
  ASSIGN_OR_RETURN(Project project, LoadProject(options.project_dir));
  if (options.env_manager != "local" && options.env_manager != "docker") {
    return InvalidArgument("--env-manager must be local or docker; got '" + options.env_manager +
                           "'");
  }
  if (options.env_manager == "docker") {
    // A pipeline's steps may each bring their own image; a single project must declare one.
    if (project.env_kind != "docker_env" && project.steps.empty()) {
      return InvalidArgument("--env-manager docker needs a project with docker_env");
    }
    std::atomic<bool> never{false};
    ProcessSpec probe;
    probe.command = "docker info >/dev/null 2>&1";
    probe.cwd = project.dir;
    probe.stdout_file = "/dev/null";
    probe.stderr_file = "/dev/null";
    auto r = RunProcess(probe, never);
    if (!r.ok() || r->exit_code != 0) {
      return FailedPrecondition(
          "docker_env needs a running Docker engine, and 'docker info' found none");
    }
  } else if (!project.env_kind.empty()) {
    NoteLocalEnv(project.env_kind);
  }
  RETURN_IF_ERROR(CheckExecutors(project, options));
  std::string uri = options.tracking_uri;
  if (uri.empty()) return InvalidArgument("no tracking URI");
  Tracker tracker;
  tracker.uri = uri;
  tracker.step_uri = options.step_tracking_uri.empty() ? uri : options.step_tracking_uri;
  ASSIGN_OR_RETURN(auto c, client::Client::Connect(uri));
  ASSIGN_OR_RETURN(tracker.experiment_id, ResolveExperiment(*c, options));

  auto ep = project.entry_points.find(options.entry_point);
  if (project.steps.empty() && ep == project.entry_points.end()) {
    return InvalidArgument("project '" + project.dir.string() + "' has no entry point '" +
                           options.entry_point + "'");
  }
  EntryPoint pipeline_entry;
  if (ep != project.entry_points.end()) pipeline_entry = ep->second;
  pipeline_entry.name = options.entry_point;
  std::map<std::string, std::string> extra;
  ASSIGN_OR_RETURN(auto values, ResolveParameters(pipeline_entry, options.parameters,
                                                  fs::current_path(), &extra));
  std::vector<std::pair<std::string, std::string>> tags = {
      {"mlflow.source.type", "PROJECT"},
      {"mlflow.source.name", project.dir.string()},
      {"mlflow.project.entryPoint", options.entry_point},
      {"mlflow.project.env", options.env_manager}};
  if (!options.parent_run_id.empty()) tags.push_back({"mlflow.parentRunId", options.parent_run_id});
  for (const auto& [k, v] : options.tags) tags.push_back({k, v});
  ASSIGN_OR_RETURN(std::string run_id,
                   CreateRun(*c, tracker.experiment_id,
                             options.run_name.empty() ? project.name : options.run_name, tags));
  std::map<std::string, std::string> logged = values;
  for (const auto& [k, v] : extra) logged[k] = v;
  RETURN_IF_ERROR(LogParams(*c, run_id, logged));

  RunResult result;
  if (!project.steps.empty()) {
    if (!extra.empty()) {
      (void)EndRun(*c, run_id, "FAILED");
      return InvalidArgument("pipeline parameter '" + extra.begin()->first +
                             "' is not declared by the main entry point");
    }
    PipelineRun pipeline(project, options, tracker, run_id, values);
    auto r = pipeline.Go();
    if (!r.ok()) {
      (void)EndRun(*c, run_id, "FAILED");
      return r.status();
    }
    result = std::move(*r);
  } else {
    Execution e;
    e.label = options.entry_point;
    e.cwd = project.dir;
    e.command = RenderCommand(pipeline_entry, values, extra);
    e.env = BaseEnv(tracker, run_id);
    std::cout << "ringo: run " << run_id << ": " << e.command << std::endl;
    auto executor = NewExecutor(options.executor);
    if (!executor.ok()) {
      (void)EndRun(*c, run_id, "FAILED");
      return executor.status();
    }
    auto er = Execute(*c, run_id, e, options, project.docker_image, **executor);
    if (!er.ok()) {
      (void)EndRun(*c, run_id, "FAILED");
      return er.status();
    }
    result.run_id = run_id;
    result.status = er->status;
  }
  RETURN_IF_ERROR(EndRun(*c, run_id, result.status));
  return result;
}

}  // namespace ringo::pipeline
