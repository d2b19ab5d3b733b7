// Unit tests of the converter one op at a time, in both formats, and of explicit padding.
#include "convert/convert.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <functional>
#include <random>

#include "convert/convert_test_util.h"
#include "coreml/schema.h"

namespace ringo::convert::test {
namespace {

// ---- one op at a time, both formats ----

struct OpCase {
  const char* name;
  std::function<void(OnnxBuilder&)> build;  // reads "x" [1,4,8,8] unless it adds inputs, writes "y"
  const char* layer;                        // NeuralNetwork layer, or "" when it must fail there
  const char* mil_op;
  int opset = 13;
};

// The cases, one per op or op form. A single table reads best: adding an op is one entry, and
// the entries stay comparable side by side.
std::vector<OpCase> OpCases() {
  auto unary = [](const char* op) { return [op](OnnxBuilder& b) { b.Node(op, {"x"}, {"y"}); }; };
  return {
      {"Conv",
       [](OnnxBuilder& b) {
         b.Weights("w", {6, 4, 3, 3}).Weights("b", {6});
         SetInts(b.Node("Conv", {"x", "w", "b"}, {"y"}), "pads", {1, 1, 1, 1});
       },
       "convolution", "conv"},
      {"ConvDepthwise",
       [](OnnxBuilder& b) {
         b.Weights("w", {4, 1, 3, 3});
         auto* n = b.Node("Conv", {"x", "w"}, {"y"});
         SetInt(n, "group", 4);
         SetInts(n, "strides", {2, 2});
       },
       "convolution", "conv"},
      {"Relu", unary("Relu"), "activation", "relu"},
      {"Sigmoid", unary("Sigmoid"), "activation", "sigmoid"},
      {"Tanh", unary("Tanh"), "activation", "tanh"},
      {"LeakyRelu", unary("LeakyRelu"), "activation", "leaky_relu"},
      {"HardSigmoid", unary("HardSigmoid"), "activation", "sigmoid_hard"},
      {"HardSwish", unary("HardSwish"), "multiply", "mul", 14},
      {"ClipRelu6Inputs",
       [](OnnxBuilder& b) {
         b.Floats("lo", {}, {0.0f}).Floats("hi", {}, {6.0f});
         b.Node("Clip", {"x", "lo", "hi"}, {"y"});
       },
       "unary", "clip"},
      {"ClipAttributes",
       [](OnnxBuilder& b) {
         auto* n = b.Node("Clip", {"x"}, {"y"});
         SetFloat(n, "min", -1.0f);
         SetFloat(n, "max", 1.0f);
       },
       "unary", "clip", 11},
      {"BatchNormalization",
       [](OnnxBuilder& b) {
         b.Weights("g", {4}).Weights("bb", {4}).Weights("m", {4});
         b.Floats("v", {4}, {1, 2, 3, 4});
         b.Node("BatchNormalization", {"x", "g", "bb", "m", "v"}, {"y"});
       },
       "batchnorm", "batch_norm"},
      {"MaxPool",
       [](OnnxBuilder& b) {
         auto* n = b.Node("MaxPool", {"x"}, {"y"});
         SetInts(n, "kernel_shape", {3, 3});
         SetInts(n, "strides", {2, 2});
         SetInts(n, "pads", {1, 1, 1, 1});
       },
       "pooling", "max_pool"},
      {"AveragePoolCeil",
       [](OnnxBuilder& b) {
         auto* n = b.Node("AveragePool", {"x"}, {"y"});
         SetInts(n, "kernel_shape", {3, 3});
         SetInts(n, "strides", {2, 2});
         SetInt(n, "ceil_mode", 1);
       },
       "pooling", "avg_pool"},
      {"GlobalAveragePool", unary("GlobalAveragePool"), "pooling", "reduce_mean"},
      {"ReduceMeanSpatial",
       [](OnnxBuilder& b) {
         auto* n = b.Node("ReduceMean", {"x"}, {"y"});
         SetInts(n, "axes", {2, 3});
         SetInt(n, "keepdims", 0);
       },
       "pooling", "reduce_mean"},
      {"ReduceMeanChannels",
       [](OnnxBuilder& b) { SetInts(b.Node("ReduceMean", {"x"}, {"y"}), "axes", {1}); },
       "reduceMean", "reduce_mean"},
      {"Flatten", unary("Flatten"), "flatten", "reshape"},
      {"ReshapeConstant",
       [](OnnxBuilder& b) {
         b.Ints("s", {1, 16, 4, 4});
         b.Node("Reshape", {"x", "s"}, {"y"});
       },
       "reshape", "reshape"},
      {"SqueezeUnsqueeze",
       [](OnnxBuilder& b) {
         b.Ints("a", {4});
         b.Node("Unsqueeze", {"x", "a"}, {"u"});
         b.Node("Squeeze", {"u", "a"}, {"y"});
       },
       "reshape", "reshape"},
      {"Transpose",
       [](OnnxBuilder& b) {
         SetInts(b.Node("Transpose", {"x"}, {"y"}), "perm", {0, 2, 3, 1});
       },
       "permute", "transpose"},
      {"TransposeOfTheLeadingAxis",
       [](OnnxBuilder& b) {
         SetInts(b.Node("Transpose", {"x"}, {"y"}), "perm", {1, 0, 3, 2});
       },
       "transpose", "transpose"},
      {"ConcatChannels",
       [](OnnxBuilder& b) {
         b.Node("Relu", {"x"}, {"r"});
         SetInt(b.Node("Concat", {"x", "r"}, {"y"}), "axis", 1);
       },
       "concat", "concat"},
      {"Softmax", [](OnnxBuilder& b) { SetInt(b.Node("Softmax", {"x"}, {"y"}), "axis", 1); },
       "softmax", "softmax"},
      {"PadSpatial",
       [](OnnxBuilder& b) {
         b.Ints("p", {0, 0, 1, 2, 0, 0, 3, 0});
         b.Node("Pad", {"x", "p"}, {"y"});
       },
       "padding", "pad"},
      {"AddTensors",
       [](OnnxBuilder& b) {
         b.Node("Relu", {"x"}, {"r"});
         b.Node("Add", {"x", "r"}, {"y"});
       },
       "add", "add"},
      {"SubTensors",
       [](OnnxBuilder& b) {
         b.Node("Relu", {"x"}, {"r"});
         b.Node("Sub", {"x", "r"}, {"y"});
       },
       "add", "sub"},
      {"MulPerChannelGate",
       [](OnnxBuilder& b) {
         b.Node("GlobalAveragePool", {"x"}, {"g"});
         b.Node("Mul", {"x", "g"}, {"y"});
       },
       "multiply", "mul"},
      {"DivScalar",
       [](OnnxBuilder& b) {
         b.Floats("c", {}, {4.0f});
         b.Node("Div", {"x", "c"}, {"y"});
       },
       "multiply", "real_div"},
      {"AddPerChannel",
       [](OnnxBuilder& b) {
         b.Weights("c", {4, 1, 1});
         b.Node("Add", {"x", "c"}, {"y"});
       },
       "bias", "add"},
      {"SubFromConstant",
       [](OnnxBuilder& b) {
         b.Weights("c", {1, 4, 1, 1});
         b.Node("Sub", {"c", "x"}, {"y"});
       },
       "scale", "sub"},
      {"IdentityDropout",
       [](OnnxBuilder& b) {
         b.Node("Identity", {"x"}, {"i"});
         b.Node("Dropout", {"i"}, {"d"});
         b.Node("Relu", {"d"}, {"y"});
       },
       "activation", "relu"},
      {"MatMulDynamic",
       [](OnnxBuilder& b) {
         b.Node("MatMul", {"x", "x"}, {"y"});
       },
       "batchedMatmul", "matmul"},
      {"IsNaN", unary("IsNaN"), "notEqual", "not_equal"},
      {"LocalResponseNorm", [](OnnxBuilder& b) { SetInt(b.Node("LRN", {"x"}, {"y"}), "size", 3); },
       "convolution", "conv"},
      {"GatherNDOneTuple",
       [](OnnxBuilder& b) {
         b.Ints("i", {0, -1});  // x[0, -1] -> [8, 8]
         b.Node("GatherND", {"x", "i"}, {"y"});
       },
       "gatherND", "gather_nd"},
      {"ScatterElementsAdd",
       [](OnnxBuilder& b) {
         b.Node("Relu", {"x"}, {"u"});
         b.Node("Shape", {"x"}, {"s"});
         b.Node("ConstantOfShape", {"s"}, {"z"});
         SetInt(b.Node("Cast", {"z"}, {"i"}), "to", 7);  // int64 zeros: all updates to row 0
         SetString(b.Node("ScatterElements", {"x", "i", "u"}, {"y"}), "reduction", "add");
       },
       "scatterAlongAxis", "scatter_along_axis", 16},
      {"IsInfBothSigns", unary("IsInf"), "logicalOr", "logical_or", 10},
      {"ThresholdedRelu", unary("ThresholdedRelu"), "activation", "thresholded_relu", 10},
      {"FloatToIntegerCast",
       [](OnnxBuilder& b) { SetInt(b.Node("Cast", {"x"}, {"y"}), "to", 7); }, "floor", "cast"},
      {"IntegerModHasNoLayer",
       [](OnnxBuilder& b) {
         SetInt(b.Node("Cast", {"x"}, {"i"}), "to", 7);
         b.Node("Mod", {"i", "i"}, {"y"});
       },
       "", "mod"},
  };
}

TEST(ConvertOpTest, EachOpConvertsToBothFormats) {
  for (const OpCase& c : OpCases()) {
    SCOPED_TRACE(c.name);
    OnnxBuilder b(c.opset);
    b.Input("x", {1, 4, 8, 8}).Output("y");
    c.build(b);
    auto nn = RoundTrip(b.Bytes(), Format::kNeuralNetwork);
    if (std::string(c.layer).empty()) {
      ASSERT_FALSE(nn.ok());
      EXPECT_EQ(nn.status().code(), Code::kInvalidArgument);
      EXPECT_NE(nn.status().message().find(".mlpackage"), std::string::npos);
    } else {
      ASSERT_TRUE(nn.ok()) << nn.status().ToString();
      EXPECT_TRUE(Contains(LayerTypes(nn->spec()), c.layer));
      // Every layer reads a model input or an earlier layer's output.
      std::set<std::string> known = {"x"};
      for (const auto& l : Layers(nn->spec())) {
        for (const auto& in : l.input()) EXPECT_TRUE(known.count(in)) << in;
        for (const auto& out : l.output()) known.insert(out);
      }
      EXPECT_TRUE(known.count("y"));
    }
    auto ml = RoundTrip(b.Bytes(), Format::kMLProgram);
    ASSERT_TRUE(ml.ok()) << ml.status().ToString();
    EXPECT_TRUE(Contains(OpTypes(ml->spec()), c.mil_op));
    const auto& fn = ml->spec().mlprogram().functions().at("main");
    EXPECT_EQ(fn.block_specializations().at("CoreML5").outputs(0), "y");
  }
}

TEST(ConvertOpTest, MilParametersAreBoundToEarlierConsts) {
  OnnxBuilder b;
  b.Input("x", {1, 4, 8, 8}).Output("y").Weights("w", {6, 4, 3, 3});
  SetInts(b.Node("Conv", {"x", "w"}, {"c"}), "pads", {1, 1, 1, 1});
  b.Node("Relu", {"c"}, {"y"});
  for (bool fp16 : {false, true}) {
    Options o;
    o.precision = fp16 ? Precision::kFloat16 : Precision::kFloat32;
    auto m = RoundTrip(b.Bytes(), Format::kMLProgram, o);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    std::set<std::string> defined = {"x"};
    for (const auto& op : Ops(m->spec())) {
      for (const auto& [param, arg] : op.inputs()) {
        for (const auto& binding : arg.arguments()) {
          EXPECT_TRUE(defined.count(binding.name())) << op.type() << "." << param;
        }
      }
      EXPECT_TRUE(op.attributes().count("name"));
      for (const auto& out : op.outputs()) defined.insert(out.name());
    }
    EXPECT_EQ(Contains(OpTypes(m->spec()), "cast"), fp16);
    ASSERT_TRUE(coreml::ValidateBlobFile(m->weights()).ok());
  }
}

// ---- padding ----

struct PadCase {
  const char* name;
  std::vector<int64_t> pads;
  const char* auto_pad;
  int64_t stride;
  std::vector<uint64_t> nn;  // top, bottom, left, right as written
  int64_t out_h;
};

TEST(ConvertPaddingTest, ConvPaddingBecomesExplicitAmounts) {
  const std::vector<PadCase> cases = {
      {"none", {0, 0, 0, 0}, "NOTSET", 1, {0, 0, 0, 0}, 6},
      {"symmetric", {1, 1, 1, 1}, "NOTSET", 1, {1, 1, 1, 1}, 8},
      {"asymmetric", {0, 1, 2, 0}, "NOTSET", 1, {0, 2, 1, 0}, 8},
      {"same_upper_stride2", {}, "SAME_UPPER", 2, {0, 1, 0, 1}, 4},
      {"same_lower_stride2", {}, "SAME_LOWER", 2, {1, 0, 1, 0}, 4},
      {"valid", {}, "VALID", 1, {0, 0, 0, 0}, 6},
  };
  for (const PadCase& c : cases) {
    SCOPED_TRACE(c.name);
    OnnxBuilder b;
    b.Input("x", {1, 2, 8, 8}).Output("y").Weights("w", {3, 2, 3, 3});
    auto* n = b.Node("Conv", {"x", "w"}, {"y"});
    if (!c.pads.empty()) SetInts(n, "pads", c.pads);
    SetString(n, "auto_pad", c.auto_pad);
    SetInts(n, "strides", {c.stride, c.stride});
    auto nn = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kNeuralNetwork, {});
    ASSERT_TRUE(nn.ok()) << nn.status().ToString();
    const auto& amounts = Layers(nn->spec())[0].convolution().valid().paddingamounts();
    ASSERT_EQ(amounts.borderamounts_size(), 2);
    EXPECT_EQ(amounts.borderamounts(0).startedgesize(), c.nn[0]);
    EXPECT_EQ(amounts.borderamounts(0).endedgesize(), c.nn[1]);
    EXPECT_EQ(amounts.borderamounts(1).startedgesize(), c.nn[2]);
    EXPECT_EQ(amounts.borderamounts(1).endedgesize(), c.nn[3]);
    auto ml = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kMLProgram, {});
    ASSERT_TRUE(ml.ok()) << ml.status().ToString();
    const auto& out = ml->spec().description().output(0).type().multiarraytype();
    EXPECT_EQ(out.shape(2), c.out_h);
  }
}

TEST(ConvertPaddingTest, AsymmetricCeilPoolingIsRejectedForNeuralNetwork) {
  OnnxBuilder b;
  b.Input("x", {1, 2, 8, 8}).Output("y");
  auto* n = b.Node("MaxPool", {"x"}, {"y"}, "pool");
  SetInts(n, "kernel_shape", {2, 2});
  SetInts(n, "pads", {0, 0, 1, 1});
  SetInt(n, "ceil_mode", 1);
  auto nn = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kNeuralNetwork, {});
  ASSERT_FALSE(nn.ok());
  EXPECT_NE(nn.status().message().find("pool"), std::string::npos);
  EXPECT_TRUE(ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kMLProgram, {}).ok());
}

}  // namespace
}  // namespace ringo::convert::test
