// Tests of the NeuralNetwork evaluator on small hand-built models with hand-computed outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "coreml/coreml.h"
#include "coreml/evaluate_test_util.h"
#include "coreml/schema.h"

namespace ringo::coreml::test {
namespace {

// ---------------------------------------------------------------- NeuralNetwork helpers

// A plain NeuralNetwork with one MultiArray input "x" and output "y".
struct NN {
  Model model;
  explicit NN(std::vector<int64_t> in_shape, std::vector<int64_t> out_shape = {}) {
    model.spec().set_specificationversion(4);
    model.spec().mutable_neuralnetwork();
    AddArray(model.spec().mutable_description()->mutable_input(), "x", in_shape);
    AddArray(model.spec().mutable_description()->mutable_output(), "y", out_shape);
  }
  spec::NeuralNetworkLayer* Layer(const std::string& name, std::vector<std::string> in,
                                  const std::string& out) {
    spec::NeuralNetworkLayer* l = model.spec().mutable_neuralnetwork()->add_layers();
    l->set_name(name);
    for (const auto& i : in) l->add_input(i);
    l->add_output(out);
    return l;
  }
  Result<std::map<std::string, Value>> Run(std::map<std::string, Value> inputs) {
    return Predict(model, inputs);
  }
  std::vector<float> RunY(const Value& x) {
    auto out = Predict(model, {{"x", x}});
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    if (!out.ok()) return {};
    return out->at("y").tensor.data;
  }
};

void SetWeights(spec::WeightParams* w, const std::vector<float>& v) {
  for (float f : v) w->add_floatvalue(f);
}

spec::ConvolutionLayerParams* Conv(spec::NeuralNetworkLayer* l, int64_t c_out, int64_t kc,
                                   int64_t kh, int64_t kw, const std::vector<float>& weights) {
  auto* c = l->mutable_convolution();
  c->set_outputchannels(c_out);
  c->set_kernelchannels(kc);
  c->add_kernelsize(kh);
  c->add_kernelsize(kw);
  SetWeights(c->mutable_weights(), weights);
  return c;
}

void SetAmounts(spec::BorderAmounts* b, int64_t t, int64_t bo, int64_t l, int64_t r) {
  auto* h = b->add_borderamounts();
  h->set_startedgesize(t);
  h->set_endedgesize(bo);
  auto* w = b->add_borderamounts();
  w->set_startedgesize(l);
  w->set_endedgesize(r);
}

// ---------------------------------------------------------------- NeuralNetwork tests

TEST(NeuralNetworkTest, ConvolutionWithPaddingAndStride) {
  NN nn({1, 3, 3}, {1, 2, 2});
  auto* c = Conv(nn.Layer("conv", {"x"}, "y"), 1, 1, 3, 3, std::vector<float>(9, 1.0f));
  c->add_stride(2);
  c->add_stride(2);
  SetAmounts(c->mutable_valid()->mutable_paddingamounts(), 1, 1, 1, 1);
  ExpectNear(nn.RunY(T({1, 3, 3}, Iota(9))), {12, 16, 24, 28});
}

TEST(NeuralNetworkTest, ConvolutionGroupsAndBias) {
  NN nn({2, 1, 2});
  auto* c = Conv(nn.Layer("conv", {"x"}, "y"), 2, 1, 1, 1, {2, 3});
  c->set_ngroups(2);
  c->set_hasbias(true);
  SetWeights(c->mutable_bias(), {1, -1});
  ExpectNear(nn.RunY(T({2, 1, 2}, {1, 2, 3, 4})), {3, 5, 8, 11});
}

TEST(NeuralNetworkTest, ConvolutionDilation) {
  NN nn({1, 5, 5});
  auto* c = Conv(nn.Layer("conv", {"x"}, "y"), 1, 1, 2, 2, {1, 1, 1, 1});
  c->add_dilationfactor(2);
  c->add_dilationfactor(2);
  c->mutable_valid();
  auto out = nn.Run({{"x", T({1, 5, 5}, Iota(25, 0))}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{1, 3, 3}));
  EXPECT_FLOAT_EQ(out->at("y").tensor.data[0], 0 + 2 + 10 + 12);
  EXPECT_FLOAT_EQ(out->at("y").tensor.data[1], 1 + 3 + 11 + 13);
}

TEST(NeuralNetworkTest, ConvolutionSamePaddingAsymmetryModes) {
  for (auto mode : {spec::SamePadding::BOTTOM_RIGHT_HEAVY, spec::SamePadding::TOP_LEFT_HEAVY}) {
    NN nn({1, 1, 4});
    auto* c = Conv(nn.Layer("conv", {"x"}, "y"), 1, 1, 1, 2, {1, 10});
    c->mutable_same()->set_asymmetrymode(mode);
    std::vector<float> want = mode == spec::SamePadding::BOTTOM_RIGHT_HEAVY
                                  ? std::vector<float>{21, 32, 43, 4}
                                  : std::vector<float>{10, 21, 32, 43};
    ExpectNear(nn.RunY(T({1, 1, 4}, {1, 2, 3, 4})), want);
  }
}

TEST(NeuralNetworkTest, InnerProductOnRankOneInput) {
  NN nn({3}, {2});
  auto* ip = nn.Layer("fc", {"x"}, "y")->mutable_innerproduct();
  ip->set_inputchannels(3);
  ip->set_outputchannels(2);
  ip->set_hasbias(true);
  SetWeights(ip->mutable_weights(), {1, 2, 3, -1, 0, 1});
  SetWeights(ip->mutable_bias(), {0.5f, -0.5f});
  auto out = nn.Run({{"x", T({3}, {1, 1, 2})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{2}));
  ExpectNear(out->at("y").tensor.data, {9.5f, 0.5f});
}

TEST(NeuralNetworkTest, InnerProductFlattensChannelHeightWidth) {
  NN nn({2, 1, 2});
  auto* ip = nn.Layer("fc", {"x"}, "y")->mutable_innerproduct();
  ip->set_inputchannels(4);
  ip->set_outputchannels(1);
  SetWeights(ip->mutable_weights(), {1, 10, 100, 1000});
  auto out = nn.Run({{"x", T({2, 1, 2}, {1, 2, 3, 4})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{1, 1, 1}));
  ExpectNear(out->at("y").tensor.data, {4321});
}

TEST(NeuralNetworkTest, Float16Weights) {
  NN nn({2});
  auto* ip = nn.Layer("fc", {"x"}, "y")->mutable_innerproduct();
  ip->set_inputchannels(2);
  ip->set_outputchannels(1);
  ip->mutable_weights()->set_float16value(Fp16Bytes({0.5f, -2.0f}));
  ExpectNear(nn.RunY(T({2}, {4, 1})), {0});
}

TEST(NeuralNetworkTest, Batchnorm) {
  NN nn({2, 1, 1});
  auto* bn = nn.Layer("bn", {"x"}, "y")->mutable_batchnorm();
  bn->set_channels(2);
  SetWeights(bn->mutable_gamma(), {1, 2});
  SetWeights(bn->mutable_beta(), {0, 1});
  SetWeights(bn->mutable_mean(), {1, 0});
  SetWeights(bn->mutable_variance(), {4, 1});
  ExpectNear(nn.RunY(T({2, 1, 1}, {1, 2})), {0, 2 * 2 / std::sqrt(1 + 1e-5f) + 1});
}

TEST(NeuralNetworkTest, Activations) {
  struct Case {
    const char* name;
    std::function<void(spec::ActivationParams*)> set;
    std::function<float(float)> f;
  };
  std::vector<Case> cases = {
      {"linear",
       [](auto* a) {
         a->mutable_linear()->set_alpha(2);
         a->mutable_linear()->set_beta(1);
       },
       [](float x) { return 2 * x + 1; }},
      {"relu", [](auto* a) { a->mutable_relu(); }, [](float x) { return x > 0 ? x : 0; }},
      {"leaky", [](auto* a) { a->mutable_leakyrelu()->set_alpha(0.1f); },
       [](float x) { return x < 0 ? 0.1f * x : x; }},
      {"tanh", [](auto* a) { a->mutable_tanh(); }, [](float x) { return std::tanh(x); }},
      {"sigmoid", [](auto* a) { a->mutable_sigmoid(); },
       [](float x) { return 1 / (1 + std::exp(-x)); }},
      {"hard",
       [](auto* a) {
         a->mutable_sigmoidhard()->set_alpha(0.2f);
         a->mutable_sigmoidhard()->set_beta(0.5f);
       },
       [](float x) { return std::clamp(0.2f * x + 0.5f, 0.0f, 1.0f); }},
      {"elu", [](auto* a) { a->mutable_elu()->set_alpha(1.5f); },
       [](float x) { return x < 0 ? 1.5f * (std::exp(x) - 1) : x; }},
      {"softplus", [](auto* a) { a->mutable_softplus(); },
       [](float x) { return std::log(1 + std::exp(x)); }},
      {"softsign", [](auto* a) { a->mutable_softsign(); },
       [](float x) { return x / (1 + std::fabs(x)); }},
  };
  const std::vector<float> xs = {-4, -0.5f, 0, 0.5f, 4};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    NN nn({5});
    c.set(nn.Layer("act", {"x"}, "y")->mutable_activation());
    std::vector<float> want;
    for (float x : xs) want.push_back(c.f(x));
    ExpectNear(nn.RunY(T({5}, xs)), want);
  }
}

TEST(NeuralNetworkTest, MaxPoolingCeilModeKeepsLastPixel) {
  NN nn({1, 3, 3});
  auto* p = nn.Layer("pool", {"x"}, "y")->mutable_pooling();
  p->set_type(spec::PoolingLayerParams::MAX);
  p->add_kernelsize(2);
  p->add_kernelsize(2);
  p->add_stride(2);
  p->add_stride(2);
  p->mutable_includelastpixel()->add_paddingamounts(0);
  p->mutable_includelastpixel()->add_paddingamounts(0);
  ExpectNear(nn.RunY(T({1, 3, 3}, Iota(9))), {5, 6, 8, 9});
}

TEST(NeuralNetworkTest, AveragePoolingExcludePadding) {
  for (bool exclude : {true, false}) {
    NN nn({1, 3, 3});
    auto* p = nn.Layer("pool", {"x"}, "y")->mutable_pooling();
    p->set_type(spec::PoolingLayerParams::AVERAGE);
    p->add_kernelsize(3);
    p->add_kernelsize(3);
    p->add_stride(1);
    p->add_stride(1);
    SetAmounts(p->mutable_valid()->mutable_paddingamounts(), 1, 1, 1, 1);
    p->set_avgpoolexcludepadding(exclude);
    std::vector<float> y = nn.RunY(T({1, 3, 3}, Iota(9)));
    ASSERT_EQ(y.size(), 9u);
    EXPECT_NEAR(y[0], exclude ? 3.0f : 12.0f / 9, 1e-5);
    EXPECT_NEAR(y[4], 5.0f, 1e-5);
  }
}

TEST(NeuralNetworkTest, GlobalAveragePooling) {
  NN nn({2, 2, 2});
  auto* p = nn.Layer("pool", {"x"}, "y")->mutable_pooling();
  p->set_type(spec::PoolingLayerParams::AVERAGE);
  p->set_globalpooling(true);
  ExpectNear(nn.RunY(T({2, 2, 2}, Iota(8))), {2.5f, 6.5f});
}

TEST(NeuralNetworkTest, SoftmaxOverChannels) {
  NN nn({2, 1, 2});
  nn.Layer("sm", {"x"}, "y")->mutable_softmax();
  float a = 1 / (1 + std::exp(2.0f));  // softmax of (0, 2) at the first position
  ExpectNear(nn.RunY(T({2, 1, 2}, {0, 5, 2, 5})), {a, 0.5f, 1 - a, 0.5f});
}

TEST(NeuralNetworkTest, AddBroadcastsPerChannelAndMultiplyByAlpha) {
  NN nn({2, 1, 2});
  AddArray(nn.model.spec().mutable_description()->mutable_input(), "b", {2, 1, 1});
  nn.Layer("add", {"x", "b"}, "s")->mutable_add();
  nn.Layer("mul", {"s"}, "y")->mutable_multiply()->set_alpha(2);
  auto out = nn.Run({{"x", T({2, 1, 2}, {1, 2, 3, 4})}, {"b", T({2, 1, 1}, {10, 20})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear(out->at("y").tensor.data, {22, 24, 46, 48});
}

TEST(NeuralNetworkTest, Relu6AsCoreMLBuildsIt) {
  NN nn({4});
  nn.Layer("relu", {"x"}, "a")->mutable_activation()->mutable_relu();
  nn.Layer("neg1", {"a"}, "b")->mutable_activation()->mutable_linear()->set_alpha(-1);
  auto* u = nn.Layer("thr", {"b"}, "c")->mutable_unary();
  u->set_type(spec::UnaryFunctionLayerParams::THRESHOLD);
  u->set_alpha(-6);
  nn.Layer("neg2", {"c"}, "y")->mutable_activation()->mutable_linear()->set_alpha(-1);
  ExpectNear(nn.RunY(T({4}, {-1, 3, 6, 8})), {0, 3, 6, 6});
}

TEST(NeuralNetworkTest, UnaryScaleAndShift) {
  NN nn({2});
  auto* u = nn.Layer("sqrt", {"x"}, "y")->mutable_unary();
  u->set_type(spec::UnaryFunctionLayerParams::SQRT);
  u->set_scale(2);
  u->set_shift(1);
  ExpectNear(nn.RunY(T({2}, {0, 4})), {1, 3});
}

TEST(NeuralNetworkTest, PaddingConstant) {
  NN nn({1, 1, 2});
  auto* p = nn.Layer("pad", {"x"}, "y")->mutable_padding();
  p->mutable_constant()->set_value(7);
  SetAmounts(p->mutable_paddingamounts(), 1, 0, 0, 1);
  auto out = nn.Run({{"x", T({1, 1, 2}, {1, 2})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{1, 2, 3}));
  ExpectNear(out->at("y").tensor.data, {7, 7, 7, 1, 2, 7});
}

TEST(NeuralNetworkTest, FlattenThenReshapeChannelFirst) {
  NN nn({2, 1, 2}, {1, 2, 2});
  nn.Layer("flat", {"x"}, "f")->mutable_flatten();
  auto* r = nn.Layer("reshape", {"f"}, "y")->mutable_reshape();
  r->add_targetshape(1);
  r->add_targetshape(2);
  r->add_targetshape(2);
  auto out = nn.Run({{"x", T({2, 1, 2}, {1, 2, 3, 4})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{1, 2, 2}));
  ExpectNear(out->at("y").tensor.data, {1, 2, 3, 4});
}

TEST(NeuralNetworkTest, FlattenChannelLast) {
  NN nn({2, 1, 2});
  nn.Layer("flat", {"x"}, "y")->mutable_flatten()->set_mode(spec::FlattenLayerParams::CHANNEL_LAST);
  ExpectNear(nn.RunY(T({2, 1, 2}, {1, 2, 3, 4})), {1, 3, 2, 4});
}

TEST(NeuralNetworkTest, ConcatOnChannels) {
  NN nn({1, 1, 2});
  AddArray(nn.model.spec().mutable_description()->mutable_input(), "b", {2, 1, 2});
  nn.Layer("cat", {"x", "b"}, "y")->mutable_concat();
  auto out = nn.Run({{"x", T({1, 1, 2}, {1, 2})}, {"b", T({2, 1, 2}, {3, 4, 5, 6})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{3, 1, 2}));
  ExpectNear(out->at("y").tensor.data, {1, 2, 3, 4, 5, 6});
}

TEST(NeuralNetworkTest, ScaleAndBiasPerChannel) {
  NN nn({2, 1, 1});
  auto* s = nn.Layer("scale", {"x"}, "s")->mutable_scale();
  s->add_shapescale(2);
  SetWeights(s->mutable_scale(), {2, 3});
  s->set_hasbias(true);
  s->add_shapebias(1);
  SetWeights(s->mutable_bias(), {1});
  auto* b = nn.Layer("bias", {"s"}, "y")->mutable_bias();
  b->add_shape(2);
  SetWeights(b->mutable_bias(), {10, 20});
  ExpectNear(nn.RunY(T({2, 1, 1}, {1, 1})), {13, 24});
}

// An image network whose only layer copies the preprocessed image to "y".
Model ImageModel(spec::ImageFeatureType::ColorSpace space) {
  Model model;
  spec::Model& m = model.spec();
  m.set_specificationversion(1);
  auto* in = m.mutable_description()->add_input();
  in->set_name("image");
  auto* image = in->mutable_type()->mutable_imagetype();
  image->set_width(1);
  image->set_height(1);
  image->set_colorspace(space);
  AddArray(m.mutable_description()->mutable_output(), "y", {3, 1, 1});
  auto* nn = m.mutable_neuralnetwork();
  auto* pre = nn->add_preprocessing();
  pre->set_featurename("image");
  auto* s = pre->mutable_scaler();
  s->set_channelscale(2);
  s->set_redbias(1);
  s->set_greenbias(10);
  s->set_bluebias(100);
  auto* l = nn->add_layers();
  l->set_name("copy");
  l->add_input("image");
  l->add_output("y");
  l->mutable_activation()->mutable_linear()->set_alpha(1);
  return model;
}

TEST(NeuralNetworkTest, ScalerBiasesFollowRgbOrder) {
  Model model = ImageModel(spec::ImageFeatureType::RGB);
  auto out = Predict(model, {{"image", T({3, 1, 1}, {1, 2, 3})}});  // R, G, B
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear(out->at("y").tensor.data, {3, 14, 106});
}

TEST(NeuralNetworkTest, ScalerBiasesFollowBgrOrder) {
  Model model = ImageModel(spec::ImageFeatureType::BGR);
  auto out = Predict(model, {{"image", T({3, 1, 1}, {3, 2, 1})}});  // B, G, R
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear(out->at("y").tensor.data, {106, 14, 3});
}

TEST(NeuralNetworkTest, ClassifierOutputsLabelAndProbabilities) {
  Model model;
  spec::Model& m = model.spec();
  m.set_specificationversion(1);
  AddArray(m.mutable_description()->mutable_input(), "features", {2});
  auto* label = m.mutable_description()->add_output();
  label->set_name("classLabel");
  label->mutable_type()->mutable_stringtype();
  auto* probs = m.mutable_description()->add_output();
  probs->set_name("classProbs");
  probs->mutable_type()->mutable_dictionarytype()->mutable_stringkeytype();
  m.mutable_description()->set_predictedfeaturename("classLabel");
  m.mutable_description()->set_predictedprobabilitiesname("classProbs");
  auto* c = m.mutable_neuralnetworkclassifier();
  for (const char* l : {"cat", "dog", "bird"}) c->mutable_stringclasslabels()->add_vector(l);
  c->set_labelprobabilitylayername("probs");
  auto* fc = c->add_layers();
  fc->set_name("fc");
  fc->add_input("features");
  fc->add_output("scores");
  auto* ip = fc->mutable_innerproduct();
  ip->set_inputchannels(2);
  ip->set_outputchannels(3);
  SetWeights(ip->mutable_weights(), {1, 0, 0, 1, 1, 1});
  auto* sm = c->add_layers();
  sm->set_name("softmax");
  sm->add_input("scores");
  sm->add_output("probs");
  sm->mutable_softmax();

  auto out = Predict(model, {{"features", T({2}, {1, 3})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("classLabel").kind, "string");
  EXPECT_EQ(out->at("classLabel").string_value, "bird");
  const auto& dict = out->at("classProbs").dict;
  ASSERT_EQ(dict.size(), 3u);
  double z = std::exp(1.0) + std::exp(3.0) + std::exp(4.0);
  EXPECT_NEAR(dict.at("bird"), std::exp(4.0) / z, 1e-6);
  EXPECT_NEAR(dict.at("cat"), std::exp(1.0) / z, 1e-6);
}

TEST(NeuralNetworkTest, MissingInputIsNamed) {
  NN nn({2});
  nn.Layer("relu", {"x"}, "y")->mutable_activation()->mutable_relu();
  auto out = nn.Run({});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_PRED2(Contains, out.status().message(), "'x'");
}

TEST(NeuralNetworkTest, WrongShapeIsNamed) {
  NN nn({1, 2, 2});
  nn.Layer("relu", {"x"}, "y")->mutable_activation()->mutable_relu();
  auto out = nn.Run({{"x", T({1, 2, 3}, Iota(6))}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_PRED2(Contains, out.status().message(), "'x'");
  // A leading batch axis of 1 is the same shape.
  EXPECT_TRUE(nn.Run({{"x", T({1, 1, 2, 2}, Iota(4))}}).ok());
}

TEST(NeuralNetworkTest, UnimplementedLayerIsNamed) {
  NN nn({2});
  nn.Layer("mystery", {"x"}, "y");
  auto out = nn.Run({{"x", T({2}, {1, 2})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kFailedPrecondition);
  EXPECT_PRED2(Contains, out.status().message(), "mystery");
}

TEST(NeuralNetworkTest, WeightCountMismatchIsRejected) {
  NN nn({3});
  auto* ip = nn.Layer("fc", {"x"}, "y")->mutable_innerproduct();
  ip->set_inputchannels(3);
  ip->set_outputchannels(2);
  SetWeights(ip->mutable_weights(), {1, 2, 3});
  auto out = nn.Run({{"x", T({3}, {1, 1, 1})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_PRED2(Contains, out.status().message(), "fc");
}

// ---------------------------------------------------------------- rank-N (EXACT mapping)

// A NeuralNetwork whose blobs keep their rank (spec 4, EXACT_ARRAY_MAPPING).
NN NdNetwork(std::vector<int64_t> in_shape, std::vector<int64_t> out_shape) {
  NN n(std::move(in_shape), std::move(out_shape));
  n.model.spec().mutable_neuralnetwork()->set_arrayinputshapemapping(spec::EXACT_ARRAY_MAPPING);
  return n;
}

TEST(NeuralNetworkNdTest, BatchedMatMulWithWeightsAndWithTwoInputs) {
  NN n = NdNetwork({2, 3}, {2, 2});
  // x [2, 3] times W [3, 2], stored column-major: W = [[1, 4], [2, 5], [3, 6]].
  auto* w = n.Layer("w", {"x"}, "xw")->mutable_batchedmatmul();
  w->set_weightmatrixfirstdimension(3);
  w->set_weightmatrixseconddimension(2);
  SetWeights(w->mutable_weights(), Iota(6));
  w->set_hasbias(true);
  SetWeights(w->mutable_bias(), {10, 20});
  // Then xw [2, 2] times its own transpose.
  n.Layer("mm", {"xw", "xw"}, "y")->mutable_batchedmatmul()->set_transposeb(true);
  // xw = [[1+4+9+10, 4+10+18+20], [4+10+18+10, 16+25+36+20]] = [[24, 52], [42, 97]].
  ExpectNear(n.RunY(T({2, 3}, {1, 2, 3, 4, 5, 6})),
             {24 * 24 + 52 * 52, 24 * 42 + 52 * 97, 42 * 24 + 97 * 52, 42 * 42 + 97 * 97});
}

TEST(NeuralNetworkNdTest, ShapeLayersKeepTheirRank) {
  NN n = NdNetwork({2, 3}, {3});
  auto* t = n.Layer("t", {"x"}, "t")->mutable_transpose();  // [3, 2]
  t->add_axes(1);
  t->add_axes(0);
  auto* sl = n.Layer("s", {"t"}, "s")->mutable_slicestatic();  // t[1:, :] -> [2, 2]
  for (int d = 0; d < 2; ++d) {
    sl->add_beginids(d == 0 ? 1 : 0);
    sl->add_endids(0);
    sl->add_strides(1);
    sl->add_beginmasks(false);
    sl->add_endmasks(true);
  }
  auto* c = n.Layer("c", {}, "idx")->mutable_loadconstantnd();
  c->add_shape(3);
  SetWeights(c->mutable_data(), {1, 0, -1});
  n.Layer("g", {"s", "idx"}, "g")->mutable_gather()->set_axis(0);  // rows 1, 0, 1 -> [3, 2]
  n.Layer("sm", {"g"}, "sm")->mutable_softmaxnd()->set_axis(-1);
  auto* r = n.Layer("r", {"sm"}, "y")->mutable_reducesum();  // each row sums to 1
  r->add_axes(1);
  r->set_keepdims(false);
  auto out = n.Run({{"x", T({2, 3}, {1, 2, 3, 4, 5, 6})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{3}));
  ExpectNear(out->at("y").tensor.data, {1, 1, 1});
}

TEST(NeuralNetworkNdTest, BroadcastingLayersFollowNumpy) {
  NN n = NdNetwork({2, 1}, {2, 3});
  auto* c = n.Layer("c", {}, "row")->mutable_loadconstantnd();
  c->add_shape(3);
  SetWeights(c->mutable_data(), {1, 2, 3});
  n.Layer("add", {"x", "row"}, "sum")->mutable_addbroadcastable();
  n.Layer("pow", {"sum", "row"}, "y")->mutable_powbroadcastable();
  // x = [[1], [2]]: (x + row) ^ row = [[2, 9, 64], [3, 16, 125]].
  ExpectNear(n.RunY(T({2, 1}, {1, 2})), {2, 9, 64, 3, 16, 125});
}

TEST(NeuralNetworkNdTest, InconsistentParametersAreInvalidArguments) {
  NN n = NdNetwork({2, 3}, {});
  auto* sl = n.Layer("s", {"x"}, "y")->mutable_slicestatic();
  sl->add_beginids(0);  // one axis described for a rank-2 blob
  auto out = n.Run({{"x", T({2, 3}, Iota(6))}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(out.status().message(), "layer 's'")) << out.status().message();

  NN t = NdNetwork({2, 3}, {});
  t.Layer("t", {"x"}, "y")->mutable_transpose();  // no axes for a rank-2 blob
  out = t.Run({{"x", T({2, 3}, Iota(6))}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);

  NN m = NdNetwork({2, 3}, {});
  auto* r = m.Layer("r", {"x"}, "flat")->mutable_reducesum();
  r->set_reduceall(true);  // a [1] blob, multiplied as a vector by a [2, 3] matrix
  m.Layer("mm", {"flat", "x"}, "y")->mutable_batchedmatmul();
  out = m.Run({{"x", T({2, 3}, Iota(6))}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);

  NN g = NdNetwork({2, 3}, {});
  auto* c = g.Layer("c", {}, "idx")->mutable_loadconstantnd();
  c->add_shape(1);
  SetWeights(c->mutable_data(), {5});
  g.Layer("g", {"x", "idx"}, "y")->mutable_gather()->set_axis(1);
  out = g.Run({{"x", T({2, 3}, Iota(6))}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
}

TEST(NeuralNetworkNdTest, ComparisonsArgMaxAndCumSum) {
  NN n = NdNetwork({2, 3}, {2});
  n.Layer("gt", {"x"}, "gt")->mutable_greaterthan()->set_alpha(2.5f);  // one input: x > alpha
  auto* c = n.Layer("cum", {"gt"}, "cum")->mutable_cumsum();
  c->set_axis(-1);
  c->set_reverse(true);
  auto* a = n.Layer("arg", {"cum"}, "y")->mutable_argmax();
  a->set_axis(1);
  a->set_removedim(true);
  // x = [[3, 1, 4], [1, 5, 9]]: gt = [[1, 0, 1], [0, 1, 1]], reversed running sums
  // [[2, 1, 1], [2, 2, 1]], first largest at 0 in both rows.
  auto out = n.Run({{"x", T({2, 3}, {3, 1, 4, 1, 5, 9})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("y").tensor.shape, (std::vector<int64_t>{2}));
  ExpectNear(out->at("y").tensor.data, {0, 0});
}

// x -> innerProduct (w = 300, weights fp16 or fp32) -> multiply by itself -> y: 300 * 300 = 9e4
// overflows binary16 only when the product is computed on the fp16 path.
NN SquareOfScaled(bool fp16_weights) {
  NN nn({1}, {1});
  auto* ip = nn.Layer("scale", {"x"}, "h")->mutable_innerproduct();
  ip->set_inputchannels(1);
  ip->set_outputchannels(1);
  if (fp16_weights) {
    ip->mutable_weights()->set_float16value(Fp16Bytes({300.0f}));
  } else {
    ip->mutable_weights()->add_floatvalue(300.0f);
  }
  nn.Layer("square", {"h", "h"}, "y")->mutable_multiply();
  return nn;
}

TEST(NeuralNetworkTest, Fp16WeightsPutTheLayersAfterThemOnTheFp16Path) {
  NN half = SquareOfScaled(true);
  std::map<std::string, Tensor> trace;
  auto out = PredictTraced(half.model, {{"x", T({1}, {1.0f})}}, &trace);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(std::isinf(out->at("y").tensor.data[0]));
  EXPECT_FLOAT_EQ(trace.at("scale").data[0], 300.0f);
  EXPECT_TRUE(std::isinf(trace.at("square").data[0]));

  NN full = SquareOfScaled(false);
  ExpectNear(full.RunY(T({1}, {1.0f})), {90000.0f});
}

}  // namespace
}  // namespace ringo::coreml::test
