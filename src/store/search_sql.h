// Run and experiment searches compiled to SQL over the tracking schema that every SQL engine
// shares: parsed filters and order keys become one SELECT of ids with `?` placeholders and the
// values to bind, in order. An engine supplies what differs in its dialect.
#ifndef RINGO_STORE_SEARCH_SQL_H_
#define RINGO_STORE_SEARCH_SQL_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "store/paging.h"
#include "store/store.h"

namespace ringo::store {

using SqlValue = std::variant<std::string, int64_t, double>;

struct SqlQuery {
  std::string sql;
  std::vector<SqlValue> binds;  // one per `?`, in order
};

struct SqlDialect {
  // A boolean expression matching `column` against one bound LIKE pattern (`?`), with MLflow's
  // semantics: case-sensitive unless `case_insensitive`.
  std::string (*like)(const std::string& column, bool case_insensitive);
  // A boolean expression that is true when the integer flag `column` (0 or 1) is set: SQLite
  // takes the integer as a truth value, PostgreSQL needs a comparison.
  std::string (*flag)(const std::string& column) = nullptr;
  // The condition that always holds ("1" in SQLite, "TRUE" in PostgreSQL).
  const char* always_true = "1";
  // The placeholder of a number compared with an integer column (times): SQLite compares
  // across types, PostgreSQL would read the bound 1.5 or 1.7e+12 as the column's integer type.
  const char* number = "?";
  // The condition `column = value` on a param or tag value, its binds appended to `binds`; when
  // null, `column = ?`. PostgreSQL matches an indexed prefix of the value (values can exceed a
  // btree entry, so its index holds only the prefix).
  std::string (*value_equals)(const std::string& column, const std::string& value,
                              std::vector<SqlValue>* binds) = nullptr;
};

// The columns of a run's RunInfo, over `runs` aliased r, in the order runs::ReadInfo reads them.
inline constexpr const char* kRunInfoColumns =
    "r.run_id, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, "
    "r.artifact_uri, r.lifecycle_stage";

// "SELECT <kRunInfoColumns> FROM runs r ..." for one page from `offset`, limited to
// max_results + 1 rows (the extra row says another page follows): the page's runs come with
// their info, so loading them does not read `runs` again. kInvalidArgument for a bad filter,
// order or limit.
// The filter's metric, param and tag clauses are all IN-subqueries for the engine's planner to
// choose from, or, given a `driver` (the position of one among them), that one is and the
// others are checked run by run: an engine whose statistics may be stale (SQLite's) otherwise
// builds the list of every clause's runs, thousands where the driver matches a few hundred.
// With `driver` kRunsDrive, no clause drives: the experiments' runs are walked and every clause
// is checked run by run. With a clause as driver, the experiments' runs are not looked up by
// their index (SQLite, planning from stale statistics, walked all 10k runs of the experiment
// with the driver's 1,000 runs at hand: 18 ms against 3).
Result<SqlQuery> CompileRunSearch(const RunSearch& search, int64_t offset,
                                  const SqlDialect& dialect,
                                  std::optional<size_t> driver = std::nullopt);
inline constexpr size_t kRunsDrive = static_cast<size_t>(-1);

// One query per metric, param and tag clause of the filter, in order, counting the rows its
// index holds for it, up to `limit`: the cheapest way to choose a driver.
Result<std::vector<SqlQuery>> CompileClauseProbes(const RunSearch& search, int64_t limit,
                                                  const SqlDialect& dialect);

// The query counting the search's experiments' runs in its view, up to `limit`: what walking
// them instead of a clause's index would cost.
Result<SqlQuery> CompileRunsProbe(const RunSearch& search, int64_t limit,
                                  const SqlDialect& dialect);

// "SELECT e.experiment_id FROM experiments e ..." likewise.
Result<SqlQuery> CompileExperimentSearch(const ExperimentSearch& search, int64_t offset,
                                         const SqlDialect& dialect);

}  // namespace ringo::store

#endif  // RINGO_STORE_SEARCH_SQL_H_
