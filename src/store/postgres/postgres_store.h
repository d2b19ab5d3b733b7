// The PostgreSQL engine of the store: for several ringo servers on one database, or a database
// run and backed up apart from ringo. Written by one thread per server with group commit, read
// by pooled connections.
#ifndef RINGO_STORE_POSTGRES_POSTGRES_STORE_H_
#define RINGO_STORE_POSTGRES_POSTGRES_STORE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"
#include "store/copy/copy.h"
#include "store/store.h"

namespace ringo::store {

struct PostgresOptions {
  // libpq connection string: a postgresql:// or postgres:// URI, or key=value pairs.
  std::string conninfo{};
  size_t max_ops_per_commit = 2000;
  // As SqliteOptions::artifact_root.
  std::string artifact_root = "mlflow-artifacts:";
};

// True for the URIs OpenPostgresStore takes (postgresql://..., postgres://...).
bool IsPostgresUri(const std::string& uri);

// Connects to a PostgreSQL database and brings its schema up to date (creating the tables on an
// empty database). kUnavailable if the server cannot be reached; kFailedPrecondition if a newer
// ringo wrote the schema; kInternal if a migration fails.
//
// The store keeps the Store contract: a write's callback runs after its transaction committed.
// While the server is unreachable, reads and writes fail with kUnavailable (no call blocks
// beyond libpq's 5 s connect timeout); the store reconnects by itself when the server is back.
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

// Row access to a PostgreSQL store for `ringo store copy` (store/copy/copy.h). As a
// destination (`writable`) the schema is brought up to date first; a source is only read.
// Errors as OpenPostgresStore.
Result<std::unique_ptr<Tables>> OpenPostgresTables(const std::string& conninfo, bool writable);

// `conninfo` for messages: a URI without its password, else "the PostgreSQL database".
std::string DescribePostgres(const std::string& conninfo);

}  // namespace ringo::store

#endif  // RINGO_STORE_POSTGRES_POSTGRES_STORE_H_
