// Copying a whole metadata store from one SQL engine to another (`ringo store copy`): SQLite to
// PostgreSQL when a team outgrows one machine, or back. Rows move table by table in key order,
// in chunks, each chunk written in one transaction as inserts-or-replacements, so an interrupted
// copy is resumed by running it again; every table is then verified by its row count and a
// SHA-256 over its rows in key order, computed the same way on both sides.
#ifndef RINGO_STORE_COPY_COPY_H_
#define RINGO_STORE_COPY_COPY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace ringo::store {

enum class ColumnType { kText, kInt, kReal, kBytes };

struct Column {
  std::string name;
  ColumnType type = ColumnType::kText;
  bool nullable = false;  // may hold NULL (only integer columns do)
  bool key = false;       // part of the primary key
};

struct Table {
  std::string name;
  std::vector<Column> columns;  // the key columns in key order, then the others
};

// Every table of the store's schema, as both engines define it. store_copy_test checks this
// list against each engine's actual schema, so a migration that adds a table or a column
// without listing it here fails the tests.
const std::vector<Table>& StoreTables();

// A value of a row; std::monostate is NULL.
using CopyValue = std::variant<std::monostate, int64_t, double, std::string>;
using Row = std::vector<CopyValue>;

// Row-level access to a store's tables, implemented by each engine (OpenSqliteTables,
// OpenPostgresTables). Not thread-safe.
class Tables {
 public:
  virtual ~Tables() = default;

  // What the other side is, for messages ("sqlite:///...", "postgresql://host/db").
  virtual std::string Describe() const = 0;

  // Starts one read transaction: every Scan until EndSnapshot sees the same state.
  virtual Status BeginSnapshot() = 0;
  virtual Status EndSnapshot() = 0;

  // The tables the database has (besides its schema bookkeeping).
  virtual Result<std::vector<std::string>> TableNames() = 0;

  // The columns the database has for `table` (empty when there is no such table).
  virtual Result<std::vector<std::string>> Columns(const std::string& table) = 0;

  // Up to `limit` rows of `t` in key order whose key is greater than `after` (the key columns'
  // values; empty: from the first row). Values come in the order of t.columns.
  virtual Status Scan(const Table& t, const Row& after, int64_t limit, std::vector<Row>* rows) = 0;

  // Inserts `rows`, replacing any row with the same key, in one transaction.
  virtual Status Upsert(const Table& t, const std::vector<Row>& rows) = 0;
};

struct TableReport {
  std::string table;
  int64_t rows = 0;        // in the source
  bool skipped = false;    // already equal in the destination (a resumed copy)
  std::string sha256;      // of the source's rows, equal to the destination's
};

struct CopyOptions {
  int64_t chunk_rows = 5000;  // rows per read and per destination transaction
  // Copy into a destination that already holds rows (continuing an interrupted copy). Without
  // it, a destination holding anything besides the Default experiment is refused.
  bool resume = false;
  // Called after each chunk and each verified table, for progress lines.
  std::function<void(const std::string& table, int64_t rows_done)> progress;
};

// Copies every table of StoreTables() from `from` to `to` and verifies each. Both sides must
// have the same schema (every listed column present): kFailedPrecondition naming what is
// missing. kFailedPrecondition when the destination holds data and !options.resume, and when
// a table does not verify (naming it, with both counts). Errors of either side as they come.
Result<std::vector<TableReport>> CopyTables(Tables& from, Tables& to, const CopyOptions& options);

}  // namespace ringo::store

#endif  // RINGO_STORE_COPY_COPY_H_
