// Opening the PostgreSQL store; SqlStore instantiated over the PostgreSQL engine.
#include "store/postgres/postgres_store.h"

#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/schema.h"
#include "store/postgres/store_impl.h"
#include "store/sql_store_registry.h"
#include "store/sql_store_tracking.h"

namespace ringo::store {

namespace pg {

namespace {

// PostgreSQL's LIKE is case-sensitive like MLflow's; ESCAPE '' makes a backslash an ordinary
// character, as ringo's own matcher on SQLite treats it.
std::string PostgresLike(const std::string& column, bool case_insensitive) {
  return column + (case_insensitive ? " ILIKE ? ESCAPE ''" : " LIKE ? ESCAPE ''");
}

std::string PostgresFlag(const std::string& column) { return "(" + column + " <> 0)"; }

// Characters in a string of valid UTF-8 (PostgreSQL refuses any other), as left() counts them.
size_t Characters(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Params and tags index (key, left(value, kValuePrefix)) (schema.cc, migration 5). A value
// shorter than the prefix equals the column exactly when the column's prefix equals it, so the
// index answers alone; a longer one is compared whole after its prefix.
std::string PostgresValueEquals(const std::string& column, const std::string& value,
                                std::vector<SqlValue>* binds) {
  std::string prefix = "left(" + column + ", " + std::to_string(kValuePrefix) + ")";
  binds->push_back(value);
  if (Characters(value) < kValuePrefix) return prefix + " = ?";
  binds->push_back(value);
  return prefix + " = left(?, " + std::to_string(kValuePrefix) + ") AND " + column + " = ?";
}

// Numbers compared with integer columns as doubles, as SQLite compares them.
const SqlDialect kPostgresDialect{PostgresLike, PostgresFlag, "TRUE",
                                  "CAST(? AS double precision)", PostgresValueEquals};

}  // namespace

const SqlDialect& PostgresEngine::Dialect() { return kPostgresDialect; }

}  // namespace pg

template class SqlStore<pg::PostgresEngine>;

bool IsPostgresUri(const std::string& uri) {
  return uri.starts_with("postgresql://") || uri.starts_with("postgres://");
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  if (options.conninfo.empty()) {
    return InvalidArgument("the PostgreSQL store needs a connection string");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Db> db, pg::Db::Open(options.conninfo));
  RETURN_IF_ERROR(pg::Migrate(*db, options.artifact_root));
  return std::unique_ptr<Store>(new pg::PostgresStore(
      options.conninfo, options.max_ops_per_commit, std::move(db), options.artifact_root));
}

}  // namespace ringo::store
