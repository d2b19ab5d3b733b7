// The SQLite engine as SqlStore sees it (store/sql_store.h), private to the engine's folder: its
// connection and write engine, its spelling of the search SQL, and the writes it
// does its own way (batch.cc).
#ifndef RINGO_STORE_SQLITE_STORE_IMPL_H_
#define RINGO_STORE_SQLITE_STORE_IMPL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/search_sql.h"
#include "store/sql_store.h"
#include "store/sqlite/db.h"
#include "store/sqlite/engine.h"
#include "store/store.h"
#include "store/write_queue.h"

namespace ringo::store {

struct SqliteEngine {
  using Db = ::ringo::store::Db;
  using WriteEngine = ::ringo::store::WriteEngine;

  // MLflow's LIKE as a function registered on every connection (db.cc).
  static const SqlDialect& Dialect();

  // Log-batches of metrics alone queued one after another are written together
  // (WriteMetricWrites): one savepoint, one check per run and one latest-value update per key
  // instead of one each per request.
  static constexpr bool kMergesMetricWrites = true;

  // A search with several metric, param or tag clauses starts from the one that matches the
  // fewest rows, counted first (SQLite's planner statistics lag behind a store being filled).
  static constexpr bool kChoosesSearchDriver = true;

  // Row by row (a key's many points as series chunks): a statement costs no round trip here.
  static Status WriteBatch(Db& db, const std::string& run_id, const Batch& batch);

  // Several log-batches of metrics alone, of any runs, as if written one after another; the
  // caller gives each its own savepoint and retries them one by one if this fails.
  static Status WriteMetricWrites(Db& db, const std::vector<const MetricWrite*>& writes);
};

using SqliteStore = SqlStore<SqliteEngine>;

// The writer's connection to the database at `path`: created if missing, in WAL mode, checked
// and migrated, a new database's Default experiment under `artifact_root` (sqlite_store.cc).
Result<std::unique_ptr<Db>> OpenMigrated(const std::string& path, bool synchronous_full,
                                         const std::string& artifact_root);
extern template class SqlStore<SqliteEngine>;

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_STORE_IMPL_H_
