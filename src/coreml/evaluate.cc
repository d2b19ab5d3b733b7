// Predict: checks the inputs against the model's description, then runs the format's evaluator.
#include <algorithm>

#include "coreml/coreml.h"
#include "coreml/evaluate_internal.h"
#include "coreml/kernels.h"
#include "coreml/schema.h"

namespace ringo::coreml {

namespace {

// Leading 1s carry no data: [1, 3, 8, 8] and [3, 8, 8] describe the same values, and the
// converter drops the ONNX batch dimension from NeuralNetwork inputs.
std::vector<int64_t> WithoutLeadingOnes(std::vector<int64_t> shape) {
  auto first = std::find_if(shape.begin(), shape.end(), [](int64_t d) { return d != 1; });
  shape.erase(shape.begin(), first);
  return shape;
}

Status CheckInput(const spec::FeatureDescription& feature, const Value& value) {
  const std::string& name = feature.name();
  const spec::FeatureType& type = feature.type();
  if (value.kind != "tensor") {
    return InvalidArgument("input '" + name + "' must be a tensor, got a " + value.kind);
  }
  const Tensor& t = value.tensor;
  if (static_cast<int64_t>(t.data.size()) != t.size()) {
    return InvalidArgument("input '" + name + "' holds " + std::to_string(t.data.size()) +
                           " values but its shape " + kernels::ShapeString(t.shape) + " needs " +
                           std::to_string(t.size()));
  }
  if (type.has_multiarraytype()) {
    std::vector<int64_t> declared(type.multiarraytype().shape().begin(),
                                  type.multiarraytype().shape().end());
    if (!declared.empty() && WithoutLeadingOnes(declared) != WithoutLeadingOnes(t.shape)) {
      return InvalidArgument("input '" + name + "' has shape " + kernels::ShapeString(t.shape) +
                             "; the model expects " + kernels::ShapeString(declared));
    }
  } else if (type.has_imagetype()) {
    const spec::ImageFeatureType& image = type.imagetype();
    int64_t channels = image.colorspace() == spec::ImageFeatureType::RGB ||
                               image.colorspace() == spec::ImageFeatureType::BGR
                           ? 3
                           : 1;
    std::vector<int64_t> declared = {channels, image.height(), image.width()};
    if (WithoutLeadingOnes(declared) != WithoutLeadingOnes(t.shape)) {
      return InvalidArgument("image input '" + name + "' has shape " +
                             kernels::ShapeString(t.shape) + "; the model expects " +
                             kernels::ShapeString(declared) + " (channels, height, width)");
    }
  } else if (type.has_doubletype() || type.has_int64type()) {
    if (t.data.size() != 1) {
      return InvalidArgument("input '" + name + "' must be a single number");
    }
  } else {
    return FailedPrecondition("input '" + name + "' has a feature type the evaluator does not " +
                              "support");
  }
  return Status::Ok();
}

}  // namespace

Result<std::map<std::string, Value>> Predict(const Model& model,
                                             const std::map<std::string, Value>& inputs) {
  return PredictTraced(model, inputs, nullptr);
}

Result<std::map<std::string, Value>> PredictTraced(const Model& model,
                                                   const std::map<std::string, Value>& inputs,
                                                   std::map<std::string, Tensor>* trace) {
  const spec::ModelDescription& description = model.spec().description();
  for (const auto& entry : inputs) {
    const std::string& name = entry.first;
    bool declared =
        std::any_of(description.input().begin(), description.input().end(),
                    [&](const spec::FeatureDescription& f) { return f.name() == name; });
    if (!declared) return InvalidArgument("the model has no input named '" + name + "'");
  }
  for (const spec::FeatureDescription& feature : description.input()) {
    auto it = inputs.find(feature.name());
    if (it == inputs.end()) {
      if (feature.type().isoptional()) continue;
      return InvalidArgument("missing input '" + feature.name() + "'");
    }
    RETURN_IF_ERROR(CheckInput(feature, it->second));
  }
  switch (model.spec().Type_case()) {
    case spec::Model::kNeuralNetwork:
    case spec::Model::kNeuralNetworkClassifier:
    case spec::Model::kNeuralNetworkRegressor:
      return internal::PredictNeuralNetwork(model, inputs);
    case spec::Model::kMlProgram:
      return internal::PredictProgram(model, inputs, trace);
    default:
      return FailedPrecondition("the evaluator does not run this model type");
  }
}

}  // namespace ringo::coreml
