// The ML Program evaluator's private interface: its values and the runner of one op, whose op
// families live in mil_*.cc.
#ifndef RINGO_COREML_EVALUATE_MIL_H_
#define RINGO_COREML_EVALUATE_MIL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "coreml/coreml.h"
#include "coreml/evaluate_internal.h"
#include "coreml/kernels.h"
#include "coreml/schema.h"

namespace ringo::coreml::internal {

// A value of the program. Numbers of every type live in `t.data` (floats computed in fp32);
// integer and bool tensors also keep their exact values in `ints`. Strings, and the dictionary
// a classify op produces, have their own fields.
struct MilValue {
  mil::DataType type = mil::FLOAT32;
  Tensor t;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  bool is_dict = false;
  std::map<std::string, double> dict;
};

// ---- mil_value.cc ----

// Whether values of type `t` are integers (bool included).
bool IsInteger(mil::DataType t);
// `v` as the nearest binary16 value would read back.
float RoundToHalf(float v);
// The shape a value type declares; false when a dimension is not a constant.
bool DeclaredShape(const mil::ValueType& type, std::vector<int64_t>* shape);
// Sets both the exact and the float copy of an integer value.
void SetInts(MilValue* v, std::vector<int64_t> ints);
// Decodes a constant (immediate or blob) into a MilValue; `what` names it in errors.
Result<MilValue> Decode(const mil::Value& value, const std::string& weights,
                        const std::string& what);
// Normalises a possibly negative axis; kInvalidArgument when out of range.
Result<int64_t> Axis(int64_t axis, size_t rank, const std::string& op);

// ---- mil_math.cc ----

// The element-wise MIL math ops that are one C function; null for other types.
std::function<float(float)> MathFunction(const std::string& type);
// Comparisons and logical ops, as 1 (true) or 0 (false); null for other types.
std::function<float(float, float)> Comparison(const std::string& type);

// Runs one op of the program over the values defined before it. Not thread-safe; one per op.
class OpRunner {
 public:
  // `op`, `env` and `weights` must outlive the runner.
  OpRunner(const mil::Operation& op, const std::map<std::string, MilValue>& env,
           const std::string& weights);

  const std::string& name() const { return name_; }

  // The op's outputs, in the order of op.outputs().
  Result<std::vector<MilValue>> Run();

 private:
  // ---- parameters (mil_params.cc) ----
  static std::vector<MilValue> One(MilValue v);
  Result<const MilValue*> Resolve(const mil::Argument::Binding& b, const std::string& param);
  // The value bound to a parameter; nullptr when the parameter is absent.
  Result<const MilValue*> Optional(const std::string& param);
  Result<const MilValue*> Required(const std::string& param);
  Result<float> Scalar(const std::string& param, std::optional<float> fallback);
  Result<std::vector<int64_t>> Ints(const std::string& param,
                                    std::optional<std::vector<int64_t>> fallback);
  Result<bool> Bool(const std::string& param, bool fallback);
  Result<std::string> String(const std::string& param, const std::string& fallback);
  // A float tensor result carrying the op's declared output type. An fp16 result is stored as
  // the device stores it: each value rounded to binary16 (beyond 65504 it becomes infinite).
  MilValue Float(Tensor t) const;

  // ---- element-wise, reductions, selection (mil_math.cc) ----
  Result<std::vector<MilValue>> UnaryOp(const std::function<float(float)>& f);
  Result<std::vector<MilValue>> BinaryOp(const std::function<float(float, float)>& f);
  Result<std::vector<int64_t>> Axes(const std::vector<int64_t>& raw, size_t rank);
  // reduce_mean (kind empty) and the other reduce_* ops.
  Result<std::vector<MilValue>> Reduction(std::optional<kernels::ReduceKind> kind);
  Result<std::vector<MilValue>> ArgReduce(bool largest);
  Result<std::vector<MilValue>> Select();
  Result<std::vector<MilValue>> CumSum();
  Result<std::vector<MilValue>> Softmax();

  // ---- layers (mil_layers.cc) ----
  // Padding of a window op from pad_type / pad, and its output size.
  Status Geometry(const Tensor& x, bool ceil_mode, kernels::Window* win);
  Status Pair(const std::string& param, int64_t* a, int64_t* b);
  Result<std::vector<MilValue>> Conv();
  Result<std::vector<MilValue>> Linear();
  Result<std::vector<MilValue>> MatMul();
  Result<std::vector<MilValue>> BatchNorm();
  Result<std::vector<MilValue>> Pool(kernels::PoolType type);

  // ---- compressed weights, iOS 16's constexpr ops (mil_compressed.cc) ----
  // The declared output shape and type of a constexpr op, values rounded to fp16 when declared.
  Result<MilValue> Decompressed(std::vector<float> data, std::vector<int64_t> shape);
  // scale * (quantized_data - zero_point), scale and zero point per slice along axis or one.
  Result<std::vector<MilValue>> AffineDequantize();
  // Bit i of a packed uint8 array, least significant bit of each byte first.
  static uint32_t Bits(const std::vector<float>& bytes, size_t first_bit, int count);
  Result<std::vector<MilValue>> LutToDense();
  Result<std::vector<MilValue>> SparseToDense();

  // ---- indexing, shape, layout, type (mil_tensor.cc) ----
  // Indices along an axis of size n, negative ones counted from the end.
  Result<std::vector<int64_t>> Indices(const MilValue& v, int64_t n);
  Result<std::vector<MilValue>> Gather();
  Result<std::vector<MilValue>> GatherAlongAxis();
  // scatter_along_axis, scatter_nd and gather_nd; `mode` combines a value and its update.
  Result<std::function<float(float, float)>> ScatterMode();
  Result<std::vector<MilValue>> ScatterAlongAxis();
  Result<std::vector<MilValue>> ScatterNd();
  Result<std::vector<MilValue>> GatherNd();
  // MIL slice_by_index: begin/end/stride per axis, masks to use the whole axis, squeeze_mask
  // to drop an axis (its begin picks the element).
  Result<std::vector<MilValue>> SliceByIndex();
  Result<std::vector<MilValue>> Tile();
  Result<std::vector<MilValue>> Reshape();
  Result<std::vector<MilValue>> Transpose();
  Result<std::vector<MilValue>> Squeeze();
  Result<std::vector<MilValue>> ExpandDims();
  Result<std::vector<MilValue>> Concat();
  Result<std::vector<MilValue>> Pad();
  Result<std::vector<MilValue>> Cast();
  Result<std::vector<MilValue>> Classify();

  const mil::Operation& op_;
  const std::map<std::string, MilValue>& env_;
  const std::string& weights_;
  std::string name_, what_;
  std::deque<MilValue> inline_;  // inline argument values; a deque keeps pointers stable
};

}  // namespace ringo::coreml::internal

#endif  // RINGO_COREML_EVALUATE_MIL_H_
