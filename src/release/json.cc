// JSON forms of release policies and candidates.
#include <nlohmann/json.hpp>

#include "release/release.h"

namespace ringo::release {

namespace {

using nlohmann::json;

Status Check(bool ok, const std::string& why) {
  return ok ? Status::Ok() : InvalidArgument("invalid release policy: " + why);
}

Status Validate(const Policy& p) {
  RETURN_IF_ERROR(Check(!p.collection.empty(), "collection is required"));
  RETURN_IF_ERROR(Check(!p.model.empty(), "model is required"));
  RETURN_IF_ERROR(Check(!p.steps.empty(), "steps must not be empty"));
  int prev = 0;
  for (int s : p.steps) {
    RETURN_IF_ERROR(Check(s > prev && s <= 100, "steps must rise within 1..100"));
    prev = s;
  }
  RETURN_IF_ERROR(Check(p.steps.back() == 100, "the last step must be 100"));
  RETURN_IF_ERROR(Check(p.soak_seconds >= 0 && p.hold_seconds >= 0, "times must be >= 0"));
  RETURN_IF_ERROR(Check(p.min_samples >= 1, "min_samples must be at least 1"));
  RETURN_IF_ERROR(Check(p.evaluate_seconds >= 1, "evaluate_seconds must be at least 1"));
  RETURN_IF_ERROR(Check(p.staging_channel != p.release_channel, "staging and release must differ"));
  for (const MetricGate& g : p.metrics) {
    RETURN_IF_ERROR(Check(!g.metric.empty() && (g.min || g.max), "a metric gate needs metric and min or max"));
  }
  RETURN_IF_ERROR(Check(p.max_drop < 0 || !p.compare_metric.empty(), "max_drop needs compare_metric"));
  return Status::Ok();
}

}  // namespace

std::string PolicyToJson(const Policy& p) {
  json gates = json::array();
  for (const MetricGate& g : p.metrics) {
    json j = {{"metric", g.metric}};
    if (g.min) j["min"] = *g.min;
    if (g.max) j["max"] = *g.max;
    gates.push_back(j);
  }
  json j = {{"collection", p.collection},
            {"model", p.model},
            {"gates", {{"metrics", gates},
                       {"compare_metric", p.compare_metric},
                       {"max_drop", p.max_drop},
                       {"max_size_bytes", p.max_size_bytes}}},
            {"staging", {{"channel", p.staging_channel},
                         {"soak_seconds", p.soak_seconds},
                         {"min_samples", p.staging_min_samples},
                         {"require_approval", p.require_approval}}},
            {"release", {{"channel", p.release_channel},
                         {"steps", p.steps},
                         {"hold_seconds", p.hold_seconds},
                         {"min_samples", p.min_samples}}},
            {"halt", {{"max_failure_rate", p.max_failure_rate},
                      {"max_load_failures", p.max_load_failures},
                      {"max_latency_ratio", p.max_latency_ratio},
                      {"max_accuracy_drop", p.max_accuracy_drop}}},
            {"evaluate_seconds", p.evaluate_seconds},
            {"last_version", p.last_version}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Policy> PolicyFromJson(std::string_view text, std::string_view collection) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return InvalidArgument("invalid release policy: expected a JSON object");
  Policy p;
  try {
    p.collection = j.value("collection", std::string(collection));
    if (!collection.empty() && p.collection != collection) {
      return InvalidArgument("the policy names collection '" + p.collection + "', not '" +
                             std::string(collection) + "'");
    }
    p.model = j.value("model", "");
    json g = j.value("gates", json::object());
    for (const json& m : g.value("metrics", json::array())) {
      MetricGate mg{m.value("metric", ""), std::nullopt, std::nullopt};
      if (m.contains("min")) mg.min = m["min"].get<double>();
      if (m.contains("max")) mg.max = m["max"].get<double>();
      p.metrics.push_back(mg);
    }
    p.compare_metric = g.value("compare_metric", "");
    p.max_drop = g.value("max_drop", -1.0);
    p.max_size_bytes = g.value("max_size_bytes", int64_t{0});
    json s = j.value("staging", json::object());
    p.staging_channel = s.value("channel", "staging");
    p.soak_seconds = s.value("soak_seconds", int64_t{600});
    p.staging_min_samples = s.value("min_samples", int64_t{0});
    p.require_approval = s.value("require_approval", false);
    json r = j.value("release", json::object());
    p.release_channel = r.value("channel", "release");
    if (r.contains("steps")) p.steps = r["steps"].get<std::vector<int>>();
    p.hold_seconds = r.value("hold_seconds", int64_t{300});
    p.min_samples = r.value("min_samples", int64_t{100});
    json h = j.value("halt", json::object());
    p.max_failure_rate = h.value("max_failure_rate", 0.05);
    p.max_load_failures = h.value("max_load_failures", 0.05);
    p.max_latency_ratio = h.value("max_latency_ratio", 0.0);
    p.max_accuracy_drop = h.value("max_accuracy_drop", 0.0);
    p.evaluate_seconds = j.value("evaluate_seconds", int64_t{10});
    p.last_version = j.value("last_version", int64_t{0});
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("invalid release policy: ") + e.what());
  }
  RETURN_IF_ERROR(Validate(p));
  return p;
}

std::string CandidateToJson(const Candidate& c) {
  json gates = json::array();
  for (const Gate& g : c.gates) {
    gates.push_back({{"name", g.name}, {"passed", g.passed}, {"detail", g.detail}});
  }
  json j = {{"collection", c.collection}, {"model", c.model},       {"version", c.version},
            {"stage", c.stage},           {"gates", gates},         {"deployment_id", c.deployment_id},
            {"step", c.step},             {"since", c.since},       {"approved", c.approved},
            {"note", c.note},             {"updated", c.updated}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ringo::release
