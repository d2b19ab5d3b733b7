// Opening the SQLite store; SqlStore instantiated over the SQLite engine.
#include "store/sqlite/sqlite_store.h"

#include <filesystem>
#include <variant>

#include "store/sql_store_registry.h"
#include "store/sql_store_tracking.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/store_impl.h"

namespace ringo::store {

namespace {

std::string SqliteLike(const std::string& column, bool case_insensitive) {
  return "ringo_like(" + column + ", ?, " + (case_insensitive ? "1" : "0") + ")";
}

// SQLite takes an integer as a truth value.
std::string SqliteFlag(const std::string& column) { return column; }

const SqlDialect kSqliteDialect{SqliteLike, SqliteFlag, "1", "?"};

}  // namespace

const SqlDialect& SqliteEngine::Dialect() { return kSqliteDialect; }

template class SqlStore<SqliteEngine>;

Result<std::unique_ptr<Db>> OpenMigrated(const std::string& path, bool synchronous_full,
                                         const std::string& artifact_root) {
  if (path.empty() || path == ":memory:") {
    return InvalidArgument("the SQLite store needs a database file path");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path, false));
  // The write engine replaces the auto-checkpoint with its own (engine.cc) once it starts; a
  // log that grew past 16 MB is cut back when it starts over.
  // WAL lets readers run beside the single writer; NORMAL sync keeps every committed
  // transaction across a process crash (SIGKILL), FULL also across power loss.
  std::string pragmas = std::string("PRAGMA journal_mode = WAL; PRAGMA synchronous = ") +
                        (synchronous_full ? "FULL" : "NORMAL") +
                        "; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -64000; "
                        "PRAGMA wal_autocheckpoint = 10000; "
                        "PRAGMA journal_size_limit = 16777216;";
  RETURN_IF_ERROR(db->ExecScript(pragmas.c_str()));
  RETURN_IF_ERROR(db->ExecScript("PRAGMA quick_check"));
  RETURN_IF_ERROR(Migrate(*db, artifact_root));
  return db;
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db,
                   OpenMigrated(options.path, options.synchronous_full, options.artifact_root));
  RETURN_IF_ERROR(db->ExecScript("PRAGMA analysis_limit = 400; ANALYZE;"));
  return std::unique_ptr<Store>(
      new SqliteStore(options.path, options.max_ops_per_commit, std::move(db),
                      options.artifact_root));
}

Status BackupSqliteDatabase(const std::string& path, const std::string& dest) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound("no database at '" + path + "'");
  }
  if (std::filesystem::exists(dest, ec)) return AlreadyExists("'" + dest + "' exists already");
  ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path, true));
  // A busy writer holds its lock only while it commits; the snapshot waits for that.
  RETURN_IF_ERROR(db->ExecScript("PRAGMA busy_timeout = 10000"));
  ASSIGN_OR_RETURN(std::unique_ptr<Stmt> vacuum, db->PrepareUncached("VACUUM INTO ?"));
  vacuum->Bind(1, dest);
  Status s = vacuum->Exec();
  if (!s.ok()) return Internal("backup of '" + path + "' failed: " + s.message());
  return Status::Ok();
}

Result<int> CheckSqliteDatabase(const std::string& path) {
  auto db = Db::Open(path, true);
  if (!db.ok()) return FailedPrecondition("'" + path + "' does not open: " + db.status().message());
  ASSIGN_OR_RETURN(std::unique_ptr<Stmt> check, (*db)->PrepareUncached("PRAGMA integrity_check"));
  Status s;
  std::string verdict = check->Step(&s) ? std::string(check->Text(0)) : "";
  if (!s.ok() || verdict != "ok") {
    return FailedPrecondition("'" + path + "' fails SQLite's integrity check: " +
                              (s.ok() ? verdict : s.message()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Stmt> version, (*db)->PrepareUncached("PRAGMA user_version"));
  int v = version->Step(&s) ? static_cast<int>(version->Int(0)) : -1;
  RETURN_IF_ERROR(s);
  if (v < 1 || v > kSchemaVersion) {
    return FailedPrecondition("'" + path + "' has schema version " + std::to_string(v) +
                              "; this ringo knows 1 to " + std::to_string(kSchemaVersion));
  }
  return v;
}

}  // namespace ringo::store
