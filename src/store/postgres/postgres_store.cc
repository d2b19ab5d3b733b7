// Opening the PostgreSQL store, and what its method files share.
#include "store/postgres/postgres_store.h"

#include <variant>

#include "store/postgres/schema.h"
#include "store/postgres/store_impl.h"

namespace ringo::store {

namespace pg {

namespace {

// PostgreSQL's LIKE is case-sensitive like MLflow's; ESCAPE '' makes a backslash an ordinary
// character, as ringo's own matcher on SQLite treats it.
std::string PostgresLike(const std::string& column, bool case_insensitive) {
  return column + (case_insensitive ? " ILIKE ? ESCAPE ''" : " LIKE ? ESCAPE ''");
}

std::string PostgresFlag(const std::string& column) { return "(" + column + " <> 0)"; }

}  // namespace

// Numbers compared with integer columns as doubles, as SQLite compares them.
const SqlDialect kPostgresDialect{PostgresLike, PostgresFlag, "TRUE",
                                  "CAST(? AS double precision)"};

void BindAll(Stmt& stmt, const std::vector<SqlValue>& values) {
  int i = 1;
  for (const SqlValue& v : values) {
    if (auto* s = std::get_if<std::string>(&v)) {
      stmt.Bind(i, *s);
    } else if (auto* n = std::get_if<int64_t>(&v)) {
      stmt.Bind(i, *n);
    } else {
      stmt.BindDouble(i, std::get<double>(v));
    }
    ++i;
  }
}

}  // namespace pg

bool IsPostgresUri(const std::string& uri) {
  return uri.starts_with("postgresql://") || uri.starts_with("postgres://");
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  if (options.conninfo.empty()) {
    return InvalidArgument("the PostgreSQL store needs a connection string");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Db> db, pg::Db::Open(options.conninfo));
  RETURN_IF_ERROR(pg::Migrate(*db, options.artifact_root));
  return std::unique_ptr<Store>(new pg::PostgresStore(options, std::move(db)));
}

}  // namespace ringo::store
