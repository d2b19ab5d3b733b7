// Row access to a SQLite store for `ringo store copy`.
#include <filesystem>

#include "store/sql_tables.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/store_impl.h"

namespace ringo::store {

Result<std::unique_ptr<Tables>> OpenSqliteTables(const std::string& path, bool writable) {
  std::unique_ptr<Db> db;
  if (writable) {
    // A new destination's Default experiment is replaced by the source's.
    ASSIGN_OR_RETURN(db, OpenMigrated(path, false, "mlflow-artifacts:"));
  } else {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return NotFound("no SQLite store at '" + path + "'");
    }
    ASSIGN_OR_RETURN(db, Db::Open(path, true));
  }
  // A server still running on the file holds its write lock only while it commits.
  RETURN_IF_ERROR(db->ExecScript("PRAGMA busy_timeout = 10000"));
  TablesSql sql{"sqlite:///" + path,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                "SELECT name FROM pragma_table_info(?)", "BEGIN", "BEGIN IMMEDIATE"};
  return std::unique_ptr<Tables>(new SqlTables<Db>(std::move(db), std::move(sql)));
}

}  // namespace ringo::store
