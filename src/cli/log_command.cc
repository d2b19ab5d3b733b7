// `ringo log param|metric|artifact`: logging from shell steps to $MLFLOW_RUN_ID.
#include <memory>

#include "cli/command.h"
#include "common/util.h"

namespace ringo::cli {

namespace {

struct LogFlags {
  std::string key, value, local_path, artifact_path, run_id;
  int64_t step = 0;
  int64_t timestamp = 0;
};

Result<std::string> RunIdFromEnv(const std::string& flag) {
  std::string id = flag.empty() ? EnvOr("MLFLOW_RUN_ID", "RINGO_RUN_ID", "") : flag;
  if (id.empty()) {
    return InvalidArgument("no run: pass --run-id or set MLFLOW_RUN_ID (or RINGO_RUN_ID)");
  }
  return id;
}

}  // namespace

void AddLogCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<LogFlags>();
  auto* log = app.add_subcommand("log", "Log to the current run ($MLFLOW_RUN_ID)");
  log->require_subcommand(1);
  auto* param = log->add_subcommand("param", "Log a parameter");
  param->add_option("key", f->key, "Parameter name")->required();
  param->add_option("value", f->value, "Parameter value")->required();
  auto* metric = log->add_subcommand("metric", "Log a metric value");
  metric->add_option("key", f->key, "Metric name")->required();
  metric->add_option("value", f->value, "A number (NaN and Infinity allowed)")->required();
  metric->add_option("--step", f->step, "Training step")->capture_default_str();
  metric->add_option("--timestamp", f->timestamp, "Milliseconds since the epoch (default now)");
  auto* artifact = log->add_subcommand("artifact", "Upload a file or directory");
  artifact->add_option("path", f->local_path, "Local file or directory")->required();
  artifact->add_option("--artifact-path", f->artifact_path, "Directory within the run's artifacts");
  for (auto* c : {param, metric, artifact}) {
    AddServerFlags(c, &ctx);
    c->add_option("--run-id", f->run_id, "Run id (default: $MLFLOW_RUN_ID, $RINGO_RUN_ID)");
  }

  Context* x = &ctx;
  OnRun(param, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(std::string id, RunIdFromEnv(f->run_id));
      return c.LogParam(id, f->key, f->value);
    });
  });
  OnRun(metric, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(std::string id, RunIdFromEnv(f->run_id));
      auto v = ParseDouble(f->value);
      if (!v) return InvalidArgument("metric value '" + f->value + "' is not a number");
      return c.LogMetric(id, f->key, *v, f->timestamp ? f->timestamp : NowMillis(), f->step);
    });
  });
  OnRun(artifact, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(std::string id, RunIdFromEnv(f->run_id));
      return c.LogArtifact(id, f->local_path, f->artifact_path);
    });
  });
}

}  // namespace ringo::cli
