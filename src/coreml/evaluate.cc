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

bool Flexible(const spec::ArrayFeatureType& a) {
  return a.has_shaperange() || a.has_enumeratedshapes();
}

// `shape` with leading unit axes added or dropped to reach `rank` (when it can).
std::vector<int64_t> AtRank(std::vector<int64_t> shape, size_t rank) {
  while (shape.size() > rank && shape.front() == 1) shape.erase(shape.begin());
  while (shape.size() < rank) shape.insert(shape.begin(), 1);
  return shape;
}

// "[1..8, 3, 224, 224]" or "[1, 3, 224, 224] or [1, 3, 160, 160]".
std::string Allowed(const spec::ArrayFeatureType& a) {
  std::string out;
  if (a.has_shaperange()) {
    for (const auto& r : a.shaperange().sizeranges()) {
      out += (out.empty() ? "[" : ", ") + std::to_string(r.lowerbound());
      if (r.upperbound() != static_cast<int64_t>(r.lowerbound())) {
        out += ".." + (r.upperbound() >= 0 ? std::to_string(r.upperbound()) : std::string());
      }
    }
    return out + "]";
  }
  for (const auto& s : a.enumeratedshapes().shapes()) {
    out += (out.empty() ? "" : " or ") +
           kernels::ShapeString(std::vector<int64_t>(s.shape().begin(), s.shape().end()));
  }
  return out;
}

// A shape against an input's shape range or enumerated shapes (up to leading unit axes).
Status CheckFlexible(const std::string& name, const spec::ArrayFeatureType& a,
                     const std::vector<int64_t>& given) {
  bool ok = false;
  if (a.has_shaperange()) {
    const auto& ranges = a.shaperange().sizeranges();
    const std::vector<int64_t> s = AtRank(given, static_cast<size_t>(ranges.size()));
    ok = s.size() == static_cast<size_t>(ranges.size());
    for (int k = 0; ok && k < ranges.size(); ++k) {
      ok = s[k] >= static_cast<int64_t>(ranges[k].lowerbound()) &&
           (ranges[k].upperbound() < 0 || s[k] <= ranges[k].upperbound());
    }
  } else {
    for (const auto& e : a.enumeratedshapes().shapes()) {
      ok = ok || AtRank(given, static_cast<size_t>(e.shape_size())) ==
                     std::vector<int64_t>(e.shape().begin(), e.shape().end());
    }
  }
  if (ok) return Status::Ok();
  return InvalidArgument("input '" + name + "' has shape " + kernels::ShapeString(given) +
                         "; the model allows " + Allowed(a));
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
  if (type.has_multiarraytype() && Flexible(type.multiarraytype())) {
    return CheckFlexible(name, type.multiarraytype(), t.shape);
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
  // A flexible input takes the rank its description gives, so that the evaluators can use the
  // shape it came with.
  std::map<std::string, Value> shaped;
  const std::map<std::string, Value>* run = &inputs;
  for (const spec::FeatureDescription& feature : description.input()) {
    auto it = inputs.find(feature.name());
    if (it == inputs.end() || !feature.type().has_multiarraytype()) continue;
    const auto& a = feature.type().multiarraytype();
    if (!Flexible(a)) continue;
    if (run == &inputs) shaped = inputs;
    run = &shaped;
    const size_t rank = a.has_shaperange()
                            ? static_cast<size_t>(a.shaperange().sizeranges_size())
                            : static_cast<size_t>(a.enumeratedshapes().shapes(0).shape_size());
    shaped[feature.name()].tensor.shape = AtRank(it->second.tensor.shape, rank);
  }
  switch (model.spec().Type_case()) {
    case spec::Model::kNeuralNetwork:
    case spec::Model::kNeuralNetworkClassifier:
    case spec::Model::kNeuralNetworkRegressor:
      return internal::PredictNeuralNetwork(model, *run, trace);
    case spec::Model::kMlProgram:
      return internal::PredictProgram(model, *run, trace);
    default:
      return FailedPrecondition("the evaluator does not run this model type");
  }
}

}  // namespace ringo::coreml
