// The PostgreSQL engine's chunk writes for many keys of a run at once: what
// series::WriteChunks (store/series_sql.h) does for one key, in two statements for all of them,
// since every statement is a round trip to the server and a training loop's batch touches
// every key it logs.
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

constexpr const char* kInsertChunks =
    "INSERT INTO metric_chunks (run_id, key, seq, count, min_step, max_step, data) SELECT ?, * "
    "FROM unnest(?::text[], ?::bigint[], ?::int[], ?::bigint[], ?::bigint[], ?::bytea[])";

// A PostgreSQL array literal of texts or numbers: {"a","b\"c"} / {1,2}.
class ArrayLiteral {
 public:
  void AddText(std::string_view v) {
    Next();
    out_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out_ += '\\';
      out_ += c;
    }
    out_ += '"';
  }
  void AddInt(int64_t v) {
    Next();
    out_ += std::to_string(v);
  }
  // A bytea element in hex input form ("\\x0a1b": the backslash escaped for the array).
  void AddBytes(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    Next();
    out_ += "\"\\\\x";
    for (unsigned char c : bytes) {
      out_ += kHex[c >> 4];
      out_ += kHex[c & 15];
    }
    out_ += '"';
  }
  std::string Done() { return (out_.empty() ? "{" : out_) + "}"; }

 private:
  void Next() { out_ += out_.empty() ? '{' : ','; }
  std::string out_;
};

// The chunks each key's `points` overlap (or follow), taken out of the table, decoded.
Result<std::map<std::string_view, std::vector<std::vector<series::Point>>>> Take(
    Db& db, const std::string& run_id, const std::vector<KeyPoints>& keys) {
  ArrayLiteral names, firsts, lasts;
  for (const KeyPoints& k : keys) {
    names.AddText(k.key);
    firsts.AddInt(k.points.front().step);
    lasts.AddInt(k.points.back().step);
  }
  ASSIGN_OR_RETURN(Stmt * q, db.Prepare(kTakeChunks));
  StmtGuard g(*q);
  g->Bind(1, names.Done()).Bind(2, firsts.Done()).Bind(3, lasts.Done());
  g->Bind(4, int64_t(series::kMaxTakenChunks)).Bind(5, run_id);
  g->Bind(6, int64_t(series::kMaxTakenChunks + 1)).Bind(7, int64_t(2 * series::kChunkPoints));
  g->Bind(8, int64_t(series::kChunkPoints));
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

Status WriteChunksOfKeys(Db& db, const std::string& run_id, const std::vector<KeyPoints>& keys) {
  if (keys.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto taken, Take(db, run_id, keys));
  ArrayLiteral names, seqs, counts, mins, maxs, datas;
  for (const KeyPoints& k : keys) {
    std::vector<std::vector<series::Point>> runs = std::move(taken[k.key]);
    runs.push_back(k.points);
    std::vector<series::Point> all = series::Merge(std::move(runs));
    for (size_t at = 0; at < all.size(); at += series::kChunkPoints) {
      size_t n = std::min(series::kChunkPoints, all.size() - at);
      std::span<const series::Point> chunk(all.data() + at, n);
      names.AddText(k.key);
      seqs.AddInt(series::NewChunkSeq());
      counts.AddInt(int64_t(n));
      mins.AddInt(chunk.front().step);
      maxs.AddInt(chunk.back().step);
      datas.AddBytes(series::Encode(chunk));
    }
  }
  ASSIGN_OR_RETURN(Stmt * ins, db.Prepare(kInsertChunks));
  StmtGuard g(*ins);
  g->Bind(1, run_id).Bind(2, names.Done()).Bind(3, seqs.Done()).Bind(4, counts.Done());
  g->Bind(5, mins.Done()).Bind(6, maxs.Done()).Bind(7, datas.Done());
  return g->Exec();
}

}  // namespace ringo::store::pg
