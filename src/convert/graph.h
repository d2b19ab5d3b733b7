// The converter's intermediate graph: ONNX nodes lowered to a few canonical ops with static
// shapes and resolved constants, which both Core ML emitters consume.
#ifndef RINGO_CONVERT_GRAPH_H_
#define RINGO_CONVERT_GRAPH_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "convert/convert.h"

namespace onnx {
class ModelProto;
}

namespace ringo::convert {

using Shape = std::vector<int64_t>;

int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);

// A constant tensor in host memory. Float data for weights, int64 for shapes and indices.
struct Constant {
  bool is_int = false;
  bool is_bool = false;  // an int constant holding ONNX bools (0 or 1)
  Shape shape;
  std::vector<float> f;
  std::vector<int64_t> i;
  // Float values still in the ONNX file's mapping (little-endian float32), `f` empty until
  // Load(): a weight that reaches the output unchanged is written from here, never copied.
  std::string_view mapped{};

  bool is_mapped() const { return mapped.data() != nullptr; }
  // Copies mapped values into `f` (nothing to do for a constant already in memory).
  void Load();

  int64_t size() const { return NumElements(shape); }
  // Element k as a double, whatever the storage.
  double at(int64_t k) const { return is_int ? static_cast<double>(i[k]) : f[k]; }
  // Element k as an integer, exact for int64 values a double cannot hold (INT64_MAX as "end").
  int64_t int_at(int64_t k) const { return is_int ? i[k] : static_cast<int64_t>(f[k]); }
  static Constant Floats(Shape shape, std::vector<float> values);
  static Constant Ints(Shape shape, std::vector<int64_t> values);
};

// Element types of graph values. Integers of every ONNX width are int32 in Core ML.
enum class DType { kFloat, kInt, kBool };

// A constant parameter of a generic op (see Op::generic), written as a MIL const.
struct Param {
  DType dtype = DType::kInt;
  bool scalar = true;
  std::vector<double> values;
  std::string text;  // a string parameter when non-empty (e.g. a mode)
  static Param Int(int64_t v) { return {DType::kInt, true, {static_cast<double>(v)}, ""}; }
  static Param Float(double v) { return {DType::kFloat, true, {v}, ""}; }
  static Param Bool(bool v) { return {DType::kBool, true, {v ? 1.0 : 0.0}, ""}; }
  static Param String(std::string s) { return {DType::kInt, true, {}, std::move(s)}; }
  static Param Ints(const std::vector<int64_t>& v) {
    return {DType::kInt, false, std::vector<double>(v.begin(), v.end()), ""};
  }
  static Param Bools(const std::vector<bool>& v) {
    return {DType::kBool, false, std::vector<double>(v.begin(), v.end()), ""};
  }
};

// One canonical operation. `type` is one of:
//   conv linear matmul add sub mul div relu sigmoid tanh leaky_relu hard_sigmoid clip hard_swish
//   batch_norm max_pool avg_pool global_avg_pool reduce_mean reshape transpose concat softmax pad
//   const (its value in `weight`, element type `const_dtype`)
// or, when `generic` is set, the name of an ML Program op whose dynamic inputs are bound to the
// parameter names in `params` (in the order of `inputs`) and whose constant parameters are
// `attrs`. Only the ML Program back end writes generic ops.
// Binary ops (add sub mul div, matmul) take two dynamic inputs, or one dynamic input plus
// `operand` at position `operand_index`.
struct Op {
  std::string type;
  std::string name;     // unique, derived from the ONNX node name
  std::string onnx_op;  // the ONNX op type it came from, for messages
  std::string node;     // the ONNX node's name, for messages
  int onnx_version = 0;  // that op's version under the model's opset
  std::vector<std::string> inputs;
  std::string output;

  Constant weight, bias;  // conv [O, I/g, kH, kW]; linear [out, in]
  bool has_bias = false;
  Constant mean, variance, gamma, beta;  // batch_norm, each [C]
  float epsilon = 1e-5f;

  std::optional<Constant> operand;
  int operand_index = 1;

  // Spatial ops on NCHW: kernel [kH, kW], strides, dilations, pads [top, left, bottom, right].
  std::vector<int64_t> kernel, strides, dilations, pads;
  int64_t groups = 1;
  bool ceil_mode = false;
  bool exclude_padding = true;  // avg_pool: padding not counted in the average

  std::vector<int64_t> axes;              // reduce_mean (sorted, non-negative)
  bool keep_dims = true;                  // reduce_mean
  std::vector<int64_t> perm;              // transpose
  int64_t axis = 0;                       // concat, softmax (non-negative)
  std::vector<int64_t> pad_amounts;       // pad: [begin, end] per dimension, 2 * rank values
  float alpha = 0.0f, beta_value = 0.0f;  // leaky_relu, hard_sigmoid; clip: [alpha, beta]
  float pad_value = 0.0f;

  bool generic = false;
  std::vector<std::string> params;      // generic: parameter name of each input
  std::map<std::string, Param> attrs;   // generic: constant parameters
  DType const_dtype = DType::kFloat;    // const
};

// A whole converted graph: inputs (batch 1), outputs, ops in topological order, static shape of
// every value.
struct Graph {
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<Op> ops;
  std::map<std::string, Shape> shapes;
  std::map<std::string, DType> dtypes;  // values that are not float

  DType TypeOf(const std::string& value) const {
    auto it = dtypes.find(value);
    return it == dtypes.end() ? DType::kFloat : it->second;
  }
};

// Initializers' raw data kept out of a parsed ModelProto, by initializer name (onnx_file.h).
using RawData = std::unordered_map<std::string, std::string_view>;

// Lowers a parsed ONNX model to a Graph: topological order (cycles and
// dangling inputs rejected), static shapes (a symbolic leading dimension is taken as 1),
// constant folding (including Shape -> Gather -> Unsqueeze -> Concat chains), Identity/Dropout
// removed. `progress` (may be empty) receives 0..1 for the lowering. Nodes that cannot be
// lowered are appended to *problems (kInvalidArgument naming op type, node and opset) and the
// rest of the graph is still lowered; values they would have produced are missing from the
// result (as are outputs that depend on them). Other errors are returned.
// Initializer data is released from `model` as it is read; float initializers found in `raw`
// keep pointing into it (Constant::mapped), so it must outlive the graph.
Result<Graph> ImportOnnx(onnx::ModelProto* model, const RawData& raw,
                         const std::string& source_name,
                         const std::function<void(double)>& progress,
                         std::vector<NodeProblem>* problems);

// The ONNX op types ImportOnnx lowers (to some ops, in some forms).
bool IsSupportedOnnxOp(const std::string& op_type);

// Folds batch_norm into the conv producing its input when nothing else reads the conv's output,
// folds `linear` + `add` of a constant vector into the linear's bias, and (with `drop_unused`)
// drops ops whose results nobody uses.
void OptimizeGraph(Graph* graph, bool drop_unused = true);

// Renames value `from` to `to` everywhere in the graph.
void RenameValue(Graph* graph, const std::string& from, const std::string& to);

// Whether `name` is usable as a Core ML feature and MIL value name: [A-Za-z_][A-Za-z0-9_]*.
bool IsIdentifier(std::string_view name);

// Gives every value that is not an identifier (ONNX allows "input.1", "onnx::Conv_5") one that
// is, unique within the graph. Names that already are identifiers are kept.
void SanitizeNames(Graph* graph);

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_GRAPH_H_
