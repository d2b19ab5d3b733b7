// Walking a Core ML spec: the layers, preprocessing and weights of a NeuralNetwork, and the
// main block of an ML Program. Shared by Inspect (inspect.cc) and Validate (validate.cc).
#ifndef RINGO_COREML_SPEC_WALK_H_
#define RINGO_COREML_SPEC_WALK_H_

#include <cstdint>
#include <string>

#include "coreml/schema.h"

namespace ringo::coreml::internal {

// The layers of whichever NeuralNetwork flavour the model holds (nullptr for ML Programs).
const google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>* Layers(const spec::Model& m);

// The preprocessing of whichever NeuralNetwork flavour the model holds (nullptr otherwise).
const google::protobuf::RepeatedPtrField<spec::NeuralNetworkPreprocessing>* Preprocessing(
    const spec::Model& m);

// The update parameters of whichever NeuralNetwork flavour the model holds (nullptr otherwise).
const spec::NetworkUpdateParameters* UpdateParams(const spec::Model& m);

// "loss cross-entropy(probs, target probs_true); sgd learning rate 0.01, batch 8, momentum 0;
// 10 epochs": what an updatable model's update parameters declare.
std::string DescribeUpdate(const spec::NetworkUpdateParameters& u);

// Name of the oneof case of a layer ("convolution", "innerProduct", ...).
std::string LayerType(const spec::NeuralNetworkLayer& layer);

// The number of values a WeightParams holds, whichever field holds them.
int64_t WeightCount(const spec::WeightParams& w);

// Visits every WeightParams of a layer with its expected element count (-1: unchecked).
template <typename F>
void ForEachWeight(const spec::NeuralNetworkLayer& l, F f) {
  switch (l.layer_case()) {
    case spec::NeuralNetworkLayer::kConvolution: {
      const auto& c = l.convolution();
      int64_t k = 1;
      for (uint64_t s : c.kernelsize()) k *= static_cast<int64_t>(s);
      if (c.kernelsize_size() == 0) k = 9;  // default 3x3
      int64_t groups = c.ngroups() ? static_cast<int64_t>(c.ngroups()) : 1;
      int64_t expected = c.isdeconvolution()
                             ? static_cast<int64_t>(c.kernelchannels()) *
                                   static_cast<int64_t>(c.outputchannels()) / groups * k
                             : static_cast<int64_t>(c.outputchannels() * c.kernelchannels()) * k;
      f("weights", c.weights(), expected);
      if (c.hasbias()) f("bias", c.bias(), static_cast<int64_t>(c.outputchannels()));
      break;
    }
    case spec::NeuralNetworkLayer::kInnerProduct: {
      const auto& p = l.innerproduct();
      f("weights", p.weights(), static_cast<int64_t>(p.inputchannels() * p.outputchannels()));
      if (p.hasbias()) f("bias", p.bias(), static_cast<int64_t>(p.outputchannels()));
      break;
    }
    case spec::NeuralNetworkLayer::kBatchnorm: {
      const auto& b = l.batchnorm();
      int64_t c = static_cast<int64_t>(b.channels());
      f("gamma", b.gamma(), c);
      f("beta", b.beta(), c);
      if (!b.computemeanvar()) {
        f("mean", b.mean(), c);
        f("variance", b.variance(), c);
      }
      break;
    }
    case spec::NeuralNetworkLayer::kScale: {
      const auto& s = l.scale();
      f("scale", s.scale(), -1);
      if (s.hasbias()) f("bias", s.bias(), -1);
      break;
    }
    case spec::NeuralNetworkLayer::kBias:
      f("bias", l.bias().bias(), -1);
      break;
    case spec::NeuralNetworkLayer::kBatchedMatmul: {
      const auto& m = l.batchedmatmul();
      if (l.input_size() != 1) break;  // two inputs: no weights
      const auto x2 = static_cast<int64_t>(m.weightmatrixseconddimension());
      f("weights", m.weights(), static_cast<int64_t>(m.weightmatrixfirstdimension()) * x2);
      if (m.hasbias()) f("bias", m.bias(), x2);
      break;
    }
    case spec::NeuralNetworkLayer::kLoadConstantND: {
      int64_t n = 1;
      for (uint64_t d : l.loadconstantnd().shape()) n *= static_cast<int64_t>(d);
      f("data", l.loadconstantnd().data(), n);
      break;
    }
    default:
      break;
  }
}

// Element count of a MIL tensor type (-1 when a dimension is unknown).
int64_t ElementCount(const mil::ValueType& t);

// The block of the ML Program's main function for its opset, which *opset receives when
// not null; nullptr when the model has none.
const mil::Block* MainBlock(const spec::Model& m, std::string* opset = nullptr);

}  // namespace ringo::coreml::internal

#endif  // RINGO_COREML_SPEC_WALK_H_
