// The SQLite schema of the tracking store and its migrations.
#ifndef RINGO_STORE_SQLITE_SCHEMA_H_
#define RINGO_STORE_SQLITE_SCHEMA_H_

#include <string>

#include "common/status.h"
#include "store/sqlite/db.h"

namespace ringo::store {

// Schema version this binary writes (PRAGMA user_version).
inline constexpr int kSchemaVersion = 9;

// Brings the database to kSchemaVersion, one migration per transaction, creating the default
// experiment ("Default", id 0) on a new database. kFailedPrecondition when the file was
// written by a newer ringo.
Status Migrate(Db& db, const std::string& artifact_root = "mlflow-artifacts:");

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_SCHEMA_H_
