// Update: on-device training of an updatable NeuralNetwork with the reference evaluator.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "coreml/coreml.h"
#include "coreml/evaluate_internal.h"
#include "coreml/evaluate_nn.h"
#include "coreml/kernels.h"
#include "coreml/schema.h"
#include "coreml/update_internal.h"

namespace ringo::coreml {

namespace {

using google::protobuf::RepeatedPtrField;
using internal::kC;
using internal::kH;
using internal::kW;
using internal::LayerName;

// One trained tensor (weights or bias) with its gradient and optimizer state.
struct Parameter {
  google::protobuf::RepeatedField<float>* values = nullptr;
  std::vector<double> grad, m, v;
};

struct Settings {
  bool adam = false;
  double lr = 0, momentum = 0, beta1 = 0, beta2 = 0, eps = 0;
  int64_t batch = 1, epochs = 1;
  bool cross_entropy = true;
  std::string loss_input, target;
};

struct Network {
  RepeatedPtrField<spec::NeuralNetworkLayer>* layers = nullptr;
  const spec::NetworkUpdateParameters* update = nullptr;
  bool nd = false;
};

Result<Network> NetworkOf(spec::Model* m) {
  if (m->has_neuralnetworkclassifier()) {
    auto* n = m->mutable_neuralnetworkclassifier();
    return Network{n->mutable_layers(), &n->updateparams(),
                   n->arrayinputshapemapping() == spec::EXACT_ARRAY_MAPPING};
  }
  if (m->has_neuralnetworkregressor()) {
    auto* n = m->mutable_neuralnetworkregressor();
    return Network{n->mutable_layers(), &n->updateparams(),
                   n->arrayinputshapemapping() == spec::EXACT_ARRAY_MAPPING};
  }
  if (m->has_neuralnetwork()) {
    auto* n = m->mutable_neuralnetwork();
    return Network{n->mutable_layers(), &n->updateparams(),
                   n->arrayinputshapemapping() == spec::EXACT_ARRAY_MAPPING};
  }
  return FailedPrecondition("only NeuralNetwork models are updatable; this one is not");
}

Result<Settings> SettingsOf(const spec::Model& m, const Network& net, int64_t epochs) {
  if (!m.isupdatable()) return FailedPrecondition("the model is not updatable (isUpdatable)");
  if (net.nd) {
    return FailedPrecondition("the trainer runs networks with rank-5 array mapping only");
  }
  const spec::NetworkUpdateParameters& u = *net.update;
  if (u.losslayers_size() != 1) {
    return FailedPrecondition("an updatable model needs one loss layer; it has " +
                              std::to_string(u.losslayers_size()));
  }
  Settings s;
  const spec::LossLayer& loss = u.losslayers(0);
  if (loss.has_categoricalcrossentropylosslayer()) {
    s.loss_input = loss.categoricalcrossentropylosslayer().input();
    s.target = loss.categoricalcrossentropylosslayer().target();
  } else if (loss.has_meansquarederrorlosslayer()) {
    s.cross_entropy = false;
    s.loss_input = loss.meansquarederrorlosslayer().input();
    s.target = loss.meansquarederrorlosslayer().target();
  } else {
    return FailedPrecondition("loss layer '" + loss.name() + "' has no loss type");
  }
  const spec::Optimizer& o = u.optimizer();
  if (o.has_sgdoptimizer()) {
    s.lr = o.sgdoptimizer().learningrate().defaultvalue();
    s.batch = o.sgdoptimizer().minibatchsize().defaultvalue();
    s.momentum = o.sgdoptimizer().momentum().defaultvalue();
  } else if (o.has_adamoptimizer()) {
    s.adam = true;
    s.lr = o.adamoptimizer().learningrate().defaultvalue();
    s.batch = o.adamoptimizer().minibatchsize().defaultvalue();
    s.beta1 = o.adamoptimizer().beta1().defaultvalue();
    s.beta2 = o.adamoptimizer().beta2().defaultvalue();
    s.eps = o.adamoptimizer().eps().defaultvalue();
  } else {
    return FailedPrecondition("the update declares no optimizer");
  }
  if (s.batch < 1) return FailedPrecondition("the optimizer's mini-batch size is below 1");
  s.epochs = u.epochs().defaultvalue();
  if (epochs > 0) {
    const spec::Int64Parameter& p = u.epochs();
    bool allowed = p.has_range()
                       ? epochs >= p.range().minvalue() && epochs <= p.range().maxvalue()
                   : p.has_set() ? std::count(p.set().values().begin(), p.set().values().end(),
                                              epochs) > 0
                                 : true;
    if (!allowed) {
      return InvalidArgument(std::to_string(epochs) + " epochs is outside what the model allows");
    }
    s.epochs = epochs;
  }
  if (s.epochs < 1) return FailedPrecondition("the update declares no epochs");
  return s;
}

// The value of input `f` for sample `k` of the set, shaped as declared.
Result<Value> Sample(const spec::FeatureDescription& f, const Tensor& all, int64_t n, int64_t k) {
  const int64_t per = all.size() / n;
  std::vector<int64_t> shape;
  if (f.type().has_multiarraytype()) {
    shape.assign(f.type().multiarraytype().shape().begin(),
                 f.type().multiarraytype().shape().end());
  } else if (f.type().has_imagetype()) {
    const auto& image = f.type().imagetype();
    shape = {per / (image.height() * image.width()), image.height(), image.width()};
  } else {
    shape = {1};
  }
  int64_t want = 1;
  for (int64_t d : shape) want *= d;
  if (want != per) {
    return InvalidArgument("training input '" + f.name() + "' has " + std::to_string(per) +
                           " values per sample; the model declares " + std::to_string(want));
  }
  Value v;
  v.tensor.shape = shape;
  v.tensor.data.assign(all.data.begin() + k * per, all.data.begin() + (k + 1) * per);
  return v;
}

// The trained tensors (layer index, weights then bias) and, in *first, the first updatable
// layer: where back-propagation may stop.
Result<std::vector<std::pair<int, Parameter>>> TrainedParameters(
    RepeatedPtrField<spec::NeuralNetworkLayer>* layers, int* first) {
  std::vector<std::pair<int, Parameter>> params;
  *first = layers->size();
  for (int k = 0; k < layers->size(); ++k) {
    spec::NeuralNetworkLayer& l = (*layers)[k];
    if (!l.isupdatable()) continue;
    spec::WeightParams *w, *b;
    bool has_bias;
    if (l.has_innerproduct()) {
      w = l.mutable_innerproduct()->mutable_weights();
      b = l.mutable_innerproduct()->mutable_bias();
      has_bias = l.innerproduct().hasbias();
    } else if (l.has_convolution()) {
      w = l.mutable_convolution()->mutable_weights();
      b = l.mutable_convolution()->mutable_bias();
      has_bias = l.convolution().hasbias();
    } else {
      return FailedPrecondition(LayerName(l) + " is updatable but not innerProduct or convolution");
    }
    if (w->floatvalue_size() == 0) {
      return FailedPrecondition(LayerName(l) + " is updatable but its weights are not float32");
    }
    params.push_back({k, Parameter{w->mutable_floatvalue(), {}, {}, {}}});
    if (has_bias) params.push_back({k, Parameter{b->mutable_floatvalue(), {}, {}, {}}});
    *first = std::min(*first, k);
  }
  if (params.empty()) return FailedPrecondition("the model has no updatable layer");
  for (auto& [k, p] : params) {
    p.grad.assign(p.values->size(), 0.0);
    p.m.assign(p.values->size(), 0.0);
    p.v.assign(p.values->size(), 0.0);
  }
  return params;
}

// The inputs a sample needs (every training input but the target), each present in `data` with
// the target's sample count, which goes to *n.
Result<std::vector<const spec::FeatureDescription*>> SampleFeatures(const spec::Model& m,
                                                                    const std::string& target,
                                                                    const TrainingSet& data,
                                                                    int64_t* n) {
  std::vector<const spec::FeatureDescription*> features;
  for (const auto& f : m.description().traininginput()) {
    if (f.name() != target) features.push_back(&f);
  }
  if (features.empty()) {
    for (const auto& f : m.description().input()) features.push_back(&f);
  }
  // Every sample is read at shape-computed offsets: a tensor whose values do not fill its shape
  // is refused here, never read past its end.
  auto filled = [](const Tensor& t) {
    int64_t size = t.shape.empty() ? 0 : 1;
    for (int64_t d : t.shape) size *= d;
    return size == static_cast<int64_t>(t.data.size());
  };
  if (!filled(data.target)) {
    return InvalidArgument("the training targets hold " + std::to_string(data.target.data.size()) +
                           " values, not what their shape says");
  }
  *n = data.target.shape.empty() ? 0 : data.target.shape[0];
  for (const auto* f : features) {
    auto it = data.inputs.find(f->name());
    if (it == data.inputs.end()) {
      return InvalidArgument("the training set has no values for input '" + f->name() + "'");
    }
    if (!filled(it->second)) {
      return InvalidArgument("input '" + f->name() + "' holds " +
                             std::to_string(it->second.data.size()) +
                             " values, not what its shape says");
    }
    const int64_t count = it->second.shape.empty() ? 0 : it->second.shape[0];
    if (count != *n || *n == 0) {
      return InvalidArgument("input '" + f->name() + "' has " + std::to_string(count) +
                             " samples; the target has " + std::to_string(*n));
    }
  }
  return features;
}

}  // namespace

Result<UpdateResult> Update(Model* model, const TrainingSet& data, int64_t epochs,
                            const std::function<void(int64_t, double)>& on_epoch) {
  spec::Model& m = model->spec();
  ASSIGN_OR_RETURN(Network net, NetworkOf(&m));
  ASSIGN_OR_RETURN(Settings s, SettingsOf(m, net, epochs));
  auto& layers = *net.layers;

  int first = 0;
  ASSIGN_OR_RETURN(auto params, TrainedParameters(&layers, &first));
  int64_t n = 0;
  ASSIGN_OR_RETURN(auto features, SampleFeatures(m, s.target, data, &n));

  internal::Backprop backprop(layers, first, s.cross_entropy, s.loss_input);
  RETURN_IF_ERROR(backprop.Check());
  UpdateResult result;
  result.samples = n;
  result.epochs = s.epochs;
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= s.epochs; ++epoch) {
    double total = 0;
    for (int64_t start = 0; start < n; start += s.batch) {
      const int64_t end = std::min(n, start + s.batch);
      for (auto& [k, p] : params) std::fill(p.grad.begin(), p.grad.end(), 0.0);
      for (int64_t i = start; i < end; ++i) {
        std::map<std::string, Value> inputs;
        for (const auto* f : features) {
          ASSIGN_OR_RETURN(inputs[f->name()], Sample(*f, data.inputs.at(f->name()), n, i));
        }
        std::map<std::string, Tensor> blobs;
        RETURN_IF_ERROR(internal::RunNeuralNetwork(*model, inputs, &blobs));
        const double scale = 1.0 / static_cast<double>(end - start);
        ASSIGN_OR_RETURN(double loss, backprop.Run(blobs, data.target, n, i, scale));
        total += loss;
        for (auto& [k, p] : params) {
          const std::vector<double>& g = backprop.Gradient(p.values);
          for (size_t j = 0; j < g.size(); ++j) p.grad[j] += g[j];
        }
      }
      ++step;
      for (auto& [k, p] : params) {
        internal::Step(s.adam, s.lr, s.momentum, s.beta1, s.beta2, s.eps, step, &p.grad, &p.m,
                       &p.v, p.values);
      }
    }
    const double mean = total / static_cast<double>(n);
    result.epoch_loss.push_back(mean);
    if (on_epoch) on_epoch(epoch, mean);
  }
  char note[160];
  std::snprintf(note, sizeof note, "%lld samples, %lld epochs, loss %.6g -> %.6g",
                static_cast<long long>(n), static_cast<long long>(s.epochs),
                result.epoch_loss.front(), result.epoch_loss.back());
  (*m.mutable_description()->mutable_metadata()->mutable_userdefined())["com.ringo.update"] = note;
  return result;
}

}  // namespace ringo::coreml
