// Unit tests of the ONNX converter on small graphs built with the ONNX protobuf API.
#include "convert/convert.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <functional>
#include <random>

#include "coreml/schema.h"

namespace ringo::convert {
namespace {

namespace fs = std::filesystem;
namespace spec = coreml::spec;

// Builds an ONNX model node by node.
class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 13) {
    model_.set_ir_version(8);
    auto* imp = model_.add_opset_import();
    imp->set_domain("");
    imp->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }
  // A float input; a dimension of -1 is symbolic.
  OnnxBuilder& Input(const std::string& name, const std::vector<int64_t>& shape) {
    auto* in = model_.mutable_graph()->add_input();
    in->set_name(name);
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    auto* s = tt->mutable_shape();
    for (int64_t d : shape) {
      if (d < 0) {
        s->add_dim()->set_dim_param("N");
      } else {
        s->add_dim()->set_dim_value(d);
      }
    }
    return *this;
  }
  OnnxBuilder& Output(const std::string& name) {
    model_.mutable_graph()->add_output()->set_name(name);
    return *this;
  }
  OnnxBuilder& Floats(const std::string& name, const std::vector<int64_t>& shape,
                      const std::vector<float>& values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), 4 * values.size()));
    return *this;
  }
  OnnxBuilder& Ints(const std::string& name, const std::vector<int64_t>& values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return *this;
  }
  OnnxBuilder& IntScalar(const std::string& name, int64_t value) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_int64_data(value);
    return *this;
  }
  // Random weights of a shape, deterministic per name.
  OnnxBuilder& Weights(const std::string& name, const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::mt19937 gen(static_cast<unsigned>(std::hash<std::string>()(name)));
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return Floats(name, shape, v);
  }
  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + std::to_string(model_.graph().node_size()) : name);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return n;
  }
  std::string Bytes() const { return model_.SerializeAsString(); }
  onnx::ModelProto& model() { return model_; }

 private:
  onnx::ModelProto model_;
};

void SetInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void SetInt(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void SetFloat(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void SetString(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("ringo_convert_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

const google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>& Layers(const spec::Model& m) {
  return m.has_neuralnetworkclassifier() ? m.neuralnetworkclassifier().layers()
                                         : m.neuralnetwork().layers();
}

std::vector<std::string> LayerTypes(const spec::Model& m) {
  std::vector<std::string> out;
  for (const auto& l : Layers(m)) {
    out.push_back(l.GetDescriptor()->FindFieldByNumber(l.layer_case())->name());
  }
  return out;
}

const google::protobuf::RepeatedPtrField<coreml::mil::Operation>& Ops(const spec::Model& m) {
  const auto& fn = m.mlprogram().functions().at("main");
  return fn.block_specializations().at(fn.opset()).operations();
}

std::vector<std::string> OpTypes(const spec::Model& m) {
  std::vector<std::string> out;
  for (const auto& op : Ops(m)) {
    if (op.type() != "const") out.push_back(op.type());
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Converts to `format`, saves into a fresh directory and loads it back.
Result<coreml::Model> RoundTrip(const std::string& bytes, Format format,
                                const Options& options = {}) {
  ASSIGN_OR_RETURN(coreml::Model m, ConvertOnnxBytes(bytes, "test.onnx", format, options));
  TempDir dir;
  fs::path out = dir.path() / (format == Format::kNeuralNetwork ? "m.mlmodel" : "m.mlpackage");
  RETURN_IF_ERROR(coreml::Save(m, out));
  return coreml::Load(out);
}

// ---- one op at a time, both formats ----

struct OpCase {
  const char* name;
  std::function<void(OnnxBuilder&)> build;  // reads "x" [1,4,8,8] unless it adds inputs, writes "y"
  const char* layer;                        // NeuralNetwork layer, or "" when it must fail there
  const char* mil_op;
  int opset = 13;
};

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
       [](OnnxBuilder& b) { SetInts(b.Node("ReduceMean", {"x"}, {"y"}), "axes", {1}); }, "",
       "reduce_mean"},
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
       "", "transpose"},
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
       "", "matmul"},
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

// ---- passes ----

OnnxBuilder ConvBatchNorm(bool conv_output_shared) {
  OnnxBuilder b;
  b.Input("x", {1, 1, 4, 4}).Output("y");
  b.Floats("w", {2, 1, 1, 1}, {1.0f, 2.0f}).Floats("cb", {2}, {0.5f, -0.5f});
  b.Floats("g", {2}, {2.0f, 1.0f}).Floats("beta", {2}, {0.0f, 1.0f});
  b.Floats("mean", {2}, {1.0f, 0.0f}).Floats("var", {2}, {3.0f, 0.0f});
  b.Node("Conv", {"x", "w", "cb"}, {"c"});
  auto* bn = b.Node("BatchNormalization", {"c", "g", "beta", "mean", "var"},
                    {conv_output_shared ? "bn" : "y"});
  SetFloat(bn, "epsilon", 1.0f);
  if (conv_output_shared) {
    b.Node("Add", {"c", "bn"}, {"y"});
  }
  return b;
}

TEST(ConvertPassTest, BatchNormFoldsIntoConv) {
  OnnxBuilder b = ConvBatchNorm(false);
  auto nn = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kNeuralNetwork, {});
  ASSERT_TRUE(nn.ok()) << nn.status().ToString();
  EXPECT_EQ(LayerTypes(nn->spec()), std::vector<std::string>{"convolution"});
  const auto& conv = Layers(nn->spec())[0].convolution();
  // s = g / sqrt(var + eps): channel 0: 2 / 2 = 1; channel 1: 1 / 1 = 1... with var 0, eps 1.
  EXPECT_FLOAT_EQ(conv.weights().floatvalue(0), 1.0f);
  EXPECT_FLOAT_EQ(conv.weights().floatvalue(1), 2.0f);
  EXPECT_FLOAT_EQ(conv.bias().floatvalue(0), (0.5f - 1.0f) * 1.0f + 0.0f);
  EXPECT_FLOAT_EQ(conv.bias().floatvalue(1), (-0.5f - 0.0f) * 1.0f + 1.0f);
  EXPECT_EQ(Layers(nn->spec())[0].output(0), "y");
  auto ml = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kMLProgram, {});
  ASSERT_TRUE(ml.ok());
  EXPECT_EQ(OpTypes(ml->spec()), std::vector<std::string>{"conv"});
}

TEST(ConvertPassTest, BatchNormStaysWhenConvOutputIsShared) {
  auto nn = ConvertOnnxBytes(ConvBatchNorm(true).Bytes(), "t.onnx", Format::kNeuralNetwork, {});
  ASSERT_TRUE(nn.ok()) << nn.status().ToString();
  EXPECT_TRUE(Contains(LayerTypes(nn->spec()), "batchnorm"));
}

TEST(ConvertPassTest, ShapeGatherConcatReshapeChainFolds) {
  OnnxBuilder b;
  b.Input("x", {1, 4, 2, 2}).Output("y");
  b.IntScalar("zero", 0).Ints("minus1", {-1});
  b.Node("Shape", {"x"}, {"s"});
  b.Node("Gather", {"s", "zero"}, {"n"});
  b.Ints("axes", {0});
  b.Node("Unsqueeze", {"n", "axes"}, {"n1"});
  SetInt(b.Node("Concat", {"n1", "minus1"}, {"shape"}), "axis", 0);
  b.Node("Reshape", {"x", "shape"}, {"y"});
  auto nn = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kNeuralNetwork, {});
  ASSERT_TRUE(nn.ok()) << nn.status().ToString();
  EXPECT_EQ(LayerTypes(nn->spec()), std::vector<std::string>{"flatten"});
  EXPECT_EQ(nn->spec().description().output(0).type().multiarraytype().shape(0), 16);
}

TEST(ConvertPassTest, Float16WeightsInBothFormats) {
  OnnxBuilder b;
  b.Input("x", {1, 8}).Output("y").Weights("w", {3, 8}).Weights("bias", {3});
  SetInt(b.Node("Gemm", {"x", "w", "bias"}, {"y"}), "transB", 1);
  Options o;
  o.precision = Precision::kFloat16;
  auto nn = RoundTrip(b.Bytes(), Format::kNeuralNetwork, o);
  ASSERT_TRUE(nn.ok()) << nn.status().ToString();
  EXPECT_EQ(nn->spec().specificationversion(), 2);
  const auto& ip = Layers(nn->spec())[0].innerproduct();
  EXPECT_EQ(ip.weights().float16value().size(), 3u * 8u * 2u);
  EXPECT_EQ(ip.weights().floatvalue_size(), 0);
  auto ml = RoundTrip(b.Bytes(), Format::kMLProgram, o);
  ASSERT_TRUE(ml.ok());
  auto blob = coreml::ReadBlob(ml->weights(), 64);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->type, coreml::BlobType::kFloat16);
  EXPECT_EQ(blob->data.size(), 3u * 8u * 2u);
}

// ---- interface options ----

TEST(ConvertOptionsTest, ClassifierImageRenamesMetadataAndTarget) {
  OnnxBuilder b;
  b.Input("input.1", {1, 3, 4, 4}).Output("logits").Weights("w", {2, 3, 4, 4});
  b.Node("Conv", {"input.1", "w"}, {"c"});
  b.Node("Flatten", {"c"}, {"f"});
  SetInt(b.Node("Softmax", {"f"}, {"logits"}), "axis", 1);
  Options o;
  o.class_labels = {"cat", "dog"};
  o.image_input = "input.1";
  o.image_scale = 1.0f / 255.0f;
  o.image_bias = {-1.0f, -2.0f, -3.0f};
  o.color_layout = "BGR";
  o.input_renames = {{"input.1", "image"}};
  o.output_renames = {{"logits", "probs"}};
  o.metadata = {{"author", "ringo tests"}, {"team", "vision"}};
  o.minimum_deployment_target = "iOS13";
  std::vector<double> progress;
  o.progress = [&](double f) { progress.push_back(f); };

  auto nn = RoundTrip(b.Bytes(), Format::kNeuralNetwork, o);
  ASSERT_TRUE(nn.ok()) << nn.status().ToString();
  const spec::Model& m = nn->spec();
  EXPECT_EQ(m.specificationversion(), 4);
  ASSERT_TRUE(m.has_neuralnetworkclassifier());
  const auto& nnc = m.neuralnetworkclassifier();
  EXPECT_EQ(nnc.labelprobabilitylayername(), "probs");
  EXPECT_EQ(nnc.stringclasslabels().vector_size(), 2);
  EXPECT_EQ(nnc.preprocessing(0).featurename(), "image");
  EXPECT_FLOAT_EQ(nnc.preprocessing(0).scaler().bluebias(), -3.0f);
  EXPECT_EQ(m.description().input(0).name(), "image");
  EXPECT_EQ(m.description().input(0).type().imagetype().colorspace(), spec::ImageFeatureType::BGR);
  EXPECT_EQ(m.description().predictedfeaturename(), "classLabel");
  EXPECT_EQ(m.description().predictedprobabilitiesname(), "probs");
  EXPECT_EQ(m.description().metadata().author(), "ringo tests");
  const auto& user = m.description().metadata().userdefined();
  EXPECT_EQ(user.at("team"), "vision");
  EXPECT_EQ(user.at("com.ringo.source"), "test.onnx");
  EXPECT_FALSE(user.at("com.ringo.version").empty());
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);

  o.minimum_deployment_target = "iOS16";
  auto ml = RoundTrip(b.Bytes(), Format::kMLProgram, o);
  ASSERT_TRUE(ml.ok()) << ml.status().ToString();
  EXPECT_EQ(ml->spec().specificationversion(), 7);
  EXPECT_EQ(ml->spec().mlprogram().functions().at("main").opset(), "CoreML6");
  EXPECT_EQ(OpTypes(ml->spec()).back(), "classify");
  EXPECT_EQ(OpTypes(ml->spec()).front(), "mul");  // the image scale comes first
}

TEST(ConvertOptionsTest, BadOptionsAreInvalidArgument) {
  OnnxBuilder b;
  b.Input("x", {1, 4}).Output("y");
  b.Node("Softmax", {"x"}, {"y"});
  std::vector<std::pair<const char*, std::function<void(Options&)>>> cases = {
      {"label count",
       [](Options& o) {
         o.class_labels = {"a", "b"};
       }},
      {"image input", [](Options& o) { o.image_input = "nope"; }},
      {"image shape", [](Options& o) { o.image_input = "x"; }},
      {"color", [](Options& o) { o.color_layout = "CMYK"; }},
      {"target", [](Options& o) { o.minimum_deployment_target = "iOS99"; }},
      {"target too old", [](Options& o) { o.minimum_deployment_target = "iOS14"; }},
      {"rename",
       [](Options& o) {
         o.output_renames = {{"zz", "a"}};
       }},
      {"rename to bad name",
       [](Options& o) {
         o.input_renames = {{"x", "1 x"}};
       }},
  };
  for (auto& [name, set] : cases) {
    SCOPED_TRACE(name);
    Options o;
    set(o);
    auto r = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kMLProgram, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
}

// ---- errors ----

TEST(ConvertErrorTest, UnsupportedOpNamesOpNodeAndOpset) {
  // Det has no Core ML op at all; Erf has an ML Program op but no NeuralNetwork layer. Each
  // message names the op, the node and the op's own version (Erf 13 under opset 15).
  struct Case {
    const char* op;
    Format format;
    const char* version;
  };
  for (const Case& c : {Case{"Det", Format::kMLProgram, "opset 11"},
                        Case{"Erf", Format::kNeuralNetwork, "opset 13"}}) {
    SCOPED_TRACE(c.op);
    OnnxBuilder b(15);
    b.Input("x", {1, 4}).Output("y");
    b.Node("Relu", {"x"}, {"r"});
    b.Node(c.op, {"r"}, {"y"}, "my_node");
    auto r = ConvertOnnxBytes(b.Bytes(), "t.onnx", c.format, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    const std::string& msg = r.status().message();
    EXPECT_NE(msg.find(std::string(c.op)), std::string::npos) << msg;
    EXPECT_NE(msg.find("my_node"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.version), std::string::npos) << msg;
  }
}

TEST(ConvertErrorTest, InvalidGraphsAreRejected) {
  struct Case {
    const char* name;
    std::function<void(OnnxBuilder&)> build;
    const char* expect;  // in the message
    int opset = 13;
  };
  const std::vector<Case> cases = {
      {"dynamic spatial dim",
       [](OnnxBuilder& b) {
         b.Input("x", {1, 3, -1, 8}).Output("y");
         b.Node("Relu", {"x"}, {"y"});
       },
       "dynamic dimension"},
      {"cycle",
       [](OnnxBuilder& b) {
         b.Input("x", {1, 4}).Output("y");
         b.Node("Add", {"x", "b"}, {"a"}, "first");
         b.Node("Relu", {"a"}, {"b"}, "second");
         b.Node("Relu", {"b"}, {"y"});
       },
       "cycle"},
      {"dangling input",
       [](OnnxBuilder& b) {
         b.Input("x", {1, 4}).Output("y");
         b.Node("Add", {"x", "ghost"}, {"y"}, "adder");
       },
       "ghost"},
      {"dynamic reshape",
       [](OnnxBuilder& b) {
         b.Input("x", {1, 4}).Input("s", {2}).Output("y");
         b.Node("Reshape", {"x", "s"}, {"y"}, "reshaper");
       },
       "reshaper"},
      {"opset newer than the ONNX library",
       [](OnnxBuilder& b) {
         b.Input("x", {1, 4}).Output("y");
         b.Node("Relu", {"x"}, {"y"});
       },
       "opset 99", 99},
      {"explicit broadcast of opset 6",
       [](OnnxBuilder& b) {
         b.Input("x", {1, 4}).Input("z", {4}).Output("y");
         SetInt(b.Node("Add", {"x", "z"}, {"y"}, "old_add"), "broadcast", 1);
       },
       "old_add", 6},
      {"a 2x2 matrix input names the unsupported op, not a batch",
       [](OnnxBuilder& b) {
         b.Input("x", {2, 2}).Output("y");
         b.Node("Det", {"x"}, {"y"}, "det");
       },
       "unsupported ONNX operator 'Det'"},
      {"weights of the wrong size",
       [](OnnxBuilder& b) {
         b.Input("x", {1, 4}).Output("y").Floats("w", {4, 4}, {1.0f});
         b.Node("MatMul", {"x", "w"}, {"y"});
       },
       "needs 16"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    OnnxBuilder b(c.opset);
    c.build(b);
    for (Format f : {Format::kNeuralNetwork, Format::kMLProgram}) {
      auto r = ConvertOnnxBytes(b.Bytes(), "t.onnx", f, {});
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
      EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
    }
  }
}

TEST(ConvertCheckTest, ListsExactlyTheNodesThatCannotBeConverted) {
  // Det and Unique have no lowering; Unique reads what Det would have produced, Exp in between
  // is supported and only reads a failed value, Relu and Transpose convert.
  OnnxBuilder b(13);
  b.Input("x", {3, 3}).Output("y").Output("z");
  b.Node("Relu", {"x"}, {"r"}, "relu");
  b.Node("Det", {"r"}, {"d"}, "det");
  b.Node("Exp", {"d"}, {"e"}, "exp");
  b.Node("Unique", {"e"}, {"y"}, "unique");
  b.Node("Transpose", {"x"}, {"z"}, "transpose");
  TempDir dir;
  fs::path onnx_path = dir.path() / "two.onnx";
  std::ofstream(onnx_path, std::ios::binary) << b.Bytes();

  auto problems = CheckOnnx(onnx_path, Format::kMLProgram, {});
  ASSERT_TRUE(problems.ok()) << problems.status().ToString();
  ASSERT_EQ(problems->size(), 2u);
  EXPECT_EQ((*problems)[0].node, "det");
  EXPECT_EQ((*problems)[0].op_type, "Det");
  EXPECT_EQ((*problems)[0].opset, 11);
  EXPECT_EQ((*problems)[1].node, "unique");
  EXPECT_EQ((*problems)[1].opset, 11);

  // A failed conversion names the same nodes first.
  auto r = ConvertOnnx(onnx_path, Format::kMLProgram, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  std::string first_line = r.status().message().substr(0, r.status().message().find('\n'));
  EXPECT_NE(first_line.find("'det' (Det, opset 11), 'unique' (Unique, opset 11)"),
            std::string::npos)
      << first_line;

  // The NeuralNetwork back end adds what it cannot write: the [3, 3] input and the transpose.
  auto nn = CheckOnnx(onnx_path, Format::kNeuralNetwork, {});
  ASSERT_TRUE(nn.ok()) << nn.status().ToString();
  std::vector<std::string> nodes;
  for (const NodeProblem& p : *nn) nodes.push_back(p.node);
  EXPECT_TRUE(Contains(nodes, "det") && Contains(nodes, "unique") && Contains(nodes, "x") &&
              Contains(nodes, "transpose") && Contains(nodes, "relu"))
      << nodes.size();
  EXPECT_FALSE(Contains(nodes, "exp"));

  // A model that converts has nothing to list.
  OnnxBuilder ok;
  ok.Input("x", {1, 4}).Output("y");
  ok.Node("Relu", {"x"}, {"y"});
  std::ofstream(dir.path() / "ok.onnx", std::ios::binary) << ok.Bytes();
  auto none = CheckOnnx(dir.path() / "ok.onnx", Format::kNeuralNetwork, {});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
}

TEST(ConvertErrorTest, SymbolicBatchDimensionIsTakenAsOne) {
  OnnxBuilder b;
  b.Input("x", {-1, 4}).Output("y");
  b.Node("Relu", {"x"}, {"y"});
  auto r = ConvertOnnxBytes(b.Bytes(), "t.onnx", Format::kMLProgram, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec().description().input(0).type().multiarraytype().shape(0), 1);
}

TEST(ConvertFileTest, CorruptFilesFailAndWriteNothing) {
  OnnxBuilder b;
  b.Input("x", {1, 4, 8, 8}).Output("y").Weights("w", {8, 4, 3, 3});
  b.Node("Conv", {"x", "w"}, {"y"});
  std::string good = b.Bytes();
  std::mt19937 gen(7);
  std::string garbage(4096, '\0');
  for (char& ch : garbage) ch = static_cast<char>(gen());
  const std::vector<std::pair<const char*, std::string>> inputs = {
      {"truncated", good.substr(0, good.size() / 2)},
      {"garbage", garbage},
      {"empty", ""},
      {"text", "this is not a model\n"},
  };
  TempDir dir;
  for (const auto& [name, bytes] : inputs) {
    SCOPED_TRACE(name);
    fs::path in = dir.path() / (std::string(name) + ".onnx");
    std::ofstream(in, std::ios::binary) << bytes;
    for (const char* ext : {".mlmodel", ".mlpackage"}) {
      fs::path out = dir.path() / (std::string(name) + ext);
      Status s = ConvertFile(in, out, {});
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
      EXPECT_FALSE(fs::exists(out));
    }
  }
  std::vector<fs::path> left;
  for (const auto& e : fs::directory_iterator(dir.path())) left.push_back(e.path());
  EXPECT_EQ(left.size(), inputs.size());  // only the inputs: no temporary files either

  fs::path in = dir.path() / "good.onnx";
  std::ofstream(in, std::ios::binary) << good;
  EXPECT_TRUE(ConvertFile(in, dir.path() / "good.mlpackage", {}).ok());
  EXPECT_TRUE(coreml::Load(dir.path() / "good.mlpackage").ok());
  EXPECT_EQ(ConvertFile(dir.path() / "missing.onnx", dir.path() / "m.mlmodel", {}).code(),
            Code::kNotFound);
  EXPECT_EQ(ConvertFile(in, dir.path() / "m.onnx", {}).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace ringo::convert
