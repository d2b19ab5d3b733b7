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

// "SELECT r.run_id FROM runs r ..." for one page from `offset`, limited to max_results + 1 rows
// (the extra row says another page follows). kInvalidArgument for a bad filter, order or limit.
Result<SqlQuery> CompileRunSearch(const RunSearch& search, int64_t offset,
                                  const SqlDialect& dialect);

// "SELECT e.experiment_id FROM experiments e ..." likewise.
Result<SqlQuery> CompileExperimentSearch(const ExperimentSearch& search, int64_t offset,
                                         const SqlDialect& dialect);

}  // namespace ringo::store

#endif  // RINGO_STORE_SEARCH_SQL_H_
