// The step cache in the tracking store: a step's key, and reusing an earlier run with that key
// (its outputs restored, its params and metrics copied).
#include "common/hash.h"
#include "common/util.h"
#include "pipeline/runner_impl.h"

namespace ringo::pipeline {

Result<std::string> PipelineRun::CacheKey(const Step& step, const PreparedStep& p,
                                          const std::map<std::string, std::string>& portable) {
  Sha256 key;
  key.Update("ringo-step-v2\n" + step.entry_point + "\n" + p.entry_command + "\n" +
             Portable(p.command) + "\n");
  for (const auto& [k, v] : portable) key.Update(k + "=" + v + "\n");
  for (const auto& [k, v] : p.extra) key.Update(k + "=" + Portable(v) + "\n");
  for (const auto& in : step.inputs) {
    std::string resolved = in;
    if (in.rfind("steps.", 0) == 0 || in.rfind("{steps.", 0) == 0) {
      std::string ref = in.front() == '{' ? in : "{" + in + "}";
      ASSIGN_OR_RETURN(resolved, Substitute(step, ref));
    } else {
      resolved = (project_.dir / in).string();
    }
    ASSIGN_OR_RETURN(std::string h, HashPath(resolved));
    key.Update("input " + in + " " + h + "\n");
  }
  for (const auto& d : Dependencies(step)) {
    std::lock_guard lock(mu_);
    for (const auto& [o, h] : states_[d].output_hashes)
      key.Update("upstream " + d + "." + o + " " + h + "\n");
  }
  ASSIGN_OR_RETURN(std::string code,
                   HashPath(p.dir, {".ringo", "__pycache__", ".git", "mlruns", "ringo-data"}));
  key.Update("code " + code + "\n");
  return key.HexDigest();
}

Status PipelineRun::TryCacheHit(client::Client& c, const std::string& name, const Step& step,
                                const std::string& cache_key,
                                const std::map<std::string, std::string>& portable,
                                std::vector<std::pair<std::string, std::string>> tags, bool* hit) {
  *hit = false;
  std::string filter =
      "tags.`ringo.cacheKey` = '" + cache_key + "' and attributes.status = 'FINISHED'";
  ASSIGN_OR_RETURN(Json found,
                   c.Post("/api/2.0/mlflow/runs/search",
                          Json{{"experiment_ids", Json::array({tracker_.experiment_id})},
                               {"filter", filter},
                               {"max_results", 1}}));
  if (!found.contains("runs") || found["runs"].empty()) return Status::Ok();
  const Json& found_run = found["runs"][0];
  std::string hit_id = found_run["info"].value("run_id", "");
  std::map<std::string, std::string> hit_tags;
  for (const Json& t : found_run["data"].value("tags", Json::array()))
    hit_tags[t.value("key", "")] = t.value("value", "");
  // The newest run with the key may itself be a cache hit, which has no output artifacts:
  // restore from (and point at) the run that produced them.
  if (auto origin = hit_tags.find("ringo.cacheHit");
      origin != hit_tags.end() && !origin->second.empty()) {
    hit_id = origin->second;
  }
  Status restored = RestoreOutputs(c, name, hit_id, hit_tags);
  // The run it reuses: its params and metrics are this run's too.
  Result<Json> origin_run = restored.ok() ? c.GetRun(hit_id) : Result<Json>(restored);
  if (!origin_run.ok()) restored = origin_run.status();
  if (!restored.ok()) {
    Log("step " + name + ": cached run " + hit_id + " cannot be restored (" +
        restored.message() + "); running");
    return Status::Ok();
  }
  tags.push_back({"ringo.cacheHit", hit_id});
  tags.push_back({"ringo.cacheKey", cache_key});
  for (const auto& [t, v] : hit_tags) {
    if (t.rfind("ringo.outputHash.", 0) == 0) tags.push_back({t, v});
  }
  ASSIGN_OR_RETURN(std::string run_id, CreateRun(c, tracker_.experiment_id, step.name, tags));
  {
    std::lock_guard lock(mu_);
    states_[name].run_id = run_id;
    states_[name].reused_run_id = hit_id;
  }
  RETURN_IF_ERROR(CopyRunData(c, *origin_run, run_id, portable));
  RETURN_IF_ERROR(EndRun(c, run_id, "FINISHED"));
  Log("step " + name + ": cache hit (run " + run_id + " reuses run " + hit_id + ")");
  Finish(name, "cached");
  *hit = true;
  return Status::Ok();
}

Status PipelineRun::CopyRunData(client::Client& c, const Json& origin, const std::string& run_id,
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

Status PipelineRun::RestoreOutputs(client::Client& c, const std::string& name,
                                   const std::string& hit_id,
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
    if (!local.ok() || *local != tag->second)
      RETURN_IF_ERROR(DownloadOutput(c, hit_id, o, path, tag->second));
    hashes[o] = tag->second;
  }
  std::lock_guard lock(mu_);
  states_[name].output_hashes = hashes;
  return Status::Ok();
}

Status PipelineRun::DownloadOutput(client::Client& c, const std::string& run_id,
                                   const std::string& o, const fs::path& path,
                                   const std::string& want_hash) {
  // Into a sibling first, so a failed or mismatched download leaves the output as it was.
  fs::path tmp = path.parent_path() / ("." + o + ".restore-" + NewId());
  std::error_code ec;
  fs::create_directories(tmp, ec);
  Status s = c.DownloadArtifacts(run_id, "outputs/" + o, tmp);
  if (!s.ok() && s.code() != Code::kNotFound) {
    fs::remove_all(tmp, ec);
    return s;
  }
  if (!want_hash.empty()) {
    auto restored = HashPath(tmp);
    if (!restored.ok() || *restored != want_hash) {
      fs::remove_all(tmp, ec);
      return FailedPrecondition("restored output '" + o + "' does not match its recorded hash");
    }
  }
  fs::remove_all(path, ec);
  fs::rename(tmp, path, ec);
  if (ec)
    return Internal("cannot move output '" + o + "' into '" + path.string() + "': " + ec.message());
  return Status::Ok();
}

}  // namespace ringo::pipeline
