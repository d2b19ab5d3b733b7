// Tests of the op version histories against libonnx's schema registry, which they stand in for.
#include <gtest/gtest.h>
#include <onnx/defs/schema.h>

#include <set>
#include <string>

#include "convert/importer.h"

namespace ringo::convert {
namespace {

TEST(OpVersionsTest, CoverTheOnnxLibrarysOpsets) {
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  EXPECT_EQ(MaxOpset(), ranges.at(onnx::ONNX_DOMAIN).second);
}

TEST(OpVersionsTest, MatchTheSchemaRegistryForEveryOpAndOpset) {
  std::set<std::string> ops = {"NoSuchOp", "LinearClassifier"};  // unknown; another domain's
  for (const auto& schema : onnx::OpSchemaRegistry::get_all_schemas_with_history()) {
    ops.insert(schema.Name());
  }
  for (const std::string& op : ops) {
    for (int opset = 1; opset <= MaxOpset() + 1; ++opset) {
      const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(op, opset);
      EXPECT_EQ(OpVersion(op, opset), schema ? schema->since_version() : opset)
          << op << " under opset " << opset;
    }
  }
}

TEST(OpVersionsTest, TakeTheNewestVersionNotAboveTheOpset) {
  EXPECT_EQ(OpVersion("Softmax", 12), 11);
  EXPECT_EQ(OpVersion("Softmax", 13), 13);
  EXPECT_EQ(OpVersion("Acos", 6), 6);  // introduced in opset 7
  EXPECT_EQ(OpVersion("Acos", 16), 7);
}

}  // namespace
}  // namespace ringo::convert
