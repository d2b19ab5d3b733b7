// The ONNX importer's private interface, shared by onnx_import.cc (node order and dispatch) and
// the files that read tensors, fold constants and lower each op family (lower_*.cc).
#ifndef RINGO_CONVERT_IMPORTER_H_
#define RINGO_CONVERT_IMPORTER_H_

#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "convert/graph.h"

namespace ringo::convert {

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& node, std::string_view name);
int64_t AttrInt(const onnx::NodeProto& node, std::string_view name, int64_t def);
float AttrFloat(const onnx::NodeProto& node, std::string_view name, float def);
std::string AttrString(const onnx::NodeProto& node, std::string_view name, std::string def);
std::vector<int64_t> AttrInts(const onnx::NodeProto& node, std::string_view name,
                              std::vector<int64_t> def);

// Row-major strides of a shape.
std::vector<int64_t> Strides(const Shape& s);
// Numpy broadcasting of two shapes; kInvalidArgument when they do not broadcast.
Result<Shape> BroadcastShapes(const Shape& a, const Shape& b);
// Index into `in` (shape `in_shape`) of output element `flat` under broadcasting to `out`.
int64_t BroadcastIndex(int64_t flat, const Shape& out, const std::vector<int64_t>& out_strides,
                       const Shape& in, const std::vector<int64_t>& in_strides);
// Folds Add, Sub, Mul or Div of two constants.
Result<Constant> FoldBinary(const std::string& op, const Constant& a, const Constant& b);
// out.shape[i] = in.shape[perm[i]].
Constant Transposed(const Constant& in, const std::vector<int64_t>& perm);
// A possibly negative axis as a non-negative one; kInvalidArgument when out of range.
Result<int64_t> NormalizeAxis(int64_t axis, size_t rank);
// ONNX Reshape's target: 0 copies the input dimension (unless allow_zero), -1 is inferred.
Result<Shape> ReshapeTarget(const Shape& in, const Constant& target, bool allow_zero);
// Output length of pooling with ONNX's ceil_mode rule.
int64_t PoolOut(int64_t in, int64_t k_eff, int64_t s, int64_t p0, int64_t p1, bool ceil_mode);
// `name` with every character outside [A-Za-z0-9_] replaced, not starting with a digit.
std::string Sanitized(std::string_view name);
// The ONNX element types ringo reads as `*dtype`; false for the others.
bool ElementType(int32_t onnx_type, DType* dtype);
// The newest ai.onnx opset whose op versions OpVersion knows.
int MaxOpset();
// The version of ai.onnx's `op_type` in effect under `opset` (the newest not above it), as
// libonnx's schema registry says; `opset` when ai.onnx has no such op by then.
int OpVersion(std::string_view op_type, int opset);

class Importer {
 public:
  Importer(onnx::ModelProto* model, const RawData& raw, std::string source,
           const std::function<void(double)>& progress, std::vector<NodeProblem>* problems)
      : model_(model),
        raw_(raw),
        source_(std::move(source)),
        progress_(progress),
        problems_(problems) {}

  Result<Graph> Run();

 private:
  // Explicit pads for ONNX auto_pad along spatial axis d (pads are [top, left, bottom, right]):
  // SAME_* make the output ceil(in / stride), the odd pixel at the end (UPPER) or start (LOWER).
  Status ResolveAutoPad(const onnx::NodeProto& node, const std::string& auto_pad, int d, int64_t in,
                        int64_t stride, int64_t k_eff, std::vector<int64_t>* pads) const {
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t o = (in + stride - 1) / stride;
      int64_t total = std::max<int64_t>(0, (o - 1) * stride + k_eff - in);
      int64_t small = total / 2, big = total - small;
      (*pads)[d] = auto_pad == "SAME_UPPER" ? small : big;
      (*pads)[d + 2] = auto_pad == "SAME_UPPER" ? big : small;
    } else if (auto_pad == "VALID") {
      (*pads)[d] = (*pads)[d + 2] = 0;
    } else if (auto_pad != "NOTSET") {
      return Fail(node, "auto_pad '" + auto_pad + "' is not supported");
    }
    return Status::Ok();
  }

  Status Fail(const onnx::NodeProto& node, const std::string& msg) const {
    return InvalidArgument("ONNX node '" + NodeName(node) + "' (" + node.op_type() + ", opset " +
                           std::to_string(op_version_) + "): " + msg);
  }
  std::string NodeName(const onnx::NodeProto& node) const {
    return node.name().empty() ? "#" + std::to_string(node_index_) : node.name();
  }
  // Reads `t` into consts_; `mapped`, when given, is its raw data (left out of the protobuf),
  // which a float tensor keeps referring to (Constant::mapped) instead of copying.
  Status ReadInitializer(onnx::TensorProto* t, const std::string_view* mapped = nullptr);
  Status ReadInput(const onnx::ValueInfoProto& in);
  Status TopologicalOrder(std::vector<int>* order);
  // Folds `node`, or hands it to the op family that lowers it; kInvalidArgument for an op ringo
  // does not convert.
  Status Lower(const onnx::NodeProto& node);
  // The ops with a Core ML layer of their own, one function per op or group of alike ops, each
  // emitting `op` for `node` (lower_conv.cc, lower_activation.cc, lower_linear.cc, lower_shape.cc).
  Status LowerConv(const onnx::NodeProto& node, Op& op);
  Status LowerPool(const onnx::NodeProto& node, Op& op);
  Status LowerGlobalAveragePool(const onnx::NodeProto& node, Op& op);
  Status LowerBatchNorm(const onnx::NodeProto& node, Op& op);
  Status LowerActivation(const onnx::NodeProto& node, Op& op);
  Status LowerClip(const onnx::NodeProto& node, Op& op);
  Status LowerSoftmax(const onnx::NodeProto& node, Op& op);
  Status LowerLinear(const onnx::NodeProto& node, Op& op);
  Status LowerMatMul(const onnx::NodeProto& node, Op& op);
  Status LowerArithmetic(const onnx::NodeProto& node, Op& op);
  Status LowerIdentity(const onnx::NodeProto& node, Op& op);
  Status LowerFlatten(const onnx::NodeProto& node, Op& op);
  Status LowerReshape(const onnx::NodeProto& node, Op& op);
  Status LowerSqueeze(const onnx::NodeProto& node, Op& op);
  Status LowerTranspose(const onnx::NodeProto& node, Op& op);
  Status LowerConcat(const onnx::NodeProto& node, Op& op);
  Status LowerPad(const onnx::NodeProto& node, Op& op);
  Status LowerReduceMean(const onnx::NodeProto& node, Op& op);  // lower_ops.cc
  // Emits `op` as a `type` op of the single input `x` with result shape `shape`.
  Status EmitAs(Op& op, const std::string& type, const std::string& x, const Shape& shape);
  // Emits `op` as a `type` op of the node's first input, keeping its shape.
  Status EmitLike(const onnx::NodeProto& node, Op& op, const std::string& type);
  // The node's first input given the shape `target`: a constant stays a constant with the new
  // shape, a dynamic value becomes a reshape op.
  Status ReshapeOrFold(const onnx::NodeProto& node, Op& op, const Shape& target);
  // Sets op's inputs for a binary op of which at most one side is a constant: a constant side
  // travels as op.operand, so the emitters can write it as a weight.
  void BindOperands(const onnx::NodeProto& node, Op& op);
  // Folds `node` into a constant when its inputs allow (fold.cc). Sets *folded when it did.
  Status Fold(const onnx::NodeProto& node, bool* folded);
  // Records `c` as the value of the node's first output and sets *folded.
  Status FoldTo(const onnx::NodeProto& node, Constant c, bool* folded);
  // Folds the ops that create tensors from shapes or scalars: Size, ConstantOfShape, EyeLike,
  // Range. Sets *folded when it did.
  Status FoldCreation(const onnx::NodeProto& node, bool* folded);
  // Folds Equal, Less, Greater and Where of constants.
  Status FoldSelect(const onnx::NodeProto& node, bool* folded);
  // The families in lower_ops.cc. Each sets *handled when the node's type is one of its own.
  Status LowerElementwise(const onnx::NodeProto& node, Op& op, bool* handled);
  Status LowerReduction(const onnx::NodeProto& node, Op& op, bool* handled);
  Status LowerTensorOp(const onnx::NodeProto& node, Op& op, bool* handled);
  Status LowerNormalization(const onnx::NodeProto& node, Op& op, bool* handled);
  Status LowerLrn(const onnx::NodeProto& node, Op& op);
  // Element-wise ops of LowerElementwise that are compositions or take several inputs.
  Status LowerSelu(const onnx::NodeProto& node);
  Status LowerIsInf(const onnx::NodeProto& node);
  Status LowerCelu(const onnx::NodeProto& node);
  Status LowerShrink(const onnx::NodeProto& node);
  Status LowerPRelu(const onnx::NodeProto& node);
  Status LowerBinary(const onnx::NodeProto& node, Op& op);  // Pow, comparisons, logic
  Status LowerMod(const onnx::NodeProto& node, Op& op);
  Status LowerVariadic(const onnx::NodeProto& node, Op& op);  // Max, Min, Sum, Mean
  Status LowerWhere(const onnx::NodeProto& node, Op& op);
  // kInvalidArgument naming the node unless its first input is a float tensor.
  Status FloatInput(const onnx::NodeProto& node) const;
  // Ops of LowerTensorOp with a lowering of their own.
  Status LowerGather(const onnx::NodeProto& node, Op& op);
  Status LowerCumSum(const onnx::NodeProto& node, Op& op);
  Status LowerTile(const onnx::NodeProto& node, Op& op);
  Status LowerTrilu(const onnx::NodeProto& node, Op& op);
  Status LowerDepthToSpace(const onnx::NodeProto& node);
  // A generic (ML Program only) op over the node's inputs bound to `params`, result `out`.
  Status EmitGeneric(const onnx::NodeProto& node, Op op, const std::string& mil_type,
                     const std::vector<std::string>& inputs,
                     const std::vector<std::string>& params, const Shape& out, DType dtype);
  // One generic op of a composition lowering `node`; returns its result's name (`out`, or a
  // fresh one when empty).
  std::string Step(const onnx::NodeProto& node, const std::string& mil_type,
                   const std::vector<std::string>& inputs, const std::vector<std::string>& params,
                   std::map<std::string, Param> attrs, const Shape& shape, DType dtype,
                   std::string out = "");
  // The axes a Reduce* node reduces over, normalised; all of them when it names none. Sets
  // *identity (and returns no axes) when noop_with_empty_axes makes the node an identity.
  Result<std::set<int64_t>> ReducedAxes(const onnx::NodeProto& node, const Shape& xs,
                                        bool* identity);
  // The node's axes (attribute, or constant input `input`); nullopt when not constant.
  std::optional<std::vector<int64_t>> AxesOf(const onnx::NodeProto& node, int input) const;
  // Registers `c` as a new constant value named after `node` and `what`; returns its name.
  std::string AddConst(const onnx::NodeProto& node, const std::string& what, Constant c);
  // Softmax, LogSoftmax and Hardmax: along one axis, or (before version 13) over all axes from
  // `axis` on, by a reshape to 2-D around the same computation.
  Status LowerSoftmaxFamily(const onnx::NodeProto& node, Op& op);
  Status LowerSlice(const onnx::NodeProto& node, Op& op);
  // ONNX Slice's clamped begin, end (exclusive; with end_mask where a negative step runs
  // through index 0) and stride per axis of a `rank`-D input of shape `xs`, and the result shape.
  struct SliceGeometry {
    std::vector<int64_t> begin, end, stride;
    std::vector<bool> end_mask;
    Shape out;
  };
  Result<SliceGeometry> SliceOf(const onnx::NodeProto& node, const Shape& xs);
  Status LowerSplit(const onnx::NodeProto& node, Op& op);
  Status LowerGemm(const onnx::NodeProto& node, Op& op);
  Status LowerCast(const onnx::NodeProto& node, Op& op);
  Status LowerLoss(const onnx::NodeProto& node, Op& op);    // lower_loss.cc
  Status LowerResize(const onnx::NodeProto& node, Op& op);  // lower_resize.cc
  Status LowerConvTranspose(const onnx::NodeProto& node, Op& op);  // lower_deconv.cc
  Status LowerRnn(const onnx::NodeProto& node, Op& op);            // lower_rnn.cc
  Status LowerEinsum(const onnx::NodeProto& node, Op& op);         // lower_einsum.cc
  // ScatterElements, Scatter, ScatterND and GatherND (lower_scatter.cc).
  Status LowerScatter(const onnx::NodeProto& node, Op& op);
  // idx wrapped by `dims` where negative (one size, or one per element of an index tuple).
  std::string WrapIndices(const onnx::NodeProto& node, const std::string& idx,
                          const std::vector<int64_t>& dims);
  std::string EinsumArrange(const onnx::NodeProto& node, const std::string& x,
                            const std::string& from, const std::string& keep,
                            const std::string& to, Shape* shape);
  // Rows [first, first + rows) of direction `dir` of an RNN weight [dirs, R, C] (as [rows, C])
  // or bias [dirs, R] (as [rows]); a slice op when the tensor is computed.
  std::string RnnPart(const onnx::NodeProto& node, const std::string& w, int64_t dir,
                      int64_t first, int64_t rows);
  // `x` normalised over `axes` (kept): (x - mean) / sqrt(var + eps); also names mean and
  // 1 / sqrt(var + eps) in *mean and *inv.
  std::string Normalize(const onnx::NodeProto& node, const std::string& x,
                        const std::vector<int64_t>& axes, float epsilon, std::string* mean,
                        std::string* inv);
  // A dynamic value for `name`: a folded constant becomes a const op the first time it is asked.
  std::string Materialize(const std::string& name);
  // A fresh value name for an intermediate result of `node`.
  std::string Temp(const onnx::NodeProto& node, const std::string& what);
  // The element type of value `name` (constants: int or float).
  DType TypeOf(const std::string& name) const {
    auto c = consts_.find(name);
    if (c != consts_.end()) return c->second.is_int ? DType::kInt : DType::kFloat;
    return graph_.TypeOf(name);
  }

  std::string In(const onnx::NodeProto& node, int k) const {
    if (k >= node.input_size() || node.input(k).empty()) return "";
    auto it = alias_.find(node.input(k));
    return it == alias_.end() ? node.input(k) : it->second;
  }
  // A constant for an op to keep. The last reader takes the data itself, so weights are not held
  // twice while the graph is built (ResNet-50 carries 100 MB of them).
  Constant Take(const std::string& name) {
    Constant c = TakeWeight(name);
    c.Load();
    return c;
  }
  // As Take, leaving a weight's values in the ONNX file's mapping when they are there: for the
  // ops whose weights the emitters write as they are (conv, linear).
  Constant TakeWeight(const std::string& name) {
    auto it = consts_.find(name);
    if (--uses_[name] > 0) return it->second;
    Constant c = std::move(it->second);
    consts_.erase(it);
    return c;
  }
  // The constant `name` with its values in memory, or null when `name` is not a constant.
  const Constant* ConstOf(const std::string& name) const {
    auto it = consts_.find(name);
    if (it == consts_.end()) return nullptr;
    it->second.Load();
    return &it->second;
  }
  // As ConstOf, for the shape and type only: mapped values stay where they are.
  const Constant* Peek(const std::string& name) const {
    auto it = consts_.find(name);
    return it == consts_.end() ? nullptr : &it->second;
  }
  const Shape& ShapeOf(const std::string& name) { return graph_.shapes[name]; }
  // The shape of the node's input k; empty when the node leaves that input out.
  Shape InputShape(const onnx::NodeProto& node, int k) {
    std::string name = In(node, k);
    return name.empty() ? Shape{} : ShapeOf(name);
  }
  bool IsDynamic(const std::string& name) const {
    return !name.empty() && graph_.shapes.count(name) && !consts_.count(name);
  }
  std::string UniqueOpName(const onnx::NodeProto& node) {
    std::string base = Sanitized(node.name().empty() ? node.op_type() : node.name());
    std::string name = base;
    for (int k = 1; op_names_.count(name); ++k) name = base + "_" + std::to_string(k);
    op_names_.insert(name);
    return name;
  }
  void Emit(Op op, const Shape& shape) {
    graph_.shapes[op.output] = shape;
    op.onnx_version = op_version_;
    // Shape ops keep their input's element type; the others are float unless set before.
    static const std::set<std::string> kKeepType = {"reshape", "transpose", "concat", "pad"};
    if (!op.generic && !op.inputs.empty() && kKeepType.count(op.type) &&
        graph_.TypeOf(op.inputs[0]) != DType::kFloat) {
      graph_.dtypes[op.output] = graph_.TypeOf(op.inputs[0]);
    }
    graph_.ops.push_back(std::move(op));
  }

  onnx::ModelProto* model_;
  const RawData& raw_;
  std::string source_;
  const std::function<void(double)>& progress_;
  int opset_ = 0;
  int op_version_ = 0;  // the version of the node being lowered: its op's, under opset_
  int node_index_ = 0;
  Graph graph_;
  // Mutable: reading a constant's values loads them from the mapping (Constant::Load).
  mutable std::unordered_map<std::string, Constant> consts_;
  std::unordered_map<std::string, std::string> alias_;
  std::unordered_map<std::string, int> uses_;  // node inputs reading each value
  std::set<std::string> op_names_;
  std::set<std::string> materialized_;
  Status step_status_ = Status::Ok();  // the first failure of a Step, reported after the node
  std::vector<NodeProblem>* problems_;  // null: the first problem is returned
  std::set<std::string> unknown_;       // values of nodes that could not be lowered
  // Lowers `node`, or records why it cannot be in problems_ and marks its outputs unknown;
  // errors that are not about the node are returned.
  Status LowerOrRecord(const onnx::NodeProto& node);
};

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_IMPORTER_H_
