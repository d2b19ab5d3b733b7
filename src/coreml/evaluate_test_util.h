// Helpers shared by the evaluator's tests: values, tolerant comparison, fp16 bytes.
#ifndef RINGO_COREML_EVALUATE_TEST_UTIL_H_
#define RINGO_COREML_EVALUATE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "coreml/coreml.h"
#include "coreml/schema.h"

namespace ringo::coreml::test {

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline Value T(std::vector<int64_t> shape, std::vector<float> data) {
  Value v;
  v.tensor.shape = std::move(shape);
  v.tensor.data = std::move(data);
  return v;
}

inline void ExpectNear(const std::vector<float>& got, const std::vector<float>& want,
                       float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

inline std::string Fp16Bytes(const std::vector<float>& values) {
  std::string out;
  for (float f : values) {
    uint16_t h = FloatToHalf(f);
    out.push_back(static_cast<char>(h & 0xff));
    out.push_back(static_cast<char>(h >> 8));
  }
  return out;
}

inline void AddArray(google::protobuf::RepeatedPtrField<spec::FeatureDescription>* features,
                     const std::string& name, std::vector<int64_t> shape) {
  spec::FeatureDescription* f = features->Add();
  f->set_name(name);
  auto* a = f->mutable_type()->mutable_multiarraytype();
  a->set_datatype(spec::ArrayFeatureType::FLOAT32);
  for (int64_t d : shape) a->add_shape(d);
}

inline std::vector<float> Iota(int n, float start = 1) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

}  // namespace ringo::coreml::test

#endif  // RINGO_COREML_EVALUATE_TEST_UTIL_H_
