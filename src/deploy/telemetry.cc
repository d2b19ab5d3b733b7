// Device telemetry: the event schema every post is checked against, storage per model version,
// the summary the UI shows and the health signals triggers and release policies read.
#include <algorithm>
#include <cmath>
#include <map>

#include "deploy/deploy.h"
#include "deploy/service_impl.h"

namespace ringo::deploy {

namespace {

// Telemetry comes from device tokens, which ship inside apps: anyone can send it. Each event is
// rebuilt from the fields below, each checked for type and size; anything else is dropped.
constexpr int kTelemetryMaxDepth = 8;
struct TelemetryStringField {
  const char* name;
  size_t max_size;
  bool required;
};
constexpr TelemetryStringField kTelemetryStrings[] = {
    {"event", 32, true},        {"model", 256, true},       {"version", 64, true},
    {"device_class", 64, false}, {"os", 32, false},          {"os_version", 32, false},
    {"app_version", 32, false},  {"region", 16, false},      {"compute_unit", 32, false},
    {"error", 1024, false},
};

Result<json> CleanTelemetryEvent(const json& e, size_t index) {
  std::string where = "telemetry event " + std::to_string(index);
  if (!e.is_object()) return InvalidArgument(where + " is not an object");
  json out = json::object();
  for (const TelemetryStringField& f : kTelemetryStrings) {
    auto it = e.find(f.name);
    if (it == e.end() || it->is_null()) {
      if (f.required) return InvalidArgument(where + " lacks the string field '" + f.name + "'");
      continue;
    }
    if (!it->is_string()) return InvalidArgument(where + ": '" + f.name + "' must be a string");
    std::string v = it->get<std::string>();
    if (f.required && v.empty()) {
      return InvalidArgument(where + " lacks the string field '" + f.name + "'");
    }
    if (v.size() > f.max_size) {
      return InvalidArgument(where + ": '" + f.name + "' is longer than " +
                             std::to_string(f.max_size) + " bytes");
    }
    out[f.name] = std::move(v);
  }
  const std::string& event = out["event"].get_ref<const std::string&>();
  if (std::find(kTelemetryKinds.begin(), kTelemetryKinds.end(), event) == kTelemetryKinds.end()) {
    return InvalidArgument(where + " has unknown event '" + event +
                           "' (downloaded, compiled, loaded, failed, prediction, feedback)");
  }
  if (auto it = e.find("correct"); it != e.end() && !it->is_null()) {
    if (!it->is_boolean()) return InvalidArgument(where + ": correct must be true or false");
    out["correct"] = it->get<bool>();
  } else if (event == "feedback") {
    return InvalidArgument(where + ": a feedback event needs correct (true or false)");
  }
  if (auto it = e.find("latency_ms"); it != e.end() && !it->is_null()) {
    double v = it->is_number() ? it->get<double>() : -1;
    if (!it->is_number() || !std::isfinite(v) || v < 0 || v > 1e9) {
      return InvalidArgument(where + ": latency_ms must be a number of milliseconds >= 0");
    }
    out["latency_ms"] = v;
  }
  if (auto it = e.find("time"); it != e.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return InvalidArgument(where + ": time must be milliseconds since the epoch");
    }
    out["time"] = it->get<int64_t>();
  } else {
    out["time"] = NowMillis();
  }
  return out;
}

}  // namespace

Result<std::vector<TelemetryEvent>> ParseTelemetry(std::string_view body) {
  if (!JsonDepthWithin(body, kTelemetryMaxDepth)) {
    return InvalidArgument("telemetry nests deeper than " + std::to_string(kTelemetryMaxDepth) +
                           " levels; events are flat objects");
  }
  json events = json::parse(body, nullptr, false);
  if (events.is_discarded()) return InvalidArgument("telemetry is not JSON");
  if (events.is_object() && events.contains("events")) events = std::move(events["events"]);
  if (!events.is_array())
    return InvalidArgument("telemetry must be a JSON array of events (or {\"events\": [...]})");
  if (events.size() > 1000) return InvalidArgument("at most 1000 telemetry events per request");
  std::vector<TelemetryEvent> out;
  out.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    ASSIGN_OR_RETURN(json e, CleanTelemetryEvent(events[i], i));
    out.push_back({e["model"].get<std::string>(), e["version"].get<std::string>(), e.dump()});
  }
  return out;
}

Status Service::RecordTelemetry(const std::string& events_json) {
  ASSIGN_OR_RETURN(std::vector<TelemetryEvent> events, ParseTelemetry(events_json));
  if (events.empty()) return Status::Ok();
  // The whole batch is queued at once (the store's one writer keeps the order and commits them
  // together), then waited for: one round trip per request, not one per event.
  struct Batch {
    std::mutex mu;
    size_t left = 0;
    Status first;
    store::Done done;
  };
  return store::Wait([&](store::Done done) {
    auto batch = std::make_shared<Batch>();
    batch->left = events.size();
    batch->done = std::move(done);
    for (TelemetryEvent& e : events) {
      impl_->store->AppendEvent(kTelemetry, e.model + "/" + e.version, std::move(e.json),
                                [batch](Status s) {
                                  std::unique_lock lock(batch->mu);
                                  if (!s.ok() && batch->first.ok()) batch->first = s;
                                  if (--batch->left > 0) return;
                                  Status first = batch->first;
                                  lock.unlock();
                                  batch->done(first);
                                });
    }
  });
}

Result<std::vector<store::Event>> Service::Telemetry(const std::string& model,
                                                     const std::string& version,
                                                     int64_t after_seq, int64_t limit) {
  return impl_->store->ListEvents(kTelemetry, model + "/" + version, after_seq, limit);
}

namespace {

// One telemetry event reduced to what the summary needs.
struct Point {
  int64_t time = 0;
  int kind = 0;    // index into kTelemetryKinds
  int device = 0;  // index into each breakdown's names: device class, OS version, app version
  int os_version = 0;
  int app_version = 0;
  double latency = 0;
  bool has_latency = false;
  bool failure = false;  // a "failed" event or a prediction with an error
  bool attempt = false;  // a "failed", "loaded" or "prediction" event: failure_rate's whole
};

// The distinct values of one event field, in the order first seen; "unknown" for events
// without it.
struct Names {
  std::vector<std::string> list;
  std::map<std::string, int> index;
  int Add(const json& event, const char* field) {
    auto it = event.find(field);
    std::string v = it != event.end() && it->is_string() ? it->get<std::string>() : "";
    if (v.empty()) v = "unknown";
    auto [at, added] = index.emplace(v, static_cast<int>(list.size()));
    if (added) list.push_back(v);
    return at->second;
  }
};

// The value at quantile q of xs (sorted in place): xs[floor(q * n)], the same pick the UI made
// when it computed these in the browser. Null for no values.
json Quantile(std::vector<double>& xs, double q) {
  if (xs.empty()) return nullptr;
  std::sort(xs.begin(), xs.end());
  size_t i = std::min(xs.size() - 1, static_cast<size_t>(q * static_cast<double>(xs.size())));
  return xs[i];
}


// Failures over attempts, as the failure_rate signal counts them; null without attempts.
json FailureRate(int64_t failures, int64_t attempts) {
  if (attempts == 0) return nullptr;
  return static_cast<double>(failures) / static_cast<double>(attempts);
}

// One row per value of a field (`key`: its name in the row), in name order: the count of each
// event type, the failure rate and the latency quantiles of its predictions.
json Breakdown(const std::vector<Point>& points, const Names& names, int Point::*field,
               const char* key) {
  struct Row {
    std::vector<int64_t> counts = std::vector<int64_t>(kTelemetryKinds.size(), 0);
    std::vector<double> latencies;
    int64_t failures = 0, attempts = 0;
  };
  std::map<std::string, Row> rows;
  for (const Point& p : points) {
    Row& r = rows[names.list[p.*field]];
    ++r.counts[p.kind];
    if (p.has_latency) r.latencies.push_back(p.latency);
    r.failures += p.failure;
    r.attempts += p.attempt;
  }
  json out = json::array();
  for (auto& [name, r] : rows) {
    json counts = json::object();
    for (size_t k = 0; k < kTelemetryKinds.size(); ++k) counts[kTelemetryKinds[k]] = r.counts[k];
    out.push_back({{key, name},
                   {"counts", counts},
                   {"failure_rate", FailureRate(r.failures, r.attempts)},
                   {"p50_latency_ms", Quantile(r.latencies, 0.5)},
                   {"p95_latency_ms", Quantile(r.latencies, 0.95)}});
  }
  return out;
}

// At most `buckets` equal time buckets of at least a second from `lo` to `hi`: counts of each
// event type and the median latency of each device class.
json Buckets(const std::vector<Point>& points, const Names& devices, int64_t lo, int64_t hi,
             int buckets) {
  double width = std::max(1000.0, static_cast<double>(hi - lo) / buckets);
  int n = std::max(1, std::min(buckets, static_cast<int>((hi - lo) / width) + 1));
  auto at = [&](int64_t t) {
    return std::min(n - 1, static_cast<int>(static_cast<double>(t - lo) / width));
  };
  std::vector<std::vector<int64_t>> counts(kTelemetryKinds.size());
  std::map<std::string, std::vector<std::vector<double>>> lat;
  for (const Point& p : points) {
    int b = at(p.time);
    if (counts[p.kind].empty()) counts[p.kind].assign(n, 0);
    ++counts[p.kind][b];
    if (p.has_latency) {
      auto& v = lat[devices.list[p.device]];
      if (v.empty()) v.resize(n);
      v[b].push_back(p.latency);
    }
  }
  json start = json::array();
  for (int i = 0; i < n; ++i) start.push_back(lo + static_cast<int64_t>(i * width));
  json by_kind = json::object();
  for (size_t k = 0; k < kTelemetryKinds.size(); ++k) {
    if (!counts[k].empty()) by_kind[kTelemetryKinds[k]] = counts[k];
  }
  json latency = json::object();
  for (auto& [name, per_bucket] : lat) {
    json v = json::array();
    for (auto& xs : per_bucket) v.push_back(Quantile(xs, 0.5));
    latency[name] = v;
  }
  return {{"start", start},
          {"width_ms", static_cast<int64_t>(width)},
          {"counts", by_kind},
          {"latency_p50_ms", latency}};
}

}  // namespace

Result<Service::Signal> Service::TelemetrySignal(const std::string& collection,
                                                 const std::string& channel,
                                                 const std::string& signal,
                                                 const std::string& device_class,
                                                 int64_t window_ms, int64_t now_ms) {
  ASSIGN_OR_RETURN(Channel c, GetChannel(collection, channel));
  if (c.deployment_id.empty()) {
    return NotFound("channel '" + collection + "/" + channel + "' has no deployment");
  }
  return DeploymentSignal(c.deployment_id, signal, device_class, now_ms - window_ms, now_ms);
}

Result<Service::Signal> Service::DeploymentSignal(const std::string& deployment_id,
                                                   const std::string& signal,
                                                   const std::string& device_class,
                                                   int64_t from_ms, int64_t to_ms) {
  static const std::vector<std::string> kSignals = {"accuracy", "failure_rate", "load_failures",
                                                    "p95_latency_ms"};
  if (std::find(kSignals.begin(), kSignals.end(), signal) == kSignals.end()) {
    return InvalidArgument("unknown telemetry signal '" + signal + "'");
  }
  ASSIGN_OR_RETURN(Deployment d, GetDeployment(deployment_id));
  std::map<std::string, int64_t> counts;
  int64_t correct = 0;
  std::vector<double> latencies;
  for (const ModelEntry& m : d.models) {
    int64_t after = 0;
    for (;;) {
      ASSIGN_OR_RETURN(auto page, Telemetry(m.name, m.version, after, 5000));
      if (page.empty()) break;
      after = page.back().seq;
      for (const store::Event& e : page) {
        json j = json::parse(e.value, nullptr, false);
        if (!j.is_object()) continue;
        int64_t t = j.value("time", e.time);
        if (t < from_ms || t > to_ms) continue;
        if (!device_class.empty() && j.value("device_class", "") != device_class) continue;
        std::string kind = j.value("event", "");
        ++counts[kind];
        if (kind == "feedback" && j.value("correct", false)) ++correct;
        if (kind == "prediction" && j.contains("error")) ++counts["prediction_errors"];
        if (kind == "prediction" && j.contains("latency_ms") && j["latency_ms"].is_number()) {
          latencies.push_back(j["latency_ms"].get<double>());
        }
      }
    }
  }
  Signal out;
  auto share = [&out](int64_t part, int64_t whole) {
    out.samples = whole;
    out.value = whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0;
  };
  if (signal == "accuracy") share(correct, counts["feedback"]);
  if (signal == "failure_rate") {
    share(counts["failed"] + counts["prediction_errors"],
          counts["failed"] + counts["loaded"] + counts["prediction"]);
  }
  if (signal == "load_failures") share(counts["failed"], counts["failed"] + counts["loaded"]);
  if (signal == "p95_latency_ms" && !latencies.empty()) {
    size_t k = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(latencies.size()))) - 1;
    std::nth_element(latencies.begin(), latencies.begin() + static_cast<std::ptrdiff_t>(k),
                     latencies.end());
    out.value = latencies[k];
    out.samples = static_cast<int64_t>(latencies.size());
  }
  return out;
}

Result<std::string> Service::TelemetrySummary(const std::string& model,
                                              const std::string& version,
                                              const std::string& device_class, int buckets,
                                              int64_t from_ms, int64_t to_ms) {
  if (buckets < 1 || buckets > 1000) return InvalidArgument("buckets must be between 1 and 1000");
  if (from_ms > to_ms) return InvalidArgument("the time range ends before it starts");
  // Every event, in pages, reduced to a few numbers each: true totals whatever their number.
  Names devices, os_versions, app_versions;
  std::vector<Point> points;
  std::vector<json> failures;  // kept sorted by time, newest first, at most kMaxFailures
  constexpr size_t kMaxFailures = 20;
  auto failure_newer = [](const json& a, const json& b) {
    return a.value("time", int64_t{0}) > b.value("time", int64_t{0});
  };
  int64_t after = 0;
  for (;;) {
    ASSIGN_OR_RETURN(auto page, Telemetry(model, version, after, 5000));
    if (page.empty()) break;
    after = page.back().seq;
    for (const store::Event& e : page) {
      json j = json::parse(e.value, nullptr, false);
      if (!j.is_object()) continue;
      std::string kind = j.value("event", "");
      auto k = std::find(kTelemetryKinds.begin(), kTelemetryKinds.end(), kind);
      if (k == kTelemetryKinds.end()) continue;
      Point p;
      p.device = devices.Add(j, "device_class");
      if (!device_class.empty() && devices.list[p.device] != device_class) continue;
      p.time = j.contains("time") && j["time"].is_number() ? j["time"].get<int64_t>() : e.time;
      if (p.time < from_ms || p.time > to_ms) continue;
      p.kind = static_cast<int>(k - kTelemetryKinds.begin());
      p.os_version = os_versions.Add(j, "os_version");
      p.app_version = app_versions.Add(j, "app_version");
      if (kind == "prediction" && j.contains("latency_ms") && j["latency_ms"].is_number()) {
        p.latency = j["latency_ms"].get<double>();
        p.has_latency = true;
      }
      p.failure = kind == "failed" || (kind == "prediction" && j.contains("error"));
      p.attempt = kind == "failed" || kind == "loaded" || kind == "prediction";
      points.push_back(p);
      if (kind == "failed") {
        j["time"] = p.time;
        if (failures.size() < kMaxFailures || failure_newer(j, failures.back())) {
          failures.insert(std::upper_bound(failures.begin(), failures.end(), j, failure_newer),
                          std::move(j));
          if (failures.size() > kMaxFailures) failures.pop_back();
        }
      }
    }
  }

  json out = {{"model", model}, {"version", version}, {"total", points.size()}};
  std::vector<std::string> sorted_devices = devices.list;
  std::sort(sorted_devices.begin(), sorted_devices.end());
  out["device_classes"] = sorted_devices;
  out["latest_failures"] = failures;
  int64_t failed = 0, attempts = 0;
  for (const Point& p : points) {
    failed += p.failure;
    attempts += p.attempt;
  }
  out["failure_rate"] = FailureRate(failed, attempts);
  out["devices"] = Breakdown(points, devices, &Point::device, "device_class");
  out["os_versions"] = Breakdown(points, os_versions, &Point::os_version, "os_version");
  out["app_versions"] = Breakdown(points, app_versions, &Point::app_version, "app_version");
  if (points.empty()) return out.dump();
  int64_t lo = points[0].time, hi = points[0].time;
  for (const Point& p : points) {
    lo = std::min(lo, p.time);
    hi = std::max(hi, p.time);
  }
  out["first_time"] = lo;
  out["last_time"] = hi;
  out["buckets"] = Buckets(points, devices, lo, hi, buckets);
  return out.dump();
}

}  // namespace ringo::deploy
