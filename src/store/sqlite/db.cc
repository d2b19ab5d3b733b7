// SQLite connection and statement wrappers.
#include "store/sqlite/db.h"

#include "common/util.h"

namespace ringo::store {

namespace {

// SQL function ringo_like(text, pattern, case_insensitive): MLflow's LIKE is case-sensitive
// while SQLite's is not, so LIKE/ILIKE are evaluated with our own matcher.
void LikeFunction(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  auto text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  int text_len = sqlite3_value_bytes(argv[0]);
  auto pattern = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  int pattern_len = sqlite3_value_bytes(argv[1]);
  bool ci = sqlite3_value_int(argv[2]) != 0;
  sqlite3_result_int(ctx, LikeMatch(std::string_view(text, size_t(text_len)),
                                    std::string_view(pattern, size_t(pattern_len)), ci)
                              ? 1
                              : 0);
}

}  // namespace

bool Stmt::Step(Status* status) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    sqlite3* db = sqlite3_db_handle(stmt_);
    *status = Internal(std::string("sqlite: ") + sqlite3_errmsg(db));
  }
  return false;
}

Status Stmt::Exec() {
  Status s;
  while (Step(&s)) {
  }
  return s;
}

Db::~Db() {
  cache_.clear();
  sqlite3_close_v2(db_);
}

namespace {

// The journal of the pages a savepoint changes (each write runs in one: engine.cc) stays in
// memory up to this size; past SQLite's default 64 kB it spilled into temporary files, which
// took twice as many bytes as the log itself under log-batch load. Set once, before SQLite
// initialises (sqlite3_config is refused afterwards, which leaves the default).
constexpr int kStatementJournalInMemory = 8 << 20;

void ConfigureOnce() {
  static const int kConfigured = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL,
                                                kStatementJournalInMemory);
  (void)kConfigured;
}

}  // namespace

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool read_only) {
  ConfigureOnce();
  sqlite3* raw = nullptr;
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Internal("cannot open database '" + path + "': " + msg);
  }
  std::unique_ptr<Db> db(new Db(raw));
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_create_function(raw, "ringo_like", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                          LikeFunction, nullptr, nullptr);
  return db;
}

Result<Stmt*> Db::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error("prepare '" + std::string(sql) + "'");
  auto owned = std::make_unique<Stmt>(stmt);
  Stmt* p = owned.get();
  cache_.emplace(std::string(sql), std::move(owned));
  return p;
}

Result<std::unique_ptr<Stmt>> Db::PrepareUncached(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error("prepare '" + std::string(sql) + "'");
  return std::make_unique<Stmt>(stmt);
}

Status Db::ExecScript(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Internal("sqlite: " + msg);
  }
  return Status::Ok();
}

Status Db::Error(std::string_view what) const {
  return Internal("sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

}  // namespace ringo::store
