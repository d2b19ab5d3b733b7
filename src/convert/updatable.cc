// Makes a converted NeuralNetwork updatable: updatable layers, loss, optimizer, training inputs.
#include <algorithm>
#include <cmath>
#include <set>

#include "convert/emit.h"
#include "convert/importer.h"

namespace ringo::convert {

namespace {

namespace spec = coreml::spec;
using google::protobuf::RepeatedPtrField;

// The parts of the three NeuralNetwork kinds an update touches.
struct Network {
  RepeatedPtrField<spec::NeuralNetworkLayer>* layers = nullptr;
  spec::NetworkUpdateParameters* update = nullptr;
  std::string scores;  // the blob a classifier's probabilities come from
};

Result<Network> NetworkOf(spec::Model* m) {
  if (m->has_neuralnetworkclassifier()) {
    auto* n = m->mutable_neuralnetworkclassifier();
    std::string scores = n->labelprobabilitylayername();
    if (scores.empty() && n->layers_size() > 0) scores = n->layers(n->layers_size() - 1).output(0);
    return Network{n->mutable_layers(), n->mutable_updateparams(), scores};
  }
  if (m->has_neuralnetworkregressor()) {
    auto* n = m->mutable_neuralnetworkregressor();
    return Network{n->mutable_layers(), n->mutable_updateparams(), ""};
  }
  if (m->has_neuralnetwork()) {
    auto* n = m->mutable_neuralnetwork();
    return Network{n->mutable_layers(), n->mutable_updateparams(), ""};
  }
  return InvalidArgument("only a NeuralNetwork (.mlmodel) can be made updatable");
}

spec::DoubleParameter Double(double value, double lo, double hi) {
  spec::DoubleParameter p;
  p.set_defaultvalue(value);
  p.mutable_range()->set_minvalue(lo);
  p.mutable_range()->set_maxvalue(hi);
  return p;
}

spec::Int64Parameter Int64Set(int64_t value) {
  spec::Int64Parameter p;
  p.set_defaultvalue(value);
  p.mutable_set()->add_values(value);
  return p;
}

spec::Int64Parameter Int64(int64_t value, int64_t lo, int64_t hi) {
  spec::Int64Parameter p;
  p.set_defaultvalue(value);
  p.mutable_range()->set_minvalue(lo);
  p.mutable_range()->set_maxvalue(hi);
  return p;
}

Status CheckOptions(const UpdateOptions& u) {
  if (u.loss != "cross-entropy" && u.loss != "mse") {
    return InvalidArgument("--loss must be cross-entropy or mse; got '" + u.loss + "'");
  }
  if (u.optimizer != "sgd" && u.optimizer != "adam") {
    return InvalidArgument("--optimizer must be sgd or adam; got '" + u.optimizer + "'");
  }
  if (!(u.learning_rate > 0 && u.learning_rate <= 1)) {
    return InvalidArgument("--learning-rate must be in (0, 1]");
  }
  if (u.epochs < 1 || u.epochs > 100000) return InvalidArgument("--epochs must be 1..100000");
  if (u.batch_size < 1 || u.batch_size > 65536) {
    return InvalidArgument("--batch-size must be 1..65536");
  }
  if (!(u.momentum >= 0 && u.momentum < 1)) return InvalidArgument("momentum must be in [0, 1)");
  if (!(u.beta1 >= 0 && u.beta1 < 1 && u.beta2 >= 0 && u.beta2 < 1 && u.eps > 0 && u.eps < 1)) {
    return InvalidArgument("Adam's beta1 and beta2 must be in [0, 1), eps in (0, 1)");
  }
  return Status::Ok();
}

// Marks the layers named in `u` and returns the index of the first one.
Result<int> MarkLayers(const UpdateOptions& u, Network* net) {
  auto& layers = *net->layers;
  std::string candidates;
  for (const auto& l : layers) {
    if (l.has_innerproduct() || l.has_convolution()) {
      candidates += (candidates.empty() ? "" : ", ") + l.name();
    }
  }
  int first = layers.size();
  for (const std::string& wanted : u.layers) {
    auto it = std::find_if(layers.begin(), layers.end(), [&](const spec::NeuralNetworkLayer& l) {
      return l.name() == wanted || l.name() == Sanitized(wanted);
    });
    if (it == layers.end() || !(it->has_innerproduct() || it->has_convolution())) {
      return InvalidArgument("updatable layer '" + wanted +
                             "' is not an innerProduct or convolution layer of the model (those "
                             "are: " + (candidates.empty() ? "none" : candidates) + ")");
    }
    if (!coreml::Differentiable(*it)) {
      return InvalidArgument("updatable layer '" + wanted +
                             "' is a grouped convolution or a deconvolution, which Core ML "
                             "does not update");
    }
    it->set_isupdatable(true);
    spec::WeightParams *w, *b;
    bool has_bias;
    if (it->has_innerproduct()) {
      w = it->mutable_innerproduct()->mutable_weights();
      b = it->mutable_innerproduct()->mutable_bias();
      has_bias = it->innerproduct().hasbias();
    } else {
      w = it->mutable_convolution()->mutable_weights();
      b = it->mutable_convolution()->mutable_bias();
      has_bias = it->convolution().hasbias();
    }
    // Core ML updates float32 weights only.
    if (w->floatvalue_size() == 0) {
      return InvalidArgument("updatable layer '" + wanted + "' has no float32 weights");
    }
    w->set_isupdatable(true);
    if (has_bias) b->set_isupdatable(true);
    first = std::min(first, static_cast<int>(it - layers.begin()));
  }
  for (int k = first; k < layers.size(); ++k) {
    if (!coreml::Differentiable(layers[k])) {
      return InvalidArgument("layer '" + layers[k].name() +
                             "' follows an updatable layer but cannot be back-propagated "
                             "through (innerProduct, convolution, activations, softmax and "
                             "flatten can)");
    }
  }
  return first;
}

// The model output the loss reads, and its feature description.
Result<const spec::FeatureDescription*> LossInput(const spec::Model& m, const Network& net,
                                                  std::string* blob) {
  const auto& outputs = m.description().output();
  if (!net.scores.empty()) {
    *blob = net.scores;
    for (const auto& f : outputs) {
      if (f.name() == m.description().predictedfeaturename()) return &f;
    }
    return InvalidArgument("the classifier has no predicted feature");
  }
  if (outputs.size() != 1) {
    return InvalidArgument("an updatable model needs one output for its loss; this one has " +
                           std::to_string(outputs.size()));
  }
  *blob = outputs[0].name();
  return &outputs[0];
}

}  // namespace

Status MakeUpdatable(const UpdateOptions& u, spec::Model* m) {
  RETURN_IF_ERROR(CheckOptions(u));
  ASSIGN_OR_RETURN(Network net, NetworkOf(m));
  ASSIGN_OR_RETURN(int first, MarkLayers(u, &net));
  std::string loss_input;
  ASSIGN_OR_RETURN(const spec::FeatureDescription* out, LossInput(*m, net, &loss_input));
  const spec::NeuralNetworkLayer* producer = nullptr;
  int producer_index = 0;
  for (int k = 0; k < net.layers->size(); ++k) {
    if ((*net.layers)[k].output(0) == loss_input) {
      producer = &(*net.layers)[k];
      producer_index = k;
    }
  }
  if (producer == nullptr || producer_index < first) {
    return InvalidArgument("the loss input '" + loss_input +
                           "' is not computed after the updatable layers");
  }

  spec::ModelDescription* d = m->mutable_description();
  d->clear_traininginput();
  for (const auto& f : d->input()) *d->add_traininginput() = f;
  auto* target = d->add_traininginput();
  spec::LossLayer* loss = net.update->add_losslayers();
  loss->set_name(loss_input + "_loss");
  if (u.loss == "cross-entropy") {
    // Core ML computes -log(p[target]) and so requires probabilities: a softmax's output.
    if (!producer->has_softmax()) {
      return InvalidArgument("cross-entropy needs the model's output '" + loss_input +
                             "' to come from a softmax; it comes from layer '" +
                             producer->name() + "' (use --loss mse, or export the softmax)");
    }
    auto* cce = loss->mutable_categoricalcrossentropylosslayer();
    cce->set_input(loss_input);
    if (!net.scores.empty()) {
      // A classifier's target is its predicted label, of the label output's type.
      *target = *out;
    } else {
      target->set_name(loss_input + "_true");
      auto* a = target->mutable_type()->mutable_multiarraytype();
      a->add_shape(1);
      a->set_datatype(spec::ArrayFeatureType::INT32);
    }
    cce->set_target(target->name());
  } else {
    if (!net.scores.empty()) {
      return InvalidArgument("mse needs a regressor or plain network; this is a classifier");
    }
    auto* mse = loss->mutable_meansquarederrorlosslayer();
    mse->set_input(loss_input);
    *target = *out;
    target->set_name(loss_input + "_true");
    // coremltools declares an mse target as DOUBLE values of the loss input's shape.
    target->mutable_type()->mutable_multiarraytype()->set_datatype(spec::ArrayFeatureType::DOUBLE);
    mse->set_target(target->name());
  }

  // The values an app may override at update time: rates and betas in [0, 1] and the batch size
  // as given, as coremltools writes them; the epoch count 1..100000 (`ringo update --epochs`).
  spec::Optimizer* opt = net.update->mutable_optimizer();
  if (u.optimizer == "sgd") {
    auto* sgd = opt->mutable_sgdoptimizer();
    *sgd->mutable_learningrate() = Double(u.learning_rate, 0, 1);
    *sgd->mutable_minibatchsize() = Int64Set(u.batch_size);
    *sgd->mutable_momentum() = Double(u.momentum, 0, 1);
  } else {
    auto* adam = opt->mutable_adamoptimizer();
    *adam->mutable_learningrate() = Double(u.learning_rate, 0, 1);
    *adam->mutable_minibatchsize() = Int64Set(u.batch_size);
    *adam->mutable_beta1() = Double(u.beta1, 0, 1);
    *adam->mutable_beta2() = Double(u.beta2, 0, 1);
    *adam->mutable_eps() = Double(u.eps, 0, 1);
  }
  *net.update->mutable_epochs() = Int64(u.epochs, 1, 100000);
  m->set_isupdatable(true);
  // Updatable models arrived with specification version 4 (iOS 13, macOS 10.15).
  m->set_specificationversion(std::max(m->specificationversion(), 4));
  return Status::Ok();
}

}  // namespace ringo::convert
