// Parser for MLflow's search filter and order_by languages, one grammar for every search:
// runs, experiments, registered models, model versions and logged models.
#ifndef RINGO_STORE_SEARCH_FILTER_H_
#define RINGO_STORE_SEARCH_FILTER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ringo::store {

// What a filter clause or order key refers to.
enum class Entity { kAttribute, kMetric, kParam, kTag, kDataset };

enum class Comparator { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kILike, kIn, kNotIn };

// One `identifier comparator value` clause; clauses of a filter are AND-ed.
struct Clause {
  Entity entity = Entity::kAttribute;
  // Metric/param/tag key as written (quotes removed). For attributes the canonical name:
  // runs: run_id, run_name, status, user_id, artifact_uri, start_time, end_time, lifecycle_stage
  // ("created"/"Created" map to start_time, "run name"/"run_name" to run_name);
  // experiments: name, creation_time, last_update_time. For datasets: name, digest, context.
  std::string key;
  Comparator op = Comparator::kEq;
  bool numeric = false;             // true: compare number_value; false: string_value/values
  double number_value = 0;          // metric and numeric attribute comparisons
  std::string string_value;         // string comparisons (LIKE patterns kept as written)
  std::vector<std::string> values;  // IN / NOT IN lists
};

// One order_by item.
struct OrderKey {
  Entity entity = Entity::kAttribute;
  std::string key;  // canonical attribute name as in Clause, or the metric/param/tag key
  bool ascending = true;
};

// Parses a runs/search filter. Empty or all-whitespace input gives no clauses.
// Fails with kInvalidArgument naming the offending token, e.g.
// "invalid filter 'metrics.acc >> 1': unexpected token '>'".
Result<std::vector<Clause>> ParseRunFilter(std::string_view filter);

// Parses one runs/search order_by item ("metrics.acc DESC", "start_time", "tags.`a b` ASC").
Result<OrderKey> ParseRunOrderBy(std::string_view order_by);

// Parses an experiments/search filter: attributes name (string comparators),
// creation_time / last_update_time (numeric), and tags.<key> (string comparators).
Result<std::vector<Clause>> ParseExperimentFilter(std::string_view filter);

// Parses one experiments/search order_by item: name, experiment_id, creation_time,
// last_update_time, each optionally ASC/DESC.
Result<OrderKey> ParseExperimentOrderBy(std::string_view order_by);

// Registered models: name (with IN), tags.<key>; order by name, creation_timestamp,
// last_updated_timestamp (or timestamp).
Result<std::vector<Clause>> ParseRegisteredModelFilter(std::string_view filter);
Result<OrderKey> ParseRegisteredModelOrderBy(std::string_view order_by);

// Model versions: name, run_id, source_path (with IN), version_number (numeric; '3' too),
// tags.<key>; order by name, version_number, creation_timestamp, last_updated_timestamp.
Result<std::vector<Clause>> ParseModelVersionFilter(std::string_view filter);
Result<OrderKey> ParseModelVersionOrderBy(std::string_view order_by);

// Logged models: name, model_type, status, source_run_id, model_id (string comparators and IN),
// creation_time, last_updated_time (numeric), metrics.<key> (numeric), tags.<key>, params.<key>.
Result<std::vector<Clause>> ParseLoggedModelFilter(std::string_view filter);

// A clause evaluated in memory against the value it names: nullopt (an absent tag or param)
// matches nothing; numeric clauses compare the value read as a number.
bool ClauseMatches(const Clause& c, const std::optional<std::string>& value);

}  // namespace ringo::store

#endif  // RINGO_STORE_SEARCH_FILTER_H_
