// The Ray executor: each job submitted through the job submission REST API of a Ray head.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "client/client.h"
#include "pipeline/executor.h"

namespace ringo::pipeline {

namespace {

using client::Json;

// Ray's own variable for the dashboard that takes job submissions.
std::string RayAddress() {
  const char* a = std::getenv("RAY_ADDRESS");
  return a && *a ? a : "http://127.0.0.1:8265";
}

Json SubmitBody(const Job& job) {
  Json env = Json::object();
  for (const auto& [k, v] : job.env) env[k] = v;
  Json body = {{"entrypoint", "cd " + ShellQuote(job.cwd.string()) + " && exec /bin/sh -c " +
                                  ShellQuote(job.command)},
               {"runtime_env", {{"env_vars", env}}},
               {"metadata", {{"ringo.step", job.label}}}};
  const Resources& r = job.resources;
  if (r.cpus > 0) body["entrypoint_num_cpus"] = r.cpus;
  if (r.gpus > 0) body["entrypoint_num_gpus"] = r.gpus;
  return body;
}

class RayExecutor : public Executor {
 public:
  Result<JobResult> Run(const Job& job, const std::atomic<bool>& stop) override {
    std::string address = RayAddress();
    auto connected = client::Client::Connect(address, /*send_token=*/false);
    if (!connected.ok())
      return Unavailable("cannot reach Ray at " + address + ": " + connected.status().message());
    client::Client& c = **connected;
    auto submitted = c.Post("/api/jobs/", SubmitBody(job));
    if (!submitted.ok())
      return Unavailable("Ray at " + address + " refused the job: " + submitted.status().message());
    JobResult result;
    result.job_id = submitted->value("submission_id", submitted->value("job_id", ""));
    if (result.job_id.empty()) return Unavailable("Ray at " + address + " returned no job id");
    std::string path = "/api/jobs/" + result.job_id;
    std::ofstream out(job.stdout_file, std::ios::binary);
    std::ofstream(job.stderr_file, std::ios::binary).flush();  // Ray merges the two streams
    size_t seen = 0;
    bool stopping = false;
    for (;;) {
      if (stop.load() && !stopping) {
        (void)c.Post(path + "/stop", Json::object());
        stopping = true;
      }
      ASSIGN_OR_RETURN(Json info, c.Get(path, {}));
      // Logs after the status: a final status is only acted on once all its logs are read.
      auto logs = c.Get(path + "/logs", {});
      if (logs.ok()) {
        std::string all = logs->value("logs", "");
        if (all.size() > seen) {
          std::string chunk = all.substr(seen);
          seen = all.size();
          out << chunk << std::flush;
          if (job.on_output) job.on_output(1, chunk);
        }
      }
      std::string status = info.value("status", "");
      if (status == "SUCCEEDED" || status == "FAILED" || status == "STOPPED")
        return Finish(info, status, stopping, result);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

 private:
  static JobResult Finish(const Json& info, const std::string& status, bool stopping,
                          JobResult result) {
    const Json& code = info.contains("driver_exit_code") ? info["driver_exit_code"] : Json();
    result.exit_code = code.is_number_integer() ? code.get<int>() : 0;
    if (status == "SUCCEEDED") {
      result.status = "FINISHED";
    } else if (stopping) {
      result.status = "KILLED";
    } else {
      result.status = "FAILED";
      if (result.exit_code == 0) result.exit_code = 1;
      // Ray appends the job's last logs to its message; the first line is the reason.
      std::string message = info.value("message", "");
      message = message.substr(0, message.find('\n'));
      result.reason = "Ray job " + result.job_id + " " + status +
                      (message.empty() ? "" : ": " + message);
    }
    return result;
  }
};

}  // namespace

std::unique_ptr<Executor> NewRayExecutor() { return std::make_unique<RayExecutor>(); }

}  // namespace ringo::pipeline
