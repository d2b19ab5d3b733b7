// Tests of the metric chunk format and of merging chunks into one history.
#include "store/series.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

namespace ringo::store::series {
namespace {

std::vector<Point> RoundTrip(const std::vector<Point>& points) {
  std::vector<Point> out;
  EXPECT_TRUE(Decode(Encode(points), &out).ok());
  return out;
}

void ExpectSame(const std::vector<Point>& a, const std::vector<Point>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(Same(a[i], b[i])) << "point " << i << ": step " << a[i].step << " vs "
                                  << b[i].step << ", value " << a[i].value << " vs "
                                  << b[i].value;
  }
}

TEST(SeriesTest, RoundTripsEveryKindOfValue) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<Point> points = {
      {-5, 100, -0.0, false},  {0, 99, 0.0, false},          {0, 100, 1.5, false},
      {0, 100, 0, true},       {1, -7, kInf, false},         {2, 0, -kInf, false},
      {3, INT64_MAX, 1e-300, false}, {INT64_MAX, INT64_MIN, -1e300, false},
      {INT64_MAX, INT64_MAX, 0.1, false}};
  SortUnique(&points);
  ExpectSame(RoundTrip(points), points);
}

TEST(SeriesTest, ATrainingLoopTakesFewBytesPerPoint) {
  std::vector<Point> points;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> noise(0, 0.01f);
  for (int64_t i = 0; i < 1000; ++i) {
    // A float32 loss, as frameworks log it, with the wall clock of a step every ~20 ms.
    points.push_back({i, 1'700'000'000'000 + i * 20 + (i % 3), double(2.0f / (1 + i) + noise(gen)),
                      false});
  }
  std::string bytes = Encode(points);
  ExpectSame(RoundTrip(points), points);
  EXPECT_LT(bytes.size(), points.size() * 8) << bytes.size() << " bytes";
}

// Values of every width of XOR (1 to 8 bytes, any leading and trailing zero bytes), read from
// the middle of a chunk and from its last bytes alike.
TEST(SeriesTest, RandomPointsRoundTripWhereverTheyEnd) {
  std::mt19937_64 gen(11);
  for (int round = 0; round < 200; ++round) {
    std::vector<Point> points;
    int64_t step = int64_t(gen() % 1000) - 500;
    const size_t n = 1 + gen() % 40;
    for (size_t i = 0; i < n; ++i) {
      step += int64_t(gen() % 3);
      uint64_t bits = gen();
      bits &= ~0ull >> (8 * (gen() % 8));  // leading zero bytes
      bits &= ~0ull << (8 * (gen() % 8));  // trailing zero bytes
      double v = std::bit_cast<double>(bits);
      const bool nan = std::isnan(v) || gen() % 17 == 0;
      points.push_back({step, int64_t(gen() >> (gen() % 64)), nan ? 0.0 : v, nan});
    }
    SortUnique(&points);
    ExpectSame(RoundTrip(points), points);
    const std::string bytes = Encode(points);
    for (size_t cut = 0; cut < bytes.size(); cut += 1 + bytes.size() / 7) {
      std::vector<Point> out;
      EXPECT_FALSE(Decode(bytes.substr(0, cut), &out).ok()) << "cut at " << cut;
    }
  }
}

// A chunk may be several segments back to back (batches appended to it): they read in order,
// and a damaged later segment fails the whole chunk.
TEST(SeriesTest, SegmentsOfAChunkReadBackToBack) {
  std::vector<Point> first = {{1, 10, 0.5, false}, {2, 11, 0.25, false}};
  std::vector<Point> second = {{3, 12, 0.0, true}, {7, 5, -2.0, false}};
  std::vector<Point> third = {{8, 13, 1e300, false}};
  std::string bytes = Encode(first) + Encode(second) + Encode(third);
  std::vector<Point> out;
  ASSERT_TRUE(Decode(bytes, &out).ok());
  std::vector<Point> want = first;
  want.insert(want.end(), second.begin(), second.end());
  want.insert(want.end(), third.begin(), third.end());
  ASSERT_EQ(out.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(Same(out[i], want[i])) << i;
  std::string two = Encode(first) + Encode(second);
  for (size_t cut = Encode(first).size() + 1; cut < two.size(); ++cut) {
    std::vector<Point> part;
    EXPECT_FALSE(Decode(two.substr(0, cut), &part).ok()) << "cut at " << cut;
  }
}

TEST(SeriesTest, DamagedChunksAreRefusedNotReadPastTheirEnd) {
  std::vector<Point> points = {{1, 2, 3.0, false}, {2, 3, 4.5, false}};
  std::string bytes = Encode(points);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<Point> out;
    EXPECT_FALSE(Decode(bytes.substr(0, cut), &out).ok()) << "cut at " << cut;
  }
  std::vector<Point> out;
  EXPECT_FALSE(Decode(bytes + "x", &out).ok());
  std::string wrong_format = bytes;
  wrong_format[0] = 9;
  EXPECT_FALSE(Decode(wrong_format, &out).ok());
  std::vector<Point> one = {{1, 1, 2.0, false}};
  std::string bad_header = Encode(one);  // ... header 0x07, then the value's top byte 0x40
  bad_header[bad_header.size() - 2] = char(0x88);  // 8 leading, 8 trailing zero bytes: impossible
  EXPECT_FALSE(Decode(bad_header, &out).ok());
}

TEST(SeriesTest, MergeDropsDuplicatesAndOrdersOverlappingChunks) {
  std::vector<Point> first = {{0, 1, 1.0, false}, {1, 1, 2.0, false}, {5, 1, 3.0, false}};
  std::vector<Point> again = {{1, 1, 2.0, false}, {1, 2, 2.5, false}, {3, 1, 0, true}};
  std::vector<Point> merged = Merge({first, again, {}});
  std::vector<Point> want = {{0, 1, 1.0, false}, {1, 1, 2.0, false}, {1, 2, 2.5, false},
                             {3, 1, 0, true},    {5, 1, 3.0, false}};
  ExpectSame(merged, want);
}

TEST(SeriesTest, MergeOfDisjointChunksKeepsTheirOrder) {
  std::vector<Point> a = {{0, 0, 1, false}, {1, 0, 1, false}};
  std::vector<Point> b = {{2, 0, 1, false}};
  ExpectSame(Merge({b, a}), {{0, 0, 1, false}, {1, 0, 1, false}, {2, 0, 1, false}});
}

TEST(SeriesTest, SameStepAndTimeOrdersByValueWithNanLast) {
  std::vector<Point> p = {{1, 1, 0, true}, {1, 1, 2.0, false}, {1, 1, -1.0, false}};
  SortUnique(&p);
  EXPECT_EQ(p[0].value, -1.0);
  EXPECT_EQ(p[1].value, 2.0);
  EXPECT_TRUE(p[2].is_nan);
}

}  // namespace
}  // namespace ringo::store::series
