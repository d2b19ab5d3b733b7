// The PostgreSQL engine as SqlStore sees it (store/sql_store.h), private to the engine's folder:
// its connection and write engine, its spelling of the search SQL, and the writes it does its
// own way (batch.cc).
#ifndef RINGO_STORE_POSTGRES_STORE_IMPL_H_
#define RINGO_STORE_POSTGRES_STORE_IMPL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/postgres/db.h"
#include "store/postgres/engine.h"
#include "store/search_sql.h"
#include "store/sql_store.h"
#include "store/store.h"
#include "store/write_queue.h"

namespace ringo::store::pg {

struct PostgresEngine {
  using Db = ::ringo::store::pg::Db;
  using WriteEngine = ::ringo::store::pg::WriteEngine;

  // LIKE/ILIKE without escapes, flags as comparisons, numbers cast to double.
  static const SqlDialect& Dialect();

  // Set-based: one statement per table for the whole batch (each is a round trip).
  static Status WriteBatch(Db& db, const std::string& run_id, const Batch& batch);

  // Log-batches of metrics alone that commit together go as one statement (WriteMetricWrites).
  static constexpr bool kMergesMetricWrites = true;

  // PostgreSQL's planner chooses among the filter's subqueries itself.
  static constexpr bool kChoosesSearchDriver = false;

  // Several log-batches of metrics alone, of any runs, in one statement after one check that
  // every run is active (batch.cc). A non-OK return leaves the transaction to be rolled back;
  // the caller then writes each on its own, which gives each its own answer.
  static Status WriteMetricWrites(Db& db, const std::vector<const MetricWrite*>& writes);
};

using PostgresStore = SqlStore<PostgresEngine>;

}  // namespace ringo::store::pg

namespace ringo::store {
extern template class SqlStore<pg::PostgresEngine>;
}  // namespace ringo::store

#endif  // RINGO_STORE_POSTGRES_STORE_IMPL_H_
