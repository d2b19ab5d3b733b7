// Logged models as store documents: create, read-modify-write, search, JSON.
#include "api/logged_models.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>
#include <nlohmann/json.hpp>

#include "common/util.h"
#include "store/store.h"

namespace ringo::api {

namespace {

using nlohmann::json;

constexpr const char* kKind = "logged_model";

json ToDoc(const LoggedModel& m) {
  return {{"model_id", m.model_id},
          {"experiment_id", m.experiment_id},
          {"name", m.name},
          {"model_type", m.model_type},
          {"source_run_id", m.source_run_id},
          {"status", m.status},
          {"status_message", m.status_message},
          {"artifact_uri", m.artifact_uri},
          {"creation_time", m.creation_time},
          {"last_updated_time", m.last_updated_time},
          {"deleted", m.deleted},
          {"tags", m.tags},
          {"params", m.params}};
}

LoggedModel FromDoc(const json& j) {
  LoggedModel m;
  m.model_id = j.value("model_id", "");
  m.experiment_id = j.value("experiment_id", "");
  m.name = j.value("name", "");
  m.model_type = j.value("model_type", "");
  m.source_run_id = j.value("source_run_id", "");
  m.status = j.value("status", "LOGGED_MODEL_PENDING");
  m.status_message = j.value("status_message", "");
  m.artifact_uri = j.value("artifact_uri", "");
  m.creation_time = j.value("creation_time", int64_t{0});
  m.last_updated_time = j.value("last_updated_time", int64_t{0});
  m.deleted = j.value("deleted", false);
  if (j.contains("tags")) m.tags = j["tags"].get<std::map<std::string, std::string>>();
  if (j.contains("params")) m.params = j["params"].get<std::map<std::string, std::string>>();
  return m;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Status NotFoundModel(const std::string& id) {
  return NotFound("Logged model with ID '" + id + "' not found.");
}

bool InDatasets(const store::Metric& m,
                const std::vector<std::pair<std::string, std::string>>& datasets) {
  if (datasets.empty()) return true;
  for (const auto& [name, digest] : datasets) {
    if (m.dataset_name == name && (digest.empty() || m.dataset_digest == digest)) return true;
  }
  return false;
}

// The newest value of a metric of the model among `datasets` (by step, then timestamp).
std::optional<double> MetricValue(const LoggedModel& m, const std::string& key,
                                  const std::vector<std::pair<std::string, std::string>>& datasets) {
  const store::Metric* best = nullptr;
  for (const store::RunMetric& rm : m.metrics) {
    const store::Metric& x = rm.metric;
    if (x.key != key || !InDatasets(x, datasets)) continue;
    if (!best || std::tie(x.step, x.timestamp) > std::tie(best->step, best->timestamp)) best = &x;
  }
  if (!best) return std::nullopt;
  return best->value;
}

// The value a non-metric clause compares.
std::optional<std::string> FieldValue(const LoggedModel& m, const store::Clause& c) {
  auto in = [](const std::map<std::string, std::string>& kv,
               const std::string& k) -> std::optional<std::string> {
    auto it = kv.find(k);
    if (it == kv.end()) return std::nullopt;
    return it->second;
  };
  if (c.entity == store::Entity::kTag) return in(m.tags, c.key);
  if (c.entity == store::Entity::kParam) return in(m.params, c.key);
  if (c.key == "name") return m.name;
  if (c.key == "model_type") return m.model_type;
  if (c.key == "status") return m.status;
  if (c.key == "source_run_id") return m.source_run_id;
  if (c.key == "model_id") return m.model_id;
  if (c.key == "creation_time") return std::to_string(m.creation_time);
  return std::to_string(m.last_updated_time);
}

}  // namespace

Result<bool> MatchesLoggedModelFilter(
    const LoggedModel& m, const std::string& filter,
    const std::vector<std::pair<std::string, std::string>>& datasets) {
  ASSIGN_OR_RETURN(std::vector<store::Clause> clauses, store::ParseLoggedModelFilter(filter));
  bool metric_clause = std::any_of(clauses.begin(), clauses.end(), [](const store::Clause& c) {
    return c.entity == store::Entity::kMetric;
  });
  // Datasets without a metric clause: the model needs a metric on one of them (as MLflow).
  if (!datasets.empty() && !metric_clause &&
      std::none_of(m.metrics.begin(), m.metrics.end(), [&](const store::RunMetric& rm) {
        return InDatasets(rm.metric, datasets);
      })) {
    return false;
  }
  for (const store::Clause& c : clauses) {
    if (c.entity != store::Entity::kMetric) {
      if (!store::ClauseMatches(c, FieldValue(m, c))) return false;
      continue;
    }
    // A metric clause holds when the latest value on some dataset (of `datasets`) satisfies it.
    bool any = false;
    for (const store::RunMetric& rm : m.metrics) {
      if (rm.metric.key != c.key || !InDatasets(rm.metric, datasets)) continue;
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", rm.metric.value);
      any = any || store::ClauseMatches(c, std::string(buf));
    }
    if (!any) return false;
  }
  return true;
}

Result<LoggedModel> LoggedModels::Create(LoggedModel m) {
  ASSIGN_OR_RETURN(store::Experiment e, store_->GetExperiment(m.experiment_id));
  if (e.lifecycle_stage != "active") {
    return InvalidArgument("The experiment " + m.experiment_id +
                           " must be in the 'active' state. Current state: " + e.lifecycle_stage +
                           ".");
  }
  m.model_id = "m-" + NewId();
  if (m.name.empty()) m.name = "model-" + m.model_id.substr(2, 8);
  std::string base = e.artifact_location;
  while (!base.empty() && base.back() == '/') base.pop_back();
  m.artifact_uri = base + "/models/" + m.model_id + "/artifacts";
  m.creation_time = m.last_updated_time = NowMillis();
  std::string value = Dump(ToDoc(m));
  RETURN_IF_ERROR(store::Wait([&](store::Done done) {
    store_->PutDocument(kKind, m.model_id, value, 0, "",
                        [done](Result<int64_t> r) { done(r.ok() ? Status::Ok() : r.status()); });
  }));
  return m;
}

Result<LoggedModel> LoggedModels::Get(const std::string& model_id, bool allow_deleted) {
  auto doc = store_->GetDocument(kKind, model_id);
  if (!doc.ok()) {
    if (doc.status().code() == Code::kNotFound) return NotFoundModel(model_id);
    return doc.status();
  }
  json j = json::parse(doc->value, nullptr, false);
  if (!j.is_object()) return Internal("logged model '" + model_id + "' is stored damaged");
  LoggedModel m = FromDoc(j);
  if (m.deleted && !allow_deleted) return NotFoundModel(model_id);
  ASSIGN_OR_RETURN(m.metrics, store_->GetLoggedModelMetrics(model_id));
  return m;
}

Result<LoggedModel> LoggedModels::Update(const std::string& model_id,
                                         const std::function<Status(LoggedModel&)>& change) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto doc = store_->GetDocument(kKind, model_id);
    if (!doc.ok()) {
      if (doc.status().code() == Code::kNotFound) return NotFoundModel(model_id);
      return doc.status();
    }
    LoggedModel m = FromDoc(json::parse(doc->value, nullptr, false));
    if (m.deleted) return NotFoundModel(model_id);
    RETURN_IF_ERROR(change(m));
    m.last_updated_time = NowMillis();
    std::string value = Dump(ToDoc(m));
    Status s = store::Wait([&](store::Done done) {
      store_->PutDocument(kKind, model_id, value, doc->revision, "",
                          [done](Result<int64_t> r) { done(r.ok() ? Status::Ok() : r.status()); });
    });
    if (s.ok()) return m;
    if (s.code() != Code::kFailedPrecondition) return s;  // else changed meanwhile: again
  }
  return Unavailable("logged model '" + model_id + "' is changing too often; retry");
}

Result<std::pair<std::vector<LoggedModel>, std::string>> LoggedModels::Search(
    const LoggedModelSearch& s) {
  if (s.max_results < 1 || s.max_results > 50000) {
    return InvalidArgument("Invalid value " + std::to_string(s.max_results) +
                           " for parameter 'max_results' supplied.");
  }
  ASSIGN_OR_RETURN(int64_t offset, store::DecodeOffsetToken(s.page_token));
  ASSIGN_OR_RETURN(auto clauses, store::ParseLoggedModelFilter(s.filter));  // fail before reading
  (void)clauses;
  ASSIGN_OR_RETURN(auto docs, store_->ListDocuments(kKind, ""));
  std::vector<LoggedModel> all;
  for (const auto& d : docs) {
    json j = json::parse(d.value, nullptr, false);
    if (!j.is_object()) continue;
    LoggedModel m = FromDoc(j);
    if (m.deleted) continue;
    if (!s.experiment_ids.empty() &&
        std::find(s.experiment_ids.begin(), s.experiment_ids.end(), m.experiment_id) ==
            s.experiment_ids.end()) {
      continue;
    }
    ASSIGN_OR_RETURN(m.metrics, store_->GetLoggedModelMetrics(m.model_id));
    ASSIGN_OR_RETURN(bool match, MatchesLoggedModelFilter(m, s.filter, s.datasets));
    if (match) all.push_back(std::move(m));
  }
  std::vector<LoggedModelSearch::Order> order = s.order_by;
  if (order.empty()) order.push_back({"creation_timestamp", false});
  for (const auto& o : order) {
    static const char* kFields[] = {"name", "model_type", "status", "creation_timestamp",
                                    "creation_time", "last_updated_timestamp", "model_id"};
    bool metric = o.field.rfind("metrics.", 0) == 0 && o.field.size() > 8;
    if (!metric &&
        std::find(std::begin(kFields), std::end(kFields), o.field) == std::end(kFields)) {
      return InvalidArgument("Invalid order_by field '" + o.field + "'");
    }
  }
  // A metric orders numerically; models without it come last whatever the direction.
  auto metric_less = [](const LoggedModel& a, const LoggedModel& b,
                        const LoggedModelSearch::Order& o) -> std::optional<bool> {
    std::vector<std::pair<std::string, std::string>> ds;
    if (!o.dataset_name.empty()) ds.push_back({o.dataset_name, o.dataset_digest});
    auto va = MetricValue(a, o.field.substr(8), ds), vb = MetricValue(b, o.field.substr(8), ds);
    if (va.has_value() != vb.has_value()) return va.has_value();
    if (!va || *va == *vb) return std::nullopt;
    return o.ascending ? *va < *vb : *va > *vb;
  };
  auto key = [](const LoggedModel& m, const std::string& f) -> std::pair<int64_t, std::string> {
    if (f == "creation_timestamp" || f == "creation_time") return {m.creation_time, ""};
    if (f == "last_updated_timestamp") return {m.last_updated_time, ""};
    if (f == "name") return {0, m.name};
    if (f == "model_type") return {0, m.model_type};
    if (f == "status") return {0, m.status};
    return {0, m.model_id};
  };
  std::stable_sort(all.begin(), all.end(), [&](const LoggedModel& a, const LoggedModel& b) {
    for (const auto& o : order) {
      if (o.field.rfind("metrics.", 0) == 0) {
        if (auto less = metric_less(a, b, o)) return *less;
        continue;
      }
      auto ka = key(a, o.field), kb = key(b, o.field);
      if (ka != kb) return o.ascending ? ka < kb : kb < ka;
    }
    return a.model_id < b.model_id;
  });
  std::vector<LoggedModel> page;
  for (int64_t i = offset; i < static_cast<int64_t>(all.size()) && i < offset + s.max_results; ++i)
    page.push_back(all[static_cast<size_t>(i)]);
  std::string next;
  if (offset + s.max_results < static_cast<int64_t>(all.size())) {
    next = store::EncodeOffsetToken(offset + s.max_results);
  }
  return std::make_pair(std::move(page), next);
}

std::string LoggedModelJson(const LoggedModel& m) {
  json info = {{"model_id", m.model_id},
               {"experiment_id", m.experiment_id},
               {"name", m.name},
               {"creation_timestamp_ms", m.creation_time},
               {"last_updated_timestamp_ms", m.last_updated_time},
               {"artifact_uri", m.artifact_uri},
               {"status", m.status}};
  if (!m.model_type.empty()) info["model_type"] = m.model_type;
  if (!m.source_run_id.empty()) info["source_run_id"] = m.source_run_id;
  if (!m.status_message.empty()) info["status_message"] = m.status_message;
  if (!m.tags.empty()) {
    json tags = json::array();
    for (const auto& [k, v] : m.tags) tags.push_back({{"key", k}, {"value", v}});
    info["tags"] = tags;
  }
  json data = json::object();
  if (!m.metrics.empty()) {
    json metrics = json::array();
    for (const store::RunMetric& rm : m.metrics) {
      const store::Metric& x = rm.metric;
      json j = {{"key", x.key}, {"timestamp", x.timestamp}, {"step", x.step},
                {"model_id", m.model_id}, {"run_id", rm.run_id}};
      // proto3 JSON spells the values JSON has no number for.
      if (std::isnan(x.value)) {
        j["value"] = "NaN";
      } else if (std::isinf(x.value)) {
        j["value"] = x.value > 0 ? "Infinity" : "-Infinity";
      } else {
        j["value"] = x.value;
      }
      if (!x.dataset_name.empty()) j["dataset_name"] = x.dataset_name;
      if (!x.dataset_digest.empty()) j["dataset_digest"] = x.dataset_digest;
      metrics.push_back(j);
    }
    data["metrics"] = metrics;
  }
  if (!m.params.empty()) {
    json params = json::array();
    for (const auto& [k, v] : m.params) params.push_back({{"key", k}, {"value", v}});
    data["params"] = params;
  }
  return Dump({{"info", info}, {"data", data}});
}

}  // namespace ringo::api
