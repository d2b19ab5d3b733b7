// The trainer's private interface: back-propagation through NeuralNetwork layers and the
// optimizer step (backprop.cc), used by Update (update.cc).
#ifndef RINGO_COREML_UPDATE_INTERNAL_H_
#define RINGO_COREML_UPDATE_INTERNAL_H_

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "coreml/coreml.h"
#include "coreml/schema.h"

namespace ringo::coreml::internal {

// Back-propagation of one sample's loss through the layers from `first` (the first updatable
// one) to the loss input, on rank-5 blobs. Not thread safe; holds references to `layers`.
class Backprop {
 public:
  using Layers = google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>;
  Backprop(const Layers& layers, int first, bool cross_entropy, std::string loss_input);

  // FailedPrecondition naming the first layer from `first` on that cannot be back-propagated
  // through, or a loss input no layer from `first` on computes.
  Status Check() const;

  // The loss of sample `i` of `n` (targets: one class index each for cross-entropy, else the
  // loss input's values each) from the forward pass's `blobs`; leaves the gradient of
  // `scale` * loss for every updatable tensor. kInvalidArgument for a target that does not fit.
  Result<double> Run(const std::map<std::string, Tensor>& blobs, const Tensor& targets, int64_t n,
                     int64_t i, double scale);

  // The gradient Run left for the tensor `values` (an updatable layer's weights or bias).
  const std::vector<double>& Gradient(const google::protobuf::RepeatedField<float>* values) const;

 private:
  Status Layer(int k, const std::map<std::string, Tensor>& blobs, const Tensor& dy, bool need_dx,
               Tensor* dx);

  const Layers& layers_;
  int first_;
  bool cross_entropy_;
  std::string loss_input_;
  std::map<std::string, int> producer_;  // blob -> index of the layer writing it
  std::map<const void*, std::vector<double>> grads_;
};

// One optimizer step on `values` with gradient `grad`: SGD (v = momentum * v + g; w -= lr * v)
// or Adam (moments m, v with bias correction for step `t` >= 1; w -= lr * m^ / (sqrt(v^) + eps)).
void Step(bool adam, double lr, double momentum, double beta1, double beta2, double eps, int64_t t,
          std::vector<double>* grad, std::vector<double>* m, std::vector<double>* v,
          google::protobuf::RepeatedField<float>* values);

}  // namespace ringo::coreml::internal

#endif  // RINGO_COREML_UPDATE_INTERNAL_H_
