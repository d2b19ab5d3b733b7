// Metric series in SQL, the same for both engines (private to store/): chunks in the
// metric_chunks table (disjoint by step within a key), recent points in the metrics row table
// until compacted, and the reads that merge both. Each engine's Stmt supplies BindBytes(stmt, index, bytes) and
// ReadBytes(stmt, col, scratch), found by argument-dependent lookup.
#ifndef RINGO_STORE_SERIES_SQL_H_
#define RINGO_STORE_SERIES_SQL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/paging.h"
#include "store/store.h"
#include "store/series.h"

namespace ringo::store::series {

// A key for a new chunk row: random, so replicas writing chunks of one metric at once never
// pick the same one (readers order chunks by their points, not by this).
int64_t NewChunkSeq();

// Counts the points a writer put into the row table for (run, key) since it last compacted
// them; true when kCompactAt of them have gathered (the count then starts again). Approximate
// by design (per process, forgotten at restart): compaction only saves space and read time.
bool NoteRowPoints(const std::string& run_id, const std::string& key, size_t n);

// Takes out (DELETE ... RETURNING, so each is taken by one writer only) the chunks of (run, key)
// that the steps [first, last] overlap; with none, the chunk just before them when it holds
// fewer than kUnfilledChunk points, so a training loop's batches fill chunks instead of making one per batch. When the
// overlapped chunks are many (kMaxTakenChunks), nothing is taken; they are counted only up to
// that, so a key whose steps were logged thousands of times costs each write a few lookups.
template <typename Db>
Result<std::vector<std::vector<Point>>> TakeChunksFor(Db& db, const std::string& run_id,
                                                      const std::string& key, int64_t first,
                                                      int64_t last) {
  ASSIGN_OR_RETURN(auto* overlap, db.Prepare("DELETE FROM metric_chunks WHERE run_id = ? AND "
                                             "key = ? AND max_step >= ? AND min_step <= ? "
                                             "RETURNING data"));
  ASSIGN_OR_RETURN(auto* tail, db.Prepare("DELETE FROM metric_chunks WHERE run_id = ? AND key = ? "
                                          "AND count < ? AND seq = (SELECT seq FROM metric_chunks "
                                          "WHERE run_id = ? AND key = ? AND max_step < ? ORDER BY "
                                          "max_step DESC LIMIT 1) RETURNING data"));
  ASSIGN_OR_RETURN(auto* held, db.Prepare("SELECT count FROM metric_chunks WHERE run_id = ? AND "
                                          "key = ? AND max_step >= ? AND min_step <= ? LIMIT ?"));
  std::vector<std::vector<Point>> taken;
  {
    typename Db::Guard g(*held);
    g->Bind(1, run_id).Bind(2, key).Bind(3, first).Bind(4, last);
    g->Bind(5, int64_t(kMaxTakenChunks + 1));
    Status s;
    size_t chunks = 0, points = 0;
    while (g->Step(&s)) {
      points += size_t(g->Int(0));
      if (++chunks > kMaxTakenChunks || points > 2 * kChunkPoints) return taken;
    }
    RETURN_IF_ERROR(s);
  }
  std::string scratch;
  for (auto* q : {overlap, tail}) {
    typename Db::Guard g(*q);
    if (q == overlap) {
      g->Bind(1, run_id).Bind(2, key).Bind(3, first).Bind(4, last);
    } else {
      g->Bind(1, run_id).Bind(2, key).Bind(3, int64_t(kUnfilledChunk));
      g->Bind(4, run_id).Bind(5, key).Bind(6, first);
    }
    Status s;
    while (g->Step(&s)) {
      RETURN_IF_ERROR(Decode(ReadBytes(*g, 0, &scratch), &taken.emplace_back()));
    }
    RETURN_IF_ERROR(s);
    if (!taken.empty()) break;
  }
  return taken;
}

// A training loop's write: sorted points whose steps all follow the key's last chunk, which has
// room for them, are appended to it as a segment of their own (its points are neither decoded
// nor encoded again). False, with nothing written, when they do not follow it or do not fit.
// The update names the count it read, so a chunk another writer changed meanwhile is left alone.
template <typename Db>
Result<bool> AppendToLastChunk(Db& db, const std::string& run_id, const std::string& key,
                               const std::vector<Point>& sorted) {
  ASSIGN_OR_RETURN(auto* last, db.Prepare("SELECT seq, count, max_step, data FROM metric_chunks "
                                          "WHERE run_id = ? AND key = ? ORDER BY max_step DESC "
                                          "LIMIT 1"));
  ASSIGN_OR_RETURN(auto* append, db.Prepare("UPDATE metric_chunks SET count = ?, max_step = ?, "
                                            "data = ? WHERE run_id = ? AND key = ? AND seq = ? "
                                            "AND count = ? RETURNING seq"));
  int64_t seq = 0, count = 0;
  std::string data;
  {
    typename Db::Guard g(*last);
    g->Bind(1, run_id).Bind(2, key);
    Status s;
    if (!g->Step(&s)) return s.ok() ? Result<bool>(false) : Result<bool>(s);
    seq = g->Int(0);
    count = g->Int(1);
    if (g->Int(2) >= sorted.front().step || size_t(count) + sorted.size() > kChunkPoints) {
      return false;
    }
    std::string scratch;
    data.assign(ReadBytes(*g, 3, &scratch));
  }
  data += Encode(sorted);
  typename Db::Guard g(*append);
  g->Bind(1, count + int64_t(sorted.size())).Bind(2, sorted.back().step);
  BindBytes(*g, 3, data);
  g->Bind(4, run_id).Bind(5, key).Bind(6, seq).Bind(7, count);
  Status s;
  bool done = g->Step(&s);
  RETURN_IF_ERROR(s);
  return done;
}

// Writes sorted, duplicate-free points into the chunks of (run, key): appended to the last chunk
// when they follow it, else merged with the chunks their steps overlap (or the unfilled one
// before them), then cut into chunks of up to kChunkPoints. Chunks of a key so stay disjoint and
// free of duplicates.
template <typename Db>
Status WriteChunks(Db& db, const std::string& run_id, const std::string& key,
                   const std::vector<Point>& sorted) {
  if (sorted.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(bool appended, AppendToLastChunk(db, run_id, key, sorted));
  if (appended) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<std::vector<Point>> runs,
                   TakeChunksFor(db, run_id, key, sorted.front().step, sorted.back().step));
  runs.push_back(sorted);
  std::vector<Point> all = Merge(std::move(runs));
  ASSIGN_OR_RETURN(auto* ins, db.Prepare("INSERT INTO metric_chunks (run_id, key, seq, count, "
                                         "min_step, max_step, data) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  for (size_t at = 0; at < all.size(); at += kChunkPoints) {
    size_t n = std::min(kChunkPoints, all.size() - at);
    std::span<const Point> chunk(all.data() + at, n);
    typename Db::Guard g(*ins);
    g->Bind(1, run_id).Bind(2, key).Bind(3, NewChunkSeq()).Bind(4, int64_t(n));
    g->Bind(5, chunk.front().step).Bind(6, chunk.back().step);
    BindBytes(*g, 7, Encode(chunk));
    RETURN_IF_ERROR(g->Exec());
  }
  return Status::Ok();
}

// Moves the row table's points of (run, key) into chunks. One statement takes the rows out
// (DELETE ... RETURNING), so a point another writer adds meanwhile stays a row, never lost.
template <typename Db>
Status Compact(Db& db, const std::string& run_id, const std::string& key) {
  ASSIGN_OR_RETURN(auto* del, db.Prepare("DELETE FROM metrics WHERE run_id = ? AND key = ? "
                                         "RETURNING step, timestamp, value, is_nan"));
  std::vector<Point> points;
  {
    typename Db::Guard g(*del);
    g->Bind(1, run_id).Bind(2, key);
    Status s;
    while (g->Step(&s)) points.push_back({g->Int(0), g->Int(1), g->Double(2), g->Int(3) != 0});
    RETURN_IF_ERROR(s);
  }
  if (points.empty()) return Status::Ok();
  SortUnique(&points);
  return WriteChunks(db, run_id, key, points);
}

// Every (run, key) of the row table into chunks: a migration's conversion of an existing store.
template <typename Db>
Status CompactAll(Db& db) {
  ASSIGN_OR_RETURN(auto keys, db.PrepareUncached("SELECT DISTINCT run_id, key FROM metrics"));
  std::vector<std::pair<std::string, std::string>> all;
  Status s;
  while (keys->Step(&s)) all.emplace_back(keys->Text(0), keys->Text(1));
  RETURN_IF_ERROR(s);
  keys.reset();
  for (const auto& [run_id, key] : all) RETURN_IF_ERROR(Compact(db, run_id, key));
  return Status::Ok();
}

// The points of (run, key) with steps in [min_step, max_step], sorted, without duplicates.
template <typename Db>
Result<std::vector<Point>> Read(Db& db, const std::string& run_id, const std::string& key,
                                int64_t min_step = std::numeric_limits<int64_t>::min(),
                                int64_t max_step = std::numeric_limits<int64_t>::max()) {
  ASSIGN_OR_RETURN(auto* chunks, db.Prepare("SELECT data FROM metric_chunks WHERE run_id = ? "
                                            "AND key = ? AND max_step >= ? AND min_step <= ? "
                                            "ORDER BY min_step"));
  ASSIGN_OR_RETURN(auto* rows, db.Prepare("SELECT step, timestamp, value, is_nan FROM metrics "
                                          "WHERE run_id = ? AND key = ? AND step BETWEEN ? AND ? "
                                          "ORDER BY step, timestamp, is_nan, value"));
  // A key's chunks are mostly disjoint (WriteChunks), so in order of their first step they
  // decode into one sorted run (sorted here when they overlap); the rows not yet compacted are
  // the other.
  std::vector<std::vector<Point>> runs(2);
  std::string scratch;
  {
    typename Db::Guard g(*chunks);
    g->Bind(1, run_id).Bind(2, key).Bind(3, min_step).Bind(4, max_step);
    Status s;
    while (g->Step(&s)) RETURN_IF_ERROR(Decode(ReadBytes(*g, 0, &scratch), &runs[0]));
    RETURN_IF_ERROR(s);
    if (!std::is_sorted(runs[0].begin(), runs[0].end(), Before)) SortUnique(&runs[0]);
    runs[0].erase(std::unique(runs[0].begin(), runs[0].end(), Same), runs[0].end());
  }
  {
    typename Db::Guard g(*rows);
    g->Bind(1, run_id).Bind(2, key).Bind(3, min_step).Bind(4, max_step);
    Status s;
    while (g->Step(&s)) runs[1].push_back({g->Int(0), g->Int(1), g->Double(2), g->Int(3) != 0});
    RETURN_IF_ERROR(s);
  }
  std::vector<Point> all = Merge(std::move(runs));
  if (min_step != std::numeric_limits<int64_t>::min() ||
      max_step != std::numeric_limits<int64_t>::max()) {
    // Chunks overlapping the range hold points outside it too.
    std::erase_if(all, [&](const Point& p) { return p.step < min_step || p.step > max_step; });
  }
  return all;
}

// The page of `points` from `offset`, at most `max_results` (all when <= 0), with the next
// page's token ("" after the last).
inline MetricPoints Page(const std::vector<Point>& points, int64_t max_results, int64_t offset) {
  size_t from = std::min(points.size(), size_t(std::max<int64_t>(offset, 0)));
  size_t to = max_results > 0 ? std::min(points.size(), from + size_t(max_results)) : points.size();
  MetricPoints page;
  page.points.reserve(to - from);
  for (size_t i = from; i < to; ++i) {
    const Point& p = points[i];
    page.points.push_back({p.is_nan ? std::nan("") : p.value, p.timestamp, p.step});
  }
  if (to < points.size()) page.next_page_token = EncodeOffsetToken(int64_t(to));
  return page;
}

}  // namespace ringo::store::series

#endif  // RINGO_STORE_SERIES_SQL_H_
