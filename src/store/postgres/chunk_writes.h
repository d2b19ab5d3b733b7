// The PostgreSQL engine's chunk writes for many metric keys of a run: one statement takes the
// chunks back, one more (the caller's) inserts the merged ones (private to the engine's folder;
// chunk_writes.cc).
#ifndef RINGO_STORE_POSTGRES_CHUNK_WRITES_H_
#define RINGO_STORE_POSTGRES_CHUNK_WRITES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/postgres/db.h"
#include "store/series.h"

namespace ringo::store::pg {

// One key's new points: sorted, without duplicates, at least one.
struct KeyPoints {
  std::string_view key;
  std::vector<series::Point> points;
};

// The chunks to insert for a run's keys, as the columns of RINGO_INSERT_CHUNKS_CTE.
struct ChunkRows {
  std::vector<std::string_view> keys;
  std::vector<int64_t> seqs, counts, mins, maxs;
  std::vector<std::string> datas;

  // Binds the run and the columns to ?first ... ?first+6.
  void Bind(Stmt& stmt, const std::string& run_id, int first) const;
};

// The insert of ChunkRows as a common table expression, for a statement that writes the chunks
// together with something else in one round trip. Its seven placeholders come first.
#define RINGO_INSERT_CHUNKS_CTE                                                              \
  "chunk_rows AS (INSERT INTO metric_chunks (run_id, key, seq, count, min_step, max_step, "  \
  "data) SELECT ?, * FROM unnest(?::text[], ?::bigint[], ?::int[], ?::bigint[], ?::bigint[], " \
  "?::bytea[]))"

// Takes out of (run, key) the chunks each key's points overlap (or the unfilled one before
// them) and returns the chunks to insert in their place, as series::WriteChunks does for one
// key: the points merged with the chunks taken, cut into chunks. The caller inserts them in the
// same transaction (RINGO_INSERT_CHUNKS_CTE). The keys are distinct.
Result<ChunkRows> TakeAndMergeChunks(Db& db, const std::string& run_id,
                                     const std::vector<KeyPoints>& keys);

}  // namespace ringo::store::pg

#endif  // RINGO_STORE_POSTGRES_CHUNK_WRITES_H_
