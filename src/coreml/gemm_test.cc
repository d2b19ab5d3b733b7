// Tests of the evaluator's matrix product, through OpenBLAS and without it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "coreml/kernels.h"

namespace ringo::coreml::kernels {
namespace {

// Each element as its own dot product, in double.
std::vector<float> Reference(const std::vector<float>& a, const std::vector<float>& b, int64_t m,
                             int64_t n, int64_t k, bool ta, bool tb) {
  std::vector<float> c(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        sum += double(a[static_cast<size_t>(ta ? p * m + i : i * k + p)]) *
               double(b[static_cast<size_t>(tb ? j * k + p : p * n + j)]);
      }
      c[static_cast<size_t>(i * n + j)] = static_cast<float>(sum);
    }
  }
  return c;
}

TEST(GemmTest, EveryTransposeAgreesWithDotProducts) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  const int64_t m = 5, n = 7, k = 3;
  std::vector<float> a(m * k), b(k * n);
  for (float& x : a) x = value(rng);
  for (float& x : b) x = value(rng);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      std::vector<float> want = Reference(a, b, m, n, k, ta, tb);
      std::vector<float> blas(m * n, 99.0f), plain(m * n, 99.0f);
      Gemm(a.data(), b.data(), blas.data(), m, n, k, ta, tb);
      PlainGemm(a.data(), b.data(), plain.data(), m, n, k, ta, tb);
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_NEAR(blas[i], want[i], 1e-5) << "ta=" << ta << " tb=" << tb << " at " << i;
        EXPECT_NEAR(plain[i], want[i], 1e-5) << "ta=" << ta << " tb=" << tb << " at " << i;
      }
    }
  }
}

TEST(GemmTest, EmptyInnerDimensionGivesZeros) {
  std::vector<float> c(6, 5.0f);
  Gemm(nullptr, nullptr, c.data(), 2, 3, 0, false, false);
  for (float x : c) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace ringo::coreml::kernels
