// Thin RAII wrappers over SQLite: a connection with a prepared-statement cache.
#ifndef RINGO_STORE_SQLITE_DB_H_
#define RINGO_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "store/stmt_guard.h"

namespace ringo::store {

// A prepared statement; reset and unbound by Reset(). Owned by its Db's cache.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int index, std::string_view v) {
    sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int index, int64_t v) {
    sqlite3_bind_int64(stmt_, index, v);
    return *this;
  }
  Stmt& BindDouble(int index, double v) {
    sqlite3_bind_double(stmt_, index, v);
    return *this;
  }
  Stmt& BindNull(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
  }
  Stmt& BindBlob(int index, std::string_view v) {
    sqlite3_bind_blob(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }

  // Steps once: true when a row is available, false when done; *status is set on error.
  bool Step(Status* status);
  // Steps to completion, for statements without result rows.
  Status Exec();
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string_view Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string_view(reinterpret_cast<const char*>(p), size_t(n)) : std::string_view();
  }
  std::string_view Blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string_view(static_cast<const char*>(p), size_t(n)) : std::string_view();
  }
  sqlite3_stmt* raw() { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

using StmtGuard = ResetGuard<Stmt>;

// Bytes in and out of a BLOB column, as store/series_sql.h asks every engine's statement.
inline void BindBytes(Stmt& stmt, int index, std::string_view bytes) {
  stmt.BindBlob(index, bytes);
}
inline std::string_view ReadBytes(const Stmt& stmt, int col, std::string*) {
  return stmt.Blob(col);
}

// One SQLite connection. Not thread-safe: each thread uses its own.
class Db {
 public:
  // The statement types of this engine, for SQL shared as templates (store/registry_sql.h).
  using Statement = Stmt;
  using Guard = StmtGuard;

  ~Db();
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool read_only);

  // Returns the cached prepared statement for `sql` (prepared on first use). Only for the
  // fixed statements of the store: the cache never evicts, so returned pointers stay valid.
  Result<Stmt*> Prepare(std::string_view sql);
  // Prepares a one-off statement (dynamic search queries) owned by the caller.
  Result<std::unique_ptr<Stmt>> PrepareUncached(std::string_view sql);
  // Runs one or more statements without parameters.
  Status ExecScript(const char* sql);
  // Rows changed by the last statement run on this connection.
  int64_t Changes() { return sqlite3_changes(db_); }
  // A local file never goes away under its connection (for store/reader_pool.h).
  bool Healthy() const { return true; }
  sqlite3* raw() { return db_; }
  Status Error(std::string_view what) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  // Transparent, so the statement for a SQL text is found without copying the text: every store
  // call looks up a few statements.
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>()(sql); }
  };
  std::unordered_map<std::string, std::unique_ptr<Stmt>, SqlHash, std::equal_to<>> cache_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_SQLITE_DB_H_
