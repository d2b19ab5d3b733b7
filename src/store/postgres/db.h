// Thin RAII wrappers over libpq shaped like the SQLite engine's (Db, Stmt, StmtGuard), so the
// SQL both engines share (store/*_sql.h) runs on either. Private to the PostgreSQL store.
#ifndef RINGO_STORE_POSTGRES_DB_H_
#define RINGO_STORE_POSTGRES_DB_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "store/postgres/libpq.h"
#include "store/stmt_guard.h"

namespace ringo::store::pg {

class Db;

// A parameter in PostgreSQL's binary format (the array helpers below make them), bound with
// Stmt::Bind like a text one. `has_nul` marks text that holds '\0', which Run() refuses.
struct BinaryParam {
  std::string bytes;
  bool has_nul = false;
};

// A statement with `?` placeholders (rewritten to $1, $2, ...), sent with text parameters
// except those bound as BinaryParam.
// The first Step() runs it and buffers the result; Reset() drops result and bindings. Owned by
// its Db's cache or by the caller of PrepareUncached. Not thread-safe.
class Stmt {
 public:
  // With a `name`, the statement is prepared on the server under it (once per connection);
  // without, it is parsed anew each time it runs.
  Stmt(Db* db, std::string sql, int params, std::string name);
  ~Stmt() { Reset(); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int index, std::string_view v);
  Stmt& Bind(int index, int64_t v);
  Stmt& BindDouble(int index, double v);
  Stmt& BindNull(int index);
  Stmt& Bind(int index, BinaryParam v);

  // Asks for results in PostgreSQL's binary format: text columns read the same through Text(),
  // bytea columns through ReadBytes() without hex, but Int() and Double() are then wrong, so
  // only for statements whose results are all text or bytea.
  void ResultsInBinary() { result_format_ = 1; }

  // Runs the statement on the first call; then true while a row is available. *status is set
  // on error: kUnavailable when the connection is lost, else kInternal.
  bool Step(Status* status);
  // Runs a statement without result rows.
  Status Exec();
  void Reset();

  int64_t Int(int col) const;
  double Double(int col) const;
  bool IsNull(int col) const { return Pq().PQgetisnull(result_, row_, col) != 0; }
  // Whether column `col` came in binary format (see ResultsInBinary).
  bool IsBinary(int col) const;
  std::string_view Text(int col) const {
    return std::string_view(Pq().PQgetvalue(result_, row_, col),
                            static_cast<size_t>(Pq().PQgetlength(result_, row_, col)));
  }

 private:
  Status Run();

  Db* db_;
  std::string sql_;
  std::string name_;
  uint64_t prepared_in_ = 0;  // the Db generation it was prepared in; 0: not prepared
  std::vector<std::string> values_;
  std::vector<bool> is_null_;
  std::vector<int> formats_;  // per parameter: 0 text, 1 binary
  std::vector<int> lengths_;  // per parameter, read by libpq for binary ones only
  int result_format_ = 0;
  PGresult* result_ = nullptr;
  int row_ = -1;
  bool has_nul_ = false;  // a bound value holds '\0': Run() refuses it
};

using StmtGuard = ResetGuard<Stmt>;

// Bytes in and out of a bytea column, as store/series_sql.h asks every engine's statement:
// parameters and results travel as text here, so in bytea's hex form (\x...).
void BindBytes(Stmt& stmt, int index, std::string_view bytes);
// Binary results are the bytes themselves; malformed hex (PostgreSQL never sends it) reads as
// no bytes, which decoders refuse.
std::string_view ReadBytes(const Stmt& stmt, int col, std::string* scratch);

// Arrays in PostgreSQL's binary format, for parameters cast to arrays (?::text[],
// ?::bigint[], ...): a batch's values travel as one parameter each, so one statement writes
// them all, and the server copies the elements instead of parsing text. The element type must
// be the cast's (int4 for ?::int[], int8 for ?::bigint[]): the server refuses any other.
BinaryParam TextArray(const std::vector<std::string_view>& values);
BinaryParam IntArray(const std::vector<int64_t>& values);   // int8 elements
BinaryParam Int4Array(const std::vector<int64_t>& values);  // int4 elements; values must fit
BinaryParam FloatArray(const std::vector<double>& values);  // float8 elements
BinaryParam BytesArray(const std::vector<std::string>& values);  // bytea elements
// Binds `ids` as a text[] parameter (Db::kIdArrays).
void BindIdArray(Stmt& stmt, int index, std::span<const std::string> ids);

// One PostgreSQL connection. Not thread-safe: each thread uses its own.
class Db {
 public:
  // The statement types of this engine, for SQL shared as templates (store/registry_sql.h).
  using Statement = Stmt;
  using Guard = StmtGuard;
  // Lists of run ids go as one text[] parameter (BindIdArray), "= ANY(?::text[])", so the
  // loaders' statements stay prepared whatever the length of the list (store/runs_load_sql.h).
  static constexpr bool kIdArrays = true;

  ~Db();
  // Connects to `conninfo` (a postgresql:// URI or key=value string), loading libpq first.
  // kUnavailable when the server cannot be reached within the connect timeout;
  // kFailedPrecondition when libpq cannot be loaded.
  static Result<std::unique_ptr<Db>> Open(const std::string& conninfo);

  // The cached statement for `sql`; pointers stay valid for the Db's life.
  Result<Stmt*> Prepare(std::string_view sql);
  Result<std::unique_ptr<Stmt>> PrepareUncached(std::string_view sql);
  // Runs one or more statements without parameters.
  Status ExecScript(const char* sql);
  // Rows changed by the last statement run on this connection.
  int64_t Changes() const { return changes_; }
  // False once the connection is lost; such a Db is dropped or Reconnect()ed.
  bool Healthy() const { return Pq().PQstatus(conn_) == CONNECTION_OK; }
  // Re-establishes a lost connection. kUnavailable while the server stays unreachable.
  Status Reconnect();

  // After `result` failed because the connection was lost (a server restart leaves every
  // pooled connection dead until used): reconnects and clears `result`, returning true when the
  // statement may run again. Only for statements outside a transaction, which in this store are
  // reads and BEGIN: a transaction is lost with its connection.
  bool RetryAfterLostConnection(PGresult*& result);

  PGconn* raw() { return conn_; }
  // The Status for a failed result (kUnavailable for lost connections); frees nothing.
  Status Error(const PGresult* result, std::string_view what) const;
  void set_changes(int64_t n) { changes_ = n; }
  // Counts connections: each reconnect starts a new one without prepared statements.
  uint64_t generation() const { return generation_; }

 private:
  explicit Db(PGconn* conn) : conn_(conn) {}
  PGconn* conn_;
  int64_t changes_ = 0;
  uint64_t generation_ = 1;
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>()(sql); }
  };
  std::unordered_map<std::string, std::unique_ptr<Stmt>, SqlHash, std::equal_to<>> cache_;
};

// `sql` with each `?` outside quotes replaced by $1, $2, ...; *count receives their number.
std::string NumberPlaceholders(std::string_view sql, int* count);

}  // namespace ringo::store::pg

#endif  // RINGO_STORE_POSTGRES_DB_H_
