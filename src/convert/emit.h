// The two Core ML back ends of the converter: NeuralNetwork layers and ML Program ops.
#ifndef RINGO_CONVERT_EMIT_H_
#define RINGO_CONVERT_EMIT_H_

#include <array>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "convert/graph.h"
#include "convert/weight_stream.h"
#include "coreml/coreml.h"
#include "coreml/schema.h"

namespace onnx {
class ModelProto;
}

namespace ringo::convert {

struct EmitOptions {
  bool fp16 = false;
  std::vector<std::string> class_labels;
  std::string image_input;  // a graph input name, or empty
  float image_scale = 1.0f;
  std::array<float, 3> image_bias{0.0f, 0.0f, 0.0f};  // R, G, B
  std::string color_layout = "RGB";
  // ML Program: the version to write (selects the opset); >= 6. NeuralNetwork: the deployment
  // target's version (0: none); below 4 only rank-5 layers are written.
  int spec_version = 0;
  // ML Program weights: "" (none), "int8" (per output channel), "int8-tensor", "palettize1"
  // .. "palettize8" (1, 2, 4, 6 or 8 bits), "prune" (to `sparsity` zeros). Needs spec >= 7.
  std::string compress;
  double sparsity = 0.5;
  // With fp16: the ops (by Op::name) that compute in fp32 all the same (ML Program), or whose
  // layers keep float32 weights (NeuralNetwork).
  std::set<std::string> fp32_ops;
  // Non-null: ops that cannot be written are appended here and the rest still emitted (ops
  // reading what failed are skipped); the model is then incomplete. Null: the first fails.
  std::vector<NodeProblem>* problems = nullptr;
  // Non-null: float32 weights still in the ONNX file's mapping that reach the output as they
  // are (conv and linear weights, uncompressed) are left out of the model and listed here, to
  // be written from the mapping (weight_stream.h). The model is incomplete without them.
  StreamedWeights* streamed = nullptr;
};

// The name of a classifier's predicted-label output.
inline constexpr const char* kClassLabelName = "classLabel";

// Declares a classifier's two outputs in `desc`: the predicted label (kClassLabelName, a string)
// and `probabilities`, a dictionary from label to probability.
inline void DescribeClassifierOutputs(coreml::spec::ModelDescription* desc,
                                      const std::string& probabilities) {
  auto* label = desc->add_output();
  label->set_name(kClassLabelName);
  label->mutable_type()->mutable_stringtype();
  auto* probs = desc->add_output();
  probs->set_name(probabilities);
  probs->mutable_type()->mutable_dictionarytype()->mutable_stringkeytype();
  desc->set_predictedfeaturename(kClassLabelName);
  desc->set_predictedprobabilitiesname(probabilities);
}

// Declares `feature` an image input of shape [1, C, H, W] `shape` in options.color_layout.
inline void DescribeImageInput(coreml::spec::FeatureDescription* feature, const Shape& shape,
                               const EmitOptions& options) {
  namespace spec = coreml::spec;
  auto* img = feature->mutable_type()->mutable_imagetype();
  img->set_width(shape[3]);
  img->set_height(shape[2]);
  img->set_colorspace(options.color_layout == "BGR"         ? spec::ImageFeatureType::BGR
                      : options.color_layout == "GRAYSCALE" ? spec::ImageFeatureType::GRAYSCALE
                                                            : spec::ImageFeatureType::RGB);
}

// Fills model->spec() with a NeuralNetwork (or NeuralNetworkClassifier): description, layers,
// weights (freed from `graph` as they are copied). The rank-5 layers of every Core ML version
// when they express the graph, else (unless options.spec_version is 1-3) the rank-N layers of
// spec 4 with EXACT_ARRAY_MAPPING. Returns the lowest specification version the result needs.
// kInvalidArgument naming the node for ops neither can express.
Result<int> EmitNeuralNetwork(Graph* graph, const EmitOptions& options, coreml::Model* model);

// Fills model->spec() and model->weights() with an ML Program at options.spec_version.
Status EmitMLProgram(Graph* graph, const EmitOptions& options, coreml::Model* model);

// Makes the NeuralNetwork in `model` updatable as `update` asks (updatable.cc): marks the
// layers, adds the loss layer, optimizer, epochs and training inputs, and raises the
// specification version to 4. kInvalidArgument naming the problem: an unknown or untrainable
// layer, a layer after them that cannot be back-propagated through, cross-entropy on an output
// that is not a softmax's, bad option values.
Status MakeUpdatable(const UpdateOptions& update, coreml::spec::Model* model);

// ---- flexible input shapes (flexible.cc) ----

// Gives each ONNX input named in `shapes` (by ONNX name, or the name `renames` gives it) its
// default shape: the model's size on fixed axes, else the range's lower bound or the size of the
// first enumerated shape that fits. *by_onnx receives each by ONNX name, enumerated shapes
// reordered so that the default comes first. kInvalidArgument: not an input, another rank, a
// fixed size outside what --shape allows.
Status SetDefaultShapes(const std::map<std::string, InputShape>& shapes,
                        const std::map<std::string, std::string>& renames,
                        onnx::ModelProto* model, std::map<std::string, InputShape>* by_onnx);

// Declares the flexibility of Core ML input `name` in the description (shape range or
// enumerated shapes, without the axes a rank-5 NeuralNetwork input drops, which must stay 1)
// and, in an ML Program, unknown sizes for its varying axes. kInvalidArgument for an input that
// is not a MultiArray or a rank-5 batch axis that varies.
Status DescribeFlexibleShapes(const std::string& name, const InputShape& shape,
                              coreml::Model* model);

// Runs `model` on the evaluator with each input of `shapes` (by Core ML name) at its extreme
// shapes (range bounds, each enumerated shape), zeros as values; kInvalidArgument naming the
// input and shape the converted graph cannot take.
Status CheckFlexibleShapes(const std::map<std::string, InputShape>& shapes,
                           const coreml::Model& model);

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_EMIT_H_
