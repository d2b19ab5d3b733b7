// Running a DAG of steps: the scheduler, placeholders, the live status and the end of each step.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <regex>
#include <thread>

#include "pipeline/runner_impl.h"
#include "pipeline/transfer.h"

namespace ringo::pipeline {

PipelineRun::PipelineRun(const Project& project, const RunOptions& options, Tracker tracker,
            std::string parent_run_id, std::map<std::string, std::string> pipeline_params)
    : project_(project),
      options_(options),
      tracker_(std::move(tracker)),
      parent_(std::move(parent_run_id)),
      params_(std::move(pipeline_params)) {
  root_ = project_.dir.lexically_normal().string();
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Result<RunResult> PipelineRun::Go() {
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

std::set<std::string> PipelineRun::Dependencies(const Step& s) const {
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

std::string PipelineRun::Portable(const std::string& text) const {
  return RebasePaths(text, root_, ".", "");
}

std::map<std::string, std::string> PipelineRun::Portable(
    const std::map<std::string, std::string>& m) const {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : m) out[k] = Portable(v);
  return out;
}

void PipelineRun::Log(const std::string& line) {
  if (options_.live_status) return;
  std::lock_guard lock(g_console);
  std::cout << "ringo: " << line << std::endl;
}

void PipelineRun::DrawStatus() {
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

Result<std::string> PipelineRun::Substitute(const Step& s, const std::string& value) {
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

void PipelineRun::Finish(const std::string& name, const std::string& state) {
  std::lock_guard lock(mu_);
  StepState& st = states_[name];
  st.state = state;
  st.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
  cv_.notify_all();
}

void PipelineRun::RunStep(const std::string& name) {
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

}  // namespace ringo::pipeline
