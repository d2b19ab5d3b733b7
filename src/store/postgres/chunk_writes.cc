// The PostgreSQL engine's chunk writes for many keys of a run at once: what
// series::WriteChunks (store/series_sql.h) does for one key, in two statements for all of them
// (the second the caller's, which writes more in the same round trip), since every statement is
// a round trip to the server and a training loop's batch touches every key it logs.
#include "store/postgres/chunk_writes.h"

#include <algorithm>
#include <map>
#include <span>
#include <string_view>
#include <utility>

#include "store/series_sql.h"

namespace ringo::store::pg {

namespace {

// Takes out, for each (key, first, last) of the batch, the chunks of (run, key) that the steps
// [first, last] overlap; with none, the chunk before them when it is not full; nothing when the
// overlapped chunks are many (counted up to kMaxTakenChunks + 1). The rules of
// series::TakeChunksFor.
// ?5 is the run ($5 where it is used again).
constexpr const char* kTakeChunks =
    "WITH b AS (SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[]) AS b(key, first, last)), "
    "held AS (SELECT b.key, b.first, b.last, (SELECT CASE WHEN count(*) > ? THEN 2147483647 "
    "ELSE COALESCE(SUM(x.count), 0) END FROM (SELECT c.count FROM metric_chunks c WHERE "
    "c.run_id = ? AND c.key = b.key AND c.max_step >= b.first AND c.min_step <= b.last LIMIT ?) x) "
    "AS n FROM b), "
    "pick AS (SELECT c.key, c.seq FROM held h JOIN metric_chunks c ON c.run_id = $5 AND "
    "c.key = h.key AND c.max_step >= h.first AND c.min_step <= h.last WHERE h.n BETWEEN 1 AND ? "
    "UNION ALL SELECT t.key, t.seq FROM held h CROSS JOIN LATERAL (SELECT c.key, c.seq, c.count "
    "FROM metric_chunks c WHERE c.run_id = $5 AND c.key = h.key AND c.max_step < h.first ORDER "
    "BY c.max_step DESC LIMIT 1) t WHERE h.n = 0 AND t.count < ?) "
    "DELETE FROM metric_chunks m USING pick p WHERE m.run_id = $5 AND m.key = p.key AND "
    "m.seq = p.seq RETURNING m.key, m.data";

// The chunks each key's `points` overlap (or follow), taken out of the table, decoded.
Result<std::map<std::string_view, std::vector<std::vector<series::Point>>>> Take(
    Db& db, const std::string& run_id, const std::vector<KeyPoints>& keys) {
  std::vector<std::string_view> names;
  std::vector<int64_t> firsts, lasts;
  for (const KeyPoints& k : keys) {
    names.push_back(k.key);
    firsts.push_back(k.points.front().step);
    lasts.push_back(k.points.back().step);
  }
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare(kTakeChunks));
  q->ResultsInBinary();  // the chunks' bytes without hex; the keys are text either way
  StmtGuard g(*q);
  g->Bind(1, TextArray(names)).Bind(2, IntArray(firsts)).Bind(3, IntArray(lasts));
  g->Bind(4, int64_t(series::kMaxTakenChunks)).Bind(5, run_id);
  g->Bind(6, int64_t(series::kMaxTakenChunks + 1)).Bind(7, int64_t(2 * series::kChunkPoints));
  g->Bind(8, int64_t(series::kUnfilledChunk));
  std::map<std::string_view, std::vector<std::vector<series::Point>>> taken;
  std::string scratch;
  Status s;
  while (g->Step(&s)) {
    std::string_view name = g->Text(0);
    auto it = std::find_if(keys.begin(), keys.end(),
                           [&](const KeyPoints& k) { return k.key == name; });
    if (it == keys.end()) return Internal("postgresql: a chunk of a key not written came back");
    RETURN_IF_ERROR(series::Decode(ReadBytes(*g, 1, &scratch), &taken[it->key].emplace_back()));
  }
  RETURN_IF_ERROR(s);
  return taken;
}

}  // namespace

void ChunkRows::Bind(Stmt& stmt, const std::string& run_id, int first) const {
  stmt.Bind(first, run_id).Bind(first + 1, TextArray(keys)).Bind(first + 2, IntArray(seqs));
  stmt.Bind(first + 3, Int4Array(counts)).Bind(first + 4, IntArray(mins));
  stmt.Bind(first + 5, IntArray(maxs)).Bind(first + 6, BytesArray(datas));
}

Result<ChunkRows> TakeAndMergeChunks(Db& db, const std::string& run_id,
                                     const std::vector<KeyPoints>& keys) {
  ChunkRows rows;
  if (keys.empty()) return rows;
  ASSIGN_OR_RETURN(auto taken, Take(db, run_id, keys));
  for (const KeyPoints& k : keys) {
    std::vector<std::vector<series::Point>> runs = std::move(taken[k.key]);
    runs.push_back(k.points);
    std::vector<series::Point> all = series::Merge(std::move(runs));
    for (size_t at = 0; at < all.size(); at += series::kChunkPoints) {
      size_t n = std::min(series::kChunkPoints, all.size() - at);
      std::span<const series::Point> chunk(all.data() + at, n);
      rows.keys.push_back(k.key);
      rows.seqs.push_back(series::NewChunkSeq());
      rows.counts.push_back(int64_t(n));
      rows.mins.push_back(chunk.front().step);
      rows.maxs.push_back(chunk.back().step);
      rows.datas.push_back(series::Encode(chunk));
    }
  }
  return rows;
}

}  // namespace ringo::store::pg
