// The PostgreSQL engine's read of a metric history page.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "store/paging.h"
#include "store/postgres/store_impl.h"

namespace ringo::store::pg {

// Streamed in chunks, each after the last point of the one before (keyset, in the primary key's
// order): libpq holds a whole result in memory, and a history runs to millions of points.
Result<std::string> PostgresEngine::ReadHistory(Db& db, const std::string& run_id,
                                                const std::string& key, int64_t max_results,
                                                int64_t offset, const Store::PointVisitor& visit) {
  constexpr int64_t kChunk = 10000;
  ASSIGN_OR_RETURN(Stmt * first, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                            "WHERE run_id = ? AND key = ? ORDER BY step, "
                                            "timestamp, value, is_nan LIMIT ? OFFSET ?"));
  ASSIGN_OR_RETURN(Stmt * next, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                           "WHERE run_id = ? AND key = ? AND (step, timestamp, "
                                           "value, is_nan) > (?, ?, ?, ?) ORDER BY step, "
                                           "timestamp, value, is_nan LIMIT ?"));
  // One row beyond the page tells whether another page follows.
  const int64_t want = max_results > 0 ? max_results + 1 : INT64_MAX;
  int64_t rows = 0;
  std::string last[4];  // the last point read, as PostgreSQL printed it (exact for floats)
  for (bool more = true; more && rows < want;) {
    int64_t limit = std::min(kChunk, want - rows);
    StmtGuard g(rows == 0 ? *first : *next);
    g->Bind(1, run_id).Bind(2, key);
    if (rows == 0) {
      g->Bind(3, limit).Bind(4, offset);
    } else {
      for (int i = 0; i < 4; ++i) g->Bind(3 + i, last[i]);
      g->Bind(7, limit);
    }
    int64_t got = 0;
    Status s;
    while (g->Step(&s)) {
      ++got;
      if (max_results > 0 && rows == max_results) return EncodeOffsetToken(offset + max_results);
      ++rows;
      for (int i = 0; i < 4; ++i) last[i] = g->Text(i);
      visit(g->Int(3) ? std::nan("") : g->Double(2), g->Int(1), g->Int(0));
    }
    RETURN_IF_ERROR(s);
    more = got == limit;
  }
  return std::string();
}

}  // namespace ringo::store::pg
