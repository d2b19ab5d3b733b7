// Child processes of the runner: one process group per step, output captured and echoed.
#ifndef RINGO_PIPELINE_PROCESS_H_
#define RINGO_PIPELINE_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace ringo::pipeline {

struct ProcessSpec {
  std::string command;  // run by /bin/sh -c
  std::filesystem::path cwd;
  std::map<std::string, std::string> env;  // added to (and overriding) the inherited environment
  std::filesystem::path stdout_file;       // everything the command prints is kept here
  std::filesystem::path stderr_file;
  // Called with each chunk of output as it arrives (stream 1 or 2), for echoing.
  std::function<void(int stream, std::string_view chunk)> on_output;
};

struct ProcessResult {
  int exit_code = 0;    // when it exited
  int signal = 0;       // when a signal ended it
  bool killed = false;  // stopped by `stop`
};

// Runs the command in its own process group and waits for it. When `stop` becomes true, the
// whole group gets SIGTERM, then SIGKILL after `grace_seconds`. kInternal when the process
// cannot be started.
Result<ProcessResult> RunProcess(const ProcessSpec& spec, const std::atomic<bool>& stop,
                                 int grace_seconds = 5);

// Calls `tick` every `period` on a thread of its own until `tick` returns false or the Ticker is
// destroyed; the destructor wakes the thread at once and joins it, so a watcher costs its owner
// no wait when the watched work ends.
class Ticker {
 public:
  Ticker(std::chrono::milliseconds period, std::function<bool()> tick);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

struct CommandOutput {
  int exit_code = 0;  // 128 + the signal when one ended it
  std::string text;   // what it printed on stdout (the command may redirect stderr there)
};

// Runs a short command with /bin/sh -c in the environment of this process and collects what it
// prints, for the clients of engines (sbatch, scontrol, podman). kInternal when it cannot be
// started. Blocks until the command ends.
Result<CommandOutput> CaptureCommand(const std::string& command);

}  // namespace ringo::pipeline

#endif  // RINGO_PIPELINE_PROCESS_H_
