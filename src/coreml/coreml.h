// Core ML model files: read, write, inspect, validate, diff and evaluate (.mlmodel, .mlpackage).
#ifndef RINGO_COREML_COREML_H_
#define RINGO_COREML_COREML_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ringo::coreml {

namespace spec {
class Model;  // the protobuf message (coreml/schema.h), for the converter and evaluator
class NeuralNetworkLayer;
}

// A tensor of the evaluator and of weights in host memory: row-major float32.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t size() const;
};

// A loaded model: the specification plus, for ML Programs, the weight blobs it references.
// Movable, not copyable. Not thread-safe to mutate; const use from several threads is safe.
class Model {
 public:
  Model();
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  spec::Model& spec();
  const spec::Model& spec() const;

  // ML Program weights: the content of weights/weight.bin (blob storage v2). Empty for
  // NeuralNetwork models, whose weights live inside the specification.
  std::string& weights();
  const std::string& weights() const;

  // Unknown protobuf fields met while reading, as "Message.field_number" paths.
  const std::vector<std::string>& unknown_fields() const;
  std::vector<std::string>& mutable_unknown_fields();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a .mlmodel file or an .mlpackage directory (Manifest.json, root model, weights).
// kNotFound if the path does not exist; kInvalidArgument naming the problem for anything
// malformed (not a Core ML protobuf, bad manifest, missing weights).
Result<Model> Load(const std::filesystem::path& path);

// Parses the bytes of an .mlmodel file (the same checks as Load). `what` names the source in
// error messages.
Result<Model> ParseModel(std::string_view bytes, const std::string& what = "model");

// Writes `model` as .mlmodel (NeuralNetwork models) or .mlpackage (ML Programs), chosen by the
// extension of `path`. Atomic: the result appears complete or not at all. kInvalidArgument
// when the extension does not fit the model type.
Status Save(const Model& model, const std::filesystem::path& path);

// Writes one file's bytes to the open file `fd`, from its current position.
using FileWriter = std::function<Status(int fd)>;

// As Save, except that the file holding the weights is written by `write`: a NeuralNetwork's
// whole .mlmodel, an ML Program's weights/weight.bin (model.weights() is then ignored). For
// writers that stream weights into the file from elsewhere instead of holding them in `model`.
// Errors as Save, and `write`'s own.
Status SaveStreamed(const Model& model, const std::filesystem::path& path,
                    const FileWriter& write);

// ---- inspection ----

struct Feature {
  std::string name;
  std::string description;
  std::string type;            // "MultiArray", "Image", "Int64", "Double", "String", "Dictionary"
  std::vector<int64_t> shape;  // MultiArray
  std::string data_type;       // MultiArray: FLOAT32, FLOAT16, DOUBLE, INT32, INT8
  // MultiArray with flexible shapes: "1..8 x 3 x 224 x 224" (ranges, ".." alone: no upper
  // bound) or "1x3x224x224 | 1x3x160x160" (enumerated); `shape` is the default. Else empty.
  std::string flexible_shape;
  int64_t image_width = 0, image_height = 0;
  std::string color_space;  // Image: RGB, BGR, GRAYSCALE, GRAYSCALE_FLOAT16
  std::string key_type;     // Dictionary: Int64 or String
  bool optional = false;
};

struct Info {
  int spec_version = 0;
  std::string min_ios;    // oldest iOS that loads the file, e.g. "13"
  std::string min_macos;  // e.g. "10.15"
  std::string
      model_type;  // neuralNetwork, neuralNetworkClassifier, neuralNetworkRegressor, mlProgram
  std::vector<Feature> inputs;
  std::vector<Feature> outputs;
  std::string predicted_feature;
  std::string predicted_probabilities;
  std::vector<std::string> class_labels;
  std::map<std::string, std::string> metadata;  // author, license, version, short_description,
                                                // and user-defined keys
  std::map<std::string, int64_t> layer_counts;  // layer or op type -> count
  int64_t parameter_count = 0;
  std::string weight_precision;  // "float32", "float16", "mixed", "none"
  // ML Program weights stored compressed: "none", or the kinds found, e.g. "int8",
  // "palettized 4-bit", "pruned" (comma-separated when mixed).
  std::string weight_compression;
  int64_t file_size = 0;         // bytes on disk (whole package for .mlpackage)
  // Updatable models: "name (innerProduct, 48 weights + 8 bias)" per updatable layer, and the
  // update they declare, e.g. "loss cross-entropy(probs, target probs_true); sgd learning rate
  // 0.01, batch 8, momentum 0; 10 epochs". Empty otherwise.
  std::vector<std::string> updatable_layers;
  std::string update;
  std::vector<std::string> unknown_fields;
};

// Summarises a model. `path` (optional) is used for the file size.
Info Inspect(const Model& model, const std::filesystem::path& path = {});

// What Core ML's loader checks: graph order, weight counts, spec version vs features, the
// classifier contract, ML Program types and blob records. Empty when valid.
std::vector<std::string> Validate(const Model& model);

// JSON rendering of an Info (for --json). Strings from the model that are not UTF-8 are
// written with U+FFFD.
std::string InfoToJson(const Info& info);
// InfoToJson plus the validation verdict: "valid" and "problems" (Validate's list).
std::string ModelCardJson(const Info& info, const std::vector<std::string>& problems);
// Reads back what InfoToJson wrote (the interface fields CompareInterfaces uses are required:
// inputs and outputs; the rest default). kInvalidArgument naming the first bad field.
Result<Info> InfoFromJson(std::string_view json);

// ---- interface diff ----

struct Change {
  std::string what;  // e.g. "input 'image' removed"
  bool breaking = false;
};

struct Diff {
  std::vector<Change> changes;
  bool breaking() const;
};

// Compares the interfaces of two models (features, image constraints, labels, spec version).
Diff CompareInterfaces(const Info& old_info, const Info& new_info);
std::string DiffToJson(const Diff& diff);

// ---- evaluation ----

// A named input or output value.
struct Value {
  Tensor tensor;                       // MultiArray / Image (as float CHW, 0..255) / Double
  std::string string_value;            // String outputs (class label)
  int64_t int_value = 0;               // Int64 outputs
  std::map<std::string, double> dict;  // Dictionary outputs (class probabilities), by label text
  std::string kind = "tensor";         // "tensor", "string", "int64", "dictionary"
};

// Runs the model on the reference evaluator (every layer and op the converter emits, both
// formats, image preprocessing, classifier outputs). kInvalidArgument for missing inputs or
// shape mismatches; kFailedPrecondition for layers or ops it does not implement (named).
// Thread-safe for concurrent calls on the same const model. Inputs may omit or add leading
// unit axes ([1, 3, 8, 8] for a declared [3, 8, 8]). Image inputs are float [C, H, W] in the
// declared colour space's channel order (RGB: R, G, B; BGR: B, G, R), pixel values 0..255; the
// model's own preprocessing is applied. Tensor outputs take the declared shape when it fits.
Result<std::map<std::string, Value>> Predict(const Model& model,
                                             const std::map<std::string, Value>& inputs);

// As Predict; `trace` (optional) also receives every ML Program op's first tensor result, keyed
// by the op's name, or every NeuralNetwork layer's result, keyed by the layer's name (float
// values as computed, fp16 ones rounded: an ML Program op declared fp16; a NeuralNetwork layer
// storing fp16 weights, or without weights reading an fp16 result).
Result<std::map<std::string, Value>> PredictTraced(const Model& model,
                                                   const std::map<std::string, Value>& inputs,
                                                   std::map<std::string, Tensor>* trace);

// Reads the value of input `declared` from `file`, by extension:
//  .npy  float32, float64, int8, int16, int32, int64, uint8, uint16 or bool in C order
//        (little-endian);
//  .png  image inputs only: RGB, RGBA (alpha ignored) or grey, converted to the declared colour
//        space; the size must be the declared one (no resizing);
//  .json a number or rectangular nested lists of numbers.
// kNotFound if the file does not exist; kInvalidArgument naming the file and the problem for
// malformed content, Fortran order, object or big-endian arrays, a wrong image size, or an
// unknown extension.
Result<Value> LoadInputFile(const Feature& declared, const std::filesystem::path& file);

// ---- on-device update ----

// The labelled samples of an update: for each training input other than the loss target, every
// sample along a leading axis; `target` likewise, one class index per sample for cross-entropy
// (for a classifier, the index of its label), values of the loss input's shape for mse.
struct TrainingSet {
  std::map<std::string, Tensor> inputs;
  Tensor target;
};

struct UpdateResult {
  // Per epoch, the mean loss over its samples, each computed with the weights the sample's
  // mini-batch met.
  std::vector<double> epoch_loss;
  int64_t samples = 0;
  int64_t epochs = 0;
};

// Applies the update an updatable NeuralNetwork declares to `model`, as Core ML does on a
// device: for each epoch, mini-batches in the order of the set (the last may be smaller), a
// forward pass, the loss's gradient back-propagated to the updatable layers, and one step of
// the declared optimizer (SGD with momentum, or Adam with bias correction) on their weights and
// biases. `epochs` > 0 overrides the declared count (it must be within the allowed values).
// `on_epoch` (optional) is called after each epoch with its number (from 1) and mean loss. The
// metadata key `com.ringo.update` records the samples, epochs and first and last epoch loss.
// Errors: kFailedPrecondition when the model is not an updatable NeuralNetwork or uses a layer
// the trainer cannot back-propagate through (named); kInvalidArgument for a set that does not fit
// the training inputs (missing input, sample counts or shapes that differ, a class index out of
// range). On error the model may be partly updated. Not thread safe for the same model.
Result<UpdateResult> Update(Model* model, const TrainingSet& data, int64_t epochs = 0,
                            const std::function<void(int64_t, double)>& on_epoch = {});
// Whether Update can back-propagate through `layer` (after the first updatable layer): inner
// products, ungrouped convolutions, softmax, flatten and the common activations. The converter
// asks it before writing an updatable model.
bool Differentiable(const spec::NeuralNetworkLayer& layer);

// Renders Predict's outputs as one JSON object keyed by output name: tensors as
// {"shape": [...], "data": [...]}, strings and int64 as plain values, dictionaries as objects
// of label -> probability.
std::string OutputsToJson(const std::map<std::string, Value>& outputs);

}  // namespace ringo::coreml

#endif  // RINGO_COREML_COREML_H_
