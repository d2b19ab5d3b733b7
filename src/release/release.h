// The release loop of a collection: a policy says how a new model version moves on by itself.
// New versions of the policy's model pass gates (evaluation metrics, "not worse than release",
// size, the interface contracts of apps), go to the staging channel (testers), and after a
// soak with healthy tester telemetry (or an approval) to the release channel in rollout steps
// (e.g. 1% -> 10% -> 50% -> 100%, each held for a time and a number of events). While a step is
// held the new deployment's telemetry is compared with the previous one's; crossing a limit
// halts the rollout and rolls the channel back. Every automatic action is in the channel's
// history with actor "policy", its reason and the numbers behind it.
#ifndef RINGO_RELEASE_RELEASE_H_
#define RINGO_RELEASE_RELEASE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "deploy/deploy.h"
#include "store/store.h"

namespace ringo::release {

struct MetricGate {
  std::string metric;
  std::optional<double> min, max;
};

struct Policy {
  std::string collection;
  std::string model;  // the registered model whose new versions are candidates
  // Gates, on the candidate version's run.
  std::vector<MetricGate> metrics;
  std::string compare_metric;  // with max_drop >= 0: not worse than release's version by more
  double max_drop = -1;
  int64_t max_size_bytes = 0;  // 0: no budget
  // Staging.
  std::string staging_channel = "staging";
  int64_t soak_seconds = 600;
  int64_t staging_min_samples = 0;
  bool require_approval = false;
  // Release.
  std::string release_channel = "release";
  std::vector<int> steps = {1, 10, 50, 100};
  int64_t hold_seconds = 300;
  int64_t min_samples = 100;  // events a step (or a halt) needs
  // Halt limits on the new deployment's telemetry during a step (0 or below: off).
  double max_failure_rate = 0.05;
  double max_load_failures = 0.05;
  double max_latency_ratio = 0;   // p95 latency over the previous deployment's
  double max_accuracy_drop = 0;   // below the previous deployment's on-device accuracy
  int64_t evaluate_seconds = 10;
  // State.
  int64_t last_version = 0;  // versions up to this one are not candidates
};

struct Gate {
  std::string name;
  bool passed = false;
  std::string detail;
};

struct Candidate {
  std::string collection, model;
  int64_t version = 0;
  // rejected | staging | rollout | released | halted
  std::string stage;
  std::vector<Gate> gates;
  std::string deployment_id;
  int step = -1;          // index into the policy's steps during rollout
  int64_t since = 0;      // ms: when the stage (or the step) began
  bool approved = false;
  std::string note;       // the latest decision, with its numbers
  int64_t updated = 0;
};

std::string PolicyToJson(const Policy& p);
// kInvalidArgument naming the bad field. `collection`, when given, is the policy's collection
// (the JSON may leave it out, and may not name another).
Result<Policy> PolicyFromJson(std::string_view json, std::string_view collection = "");
std::string CandidateToJson(const Candidate& c);

// Runs every policy of a store from one thread (each policy every evaluate_seconds). Thread-safe.
class ReleaseManager {
 public:
  ReleaseManager(store::Store* store, deploy::Service* delivery);
  ~ReleaseManager();
  void Start();
  void Stop();

  // Versions already registered when the policy is set are not candidates.
  Result<Policy> SetPolicy(Policy policy);
  Result<Policy> GetPolicy(const std::string& collection);
  Status DeletePolicy(const std::string& collection);
  Result<std::vector<Candidate>> Candidates(const std::string& collection);
  // Lets the staging candidate (of `version`, or the newest) go to release without its soak.
  Result<Candidate> Approve(const std::string& collection, int64_t version);

  // One evaluation of every due policy at `now_ms`.
  void Tick(int64_t now_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringo::release

#endif  // RINGO_RELEASE_RELEASE_H_
