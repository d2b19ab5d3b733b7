// Walking a Core ML spec (see spec_walk.h).
#include "coreml/spec_walk.h"

#include <google/protobuf/descriptor.h>

namespace ringo::coreml::internal {

const google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>* Layers(const spec::Model& m) {
  if (m.has_neuralnetwork()) return &m.neuralnetwork().layers();
  if (m.has_neuralnetworkclassifier()) return &m.neuralnetworkclassifier().layers();
  if (m.has_neuralnetworkregressor()) return &m.neuralnetworkregressor().layers();
  return nullptr;
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
