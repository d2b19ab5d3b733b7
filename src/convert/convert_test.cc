// Unit tests of the ONNX converter on small graphs: passes, options, errors and files.
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

// ---- updatable models ----

OnnxBuilder Mlp(bool softmax) {
  OnnxBuilder b;
  b.Input("x", {1, 4}).Output("y").Weights("w1", {3, 4}).Weights("w2", {2, 3});
  SetInt(b.Node("Gemm", {"x", "w1"}, {"h"}, "fc/1"), "transB", 1);
  b.Node("Relu", {"h"}, {"r"});
  SetInt(b.Node("Gemm", {"r", "w2"}, {softmax ? "z" : "y"}, "fc/2"), "transB", 1);
  if (softmax) SetInt(b.Node("Softmax", {"z"}, {"y"}), "axis", 1);
  return b;
}

TEST(ConvertUpdatableTest, MarksLayersAndWritesLossOptimizerAndTrainingInputs) {
  Options o;
  o.update.layers = {"fc/2"};  // the ONNX node name
  o.update.optimizer = "adam";
  o.update.learning_rate = 0.002;
  o.update.epochs = 7;
  o.update.batch_size = 16;
  auto r = RoundTrip(Mlp(true).Bytes(), Format::kNeuralNetwork, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const spec::Model& m = r->spec();
  EXPECT_TRUE(m.isupdatable());
  EXPECT_EQ(m.specificationversion(), 4);
  int updatable = 0;
  for (const auto& l : m.neuralnetwork().layers()) {
    if (!l.isupdatable()) continue;
    ++updatable;
    EXPECT_EQ(l.name(), "fc_2");
    EXPECT_TRUE(l.innerproduct().weights().isupdatable());
  }
  EXPECT_EQ(updatable, 1);
  const auto& u = m.neuralnetwork().updateparams();
  ASSERT_EQ(u.losslayers_size(), 1);
  EXPECT_EQ(u.losslayers(0).categoricalcrossentropylosslayer().input(), "y");
  EXPECT_EQ(u.losslayers(0).categoricalcrossentropylosslayer().target(), "y_true");
  EXPECT_DOUBLE_EQ(u.optimizer().adamoptimizer().learningrate().defaultvalue(), 0.002);
  EXPECT_EQ(u.optimizer().adamoptimizer().minibatchsize().defaultvalue(), 16);
  EXPECT_EQ(u.epochs().defaultvalue(), 7);
  ASSERT_EQ(m.description().traininginput_size(), 2);
  EXPECT_EQ(m.description().traininginput(0).name(), "x");
  EXPECT_EQ(m.description().traininginput(1).name(), "y_true");
  EXPECT_TRUE(coreml::Validate(*r).empty());
}

TEST(ConvertUpdatableTest, RefusalsNameTheProblem) {
  std::vector<std::tuple<const char*, bool, Format, std::function<void(Options&)>>> cases = {
      {"those are: fc_1, fc_2", true, Format::kNeuralNetwork,
       [](Options& o) { o.update.layers = {"nope"}; }},
      {"innerProduct or convolution", true, Format::kNeuralNetwork,
       [](Options& o) { o.update.layers = {"Relu2"}; }},
      {"softmax", false, Format::kNeuralNetwork, [](Options& o) { o.update.layers = {"fc/2"}; }},
      {".mlmodel", true, Format::kMLProgram, [](Options& o) { o.update.layers = {"fc/2"}; }},
      {"float32", true, Format::kNeuralNetwork,
       [](Options& o) {
         o.update.layers = {"fc/2"};
         o.precision = Precision::kFloat16;
       }},
      {"--optimizer", true, Format::kNeuralNetwork,
       [](Options& o) {
         o.update.layers = {"fc/2"};
         o.update.optimizer = "rmsprop";
       }},
      {"--learning-rate", true, Format::kNeuralNetwork,
       [](Options& o) {
         o.update.layers = {"fc/2"};
         o.update.learning_rate = 0;
       }},
      {"iOS12", true, Format::kNeuralNetwork,
       [](Options& o) {
         o.update.layers = {"fc/2"};
         o.minimum_deployment_target = "iOS12";
       }},
  };
  for (auto& [part, softmax, format, set] : cases) {
    SCOPED_TRACE(part);
    Options o;
    set(o);
    auto r = ConvertOnnxBytes(Mlp(softmax).Bytes(), "t.onnx", format, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
  }
}

// ---- errors ----

TEST(ConvertErrorTest, UnsupportedOpNamesOpNodeAndOpset) {
  // Det has no Core ML op at all; integer Mod (floor modulo) has an ML Program op but no
  // NeuralNetwork layer. Each message names the op, the node and the op's own version (Det 11,
  // Mod 13 under opset 15).
  struct Case {
    const char* op;
    Format format;
    const char* version;
  };
  for (const Case& c : {Case{"Det", Format::kMLProgram, "opset 11"},
                        Case{"Mod", Format::kNeuralNetwork, "opset 13"}}) {
    SCOPED_TRACE(c.op);
    OnnxBuilder b(15);
    b.Input("x", {1, 4}).Output("y");
    b.Node("Relu", {"x"}, {"r"});
    if (std::string(c.op) == "Mod") {
      SetInt(b.Node("Cast", {"r"}, {"i"}), "to", onnx::TensorProto::INT64);
      b.Node("Mod", {"i", "i"}, {"y"}, "my_node");
    } else {
      b.Node(c.op, {"r"}, {"y"}, "my_node");
    }
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

  // The NeuralNetwork back end writes the [3, 3] input, the relu and the transpose with the
  // rank-N layers of spec 4, so it lists the same two nodes.
  auto nn = CheckOnnx(onnx_path, Format::kNeuralNetwork, {});
  ASSERT_TRUE(nn.ok()) << nn.status().ToString();
  std::vector<std::string> nodes;
  for (const NodeProblem& p : *nn) nodes.push_back(p.node);
  EXPECT_EQ(nodes, (std::vector<std::string>{"det", "unique"}));

  // For iOS 12 only the rank-5 layers are available: the [3, 3] input and the transpose that
  // moves its axes are listed too, each node once.
  Options ios12;
  ios12.minimum_deployment_target = "iOS12";
  auto old = CheckOnnx(onnx_path, Format::kNeuralNetwork, ios12);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  nodes.clear();
  for (const NodeProblem& p : *old) nodes.push_back(p.node);
  EXPECT_TRUE(Contains(nodes, "det") && Contains(nodes, "unique") && Contains(nodes, "x") &&
              Contains(nodes, "transpose"));
  EXPECT_EQ(std::set<std::string>(nodes.begin(), nodes.end()).size(), nodes.size());

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
}  // namespace ringo::convert::test
