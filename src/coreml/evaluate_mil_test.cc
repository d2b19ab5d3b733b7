// Tests of the ML Program evaluator on small hand-built programs with hand-computed outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "coreml/coreml.h"
#include "coreml/evaluate_test_util.h"
#include "coreml/schema.h"

namespace ringo::coreml::test {
namespace {

// ---------------------------------------------------------------- ML Program helpers

mil::ValueType TensorType(mil::DataType type, const std::vector<int64_t>& shape) {
  mil::ValueType t;
  t.mutable_tensortype()->set_datatype(type);
  t.mutable_tensortype()->set_rank(static_cast<int64_t>(shape.size()));
  for (int64_t d : shape) t.mutable_tensortype()->add_dimensions()->mutable_constant()->set_size(d);
  return t;
}

mil::Value StringValue(const std::string& s) {
  mil::Value v;
  *v.mutable_type() = TensorType(mil::STRING, {});
  v.mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(s);
  return v;
}

// An ML Program with tensor inputs and outputs, built op by op.
struct Program {
  Model model;
  mil::Block* block;
  BlobWriter blobs;

  Program() {
    model.spec().set_specificationversion(6);
    mil::Function& fn = (*model.spec().mutable_mlprogram()->mutable_functions())["main"];
    fn.set_opset("CoreML5");
    block = &(*fn.mutable_block_specializations())["CoreML5"];
  }
  void Input(const std::string& name, const std::vector<int64_t>& shape) {
    AddArray(model.spec().mutable_description()->mutable_input(), name, shape);
    mil::Function& fn = (*model.spec().mutable_mlprogram()->mutable_functions())["main"];
    auto* in = fn.add_inputs();
    in->set_name(name);
    *in->mutable_type() = TensorType(mil::FLOAT32, shape);
  }
  void Output(const std::string& name) {
    AddArray(model.spec().mutable_description()->mutable_output(), name, {});
    block->add_outputs(name);
  }
  mil::Operation* Op(const std::string& type, const std::string& name,
                     std::vector<std::pair<std::string, std::string>> args,
                     mil::DataType out_type = mil::FLOAT32) {
    mil::Operation* op = block->add_operations();
    op->set_type(type);
    (*op->mutable_attributes())["name"] = StringValue(name);
    for (const auto& [param, arg] : args) {
      (*op->mutable_inputs())[param].add_arguments()->set_name(arg);
    }
    auto* out = op->add_outputs();
    out->set_name(name);
    out->mutable_type()->mutable_tensortype()->set_datatype(out_type);
    return op;
  }
  mil::Value* Const(const std::string& name, mil::DataType type,
                    const std::vector<int64_t>& shape) {
    mil::Operation* op = Op("const", name, {}, type);
    *op->mutable_outputs(0)->mutable_type() = TensorType(type, shape);
    mil::Value& v = (*op->mutable_attributes())["val"];
    *v.mutable_type() = TensorType(type, shape);
    return &v;
  }
  void Floats(const std::string& name, const std::vector<int64_t>& shape,
              const std::vector<float>& values) {
    auto* f = Const(name, mil::FLOAT32, shape)->mutable_immediatevalue()->mutable_tensor();
    for (float x : values) f->mutable_floats()->add_values(x);
  }
  void Ints(const std::string& name, const std::vector<int32_t>& values) {
    auto* f = Const(name, mil::INT32, {static_cast<int64_t>(values.size())})
                  ->mutable_immediatevalue()
                  ->mutable_tensor();
    for (int32_t x : values) f->mutable_ints()->add_values(x);
  }
  void Int(const std::string& name, int32_t value) {
    Const(name, mil::INT32, {})
        ->mutable_immediatevalue()
        ->mutable_tensor()
        ->mutable_ints()
        ->add_values(value);
  }
  void Bool(const std::string& name, bool value) {
    Const(name, mil::BOOL, {})
        ->mutable_immediatevalue()
        ->mutable_tensor()
        ->mutable_bools()
        ->add_values(value);
  }
  void Str(const std::string& name, const std::string& value) {
    Const(name, mil::STRING, {})
        ->mutable_immediatevalue()
        ->mutable_tensor()
        ->mutable_strings()
        ->add_values(value);
  }
  void Blob(const std::string& name, const std::vector<int64_t>& shape,
            const std::vector<float>& values, bool fp16) {
    std::string bytes;
    if (fp16) {
      bytes = Fp16Bytes(values);
    } else {
      bytes.resize(values.size() * 4);
      std::memcpy(bytes.data(), values.data(), bytes.size());
    }
    uint64_t offset = blobs.Add(fp16 ? BlobType::kFloat16 : BlobType::kFloat32, bytes);
    auto* b = Const(name, fp16 ? mil::FLOAT16 : mil::FLOAT32, shape)->mutable_blobfilevalue();
    b->set_filename("@model_path/weights/weight.bin");
    b->set_offset(offset);
  }
  Result<std::map<std::string, Value>> Run(std::map<std::string, Value> inputs) {
    model.weights() = blobs.Finish();
    return Predict(model, inputs);
  }
};

// ---------------------------------------------------------------- ML Program tests

TEST(ProgramTest, ConvWithBlobWeightsCustomPadAndStride) {
  Program p;
  p.Input("x", {1, 1, 3, 3});
  p.Blob("w", {1, 1, 3, 3}, std::vector<float>(9, 1.0f), false);
  p.Ints("strides", {2, 2});
  p.Str("pad_type", "custom");
  p.Ints("pad", {1, 1, 1, 1});
  p.Ints("dilations", {1, 1});
  p.Int("groups", 1);
  p.Op("conv", "y",
       {{"x", "x"},
        {"weight", "w"},
        {"strides", "strides"},
        {"pad_type", "pad_type"},
        {"pad", "pad"},
        {"dilations", "dilations"},
        {"groups", "groups"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 1, 3, 3}, Iota(9))}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  ExpectNear(out->at("y").tensor.data, {12, 16, 24, 28});
}

TEST(ProgramTest, ConvSamePadding) {
  Program p;
  p.Input("x", {1, 1, 1, 4});
  p.Floats("w", {1, 1, 1, 2}, {1, 10});
  p.Str("pad_type", "same");
  p.Op("conv", "y", {{"x", "x"}, {"weight", "w"}, {"pad_type", "pad_type"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 1, 1, 4}, {1, 2, 3, 4})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear(out->at("y").tensor.data, {21, 32, 43, 4});
}

TEST(ProgramTest, LinearWithFp16BlobWeightsAndImmediateFp16Bias) {
  Program p;
  p.Input("x", {1, 2});
  p.Blob("w", {2, 2}, {1, 2, 3, 4}, true);
  p.Const("b", mil::FLOAT16, {2})
      ->mutable_immediatevalue()
      ->mutable_tensor()
      ->mutable_bytes()
      ->set_values(Fp16Bytes({0.5f, -1}));
  p.Op("linear", "y", {{"x", "x"}, {"weight", "w"}, {"bias", "b"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 2}, {1, 2})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{1, 2}));
  ExpectNear(out->at("y").tensor.data, {5.5f, 10});
}

TEST(ProgramTest, MatMulTransposeY) {
  Program p;
  p.Input("x", {2, 3});
  p.Floats("w", {2, 3}, {1, 0, 0, 0, 1, 1});
  p.Bool("tx", false);
  p.Bool("ty", true);
  p.Op("matmul", "y", {{"x", "x"}, {"y", "w"}, {"transpose_x", "tx"}, {"transpose_y", "ty"}});
  p.Output("y");
  auto out = p.Run({{"x", T({2, 3}, Iota(6))}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{2, 2}));
  ExpectNear(out->at("y").tensor.data, {1, 5, 4, 11});
}

TEST(ProgramTest, BatchedMatMulBroadcastsTheMatrix) {
  Program p;
  p.Input("x", {2, 1, 2});
  p.Floats("w", {2, 1}, {1, 10});
  p.Op("matmul", "y", {{"x", "x"}, {"y", "w"}});
  p.Output("y");
  auto out = p.Run({{"x", T({2, 1, 2}, {1, 2, 3, 4})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{2, 1, 1}));
  ExpectNear(out->at("y").tensor.data, {21, 43});
}

TEST(ProgramTest, MaxPoolCeilMode) {
  Program p;
  p.Input("x", {1, 1, 3, 3});
  p.Ints("k", {2, 2});
  p.Ints("s", {2, 2});
  p.Str("pad_type", "valid");
  p.Bool("ceil", true);
  p.Op("max_pool", "y",
       {{"x", "x"},
        {"kernel_sizes", "k"},
        {"strides", "s"},
        {"pad_type", "pad_type"},
        {"ceil_mode", "ceil"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 1, 3, 3}, Iota(9))}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{1, 1, 2, 2}));
  ExpectNear(out->at("y").tensor.data, {5, 6, 8, 9});
}

TEST(ProgramTest, AvgPoolExcludePadding) {
  for (bool exclude : {true, false}) {
    Program p;
    p.Input("x", {1, 1, 3, 3});
    p.Ints("k", {3, 3});
    p.Ints("s", {1, 1});
    p.Str("pad_type", "custom");
    p.Ints("pad", {1, 1, 1, 1});
    p.Bool("exclude", exclude);
    p.Op("avg_pool", "y",
         {{"x", "x"},
          {"kernel_sizes", "k"},
          {"strides", "s"},
          {"pad_type", "pad_type"},
          {"pad", "pad"},
          {"exclude_padding_from_average", "exclude"}});
    p.Output("y");
    auto out = p.Run({{"x", T({1, 1, 3, 3}, Iota(9))}});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_NEAR(out->at("y").tensor.data[0], exclude ? 3.0f : 12.0f / 9, 1e-5);
  }
}

TEST(ProgramTest, ReduceMeanOverSpatialAxes) {
  Program p;
  p.Input("x", {1, 2, 2, 2});
  p.Ints("axes", {-2, -1});
  p.Bool("keep", false);
  p.Op("reduce_mean", "y", {{"x", "x"}, {"axes", "axes"}, {"keep_dims", "keep"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 2, 2, 2}, Iota(8))}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{1, 2}));
  ExpectNear(out->at("y").tensor.data, {2.5f, 6.5f});
}

TEST(ProgramTest, TransposeReshapeConcatPad) {
  Program p;
  p.Input("x", {1, 2, 3});
  p.Ints("perm", {0, 2, 1});
  p.Op("transpose", "t", {{"x", "x"}, {"perm", "perm"}});
  p.Ints("shape", {-1});
  p.Op("reshape", "r", {{"x", "t"}, {"shape", "shape"}});
  p.Floats("tail", {2}, {7, 8});
  p.Int("axis", 0);
  p.Bool("interleave", false);
  mil::Operation* cat = p.Op("concat", "c", {{"axis", "axis"}, {"interleave", "interleave"}});
  (*cat->mutable_inputs())["values"].add_arguments()->set_name("r");
  (*cat->mutable_inputs())["values"].add_arguments()->set_name("tail");
  p.Ints("pad", {1, 2});
  p.Str("mode", "constant");
  p.Floats("val", {}, {9});
  p.Op("pad", "y", {{"x", "c"}, {"pad", "pad"}, {"mode", "mode"}, {"constant_val", "val"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 2, 3}, Iota(6, 0))}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{11}));
  ExpectNear(out->at("y").tensor.data, {9, 0, 3, 1, 4, 2, 5, 7, 8, 9, 9});
}

TEST(ProgramTest, ImagePreprocessingAsMulAndAdd) {
  Program p;
  p.Input("x", {1, 3, 1, 1});
  p.Floats("scale", {}, {2});
  p.Floats("bias", {1, 3, 1, 1}, {1, 10, 100});
  p.Op("mul", "m", {{"x", "x"}, {"y", "scale"}});
  p.Op("add", "y", {{"x", "m"}, {"y", "bias"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 3, 1, 1}, {1, 2, 3})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear(out->at("y").tensor.data, {3, 14, 106});
}

TEST(ProgramTest, CastToFp16RoundsThroughHalfPrecision) {
  Program p;
  p.Input("x", {2});
  p.Str("fp16", "fp16");
  p.Str("fp32", "fp32");
  p.Op("cast", "h", {{"x", "x"}, {"dtype", "fp16"}}, mil::FLOAT16);
  p.Op("relu", "r", {{"x", "h"}}, mil::FLOAT16);
  p.Op("cast", "y", {{"x", "r"}, {"dtype", "fp32"}});
  p.Output("y");
  auto out = p.Run({{"x", T({2}, {0.1f, 1000.3f})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.data[0], HalfToFloat(FloatToHalf(0.1f)));
  EXPECT_NE(out->at("y").tensor.data[0], 0.1f);
  EXPECT_EQ(out->at("y").tensor.data[1], 1000.5f);
}

TEST(ProgramTest, ClassifyProducesLabelAndDictionary) {
  Program p;
  p.Input("x", {1, 3});
  p.Int("axis", -1);
  p.Op("softmax", "probs", {{"x", "x"}, {"axis", "axis"}});
  mil::Operation* classes = p.Op("const", "classes", {});
  mil::Value& list = (*classes->mutable_attributes())["val"];
  for (const char* l : {"cat", "dog", "bird"}) {
    *list.mutable_immediatevalue()->mutable_list()->add_values() = StringValue(l);
  }
  mil::Operation* op = p.Op("classify", "classLabel",
                            {{"probabilities", "probs"}, {"classes", "classes"}}, mil::STRING);
  op->add_outputs()->set_name("classProbs");
  p.block->add_outputs("classLabel");
  p.block->add_outputs("classProbs");
  auto out = p.Run({{"x", T({1, 3}, {1, 3, 2})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("classLabel").kind, "string");
  EXPECT_EQ(out->at("classLabel").string_value, "dog");
  EXPECT_EQ(out->at("classProbs").kind, "dictionary");
  double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(out->at("classProbs").dict.at("dog"), std::exp(3.0) / z, 1e-6);
}

TEST(ProgramTest, ActivationsWithParameters) {
  Program p;
  p.Input("x", {3});
  p.Floats("lo", {}, {0});
  p.Floats("hi", {}, {6});
  p.Op("clip", "c", {{"x", "x"}, {"alpha", "lo"}, {"beta", "hi"}});
  p.Floats("slope", {}, {0.5f});
  p.Op("leaky_relu", "y", {{"x", "c"}, {"alpha", "slope"}});
  p.Output("y");
  auto out = p.Run({{"x", T({3}, {-1, 3, 9})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear(out->at("y").tensor.data, {0, 3, 6});
}

TEST(ProgramTest, BatchNormPerChannel) {
  Program p;
  p.Input("x", {1, 2, 1, 1});
  p.Floats("mean", {2}, {1, 0});
  p.Floats("var", {2}, {4, 1});
  p.Floats("gamma", {2}, {1, 2});
  p.Floats("beta", {2}, {0, 1});
  p.Floats("eps", {}, {0});
  p.Op("batch_norm", "y",
       {{"x", "x"},
        {"mean", "mean"},
        {"variance", "var"},
        {"gamma", "gamma"},
        {"beta", "beta"},
        {"epsilon", "eps"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 2, 1, 1}, {3, 2})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear(out->at("y").tensor.data, {1, 5});
}

TEST(ProgramTest, UnknownOpIsNamed) {
  Program p;
  p.Input("x", {2});
  p.Op("fancy_op", "y", {{"x", "x"}});
  p.Output("y");
  auto out = p.Run({{"x", T({2}, {1, 2})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kFailedPrecondition);
  EXPECT_PRED2(Contains, out.status().message(), "fancy_op");
}

TEST(ProgramTest, CorruptBlobOffsetIsRejected) {
  Program p;
  p.Input("x", {1, 2});
  p.Blob("w", {2, 2}, {1, 2, 3, 4}, false);
  p.block->mutable_operations(0)
      ->mutable_attributes()
      ->at("val")
      .mutable_blobfilevalue()
      ->set_offset(4096);
  p.Op("linear", "y", {{"x", "x"}, {"weight", "w"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 2}, {1, 2})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_PRED2(Contains, out.status().message(), "offset 4096");
}

TEST(ProgramTest, BlobSizeMustMatchDeclaredShape) {
  Program p;
  p.Input("x", {1, 2});
  p.Blob("w", {3, 2}, {1, 2, 3, 4}, false);
  p.Op("linear", "y", {{"x", "x"}, {"weight", "w"}});
  p.Output("y");
  auto out = p.Run({{"x", T({1, 2}, {1, 2})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
}

TEST(ProgramTest, MissingAndMisshapenInputs) {
  Program p;
  p.Input("x", {1, 2});
  p.Op("relu", "y", {{"x", "x"}});
  p.Output("y");
  auto missing = p.Run({});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalidArgument);
  EXPECT_PRED2(Contains, missing.status().message(), "'x'");
  auto wrong = p.Run({{"x", T({3}, {1, 2, 3})}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Code::kInvalidArgument);
  EXPECT_PRED2(Contains, wrong.status().message(), "'x'");
}

}  // namespace
}  // namespace ringo::coreml::test
