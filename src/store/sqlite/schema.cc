// Schema migrations of the SQLite tracking store.
#include "store/sqlite/schema.h"

#include <string>

#include "common/util.h"
#include "store/experiments_sql.h"
#include "store/series_sql.h"

namespace ringo::store {

namespace {

// Migration 1: the tracking tables. Metric points are clustered by (run, key, step) in a
// WITHOUT ROWID table so a history read is one range scan; latest_metrics keeps the value a
// search compares against (max step, then timestamp, then value, as MLflow defines it). NaN
// cannot be stored in a REAL column (SQLite turns it into NULL), so it is a flag. The (key, value)
// indexes let a search start from the runs a filter clause selects instead of scanning every run
// of the experiment.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE experiments (
  experiment_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  creation_time INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL
);
CREATE TABLE experiment_tags (
  experiment_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  user_id TEXT NOT NULL,
  status TEXT NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER,
  artifact_uri TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  deleted_time INTEGER
) WITHOUT ROWID;
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage, start_time DESC, run_id);
CREATE TABLE params (
  run_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_by_key ON params (key, value);
CREATE TABLE tags (
  run_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX tags_by_key ON tags (key, value);
CREATE TABLE metrics (
  run_id TEXT NOT NULL,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  value REAL NOT NULL,
  is_nan INTEGER NOT NULL,
  PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
) WITHOUT ROWID;
CREATE TABLE latest_metrics (
  run_id TEXT NOT NULL,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  value REAL NOT NULL,
  is_nan INTEGER NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);
CREATE TABLE datasets (
  dataset_id TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  source_type TEXT NOT NULL,
  source TEXT NOT NULL,
  schema TEXT NOT NULL DEFAULT '',
  profile TEXT NOT NULL DEFAULT '',
  UNIQUE (experiment_id, name, digest)
) WITHOUT ROWID;
CREATE TABLE inputs (
  run_id TEXT NOT NULL,
  dataset_id TEXT NOT NULL,
  PRIMARY KEY (run_id, dataset_id)
) WITHOUT ROWID;
CREATE TABLE input_tags (
  run_id TEXT NOT NULL,
  dataset_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, dataset_id, key)
) WITHOUT ROWID;
)sql";

// Migration 2: the model registry, in MLflow's shape (models, numbered versions, tags, aliases),
// plus what ringo reads from Core ML sources (the inspect summary, sha256, size).
constexpr const char* kMigration2 = R"sql(
CREATE TABLE registered_models (
  name TEXT PRIMARY KEY,
  creation_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE TABLE registered_model_tags (
  name TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE TABLE registered_model_aliases (
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (name, alias)
) WITHOUT ROWID;
CREATE TABLE model_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  creation_time INTEGER NOT NULL,
  last_updated_time INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  user_id TEXT NOT NULL DEFAULT '',
  current_stage TEXT NOT NULL DEFAULT 'None',
  source TEXT NOT NULL,
  run_id TEXT NOT NULL DEFAULT '',
  run_link TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'READY',
  coreml TEXT NOT NULL DEFAULT '',
  sha256 TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, version, key)
) WITHOUT ROWID;
)sql";

// Migration 3: versioned JSON documents and append-only event logs, for components above the
// store that keep small structured state (delivery: collections, deployments, channels, their
// history, device telemetry).
constexpr const char* kMigration3 = R"sql(
CREATE TABLE documents (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  revision INTEGER NOT NULL,
  updated_time INTEGER NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE events (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (kind, key, seq)
) WITHOUT ROWID;
)sql";

// Migration 4: a model version's digest named for what it is. `sha256` was a hash of "file\n"
// plus the content for a file and a tree hash for a directory; now `sha256` is a file's real
// SHA-256 and a directory's tree hash moves to `tree_sha256`. The old file hashes match no
// other tool and cannot be recomputed in SQL, so they are cleared rather than kept mislabelled.
constexpr const char* kMigration4 = R"sql(
ALTER TABLE model_versions ADD COLUMN tree_sha256 TEXT NOT NULL DEFAULT '';
UPDATE model_versions SET tree_sha256 = sha256
  WHERE source LIKE '%.mlpackage' OR source LIKE '%.mlpackage/'
     OR (coreml != '' AND json_extract(coreml, '$.model_type') = 'mlProgram');
UPDATE model_versions SET sha256 = '';
)sql";

// Migration 5: MLflow 3 records on a model version the logged model it was registered from.
constexpr const char* kMigration5 = R"sql(
ALTER TABLE model_versions ADD COLUMN model_id TEXT NOT NULL DEFAULT '';
)sql";

// Migration 6: MLflow 3's metrics of logged models, beside (not inside) the run's metric points,
// so the points table and its hot path stay as they are.
constexpr const char* kMigration6 = R"sql(
CREATE TABLE model_metrics (
  model_id TEXT NOT NULL,
  key TEXT NOT NULL,
  dataset_name TEXT NOT NULL,
  dataset_digest TEXT NOT NULL,
  step INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  value REAL NOT NULL,
  is_nan INTEGER NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (model_id, key, dataset_name, dataset_digest, step, timestamp, value)
) WITHOUT ROWID;
)sql";

// Migration 7: a model's version numbers are never reused, even after its newest versions are
// deleted (as MLflow numbers them): the highest number ever given is kept on the model.
constexpr const char* kMigration7 = R"sql(
ALTER TABLE registered_models ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;
UPDATE registered_models SET last_version =
  (SELECT COALESCE(MAX(version), 0) FROM model_versions v WHERE v.name = registered_models.name);
)sql";

// Migration 8: metric histories as compressed chunks (store/series.h); the metrics table keeps
// only points not yet compacted. The existing points move into chunks in the same transaction.
constexpr const char* kMigration8 = R"sql(
CREATE TABLE metric_chunks (
  run_id TEXT NOT NULL,
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  min_step INTEGER NOT NULL,
  max_step INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (run_id, key, seq)
);
CREATE INDEX metric_chunks_by_max ON metric_chunks (run_id, key, max_step);
)sql";

// Migration 9: metric filters of searches ("metrics.x > v") read key, is_nan and value from
// the index alone; with (key, value) each match was a lookup in the table, three quarters of
// a filtered search over 10k runs.
constexpr const char* kMigration9 = R"sql(
DROP INDEX latest_metrics_by_key;
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, is_nan, value);
)sql";

constexpr const char* kMigrations[] = {kMigration1, kMigration2, kMigration3, kMigration4,
                                       kMigration5, kMigration6, kMigration7, kMigration8,
                                       kMigration9};

}  // namespace

Status Migrate(Db& db, const std::string& artifact_root) {
  ASSIGN_OR_RETURN(Stmt * version_stmt, db.Prepare("PRAGMA user_version"));
  Status s;
  int version = 0;
  {
    StmtGuard g(*version_stmt);
    if (g->Step(&s)) version = static_cast<int>(g->Int(0));
    RETURN_IF_ERROR(s);
  }
  if (version > kSchemaVersion) {
    return FailedPrecondition("database schema version " + std::to_string(version) +
                              " is newer than this ringo supports (" +
                              std::to_string(kSchemaVersion) + "); upgrade ringo");
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    RETURN_IF_ERROR(db.ExecScript("BEGIN IMMEDIATE"));
    Status m = db.ExecScript(kMigrations[v]);
    if (m.ok() && v == 0) m = experiments::InsertDefault(db, artifact_root);
    if (m.ok() && v == 7) m = series::CompactAll(db);
    if (m.ok()) m = db.ExecScript(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
    if (!m.ok()) {
      (void)db.ExecScript("ROLLBACK");
      return Internal("migration to schema version " + std::to_string(v + 1) +
                      " failed: " + m.message());
    }
    RETURN_IF_ERROR(db.ExecScript("COMMIT"));
  }
  return Status::Ok();
}

}  // namespace ringo::store
