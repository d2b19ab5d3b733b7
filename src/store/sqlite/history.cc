// The SQLite engine's read of a metric history page.
#include <cmath>

#include "store/paging.h"
#include "store/sqlite/store_impl.h"

namespace ringo::store {

Result<std::string> SqliteEngine::ReadHistory(Db& db, const std::string& run_id,
                                              const std::string& key, int64_t max_results,
                                              int64_t offset, const Store::PointVisitor& visit) {
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                        "WHERE run_id = ? AND key = ? ORDER BY step, timestamp "
                                        "LIMIT ? OFFSET ?"));
  StmtGuard g(*q);
  // One row beyond the page tells whether another page follows.
  int64_t limit = max_results > 0 ? max_results + 1 : -1;
  g->Bind(1, run_id).Bind(2, key).Bind(3, limit).Bind(4, offset);
  int64_t rows = 0;
  Status s;
  while (g->Step(&s)) {
    if (max_results > 0 && rows == max_results) return EncodeOffsetToken(offset + max_results);
    ++rows;
    visit(g->Int(3) ? std::nan("") : g->Double(2), g->Int(1), g->Int(0));
  }
  RETURN_IF_ERROR(s);
  return std::string();
}

}  // namespace ringo::store
