// The PostgreSQL engine's chunk writes for many metric keys of a run in two statements
// (private to the engine's folder; chunk_writes.cc).
#ifndef RINGO_STORE_POSTGRES_CHUNK_WRITES_H_
#define RINGO_STORE_POSTGRES_CHUNK_WRITES_H_

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

// Writes each key's points into the chunks of (run, key) as series::WriteChunks does for one
// key: merged with the chunks they overlap (or the unfilled one before them), then cut into
// chunks. The keys are distinct.
Status WriteChunksOfKeys(Db& db, const std::string& run_id, const std::vector<KeyPoints>& keys);

}  // namespace ringo::store::pg

#endif  // RINGO_STORE_POSTGRES_CHUNK_WRITES_H_
