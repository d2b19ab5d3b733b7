// Tests of metric downsampling: bucket bounds, spikes kept, NaN handling.
#include "api/downsample.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ringo::api {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(DownsampleTest, EmptySeriesHasNoBuckets) { EXPECT_TRUE(Downsample({}, 10).empty()); }

TEST(DownsampleTest, KeepsEverySpikeAsMinOrMax) {
  std::vector<std::pair<double, double>> points;
  for (int i = 0; i < 1000; ++i) points.emplace_back(i, i == 517 ? 1e6 : (i == 3 ? -5 : 1));
  auto got = Downsample(points, 10);
  ASSERT_EQ(got.size(), 10u);
  int64_t total = 0;
  double mx = -1e9, mn = 1e9;
  for (const Bucket& b : got) {
    total += b.count;
    mx = std::max(mx, b.max);
    mn = std::min(mn, b.min);
  }
  EXPECT_EQ(total, 1000);
  EXPECT_EQ(mx, 1e6);
  EXPECT_EQ(mn, -5);
  EXPECT_EQ(got[5].max, 1e6);
  EXPECT_EQ(got[0].x, 0);
  EXPECT_EQ(got[9].last, 1);
}

TEST(DownsampleTest, Table) {
  struct Case {
    std::vector<std::pair<double, double>> points;
    int64_t buckets;
    std::vector<int64_t> counts;
  };
  const Case cases[] = {
      {{{5, 1}}, 100, {1}},                          // one point
      {{{2, 1}, {2, 3}, {2, 2}}, 4, {3}},            // one x: one bucket
      {{{0, 1}, {1, 1}, {2, 1}, {3, 1}}, 2, {2, 2}},
      {{{0, 1}, {10, 1}}, 5, {1, 1}},                // empty buckets are left out
      {{{0, 1}, {1, 1}, {2, 1}}, 1, {3}},
  };
  for (const Case& c : cases) {
    auto got = Downsample(c.points, c.buckets);
    ASSERT_EQ(got.size(), c.counts.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].count, c.counts[i]) << i;
  }
}

TEST(DownsampleTest, NanIsFirstOrLastButNeverMinOrMax) {
  auto got = Downsample({{0, kNaN}, {1, 2}, {2, 7}, {3, kNaN}}, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(std::isnan(got[0].first));
  EXPECT_TRUE(std::isnan(got[0].last));
  EXPECT_EQ(got[0].min, 2);
  EXPECT_EQ(got[0].max, 7);
  auto all_nan = Downsample({{0, kNaN}, {1, kNaN}}, 1);
  EXPECT_TRUE(std::isnan(all_nan[0].min));
  EXPECT_TRUE(std::isnan(all_nan[0].max));
}

}  // namespace
}  // namespace ringo::api
