#include "store/step_sampling.h"

#include <gtest/gtest.h>

#include <numeric>

namespace ringo::store {
namespace {

std::vector<int64_t> Range(int64_t from, int64_t to, int64_t by = 1) {
  std::vector<int64_t> v;
  for (int64_t i = from; i < to; i += by) v.push_back(i);
  return v;
}

TEST(SampleStepsTest, EverythingWhenFewerThanMax) {
  EXPECT_EQ(SampleSteps({Range(4, 9)}, 5), (std::set<int64_t>{4, 5, 6, 7, 8}));
}

TEST(SampleStepsTest, EvenStrideKeepsTheLastStep) {
  EXPECT_EQ(SampleSteps({Range(0, 10)}, 5), (std::set<int64_t>{0, 2, 4, 6, 8, 9}));
  EXPECT_EQ(SampleSteps({Range(0, 1001, 10)}, 5),
            (std::set<int64_t>{0, 200, 400, 600, 800, 1000}));
}

TEST(SampleStepsTest, StrideOfOneWhenBarelyOverMax) {
  EXPECT_EQ(SampleSteps({Range(0, 101, 20)}, 5), (std::set<int64_t>{0, 20, 40, 60, 80, 100}));
}

TEST(SampleStepsTest, SamplesTheUnionAndKeepsEachRunsLastStep) {
  EXPECT_EQ(SampleSteps({Range(0, 10), Range(0, 20)}, 5),
            (std::set<int64_t>{0, 4, 8, 9, 12, 16, 19}));
}

TEST(SampleStepsTest, DuplicateStepsCountOnce) {
  std::vector<int64_t> twice = Range(0, 10);
  twice.insert(twice.end(), twice.begin(), twice.end());
  EXPECT_EQ(SampleSteps({twice}, 5), (std::set<int64_t>{0, 2, 4, 6, 8, 9}));
}

}  // namespace
}  // namespace ringo::store
