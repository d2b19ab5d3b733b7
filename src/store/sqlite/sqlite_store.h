// The SQLite engine of the store: one database file in WAL mode, written by one thread with
// group commit, read by pooled connections. The embedded default: one process, no server.
#ifndef RINGO_STORE_SQLITE_SQLITE_STORE_H_
#define RINGO_STORE_SQLITE_SQLITE_STORE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"
#include "store/copy/copy.h"
#include "store/store.h"

namespace ringo::store {

struct SqliteOptions {
  std::string path;               // database file; ":memory:" is not supported (readers need it)
  bool synchronous_full = false;  // fsync every commit (survives power loss) instead of WAL NORMAL
  size_t max_ops_per_commit = 2000;
  // Where experiments created without an artifact location keep their artifacts:
  // "<artifact_root>/<experiment id>" (the Default experiment's when the database is created).
  std::string artifact_root = "mlflow-artifacts:";
};

// Opens (creating and migrating as needed) a SQLite store. kInternal if the file cannot be
// opened or migrated; kFailedPrecondition if its schema is newer than this binary knows.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

// Copies the database at `path` to a new file `dest` while it may be in use by a server: one read
// transaction (VACUUM INTO), so the copy is a consistent snapshot holding every transaction
// committed before it began. kAlreadyExists when `dest` exists; kNotFound without a database at
// `path`; kInternal on SQLite errors.
Status BackupSqliteDatabase(const std::string& path, const std::string& dest);

// Checks a database file as restore does: it opens, passes SQLite's integrity check, and has a
// schema this binary knows. Returns its schema version. kFailedPrecondition naming the problem.
Result<int> CheckSqliteDatabase(const std::string& path);

// Row access to the store at `path` for `ringo store copy` (store/copy/copy.h). As a source
// (!writable) the file must exist and is only read; as a destination it is created if missing
// and migrated. kInvalidArgument/kInternal as OpenSqliteStore.
Result<std::unique_ptr<Tables>> OpenSqliteTables(const std::string& path, bool writable);

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_SQLITE_STORE_H_
