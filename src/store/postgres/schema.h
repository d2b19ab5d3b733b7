// The PostgreSQL schema of the store and its migrations.
#ifndef RINGO_STORE_POSTGRES_SCHEMA_H_
#define RINGO_STORE_POSTGRES_SCHEMA_H_

#include <cstddef>
#include <string>

#include "common/status.h"
#include "store/postgres/db.h"

namespace ringo::store::pg {

// Schema version this binary writes (the one row of the schema_version table).
inline constexpr int kSchemaVersion = 5;

// Characters of a param or tag value that its index holds (migration 5): the SQL of value
// filters must spell the same expression, left(value, kValuePrefix), for the index to serve.
inline constexpr size_t kValuePrefix = 200;

// Brings the database to kSchemaVersion in one transaction under an advisory lock
// (two servers starting on one database migrate once), creating the default experiment
// ("Default", id 0) on a new database. kFailedPrecondition when a newer ringo wrote the schema;
// kUnavailable when the server is unreachable; kInternal when a migration fails.
Status Migrate(Db& db, const std::string& artifact_root = "mlflow-artifacts:");

}  // namespace ringo::store::pg

#endif  // RINGO_STORE_POSTGRES_SCHEMA_H_
