// Child processes of the runner: fork/exec in a new process group, output through pipes.
#include "pipeline/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <fstream>
#include <vector>

extern char** environ;

namespace ringo::pipeline {

Result<ProcessResult> RunProcess(const ProcessSpec& spec, const std::atomic<bool>& stop,
                                 int grace_seconds) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0)
    return Internal(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return Internal(std::string("pipe: ") + std::strerror(errno));
  }
  // Build the environment before forking: only async-signal-safe calls after fork.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : spec.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string cwd = spec.cwd.string();
  const char* argv[] = {"/bin/sh", "-c", spec.command.c_str(), nullptr};

  pid_t pid = fork();
  if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    // The runner ignores nothing the child should; restore default dispositions.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (chdir(cwd.c_str()) != 0) _exit(127);
    execve("/bin/sh", const_cast<char* const*>(argv), envp.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so the group exists before any kill
  close(out_pipe[1]);
  close(err_pipe[1]);

  std::ofstream out_file(spec.stdout_file, std::ios::binary);
  std::ofstream err_file(spec.stderr_file, std::ios::binary);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  ProcessResult result;
  bool term_sent = false;
  auto term_time = std::chrono::steady_clock::now();
  // On stop: SIGTERM to the group, and SIGKILL once the grace period has passed.
  auto honour_stop = [&] {
    if (stop.load() && !term_sent) {
      kill(-pid, SIGTERM);
      term_sent = true;
      result.killed = true;
      term_time = std::chrono::steady_clock::now();
    }
    if (term_sent &&
        std::chrono::steady_clock::now() - term_time > std::chrono::seconds(grace_seconds)) {
      kill(-pid, SIGKILL);
    }
  };
  char buf[65536];
  while (open_fds > 0) {
    honour_stop();
    int n = poll(fds, 2, 100);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        std::string_view chunk(buf, static_cast<size_t>(r));
        std::ofstream& file = i == 0 ? out_file : err_file;
        // Flushed: the log files are uploaded to the run while the command runs.
        file.write(chunk.data(), static_cast<std::streamsize>(r)).flush();
        if (spec.on_output) spec.on_output(i + 1, chunk);
      } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  // Output closed; the shell may still be finishing. Keep honouring stop while waiting.
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    honour_stop();
    usleep(20000);
  }
  // Leave no stragglers of the group behind.
  kill(-pid, SIGKILL);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.exit_code = 128 + result.signal;
  }
  return result;
}

Ticker::Ticker(std::chrono::milliseconds period, std::function<bool()> tick) {
  thread_ = std::thread([this, period, tick = std::move(tick)] {
    std::unique_lock lock(mu_);
    while (!done_) {
      lock.unlock();
      bool more = tick();
      lock.lock();
      if (!more) return;
      cv_.wait_for(lock, period, [this] { return done_; });
    }
  });
}

Ticker::~Ticker() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<CommandOutput> CaptureCommand(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return Internal("cannot run '" + command + "': " + std::strerror(errno));
  CommandOutput out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  int status = pclose(p);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

}  // namespace ringo::pipeline
