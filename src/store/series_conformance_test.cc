// Store conformance on every engine: metric histories kept as compressed chunks read exactly as
// MLflow's rows would (duplicates, NaN and infinities, steps out of order and logged again,
// pages across chunk boundaries, the bulk interval, the latest values).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "store/store_conformance.h"

namespace ringo::store {
namespace {

class SeriesStoreTest : public StoreTest {
 protected:
  // Logs `ms` under `key` in batches of 1,000, MLflow's limit per request.
  Status LogAll(const std::string& run, const std::string& key, const std::vector<Metric>& ms) {
    for (size_t at = 0; at < ms.size(); at += 1000) {
      std::vector<Metric> part(ms.begin() + at, ms.begin() + std::min(ms.size(), at + 1000));
      Batch b;
      for (Metric m : part) {
        m.key = key;
        b.metrics.push_back(m);
      }
      RETURN_IF_ERROR(LogBatch(run, std::move(b)));
    }
    return Status::Ok();
  }
};

using Key = std::tuple<int64_t, int64_t, bool, double>;  // step, timestamp, NaN, value

Key KeyOf(const Metric& m) {
  bool nan = std::isnan(m.value);
  return {m.step, m.timestamp, nan, nan ? 0.0 : m.value};
}

// What MLflow returns for these points: each distinct point once, by step then timestamp.
std::vector<Key> Expected(const std::vector<Metric>& logged) {
  std::vector<Key> keys;
  for (const Metric& m : logged) keys.push_back(KeyOf(m));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::vector<Key> Keys(const std::vector<Metric>& read) {
  std::vector<Key> keys;
  for (const Metric& m : read) keys.push_back(KeyOf(m));
  return keys;
}

Batch Points(const std::string& key, const std::vector<Metric>& ms) {
  Batch b;
  for (Metric m : ms) {
    m.key = key;
    b.metrics.push_back(m);
  }
  return b;
}

TEST_P(SeriesStoreTest, BatchesSinglesAndRepeatsReadAsOneHistory) {
  std::string run = MustCreateRun("0").info.run_id;
  std::vector<Metric> logged;
  std::vector<Metric> loop;  // a training loop's batch: straight into chunks
  for (int64_t s = 0; s < 3000; ++s) loop.push_back(Metric{"", 1.0 / (s + 1), 1000 + s, s});
  ASSERT_TRUE(LogAll(run, "loss", loop).ok());
  logged.insert(logged.end(), loop.begin(), loop.end());
  // The same steps again (exact duplicates), and some with new values or timestamps.
  ASSERT_TRUE(LogBatch(run, Points("loss", std::vector<Metric>(loop.begin(), loop.begin() + 100)))
                  .ok());
  std::mt19937 gen(3);
  for (int i = 0; i < 400; ++i) {  // singles, out of order: rows, compacted along the way
    int64_t step = int64_t(gen() % 3500);
    Metric m{"loss", i % 50 == 0 ? std::nan("") : double(gen() % 7), 5000 + i % 3, step};
    if (i % 97 == 0) m.value = (i % 2 ? 1 : -1) * kInf;
    ASSERT_TRUE(LogBatch(run, Points("loss", {m})).ok());
    logged.push_back(m);
    if (i % 10 == 0) {  // and again, the same point
      ASSERT_TRUE(LogBatch(run, Points("loss", {m})).ok());
    }
  }
  EXPECT_EQ(Keys(History(run, "loss")), Expected(logged));
}

// A training loop's batches of 100 steps are appended to the last chunk as segments of their
// own; later writes that reach into those chunks (a re-logged stretch, late steps) and pages
// must read every segment.
TEST_P(SeriesStoreTest, BatchesAppendedToTheLastChunkReadAsOneHistory) {
  std::string run = MustCreateRun("0").info.run_id;
  std::vector<Metric> logged;
  for (int64_t batch = 0; batch < 25; ++batch) {
    for (const char* key : {"a", "b"}) {
      std::vector<Metric> ms;
      for (int64_t s = batch * 100; s < batch * 100 + 100; ++s) {
        ms.push_back(Metric{"", s * 0.25 + (key[0] == 'b'), 7000 + s, s});
      }
      ASSERT_TRUE(LogBatch(run, Points(key, ms)).ok());
      if (key[0] == 'a') logged.insert(logged.end(), ms.begin(), ms.end());
    }
  }
  std::vector<Metric> again;  // steps 950-1049 with new timestamps, across two chunks' segments
  for (int64_t s = 950; s < 1050; ++s) again.push_back(Metric{"", -1.0 * s, 9000 + s, s});
  ASSERT_TRUE(LogBatch(run, Points("a", again)).ok());
  logged.insert(logged.end(), again.begin(), again.end());
  std::vector<Metric> late;  // a late stretch before the last chunk
  for (int64_t s = 1800; s < 1900; s += 2) late.push_back(Metric{"", std::nan(""), 1, s});
  ASSERT_TRUE(LogBatch(run, Points("a", late)).ok());
  logged.insert(logged.end(), late.begin(), late.end());
  std::vector<Metric> tail;  // and the loop goes on
  for (int64_t s = 2500; s < 2600; ++s) tail.push_back(Metric{"", 1.5, 8000 + s, s});
  ASSERT_TRUE(LogBatch(run, Points("a", tail)).ok());
  logged.insert(logged.end(), tail.begin(), tail.end());

  std::vector<Key> want = Expected(logged);
  EXPECT_EQ(Keys(History(run, "a")), want);
  std::vector<Key> paged;
  std::string token;
  do {
    auto page = store_->GetMetricHistory(run, "a", 777, token);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const Key& k : Keys(page->metrics)) paged.push_back(k);
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(paged, want);
  EXPECT_EQ(History(run, "b").size(), 2500u);
}

TEST_P(SeriesStoreTest, StepsLoggedAgainAndAgainStayOneHistory) {
  // The same 100 steps, 40 times with new timestamps (and once more exactly): chunks of the
  // key end up overlapping, which readers merge.
  std::string run = MustCreateRun("0").info.run_id;
  std::vector<Metric> logged;
  for (int64_t round = 0; round < 40; ++round) {
    std::vector<Metric> batch;
    for (int64_t s = 0; s < 100; ++s) batch.push_back(Metric{"", double(s * round), round, s});
    ASSERT_TRUE(LogAll(run, "again", batch).ok());
    if (round == 20) {
      ASSERT_TRUE(LogAll(run, "again", batch).ok());
    }
    logged.insert(logged.end(), batch.begin(), batch.end());
  }
  EXPECT_EQ(Keys(History(run, "again")), Expected(logged));
  auto part = store_->GetMetricHistoryBulkInterval({run}, "again", 10, 12, 5000);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part->size(), 3u * 40);
}

TEST_P(SeriesStoreTest, PagesCrossChunkBoundariesWithoutGapsOrRepeats) {
  std::string run = MustCreateRun("0").info.run_id;
  std::vector<Metric> logged;
  for (int64_t s = 0; s < 2500; ++s) logged.push_back(Metric{"", double(s % 13), s, s});
  for (size_t at = 0; at < logged.size(); at += 700) {
    std::vector<Metric> part(logged.begin() + at,
                             logged.begin() + std::min(logged.size(), at + 700));
    ASSERT_TRUE(LogBatch(run, Points("acc", part)).ok());
  }
  std::vector<Metric> paged;
  std::string token;
  int pages = 0;
  do {
    auto page = store_->GetMetricHistory(run, "acc", 333, token);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    paged.insert(paged.end(), page->metrics.begin(), page->metrics.end());
    token = page->next_page_token;
    ASSERT_LT(++pages, 20);
  } while (!token.empty());
  EXPECT_EQ(pages, 8);
  EXPECT_EQ(Keys(paged), Expected(logged));
}

TEST_P(SeriesStoreTest, BulkIntervalReadsTheStepRangeAcrossChunksAndRows) {
  std::string run = MustCreateRun("0").info.run_id;
  std::vector<Metric> loop;
  for (int64_t s = 0; s < 2000; ++s) loop.push_back(Metric{"", double(s), s, s});
  ASSERT_TRUE(LogAll(run, "x", loop).ok());
  ASSERT_TRUE(LogMetric(run, "x", -1, 1500, 9).ok());  // a row inside a chunk's range
  auto got = store_->GetMetricHistoryBulkInterval({run}, "x", 1490, 1510, 2500);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::vector<Metric> read;
  for (const RunMetric& m : *got) read.push_back(m.metric);
  std::vector<Metric> want(loop.begin() + 1490, loop.begin() + 1511);
  want.push_back(Metric{"x", -1, 9, 1500});
  EXPECT_EQ(Keys(read), Expected(want));
}

TEST_P(SeriesStoreTest, LatestValueIsTheHighestStepWhateverTheWritePath) {
  std::string run = MustCreateRun("0").info.run_id;
  std::vector<Metric> loop;
  for (int64_t s = 0; s < 200; ++s) loop.push_back(Metric{"", double(s), 10, s});
  std::reverse(loop.begin(), loop.end());  // the highest step first in the batch
  ASSERT_TRUE(LogBatch(run, Points("m", loop)).ok());
  ASSERT_TRUE(LogMetric(run, "m", 5.0, 150, 99).ok());  // lower step: not the latest
  auto got = store_->GetRun(run);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->metrics.size(), 1u);
  EXPECT_EQ(got->metrics[0].step, 199);
  EXPECT_EQ(got->metrics[0].value, 199.0);
  ASSERT_TRUE(LogMetric(run, "m", -3.0, 500, 1).ok());
  got = store_->GetRun(run);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->metrics[0].step, 500);
  EXPECT_EQ(got->metrics[0].value, -3.0);
}

TEST_P(SeriesStoreTest, BatchesOfManyKeysAndRunsCommittedTogetherKeepEachHistory) {
  // A training loop logging several keys per batch, for two runs at once (their batches may
  // commit in one transaction): keys with many points go to chunks, those with few to rows; a
  // key re-logs its first steps now and then, another logs out of order.
  std::vector<std::string> runs = {MustCreateRun("0").info.run_id, MustCreateRun("0").info.run_id};
  const std::vector<std::string> keys = {"k0", "k1", "k2", "few"};
  std::map<std::pair<std::string, std::string>, std::vector<Metric>> logged;
  for (int64_t round = 0; round < 24; ++round) {
    std::vector<std::pair<std::string, Batch>> batches;
    for (const std::string& run : runs) {
      Batch b;
      for (const std::string& key : keys) {
        int64_t n = key == "few" ? 5 : 100;
        int64_t first = key == "k1" && round % 7 == 6 ? 0 : round * 100;
        for (int64_t i = 0; i < n; ++i) {
          int64_t step = key == "k2" ? first + (i * 37) % n : first + i;
          Metric m{key, double(step % 11) + double(round) / 100, 1000 + round, step};
          b.metrics.push_back(m);
          logged[{run, key}].push_back(m);
        }
      }
      batches.emplace_back(run, std::move(b));
    }
    std::vector<std::thread> writers;
    std::vector<Status> results(batches.size());
    for (size_t i = 0; i < batches.size(); ++i) {
      writers.emplace_back([&, i] { results[i] = LogBatch(batches[i].first, batches[i].second); });
    }
    for (std::thread& t : writers) t.join();
    for (const Status& st : results) ASSERT_TRUE(st.ok()) << st.ToString();
  }
  for (const std::string& run : runs) {
    auto got = store_->GetRun(run);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->metrics.size(), keys.size());
    for (const Metric& latest : got->metrics) {
      const std::vector<Metric>& all = logged[{run, latest.key}];
      EXPECT_EQ(Keys(History(run, latest.key)), Expected(all)) << latest.key;
      auto highest = std::max_element(all.begin(), all.end(), [](const Metric& a, const Metric& b) {
        return std::make_tuple(a.step, a.timestamp, a.value) <
               std::make_tuple(b.step, b.timestamp, b.value);
      });
      EXPECT_EQ(KeyOf(latest), KeyOf(*highest)) << latest.key;
    }
  }
}

RINGO_ON_EVERY_ENGINE(SeriesStoreTest);

}  // namespace
}  // namespace ringo::store
