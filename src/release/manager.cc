// The release manager: candidates through gates, staging, rollout steps, halts and rollbacks.
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/periodic.h"
#include "common/util.h"
#include "release/release.h"

namespace ringo::release {

namespace {

using nlohmann::json;

constexpr const char* kPolicy = "release_policy";
constexpr const char* kCandidate = "release_candidate";
constexpr const char* kActor = "policy";

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

Candidate CandidateFrom(const json& j) {
  Candidate c;
  c.collection = j.value("collection", "");
  c.model = j.value("model", "");
  c.version = j.value("version", int64_t{0});
  c.stage = j.value("stage", "");
  for (const json& g : j.value("gates", json::array())) {
    c.gates.push_back({g.value("name", ""), g.value("passed", false), g.value("detail", "")});
  }
  c.deployment_id = j.value("deployment_id", "");
  c.step = j.value("step", -1);
  c.since = j.value("since", int64_t{0});
  c.approved = j.value("approved", false);
  c.note = j.value("note", "");
  c.updated = j.value("updated", int64_t{0});
  return c;
}

std::string CandidateKey(const Candidate& c) {
  char v[24];
  std::snprintf(v, sizeof v, "%012lld", static_cast<long long>(c.version));
  return c.collection + "/" + c.model + "/" + v;
}

std::optional<double> RunMetric(store::Store* st, const std::string& run_id,
                                const std::string& metric) {
  if (run_id.empty()) return std::nullopt;
  auto run = st->GetRun(run_id);
  if (!run.ok()) return std::nullopt;
  for (const store::Metric& m : run->metrics) {
    if (m.key == metric && !std::isnan(m.value)) return m.value;
  }
  return std::nullopt;
}

}  // namespace

struct ReleaseManager::Impl {
  store::Store* store;
  deploy::Service* delivery;
  std::mutex mu;
  Periodic ticker;  // the background evaluation, once a second
  std::map<std::string, int64_t> last_run_ms;

  Status Put(const char* kind, const std::string& key, const std::string& value) {
    return store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
             store->PutDocument(kind, key, value, -1, "", std::move(done));
           })
        .status();
  }
  Status Save(Candidate& c, int64_t now_ms) {
    c.updated = now_ms;
    return Put(kCandidate, CandidateKey(c), CandidateToJson(c));
  }

  std::vector<Gate> Gates(const Policy& p, const store::ModelVersion& v);
  void Discover(Policy& p, int64_t now_ms);
  void AdvanceStaging(const Policy& p, Candidate& c, bool rollout_busy, int64_t now_ms);
  void AdvanceRollout(const Policy& p, Candidate& c, int64_t now_ms);
  void RunPolicy(Policy p, int64_t now_ms);
  Result<std::vector<Candidate>> Load(const std::string& collection);
};

std::vector<Gate> ReleaseManager::Impl::Gates(const Policy& p, const store::ModelVersion& v) {
  std::vector<Gate> gates;
  for (const MetricGate& g : p.metrics) {
    auto value = RunMetric(store, v.run_id, g.metric);
    Gate gate{"metric " + g.metric, false, ""};
    if (!value) {
      gate.detail = "the version's run has no " + g.metric;
    } else {
      gate.passed = (!g.min || *value >= *g.min) && (!g.max || *value <= *g.max);
      gate.detail = g.metric + " " + Num(*value) + (g.min ? " (min " + Num(*g.min) + ")" : "") +
                    (g.max ? " (max " + Num(*g.max) + ")" : "");
    }
    gates.push_back(gate);
  }
  if (p.max_drop >= 0) {
    Gate gate{"not worse than release", true, "nothing in release yet"};
    auto channel = delivery->GetChannel(p.collection, p.release_channel);
    if (channel.ok() && !channel->deployment_id.empty()) {
      auto dep = delivery->GetDeployment(channel->deployment_id);
      for (const deploy::ModelEntry& m : dep.ok() ? dep->models : std::vector<deploy::ModelEntry>{}) {
        if (m.name != p.model) continue;
        auto rv = store->GetModelVersion(m.name, ParseInt64(m.version).value_or(0));
        auto base = rv.ok() ? RunMetric(store, rv->run_id, p.compare_metric) : std::nullopt;
        auto mine = RunMetric(store, v.run_id, p.compare_metric);
        if (!base) break;
        gate.passed = mine && *mine >= *base - p.max_drop;
        gate.detail = p.compare_metric + " " + (mine ? Num(*mine) : "missing") + " vs release's " +
                      Num(*base) + " (may drop " + Num(p.max_drop) + ")";
      }
    }
    gates.push_back(gate);
  }
  if (p.max_size_bytes > 0) {
    gates.push_back({"size", v.size > 0 && v.size <= p.max_size_bytes,
                     std::to_string(v.size) + " bytes (budget " + std::to_string(p.max_size_bytes) + ")"});
  }
  return gates;
}

// New versions of the policy's model become candidates: gated, then deployed to staging.
void ReleaseManager::Impl::Discover(Policy& p, int64_t now_ms) {
  store::RegistrySearch search;
  search.filter = "name = '" + p.model + "' AND version_number > " + std::to_string(p.last_version);
  search.order_by = {"version_number ASC"};
  search.max_results = 100;
  auto page = store->SearchModelVersions(search);
  if (!page.ok()) return;
  for (const store::ModelVersion& v : page->versions) {
    Candidate c;
    c.collection = p.collection;
    c.model = p.model;
    c.version = v.version;
    c.gates = Gates(p, v);
    c.since = now_ms;
    bool passed = true;
    for (const Gate& g : c.gates) passed &= g.passed;
    if (passed) {
      auto dep = delivery->CreateDeployment(p.collection, {{p.model, std::to_string(v.version)}});
      if (!dep.ok()) {
        c.gates.push_back({"deployable", false, dep.status().message()});
        passed = false;
      } else {
        c.deployment_id = dep->id;
        std::string why = "candidate " + p.model + " version " + std::to_string(v.version) +
                          " passed its gates";
        auto promoted = delivery->Promote(p.collection, p.staging_channel, dep->id, 100, why, kActor,
                                          false);
        c.gates.push_back({"interface", promoted.ok(),
                           promoted.ok() ? "compatible with every app contract"
                                         : promoted.status().message()});
        passed = promoted.ok();
      }
    }
    c.stage = passed ? "staging" : "rejected";
    c.note = passed ? "in " + p.staging_channel + " for testers" : "stopped at its gates";
    (void)Save(c, now_ms);
    p.last_version = v.version;
  }
}

void ReleaseManager::Impl::AdvanceStaging(const Policy& p, Candidate& c, bool rollout_busy,
                                          int64_t now_ms) {
  auto fr = delivery->DeploymentSignal(c.deployment_id, "failure_rate", "", c.since, now_ms);
  if (fr.ok() && fr->samples >= std::max<int64_t>(p.staging_min_samples, 1) &&
      p.max_failure_rate > 0 && fr->value > p.max_failure_rate) {
    c.stage = "halted";
    c.note = "testers' failure rate " + Num(fr->value) + " > " + Num(p.max_failure_rate) +
             " over " + std::to_string(fr->samples) + " events; not released";
    (void)Save(c, now_ms);
    return;
  }
  bool soaked = now_ms - c.since >= p.soak_seconds * 1000 && !p.require_approval &&
                (fr.ok() && fr->samples >= p.staging_min_samples);
  if (!(c.approved || soaked) || rollout_busy) return;
  std::string why = std::string(c.approved ? "approved" : "soaked") + " in " + p.staging_channel +
                    (fr.ok() ? " (failure rate " + Num(fr->value) + " over " +
                                   std::to_string(fr->samples) + " events)"
                             : "") +
                    "; rollout step 1 of " + std::to_string(p.steps.size());
  auto r = delivery->Promote(p.collection, p.release_channel, c.deployment_id, p.steps[0], why,
                             kActor, false);
  if (!r.ok()) {
    c.note = "release refused: " + r.status().message();
    c.stage = "halted";
  } else {
    c.stage = "rollout";
    c.step = 0;
    c.since = now_ms;
    c.note = why;
  }
  (void)Save(c, now_ms);
}

// Holds a step, halts and rolls back on bad telemetry, or moves to the next step.
void ReleaseManager::Impl::AdvanceRollout(const Policy& p, Candidate& c, int64_t now_ms) {
  auto channel = delivery->GetChannel(p.collection, p.release_channel);
  if (!channel.ok() || channel->deployment_id != c.deployment_id) {
    c.stage = "halted";
    c.note = "the release channel moved to another deployment";
    (void)Save(c, now_ms);
    return;
  }
  auto sig = [&](const std::string& dep, const char* name) {
    return delivery->DeploymentSignal(dep, name, "", c.since, now_ms);
  };
  const std::string prev = channel->previous_deployment_id;
  auto fr = sig(c.deployment_id, "failure_rate");
  auto lf = sig(c.deployment_id, "load_failures");
  auto p95 = sig(c.deployment_id, "p95_latency_ms");
  auto acc = sig(c.deployment_id, "accuracy");
  int64_t samples = fr.ok() ? fr->samples : 0;
  std::string why;
  if (samples >= p.min_samples) {
    if (p.max_failure_rate > 0 && fr->value > p.max_failure_rate) {
      why = "failure rate " + Num(fr->value) + " > " + Num(p.max_failure_rate);
    } else if (p.max_load_failures > 0 && lf.ok() && lf->samples > 0 && lf->value > p.max_load_failures) {
      why = "load failures " + Num(lf->value) + " > " + Num(p.max_load_failures);
    } else if (!prev.empty() && p.max_latency_ratio > 0 && p95.ok() && p95->samples > 0) {
      auto base = sig(prev, "p95_latency_ms");
      if (base.ok() && base->samples > 0 && base->value > 0 &&
          p95->value / base->value > p.max_latency_ratio) {
        why = "p95 latency " + Num(p95->value) + " ms vs " + Num(base->value) + " ms before";
      }
    }
    if (why.empty() && !prev.empty() && p.max_accuracy_drop > 0 && acc.ok() && acc->samples > 0) {
      auto base = sig(prev, "accuracy");
      if (base.ok() && base->samples > 0 && base->value - acc->value > p.max_accuracy_drop) {
        why = "on-device accuracy " + Num(acc->value) + " vs " + Num(base->value) + " before";
      }
    }
  }
  if (!why.empty()) {
    why = "halted at " + std::to_string(p.steps[static_cast<size_t>(c.step)]) + "%: " + why +
          " over " + std::to_string(samples) + " events";
    auto r = delivery->Rollback(p.collection, p.release_channel, why, kActor);
    c.stage = "halted";
    c.note = r.ok() ? why + "; rolled back" : why + "; rollback failed: " + r.status().message();
    (void)Save(c, now_ms);
    return;
  }
  if (now_ms - c.since < p.hold_seconds * 1000 || samples < p.min_samples) return;
  std::string health = "failure rate " + Num(fr.ok() ? fr->value : 0) + " over " +
                       std::to_string(samples) + " events";
  if (static_cast<size_t>(c.step) + 1 >= p.steps.size()) {
    c.stage = "released";
    c.note = "released to everyone (" + health + ")";
    (void)Save(c, now_ms);
    return;
  }
  int next = p.steps[static_cast<size_t>(c.step) + 1];
  std::string why_next = "held " + std::to_string(p.steps[static_cast<size_t>(c.step)]) + "% (" +
                         health + "); step " + std::to_string(c.step + 2) + " of " +
                         std::to_string(p.steps.size());
  auto r = delivery->SetRollout(p.collection, p.release_channel, next, why_next, kActor);
  if (!r.ok()) return;
  c.step += 1;
  c.since = now_ms;
  c.note = why_next;
  (void)Save(c, now_ms);
}

Result<std::vector<Candidate>> ReleaseManager::Impl::Load(const std::string& collection) {
  ASSIGN_OR_RETURN(auto docs, store->ListDocuments(kCandidate, collection + "/"));
  std::vector<Candidate> out;
  for (const store::Document& d : docs) {
    json j = json::parse(d.value, nullptr, false);
    if (j.is_object()) out.push_back(CandidateFrom(j));
  }
  return out;
}

void ReleaseManager::Impl::RunPolicy(Policy p, int64_t now_ms) {
  int64_t before = p.last_version;
  Discover(p, now_ms);
  if (p.last_version != before) (void)Put(kPolicy, p.collection, PolicyToJson(p));
  auto candidates = Load(p.collection);
  if (!candidates.ok()) return;
  bool rollout_busy = false;
  for (Candidate& c : *candidates) {
    if (c.stage == "rollout") {
      AdvanceRollout(p, c, now_ms);
      rollout_busy |= c.stage == "rollout";
    }
  }
  // The newest staging candidate goes next; older ones were superseded by it.
  Candidate* next = nullptr;
  for (Candidate& c : *candidates) {
    if (c.stage != "staging") continue;
    if (next) {
      next->stage = "superseded";
      next->note = "a newer candidate reached staging";
      (void)Save(*next, now_ms);
    }
    next = &c;
  }
  if (next) AdvanceStaging(p, *next, rollout_busy, now_ms);
}

ReleaseManager::ReleaseManager(store::Store* store, deploy::Service* delivery)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = store;
  impl_->delivery = delivery;
}

ReleaseManager::~ReleaseManager() { Stop(); }

void ReleaseManager::Start() {
  impl_->ticker.Start(std::chrono::seconds(1), [this] { Tick(NowMillis()); });
}

void ReleaseManager::Stop() { impl_->ticker.Stop(); }

void ReleaseManager::Tick(int64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  auto docs = impl_->store->ListDocuments(kPolicy, "");
  if (!docs.ok()) return;
  for (const store::Document& d : *docs) {
    auto p = PolicyFromJson(d.value);
    if (!p.ok()) continue;  // deleted (empty) policies
    int64_t& last = impl_->last_run_ms[p->collection];
    if (now_ms - last < p->evaluate_seconds * 1000) continue;
    last = now_ms;
    impl_->RunPolicy(std::move(*p), now_ms);
  }
}

Result<Policy> ReleaseManager::SetPolicy(Policy p) {
  ASSIGN_OR_RETURN(p, PolicyFromJson(PolicyToJson(p)));  // validates
  RETURN_IF_ERROR(impl_->delivery->GetCollection(p.collection).status());
  std::lock_guard lock(impl_->mu);
  auto old = GetPolicy(p.collection);
  if (old.ok() && old->model == p.model) {
    p.last_version = old->last_version;
  } else {
    store::RegistrySearch search;
    search.filter = "name = '" + p.model + "'";
    search.order_by = {"version_number DESC"};
    search.max_results = 1;
    auto page = impl_->store->SearchModelVersions(search);
    p.last_version = page.ok() && !page->versions.empty() ? page->versions[0].version : 0;
  }
  RETURN_IF_ERROR(impl_->Put(kPolicy, p.collection, PolicyToJson(p)));
  impl_->last_run_ms.erase(p.collection);
  return p;
}

Result<Policy> ReleaseManager::GetPolicy(const std::string& collection) {
  auto doc = impl_->store->GetDocument(kPolicy, collection);
  if (!doc.ok() || doc->value == "{}") {
    return NotFound("collection '" + collection + "' has no release policy");
  }
  return PolicyFromJson(doc->value);
}

Status ReleaseManager::DeletePolicy(const std::string& collection) {
  RETURN_IF_ERROR(GetPolicy(collection).status());
  std::lock_guard lock(impl_->mu);
  return impl_->Put(kPolicy, collection, "{}");
}

Result<std::vector<Candidate>> ReleaseManager::Candidates(const std::string& collection) {
  return impl_->Load(collection);
}

Result<Candidate> ReleaseManager::Approve(const std::string& collection, int64_t version) {
  std::lock_guard lock(impl_->mu);
  ASSIGN_OR_RETURN(auto all, impl_->Load(collection));
  Candidate* pick = nullptr;
  for (Candidate& c : all) {
    if (c.stage == "staging" && (version == 0 || c.version == version)) pick = &c;
  }
  if (!pick) {
    return NotFound("no candidate of collection '" + collection + "' is in staging" +
                    (version ? " at version " + std::to_string(version) : ""));
  }
  pick->approved = true;
  pick->note = "approved for release";
  RETURN_IF_ERROR(impl_->Save(*pick, NowMillis()));
  impl_->last_run_ms.erase(collection);  // act on it at the next tick
  return *pick;
}

}  // namespace ringo::release
