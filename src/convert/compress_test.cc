// Unit tests of the weight compression arithmetic.
#include "convert/compress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

namespace ringo::convert {
namespace {

std::vector<float> RandomWeights(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 0.1f);
  std::vector<float> w(n);
  for (float& v : w) v = dist(gen);
  return w;
}

TEST(CompressTest, PackBitsFillsEachByteFromItsLeastSignificantBit) {
  // 2-bit values 0, 3, 2, 1 | 3: byte 0 = 01 10 11 00 (i3 i2 i1 i0), byte 1 = 11 in its low bits.
  EXPECT_EQ(PackBits({0, 3, 2, 1, 3}, 2), std::string("\x6c\x03", 2));
  // 6-bit values straddle bytes: 0b111111 then 0b000001.
  EXPECT_EQ(PackBits({63, 1}, 6), std::string("\x7f\x00", 2));
  EXPECT_EQ(PackBits({1, 0, 1, 1, 0, 0, 0, 0, 1}, 1), std::string("\x0d\x01", 2));
}

TEST(CompressTest, Int8PerChannelIsWithinHalfAStepOfEachChannel) {
  const int64_t channels = 8;
  std::vector<float> w = RandomWeights(channels * 300, 1);
  for (size_t k = 0; k < 300; ++k) w[k] *= 20.0f;  // one channel far larger than the others
  for (int64_t channels_used : {int64_t{1}, channels}) {
    SCOPED_TRACE(channels_used);
    Int8Weights q = QuantizeInt8(w, channels_used);
    ASSERT_EQ(q.scale.size(), static_cast<size_t>(channels_used));
    const size_t per = w.size() / channels_used;
    double worst_small_channel = 0;
    for (size_t k = 0; k < w.size(); ++k) {
      const float s = q.scale[k / per];
      EXPECT_LE(std::fabs(w[k] - s * q.q[k]), s / 2 + 1e-7f);
      if (k >= 300) {
        worst_small_channel = std::max(worst_small_channel, double(std::fabs(w[k] - s * q.q[k])));
      }
    }
    // Per-channel scales keep the small channels' error small; one scale does not.
    if (channels_used == channels) {
      EXPECT_LT(worst_small_channel, 0.005);
    } else {
      EXPECT_GT(worst_small_channel, 0.005);
    }
  }
}

TEST(CompressTest, PalettizeUsesAtMostTheTableAndTheNearestEntry) {
  std::vector<float> w = RandomWeights(5000, 2);
  for (int bits : {1, 2, 4, 6, 8}) {
    SCOPED_TRACE(bits);
    Palette p = Palettize(w, bits);
    ASSERT_EQ(p.lut.size(), size_t{1} << bits);
    ASSERT_EQ(p.packed.size(), (w.size() * bits + 7) / 8);
    double err = 0, spread = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      uint32_t index = 0;
      for (int b = 0; b < bits; ++b) {
        size_t bit = i * bits + b;
        index |= ((static_cast<uint8_t>(p.packed[bit / 8]) >> (bit % 8)) & 1u) << b;
      }
      float nearest = p.lut[0];
      for (float c : p.lut) {
        if (std::fabs(c - w[i]) < std::fabs(nearest - w[i])) nearest = c;
      }
      EXPECT_FLOAT_EQ(std::fabs(p.lut[index] - w[i]), std::fabs(nearest - w[i]));
      err += std::fabs(p.lut[index] - w[i]);
      spread += std::fabs(w[i]);
    }
    // More bits, less error: 6 bits is within 3% of the weights' mean magnitude.
    if (bits == 6) {
      EXPECT_LT(err / spread, 0.03);
    }
  }
}

TEST(CompressTest, PruneZeroesExactlyTheSmallestFraction) {
  std::vector<float> w = RandomWeights(1001, 3);
  Sparse s = Prune(w, 0.5);
  EXPECT_EQ(s.kept.size(), 1001u - 500u);
  ASSERT_EQ(s.mask.size(), (1001u + 7) / 8);
  float smallest_kept = 1e9f, largest_dropped = 0;
  size_t next = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    bool kept = (static_cast<uint8_t>(s.mask[i / 8]) >> (i % 8)) & 1u;
    if (kept) {
      EXPECT_EQ(s.kept[next++], w[i]);
      smallest_kept = std::min(smallest_kept, std::fabs(w[i]));
    } else {
      largest_dropped = std::max(largest_dropped, std::fabs(w[i]));
    }
  }
  EXPECT_LE(largest_dropped, smallest_kept);
  EXPECT_EQ(Prune(w, 0.0).kept.size(), w.size());
}

}  // namespace
}  // namespace ringo::convert
