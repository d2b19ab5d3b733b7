// ONNX -> Core ML conversion: NeuralNetwork (.mlmodel) and ML Program (.mlpackage).
#ifndef RINGO_CONVERT_CONVERT_H_
#define RINGO_CONVERT_CONVERT_H_

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "coreml/coreml.h"

namespace ringo::convert {

// The Core ML model kind to produce. The file extension decides it for ConvertFile.
enum class Format {
  kNeuralNetwork,  // .mlmodel: NeuralNetwork / NeuralNetworkClassifier, weights inline
  kMLProgram,      // .mlpackage: ML Program, weights in weights/weight.bin
};

// kAuto: fp16, except the ops whose fp16 results overflow, turn NaN or diverge from fp32 beyond
// Options::tolerance on sample inputs, which stay fp32 (an ML Program's op computes in fp32; a
// NeuralNetwork keeps float32 weights in the layers that make the failing result fp16).
enum class Precision { kFloat32, kFloat16, kAuto };

// Options::update: a NeuralNetwork that Core ML can update on the device (isUpdatable,
// specification version 4, iOS 13): the named layers' weights and biases are trained with the
// loss and optimizer given here; `ringo update` applies such an update on Linux.
struct UpdateOptions {
  // innerProduct or convolution layers, by Core ML layer name or by the ONNX node name it came
  // from. Empty: the model is not updatable.
  std::vector<std::string> layers;
  // "cross-entropy" (the model's output must be a softmax's; the target is a class index) or
  // "mse" (the target has the output's shape).
  std::string loss = "cross-entropy";
  std::string optimizer = "sgd";  // sgd | adam
  double learning_rate = 0.01;
  int64_t epochs = 10;
  int64_t batch_size = 8;
  double momentum = 0.0;  // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam
};

// Options::input_shapes: the shapes an input may take besides the one it is converted at.
struct InputShape {
  // Per axis, the allowed sizes lo..hi (hi -1: no upper bound). Empty when `enumerated` is set.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  // The allowed shapes, all of one rank.
  std::vector<std::vector<int64_t>> enumerated;
};

// Parses `--shape` text: "1..8x3x224x224" (per axis a size or lo..hi, "lo.." without an upper
// bound) or "1x3x224x224,1x3x160x160" (enumerated shapes). kInvalidArgument naming the problem
// for anything else (empty, zero or negative sizes, lo > hi, ranges among enumerated shapes,
// enumerated shapes of different ranks).
Result<InputShape> ParseInputShape(std::string_view text);

struct Options {
  // Weight (and, for ML Programs, compute) precision. Inputs and outputs stay float32.
  Precision precision = Precision::kFloat32;

  // Weight compression (an ML Program needs specification version 7, iOS 16; a NeuralNetwork
  // takes the 8-bit kinds only, quantized weights of spec 3, iOS 12): "" for none; "int8"
  // (linear, symmetric, one scale per output channel); "int8-tensor" (one scale);
  // "palettize1", "palettize2", "palettize4", "palettize6", "palettize8" (a k-means lookup
  // table of 2^N values per tensor); "prune" (the smallest-magnitude `sparsity` fraction of each
  // tensor zeroed and stored sparse). Tensors of 2048 values or more are compressed.
  std::string compress;
  double sparsity = 0.5;

  // Precision::kAuto: the largest error allowed, relative to the largest magnitude of the fp32
  // result, per op and at the outputs; and, when not empty, where to write the per-op parity
  // report (JSON). The decision is also stamped in the metadata (`com.ringo.precision`).
  double tolerance = 1e-2;
  std::string report_path;
  // With fp16: ops kept in fp32, by the converter's op name (set by kAuto).
  std::set<std::string> float32_ops;

  // Non-empty: the model becomes a classifier over the first ONNX output, whose element count
  // must equal the number of labels. Outputs: `classLabel` (String) and the scores output as a
  // Dictionary<String, Double>. The scores are taken as they are (no softmax is added).
  std::vector<std::string> class_labels;

  // Name of the input (ONNX name, or its renamed name) to declare as an image. Its ONNX shape
  // must be [1, 3, H, W] (RGB, BGR) or [1, 1, H, W] (GRAYSCALE). Core ML then feeds
  // `image_scale * pixel + image_bias[c]`, pixels 0..255; image_bias is given in R, G, B order
  // (only [0] is used for GRAYSCALE).
  std::string image_input;
  float image_scale = 1.0f;
  std::array<float, 3> image_bias{0.0f, 0.0f, 0.0f};
  std::string color_layout = "RGB";  // RGB | BGR | GRAYSCALE

  // ONNX feature name -> name in the Core ML interface.
  std::map<std::string, std::string> input_renames;
  std::map<std::string, std::string> output_renames;

  // "" or an OS name: iOS11, iOS11.2, iOS12 .. iOS18, macOS10.13, macOS10.13.2, macOS10.14,
  // macOS10.15, macOS11 .. macOS15. Raises the specification version to that OS's; an OS older
  // than what the model needs is kInvalidArgument.
  std::string minimum_deployment_target;

  // Stored in the model's metadata. Keys author, license, version and short_description fill
  // the Metadata fields of those names; every other key is user-defined. ringo always stamps
  // `com.ringo.version` and `com.ringo.source` (source_description, or the ONNX file name).
  std::map<std::string, std::string> metadata;
  std::string source_description;

  // Input name (ONNX or renamed) -> the shapes it may take (Core ML's flexible shapes: shape
  // ranges or enumerated shapes, spec 3; for ML Programs unknown dimensions in the program too).
  // The model is converted at a default shape: the ONNX model's size on its fixed axes, on
  // symbolic ones the range's lower bound or the first enumerated shape's size. The result is
  // run by the reference evaluator at the extreme shapes, and refused when the graph cannot
  // take them (a reshape to a constant shape, a flatten before an inner product, ...).
  std::map<std::string, InputShape> input_shapes;

  // Non-empty layers: write an updatable NeuralNetwork (.mlmodel only, float32 weights).
  UpdateOptions update;

  // Called with the fraction done (0..1, non-decreasing) on the converting thread. Optional.
  std::function<void(double)> progress;
};

// Converts the ONNX model at `onnx_path` (static shapes; a symbolic leading dimension is 1) to
// `format`. Errors (all kInvalidArgument unless noted): kNotFound when the file is missing; a
// file that is not an ONNX protobuf; an unsupported opset; nodes that cannot be converted (the
// message's first line names every one as CheckOnnx lists them, then each reason, naming op
// type, node and the op's opset); a shape that is not static; a graph with a cycle or an input no
// node produces; options that do not fit the model (unknown image input, label count). Thread
// safe: conversions share no state.
Result<coreml::Model> ConvertOnnx(const std::filesystem::path& onnx_path, Format format,
                                  const Options& options);

// As ConvertOnnx, from a serialized ONNX ModelProto in memory. `source_name` stands for the file
// name in messages and metadata.
Result<coreml::Model> ConvertOnnxBytes(std::string_view onnx_bytes, std::string_view source_name,
                                       Format format, const Options& options);

// A node of an ONNX model that cannot be converted.
struct NodeProblem {
  std::string node;     // the ONNX node's name ("#<index>" when it has none), or an input's
  std::string op_type;  // its ONNX op type ("input" for a graph input)
  int opset = 0;        // the op's own version under the model's opset
  std::string reason;   // the full message, naming node, op and opset
};

// Every node of the ONNX model at `onnx_path` that cannot be converted to `format` (with
// `options`, e.g. its deployment target), in graph order. A node that only reads values of
// nodes that failed is listed when its op type is not supported at all. An empty list: the
// conversion succeeds. Errors: as ConvertOnnx for what is not about a node (missing file, not
// an ONNX model, unsupported opset, graph structure, bad options). Thread safe.
Result<std::vector<NodeProblem>> CheckOnnx(const std::filesystem::path& onnx_path, Format format,
                                           const Options& options);

// The format an output path asks for: .mlmodel -> kNeuralNetwork, .mlpackage -> kMLProgram,
// anything else kInvalidArgument.
Result<Format> FormatForPath(const std::filesystem::path& out);

// Converts `onnx_path` and saves the model at `out` (the extension picks the format), replacing
// what is there atomically. On any error nothing is written and an existing `out` is untouched.
Status ConvertFile(const std::filesystem::path& onnx_path, const std::filesystem::path& out,
                   const Options& options);

// The specification version an OS name of Options::minimum_deployment_target stands for.
Result<int> SpecVersionForTarget(std::string_view target);

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_CONVERT_H_
