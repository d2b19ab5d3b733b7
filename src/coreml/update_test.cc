// Tests of Update (the on-device update on the reference evaluator) and of its validation.
#include <gtest/gtest.h>

#include <cmath>

#include "coreml/coreml.h"
#include "coreml/evaluate_test_util.h"
#include "coreml/schema.h"

namespace ringo::coreml {
namespace {

using test::AddArray;
using test::Contains;

// x [2] -> innerProduct (2 -> 2, updatable) -> softmax -> probs, cross-entropy on probs; or,
// with `mse`, the innerProduct's output itself under mean squared error.
Model TinyNetwork(bool mse, bool adam = false, double lr = 0.1, int64_t batch = 1) {
  Model model;
  spec::Model& m = model.spec();
  m.set_specificationversion(4);
  m.set_isupdatable(true);
  AddArray(m.mutable_description()->mutable_input(), "x", {2});
  AddArray(m.mutable_description()->mutable_output(), mse ? "z" : "probs", {2});
  *m.mutable_description()->add_traininginput() = m.description().input(0);
  auto* nn = m.mutable_neuralnetwork();
  auto* ip = nn->add_layers();
  ip->set_name("fc");
  ip->set_isupdatable(true);
  ip->add_input("x");
  ip->add_output("z");
  auto* p = ip->mutable_innerproduct();
  p->set_inputchannels(2);
  p->set_outputchannels(2);
  p->set_hasbias(true);
  for (float w : {0.5f, -0.25f, 0.125f, 0.75f}) p->mutable_weights()->add_floatvalue(w);
  for (float b : {0.1f, -0.2f}) p->mutable_bias()->add_floatvalue(b);
  p->mutable_weights()->set_isupdatable(true);
  p->mutable_bias()->set_isupdatable(true);
  auto* loss = nn->mutable_updateparams()->add_losslayers();
  loss->set_name("loss");
  if (mse) {
    loss->mutable_meansquarederrorlosslayer()->set_input("z");
    loss->mutable_meansquarederrorlosslayer()->set_target("z_true");
    AddArray(m.mutable_description()->mutable_traininginput(), "z_true", {2});
  } else {
    auto* sm = nn->add_layers();
    sm->set_name("softmax");
    sm->add_input("z");
    sm->add_output("probs");
    sm->mutable_softmax();
    loss->mutable_categoricalcrossentropylosslayer()->set_input("probs");
    loss->mutable_categoricalcrossentropylosslayer()->set_target("probs_true");
    AddArray(m.mutable_description()->mutable_traininginput(), "probs_true", {1});
  }
  auto* opt = nn->mutable_updateparams()->mutable_optimizer();
  if (adam) {
    auto* a = opt->mutable_adamoptimizer();
    a->mutable_learningrate()->set_defaultvalue(lr);
    a->mutable_minibatchsize()->set_defaultvalue(batch);
    a->mutable_beta1()->set_defaultvalue(0.9);
    a->mutable_beta2()->set_defaultvalue(0.999);
    a->mutable_eps()->set_defaultvalue(1e-8);
  } else {
    opt->mutable_sgdoptimizer()->mutable_learningrate()->set_defaultvalue(lr);
    opt->mutable_sgdoptimizer()->mutable_minibatchsize()->set_defaultvalue(batch);
  }
  nn->mutable_updateparams()->mutable_epochs()->set_defaultvalue(1);
  return model;
}

TrainingSet Set(std::vector<float> x, std::vector<float> target, int64_t per_target) {
  TrainingSet set;
  const auto n = static_cast<int64_t>(x.size() / 2);
  set.inputs["x"] = Tensor{{n, 2}, std::move(x)};
  set.target = Tensor{{n, per_target}, std::move(target)};
  return set;
}

std::vector<float> Weights(const Model& m) {
  const auto& w = m.spec().neuralnetwork().layers(0).innerproduct().weights().floatvalue();
  return {w.begin(), w.end()};
}

TEST(UpdateTest, SgdStepIsTheCrossEntropyGradient) {
  Model model = TinyNetwork(false);
  ASSERT_TRUE(Validate(model).empty()) << Validate(model).front();
  // z = W x + b with x = [1, 2]: z0 = 0.5 - 0.5 + 0.1, z1 = 0.125 + 1.5 - 0.2.
  const double z0 = 0.1, z1 = 1.425;
  const double p0 = std::exp(z0) / (std::exp(z0) + std::exp(z1)), p1 = 1 - p0;
  auto r = Update(&model, Set({1, 2}, {0}, 1));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->epoch_loss.size(), 1u);
  EXPECT_NEAR(r->epoch_loss[0], -std::log(p0), 1e-6);
  // dL/dz = p - onehot(0); dW = dz x^T; W -= 0.1 dW.
  const double g0 = p0 - 1, g1 = p1;
  test::ExpectNear(Weights(model), {static_cast<float>(0.5 - 0.1 * g0 * 1),
                                    static_cast<float>(-0.25 - 0.1 * g0 * 2),
                                    static_cast<float>(0.125 - 0.1 * g1 * 1),
                                    static_cast<float>(0.75 - 0.1 * g1 * 2)});
  EXPECT_TRUE(Contains(model.spec().description().metadata().userdefined().at("com.ringo.update"),
                       "1 samples, 1 epochs"));
}

TEST(UpdateTest, AdamFirstStepMovesEachWeightByTheLearningRate) {
  Model model = TinyNetwork(true, true, 0.01);
  const std::vector<float> before = Weights(model);
  ASSERT_TRUE(Update(&model, Set({1, 2}, {3, -3}, 2)).ok());
  // With bias correction the first step is lr * g / (|g| + eps): lr against the gradient's sign.
  const std::vector<float> after = Weights(model);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_NEAR(std::abs(after[i] - before[i]), 0.01, 1e-6);
  EXPECT_GT(after[0], before[0]);  // z0 = 0.1 is below its target 3
  EXPECT_LT(after[2], before[2]);  // z1 = 1.425 is above its target -3
}

TEST(UpdateTest, MseLossFallsOverEpochs) {
  Model model = TinyNetwork(true, false, 0.05, 2);
  auto r = Update(&model, Set({1, 2, -1, 0.5f, 0, 1, 2, -2}, {1, 0, 0, 1, 1, 1, -1, 0}, 2), 20);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->epoch_loss.size(), 20u);
  EXPECT_LT(r->epoch_loss.back(), r->epoch_loss.front() / 2);
}

TEST(UpdateTest, RefusesAModelThatIsNotUpdatable) {
  Model model = TinyNetwork(false);
  model.spec().set_isupdatable(false);
  auto r = Update(&model, Set({1, 2}, {0}, 1));
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_FALSE(Validate(model).empty());  // layers marked updatable in a model that is not
}

TEST(UpdateTest, RefusesSetsThatDoNotFit) {
  Model model = TinyNetwork(false);
  auto r = Update(&model, Set({1, 2, 3, 4}, {0}, 1));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  r = Update(&model, Set({1, 2}, {2}, 1));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "class index"));
  TrainingSet missing;
  missing.target = Tensor{{1, 1}, {0}};
  EXPECT_EQ(Update(&model, missing).status().code(), Code::kInvalidArgument);
}

TEST(UpdateTest, EpochOverrideMustBeAllowed) {
  Model model = TinyNetwork(false);
  auto* epochs = model.spec().mutable_neuralnetwork()->mutable_updateparams()->mutable_epochs();
  epochs->mutable_set()->add_values(1);
  epochs->mutable_set()->add_values(3);
  EXPECT_EQ(Update(&model, Set({1, 2}, {0}, 1), 2).status().code(), Code::kInvalidArgument);
  auto r = Update(&model, Set({1, 2}, {0}, 1), 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->epoch_loss.size(), 3u);
}

TEST(UpdateTest, ValidateNamesWhatAnUpdatableModelLacks) {
  Model model = TinyNetwork(false);
  model.spec().set_specificationversion(3);
  model.spec().mutable_neuralnetwork()->mutable_updateparams()->clear_losslayers();
  std::string all;
  for (const auto& p : Validate(model)) all += p + "\n";
  EXPECT_TRUE(Contains(all, "needs specification version 4")) << all;
  EXPECT_TRUE(Contains(all, "one loss layer")) << all;

  Model cce_on_logits = TinyNetwork(false);
  auto* loss = cce_on_logits.spec().mutable_neuralnetwork()->mutable_updateparams();
  loss->mutable_losslayers(0)->mutable_categoricalcrossentropylosslayer()->set_input("z");
  all.clear();
  for (const auto& p : Validate(cce_on_logits)) all += p + "\n";
  EXPECT_TRUE(Contains(all, "not a softmax's output")) << all;
}

TEST(UpdateTest, InspectListsUpdatableLayersAndTheUpdate) {
  Info info = Inspect(TinyNetwork(false, true));
  ASSERT_EQ(info.updatable_layers.size(), 1u);
  EXPECT_EQ(info.updatable_layers[0], "fc (innerProduct, 4 weights + 2 bias)");
  EXPECT_TRUE(Contains(info.update, "loss cross-entropy(probs, target probs_true)"));
  EXPECT_TRUE(Contains(info.update, "adam learning rate 0.1"));
  EXPECT_TRUE(Contains(InfoToJson(info), "updatable_layers"));
}

}  // namespace
}  // namespace ringo::coreml
