// Walking a Core ML spec (see spec_walk.h).
#include "coreml/spec_walk.h"

#include <cstdio>

#include <google/protobuf/descriptor.h>

namespace ringo::coreml::internal {

const google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>* Layers(const spec::Model& m) {
  if (m.has_neuralnetwork()) return &m.neuralnetwork().layers();
  if (m.has_neuralnetworkclassifier()) return &m.neuralnetworkclassifier().layers();
  if (m.has_neuralnetworkregressor()) return &m.neuralnetworkregressor().layers();
  return nullptr;
}

const spec::NetworkUpdateParameters* UpdateParams(const spec::Model& m) {
  if (m.has_neuralnetwork()) return &m.neuralnetwork().updateparams();
  if (m.has_neuralnetworkclassifier()) return &m.neuralnetworkclassifier().updateparams();
  if (m.has_neuralnetworkregressor()) return &m.neuralnetworkregressor().updateparams();
  return nullptr;
}

std::string DescribeUpdate(const spec::NetworkUpdateParameters& u) {
  auto num = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  std::string out;
  for (const auto& l : u.losslayers()) {
    if (l.has_categoricalcrossentropylosslayer()) {
      const auto& c = l.categoricalcrossentropylosslayer();
      out += "loss cross-entropy(" + c.input() + ", target " + c.target() + "); ";
    } else if (l.has_meansquarederrorlosslayer()) {
      const auto& c = l.meansquarederrorlosslayer();
      out += "loss mse(" + c.input() + ", target " + c.target() + "); ";
    }
  }
  const auto& o = u.optimizer();
  if (o.has_sgdoptimizer()) {
    const auto& s = o.sgdoptimizer();
    out += "sgd learning rate " + num(s.learningrate().defaultvalue()) + ", batch " +
           std::to_string(s.minibatchsize().defaultvalue()) + ", momentum " +
           num(s.momentum().defaultvalue()) + "; ";
  } else if (o.has_adamoptimizer()) {
    const auto& a = o.adamoptimizer();
    out += "adam learning rate " + num(a.learningrate().defaultvalue()) + ", batch " +
           std::to_string(a.minibatchsize().defaultvalue()) + ", beta1 " +
           num(a.beta1().defaultvalue()) + ", beta2 " + num(a.beta2().defaultvalue()) +
           ", eps " + num(a.eps().defaultvalue()) + "; ";
  }
  return out + std::to_string(u.epochs().defaultvalue()) + " epochs";
}

const google::protobuf::RepeatedPtrField<spec::NeuralNetworkPreprocessing>* Preprocessing(
    const spec::Model& m) {
  if (m.has_neuralnetwork()) return &m.neuralnetwork().preprocessing();
  if (m.has_neuralnetworkclassifier()) return &m.neuralnetworkclassifier().preprocessing();
  if (m.has_neuralnetworkregressor()) return &m.neuralnetworkregressor().preprocessing();
  return nullptr;
}

std::string LayerType(const spec::NeuralNetworkLayer& layer) {
  const auto* d = spec::NeuralNetworkLayer::descriptor()->FindFieldByNumber(layer.layer_case());
  return d ? d->name() : "unknown";
}

int64_t WeightCount(const spec::WeightParams& w) {
  if (w.floatvalue_size() > 0) return w.floatvalue_size();
  const uint64_t bits = w.quantization().numberofbits();
  if (!w.rawvalue().empty() && bits > 0) {
    return static_cast<int64_t>(w.rawvalue().size() * 8 / bits);
  }
  return static_cast<int64_t>(w.float16value().size() / 2);
}

int64_t ElementCount(const mil::ValueType& t) {
  if (!t.has_tensortype()) return -1;
  int64_t n = 1;
  for (const auto& d : t.tensortype().dimensions()) {
    if (!d.has_constant()) return -1;
    n *= static_cast<int64_t>(d.constant().size());
  }
  return n;
}

const mil::Block* MainBlock(const spec::Model& m, std::string* opset) {
  if (!m.has_mlprogram()) return nullptr;
  auto it = m.mlprogram().functions().find("main");
  if (it == m.mlprogram().functions().end()) return nullptr;
  auto b = it->second.block_specializations().find(it->second.opset());
  if (b == it->second.block_specializations().end()) return nullptr;
  if (opset) *opset = it->second.opset();
  return &b->second;
}

}  // namespace ringo::coreml::internal
