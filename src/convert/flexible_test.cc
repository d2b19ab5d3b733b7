// Tests of `--shape` parsing and of flexible input shapes in converted models.
#include <gtest/gtest.h>

#include "convert/convert.h"
#include "convert/convert_test_util.h"
#include "coreml/schema.h"

namespace ringo::convert::test {
namespace {

using Ranges = std::vector<std::pair<int64_t, int64_t>>;
using Shapes = std::vector<std::vector<int64_t>>;

TEST(ParseInputShapeTest, RangesAndEnumeratedShapes) {
  struct Case {
    const char* text;
    Ranges ranges;
    Shapes enumerated;
  };
  const Case cases[] = {
      {"1..8x3x224x224", {{1, 8}, {3, 3}, {224, 224}, {224, 224}}, {}},
      {"4", {{4, 4}}, {}},
      {"1x16..", {{1, 1}, {16, -1}}, {}},
      {"1x3x224x224,1x3x160x160", {}, {{1, 3, 224, 224}, {1, 3, 160, 160}}},
      {"2,5", {}, {{2}, {5}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Result<InputShape> s = ParseInputShape(c.text);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(s->ranges, c.ranges);
    EXPECT_EQ(s->enumerated, c.enumerated);
  }
}

TEST(ParseInputShapeTest, BadTextIsInvalidArgument) {
  for (const char* text : {"", "x", "1xx2", "0x3", "-1x3", "8..1", "1..8,2", "1x2,1x2x3",
                           "a..b", "1...4", "3x", "1.5"}) {
    SCOPED_TRACE(text);
    Result<InputShape> s = ParseInputShape(text);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  }
}

// x [N, 2, H, W] -> Relu -> y: takes any shape.
OnnxBuilder Elementwise() {
  OnnxBuilder b;
  b.Input("x", {1, 2, 4, 4}).Output("y");
  b.Node("Relu", {"x"}, {"y"});
  auto* dims = b.model().mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
                   ->mutable_shape()->mutable_dim();
  (*dims)[2].set_dim_param("h");  // symbolic: the range's lower bound becomes the default
  return b;
}

TEST(FlexibleShapeTest, RangesGoIntoTheDescriptionAndTheProgram) {
  Options o;
  o.input_shapes["x"] = *ParseInputShape("1..4x2x3..9x4");
  auto ml = RoundTrip(Elementwise().Bytes(), Format::kMLProgram, o);
  ASSERT_TRUE(ml.ok()) << ml.status().message();
  const auto& a = ml->spec().description().input(0).type().multiarraytype();
  EXPECT_EQ(std::vector<int64_t>(a.shape().begin(), a.shape().end()),
            (std::vector<int64_t>{1, 2, 3, 4}));
  ASSERT_EQ(a.shaperange().sizeranges_size(), 4);
  EXPECT_EQ(a.shaperange().sizeranges(0).upperbound(), 4);
  EXPECT_EQ(a.shaperange().sizeranges(2).lowerbound(), 3u);
  const auto& dims = ml->spec().mlprogram().functions().at("main").inputs(0).type().tensortype()
                         .dimensions();
  EXPECT_TRUE(dims[0].has_unknown());
  EXPECT_TRUE(dims[1].has_constant());
  EXPECT_TRUE(dims[2].has_unknown());
  EXPECT_TRUE(coreml::Validate(*ml).empty());

  auto r = coreml::Predict(*ml, {{"x", coreml::Value{{{2, 2, 9, 4}, std::vector<float>(144, -1)},
                                                     "", 0, {}, "tensor"}}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->at("y").tensor.data.size(), 144u);
  r = coreml::Predict(*ml, {{"x", coreml::Value{{{5, 2, 9, 4}, std::vector<float>(360, -1)},
                                                "", 0, {}, "tensor"}}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("allows [1..4, 2, 3..9, 4]"), std::string::npos)
      << r.status().message();
}

TEST(FlexibleShapeTest, NeuralNetworkEnumeratedShapesDropTheBatchAxis) {
  Options o;
  o.input_shapes["x"] = *ParseInputShape("1x2x5x4,1x2x4x4");
  auto nn = RoundTrip(Elementwise().Bytes(), Format::kNeuralNetwork, o);
  ASSERT_TRUE(nn.ok()) << nn.status().message();
  EXPECT_GE(nn->spec().specificationversion(), 3);
  const auto& a = nn->spec().description().input(0).type().multiarraytype();
  ASSERT_EQ(a.enumeratedshapes().shapes_size(), 2);
  EXPECT_EQ(a.enumeratedshapes().shapes(0).shape_size(), 3);
  EXPECT_TRUE(coreml::Validate(*nn).empty());

  o.input_shapes["x"] = *ParseInputShape("1..2x2x4x4");
  auto batch = RoundTrip(Elementwise().Bytes(), Format::kNeuralNetwork, o);
  ASSERT_FALSE(batch.ok());
  EXPECT_NE(batch.status().message().find(".mlpackage"), std::string::npos);
}

TEST(FlexibleShapeTest, FixedSizesOutsideTheShapeAreRefused) {
  for (const char* text : {"1x2x4x5..8", "1x2x4x8,1x2x4x9", "1x2x4"}) {
    SCOPED_TRACE(text);
    Options o;
    o.input_shapes["x"] = *ParseInputShape(text);
    auto r = RoundTrip(Elementwise().Bytes(), Format::kMLProgram, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
  Options o;
  o.input_shapes["nope"] = *ParseInputShape("1");
  EXPECT_EQ(RoundTrip(Elementwise().Bytes(), Format::kMLProgram, o).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace ringo::convert::test
