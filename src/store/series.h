// Metric histories as compressed series (private to store/): a run's points of one metric key
// are kept as chunks of up to kChunkPoints points, each one row holding the points sorted by
// (step, timestamp, value) and encoded compactly: steps and timestamps as zigzag varint deltas,
// values XOR'd with the previous value and stored without their zero bytes; a chunk is one or
// more such segments back to back (a training loop's batches are appended to the last chunk as
// segments of their own, without decoding what it holds). Chunks of one key
// are kept disjoint by step where that is cheap (a write merges with the chunks it overlaps)
// and may overlap where it is not (steps logged again and again); readers merge them and drop
// exact duplicates, which keeps MLflow's semantics (a point logged twice is one point).
#ifndef RINGO_STORE_SERIES_H_
#define RINGO_STORE_SERIES_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ringo::store::series {

// One point of a history; a NaN is is_nan with value 0, as the row tables hold it.
struct Point {
  int64_t step = 0;
  int64_t timestamp = 0;
  double value = 0;
  bool is_nan = false;
};

// The order histories are read in: step, timestamp, then value (NaN after numbers), so merged
// chunks read the same whatever order they were written in.
bool Before(const Point& a, const Point& b);
bool Same(const Point& a, const Point& b);

// Points per chunk at most; a batch of at least kDirectPoints points of one key is written as
// chunks at once, fewer go to the row table until kCompactAt of them gather.
inline constexpr size_t kChunkPoints = 1024;
inline constexpr size_t kDirectPoints = 64;
inline constexpr size_t kCompactAt = 256;
// A chunk of fewer points than this is merged with a write whose steps follow it and that does
// not fit into it; a fuller one is left as it is (merging it would decode and rewrite a whole
// chunk to gain at most half of one).
inline constexpr size_t kUnfilledChunk = kChunkPoints / 2;
// A write takes out (to merge with) the chunks its steps overlap only when they are few: at most
// kMaxTakenChunks chunks of at most 2 * kChunkPoints points. Steps logged again and again
// otherwise overlap ever more chunks, and rewriting (or even counting) them all on every write
// would cost more than readers' merging.
inline constexpr size_t kMaxTakenChunks = 32;

// Sorts `points` and removes exact duplicates.
void SortUnique(std::vector<Point>* points);

// The bytes of one segment of sorted points (1 <= size <= kChunkPoints): a chunk, or what is
// appended to one whose points all come before these.
std::string Encode(std::span<const Point> sorted);
// Appends the points of a chunk (all its segments) to `out`. kInternal naming the damage for
// malformed bytes.
Status Decode(std::string_view data, std::vector<Point>* out);

// Merges several sorted runs of points (decoded chunks and row-table points) into one sorted
// run without duplicates; concatenates when they do not overlap, as a training loop's do.
std::vector<Point> Merge(std::vector<std::vector<Point>> runs);

}  // namespace ringo::store::series

#endif  // RINGO_STORE_SERIES_H_
