// The runner's calls to the tracking server: the experiment, runs, tags and params.
#include <cstdlib>

#include "common/util.h"
#include "pipeline/runner_impl.h"

namespace ringo::pipeline {

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

}  // namespace ringo::pipeline
