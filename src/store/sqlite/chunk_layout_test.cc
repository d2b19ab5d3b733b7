// Tests of how a key's points are laid out in chunks on SQLite: what a training loop's writes
// cost depends on it, what readers get must not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/series_sql.h"
#include "store/sqlite/db.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/test_db.h"

namespace ringo::store {
namespace {

class ChunkLayoutTest : public DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    ASSERT_TRUE(Migrate(*db_).ok());
  }
  // The point counts of the key's chunks, by step.
  std::string Counts(const std::string& key) {
    return Text("SELECT group_concat(count, ',') FROM (SELECT count FROM metric_chunks "
                "WHERE key = '" + key + "' ORDER BY min_step)");
  }
  // Writes steps [first, first + n) as one batch of `key`.
  void Write(const std::string& key, int64_t first, int64_t n) {
    std::vector<series::Point> points;
    for (int64_t s = first; s < first + n; ++s) points.push_back({s, 100 + s, s * 0.5, false});
    ASSERT_TRUE(db_->ExecScript("BEGIN").ok());
    ASSERT_TRUE(series::WriteChunks(*db_, "r", key, points).ok());
    ASSERT_TRUE(db_->ExecScript("COMMIT").ok());
  }
};

TEST_F(ChunkLayoutTest, ALoopsBatchesFillChunksWithoutRewritingFullerOnes) {
  // Batches of 100 steps: ten fill a chunk to 1,000 points; the eleventh does not fit, and the
  // chunk, more than half full, is left as it is rather than decoded and cut again.
  for (int64_t b = 0; b < 30; ++b) Write("loss", b * 100, 100);
  EXPECT_EQ(Counts("loss"), "1000,1000,1000");
  auto read = series::Read(*db_, "r", "loss");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 3000u);
  for (int64_t s = 0; s < 3000; ++s) {
    ASSERT_EQ((*read)[size_t(s)].step, s);
    ASSERT_EQ((*read)[size_t(s)].value, s * 0.5);
  }
}

TEST_F(ChunkLayoutTest, AnUnfilledChunkIsMergedWithTheWriteAfterIt) {
  // A chunk under half full takes the next write that does not fit into it as a segment: the
  // two are merged and cut into full chunks, so small writes do not leave small chunks behind.
  Write("acc", 0, 300);
  Write("acc", 300, 900);
  EXPECT_EQ(Counts("acc"), "1024,176");
  Write("acc", 1200, 900);  // the 176 are under half a chunk: merged with these
  EXPECT_EQ(Counts("acc"), "1024,1024,52");
  auto read = series::Read(*db_, "r", "acc");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->size(), 2100u);
}

}  // namespace
}  // namespace ringo::store
