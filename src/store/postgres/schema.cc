// Schema migrations of the PostgreSQL store.
#include "store/postgres/schema.h"

#include <string>

#include "common/util.h"
#include "store/experiments_sql.h"
#include "store/series_sql.h"

namespace ringo::store::pg {

namespace {

// Migration 1: the whole store as the SQLite engine has it at its schema version 6 (tracking,
// registry, documents and events, model metrics), in PostgreSQL's types. Text compares and
// sorts bytewise (the "C" collation, through the `rtext` domain) whatever the database's locale,
// so names order as they do on SQLite. NaN is kept as a flag beside the value, as on SQLite,
// because the shared search SQL compares `is_nan`. Every table has a primary key that serves
// its point reads; the key indexes let a search start from its most selective clause (values
// stay out of them: a param or tag value can exceed the size of an index entry).
constexpr const char* kMigration1 = R"sql(
CREATE DOMAIN rtext AS text COLLATE "C";
CREATE TABLE experiments (
  experiment_id bigint PRIMARY KEY,
  name rtext NOT NULL UNIQUE,
  artifact_location rtext NOT NULL,
  lifecycle_stage rtext NOT NULL DEFAULT 'active',
  creation_time bigint NOT NULL,
  last_update_time bigint NOT NULL
);
CREATE TABLE experiment_tags (
  experiment_id bigint NOT NULL,
  key rtext NOT NULL,
  value rtext NOT NULL,
  PRIMARY KEY (experiment_id, key)
);
CREATE TABLE runs (
  run_id rtext PRIMARY KEY,
  experiment_id bigint NOT NULL,
  name rtext NOT NULL,
  user_id rtext NOT NULL,
  status rtext NOT NULL,
  start_time bigint NOT NULL,
  end_time bigint,
  artifact_uri rtext NOT NULL,
  lifecycle_stage rtext NOT NULL DEFAULT 'active',
  deleted_time bigint
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time DESC, run_id);
CREATE TABLE params (
  run_id rtext NOT NULL,
  key rtext NOT NULL,
  value rtext NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE INDEX params_by_key ON params (key);
CREATE TABLE tags (
  run_id rtext NOT NULL,
  key rtext NOT NULL,
  value rtext NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE INDEX tags_by_key ON tags (key);
CREATE TABLE metrics (
  run_id rtext NOT NULL,
  key rtext NOT NULL,
  step bigint NOT NULL,
  timestamp bigint NOT NULL,
  value double precision NOT NULL,
  is_nan integer NOT NULL,
  PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
);
CREATE TABLE latest_metrics (
  run_id rtext NOT NULL,
  key rtext NOT NULL,
  step bigint NOT NULL,
  timestamp bigint NOT NULL,
  value double precision NOT NULL,
  is_nan integer NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);
CREATE TABLE datasets (
  dataset_id rtext PRIMARY KEY,
  experiment_id bigint NOT NULL,
  name rtext NOT NULL,
  digest rtext NOT NULL,
  source_type rtext NOT NULL,
  source rtext NOT NULL,
  schema rtext NOT NULL DEFAULT '',
  profile rtext NOT NULL DEFAULT '',
  UNIQUE (experiment_id, name, digest)
);
CREATE TABLE inputs (
  run_id rtext NOT NULL,
  dataset_id rtext NOT NULL,
  PRIMARY KEY (run_id, dataset_id)
);
CREATE TABLE input_tags (
  run_id rtext NOT NULL,
  dataset_id rtext NOT NULL,
  key rtext NOT NULL,
  value rtext NOT NULL,
  PRIMARY KEY (run_id, dataset_id, key)
);
CREATE TABLE registered_models (
  name rtext PRIMARY KEY,
  creation_time bigint NOT NULL,
  last_updated_time bigint NOT NULL,
  description rtext NOT NULL DEFAULT '',
  last_version bigint NOT NULL DEFAULT 0
);
CREATE TABLE registered_model_tags (
  name rtext NOT NULL,
  key rtext NOT NULL,
  value rtext NOT NULL,
  PRIMARY KEY (name, key)
);
CREATE TABLE registered_model_aliases (
  name rtext NOT NULL,
  alias rtext NOT NULL,
  version bigint NOT NULL,
  PRIMARY KEY (name, alias)
);
CREATE TABLE model_versions (
  name rtext NOT NULL,
  version bigint NOT NULL,
  creation_time bigint NOT NULL,
  last_updated_time bigint NOT NULL,
  description rtext NOT NULL DEFAULT '',
  user_id rtext NOT NULL DEFAULT '',
  current_stage rtext NOT NULL DEFAULT 'None',
  source rtext NOT NULL,
  run_id rtext NOT NULL DEFAULT '',
  run_link rtext NOT NULL DEFAULT '',
  status rtext NOT NULL DEFAULT 'READY',
  coreml rtext NOT NULL DEFAULT '',
  sha256 rtext NOT NULL DEFAULT '',
  tree_sha256 rtext NOT NULL DEFAULT '',
  size bigint NOT NULL DEFAULT 0,
  model_id rtext NOT NULL DEFAULT '',
  PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
  name rtext NOT NULL,
  version bigint NOT NULL,
  key rtext NOT NULL,
  value rtext NOT NULL,
  PRIMARY KEY (name, version, key)
);
CREATE TABLE documents (
  kind rtext NOT NULL,
  key rtext NOT NULL,
  value rtext NOT NULL,
  revision bigint NOT NULL,
  updated_time bigint NOT NULL,
  PRIMARY KEY (kind, key)
);
CREATE TABLE events (
  kind rtext NOT NULL,
  key rtext NOT NULL,
  seq bigint NOT NULL,
  time bigint NOT NULL,
  value rtext NOT NULL,
  PRIMARY KEY (kind, key, seq)
);
CREATE TABLE model_metrics (
  model_id rtext NOT NULL,
  key rtext NOT NULL,
  dataset_name rtext NOT NULL,
  dataset_digest rtext NOT NULL,
  step bigint NOT NULL,
  timestamp bigint NOT NULL,
  value double precision NOT NULL,
  is_nan integer NOT NULL,
  run_id rtext NOT NULL,
  PRIMARY KEY (model_id, key, dataset_name, dataset_digest, step, timestamp, value)
);
)sql";

// Migration 2: metric histories as compressed chunks (store/series.h); the metrics table keeps
// only points not yet compacted. The existing points move into chunks in the same transaction.
constexpr const char* kMigration2 = R"sql(
CREATE TABLE metric_chunks (
  run_id rtext NOT NULL,
  key rtext NOT NULL,
  seq bigint NOT NULL,
  count integer NOT NULL,
  min_step bigint NOT NULL,
  max_step bigint NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (run_id, key, seq)
);
CREATE INDEX metric_chunks_by_max ON metric_chunks (run_id, key, max_step);
)sql";

// Migration 3: metric filters of searches ("metrics.x > v") read key, is_nan and value from
// the index alone; with (key, value) each match was a lookup in the table, three quarters of
// a filtered search over 10k runs.
constexpr const char* kMigration3 = R"sql(
DROP INDEX latest_metrics_by_key;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, is_nan, value);
)sql";

// Migration 4: chunks are compressed already (store/series.h), and at about 8 KB each they
// exceed TOAST's threshold, so PostgreSQL tried to compress every one again with pglz before
// storing it out of line: a tenth of the server's time under a stream of log-batches, for
// nothing. EXTERNAL keeps them out of line without the attempt (new rows; old ones stay as
// they are).
constexpr const char* kMigration4 = R"sql(
ALTER TABLE metric_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
)sql";

// Migration 5: param and tag filters "params.x = 'v'" found every row of the key in its index
// and read each from the table to compare the value: the key alone was indexed, since a value
// can exceed a btree entry. The key with the value's first kValuePrefix characters (at most
// 800 bytes, with a key of at most 250) always fits, answers equality for shorter values
// without the table, and serves lookups by key alone as the old indexes did.
constexpr const char* kMigration5 = R"sql(
DROP INDEX params_by_key;
CREATE INDEX params_by_key_value ON params (key, left(value, 200));
DROP INDEX tags_by_key;
CREATE INDEX tags_by_key_value ON tags (key, left(value, 200));
)sql";
static_assert(kValuePrefix == 200, "migration 5 indexes left(value, 200)");

constexpr const char* kMigrations[] = {kMigration1, kMigration2, kMigration3, kMigration4,
                                       kMigration5};
static_assert(std::size(kMigrations) == kSchemaVersion);

// Any constant shared by every ringo: it names the lock, not a table.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7234061205)";

Result<int> CurrentVersion(Db& db) {
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT version FROM schema_version"));
  StmtGuard g(*q);
  Status s;
  int version = 0;
  if (g->Step(&s)) version = static_cast<int>(g->Int(0));
  RETURN_IF_ERROR(s);
  return version;
}

Status ApplyMigration(Db& db, int v, const std::string& artifact_root) {
  RETURN_IF_ERROR(db.ExecScript(kMigrations[v]));
  if (v == 0) RETURN_IF_ERROR(experiments::InsertDefault(db, artifact_root));
  if (v == 1) RETURN_IF_ERROR(series::CompactAll(db));
  return db.ExecScript(
      ("UPDATE schema_version SET version = " + std::to_string(v + 1)).c_str());
}

}  // namespace

Status Migrate(Db& db, const std::string& artifact_root) {
  RETURN_IF_ERROR(db.ExecScript("BEGIN"));
  Status s = db.ExecScript(kMigrationLock);
  if (s.ok()) {
    s = db.ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL); "
        "INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)");
  }
  Result<int> version = s.ok() ? CurrentVersion(db) : Result<int>(s);
  if (version.ok() && *version > kSchemaVersion) {
    s = FailedPrecondition("database schema version " + std::to_string(*version) +
                           " is newer than this ringo supports (" +
                           std::to_string(kSchemaVersion) + "); upgrade ringo");
  } else if (!version.ok()) {
    s = version.status();
  }
  for (int v = s.ok() ? *version : kSchemaVersion; v < kSchemaVersion && s.ok(); ++v) {
    s = ApplyMigration(db, v, artifact_root);
    if (!s.ok() && s.code() != Code::kUnavailable) {
      s = Internal("migration to schema version " + std::to_string(v + 1) +
                   " failed: " + s.message());
    }
  }
  if (!s.ok()) {
    if (db.Healthy()) (void)db.ExecScript("ROLLBACK");
    return s;
  }
  return db.ExecScript("COMMIT");
}

}  // namespace ringo::store::pg
