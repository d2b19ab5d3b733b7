// Opening the SQLite store, and what its method files share.
#include "store/sqlite/sqlite_store.h"

#include <variant>

#include "store/sqlite/schema.h"
#include "store/sqlite/store_impl.h"

namespace ringo::store {

namespace {

std::string SqliteLike(const std::string& column, bool case_insensitive) {
  return "ringo_like(" + column + ", ?, " + (case_insensitive ? "1" : "0") + ")";
}

// SQLite takes an integer as a truth value.
std::string SqliteFlag(const std::string& column) { return column; }

}  // namespace

const SqlDialect kSqliteDialect{SqliteLike, SqliteFlag, "1", "?"};

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

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return InvalidArgument("the SQLite store needs a database file path");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(options.path, false));
  // WAL lets readers run beside the single writer; NORMAL sync keeps every committed
  // transaction across a process crash (SIGKILL), FULL also across power loss.
  std::string pragmas = std::string("PRAGMA journal_mode = WAL; PRAGMA synchronous = ") +
                        (options.synchronous_full ? "FULL" : "NORMAL") +
                        "; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -64000; "
                        "PRAGMA wal_autocheckpoint = 10000;";
  RETURN_IF_ERROR(db->ExecScript(pragmas.c_str()));
  RETURN_IF_ERROR(db->ExecScript("PRAGMA quick_check"));
  RETURN_IF_ERROR(Migrate(*db));
  RETURN_IF_ERROR(db->ExecScript("PRAGMA analysis_limit = 400; ANALYZE;"));
  return std::unique_ptr<Store>(new SqliteStore(options, std::move(db)));
}

}  // namespace ringo::store
