// Lowering an ONNX ModelProto to the converter's Graph: node order, then each node by its op.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <numeric>
#include <set>
#include <unordered_map>

#include "convert/graph.h"
#include "convert/importer.h"

namespace ringo::convert {

namespace {
constexpr int kMinOpset = 1;
}  // namespace

std::string Sanitized(std::string_view name) {
  std::string s;
  for (char c : name) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    s += ok ? c : '_';
  }
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) s = "v_" + s;
  return s;
}

std::string Importer::Temp(const onnx::NodeProto& node, const std::string& what) {
  std::string base = node.output(0) + "__" + what;
  std::string name = base;
  for (int k = 1; graph_.shapes.count(name); ++k) name = base + "_" + std::to_string(k);
  return name;
}

std::string Importer::Materialize(const std::string& name) {
  auto it = consts_.find(name);
  if (it == consts_.end()) return name;
  std::string value = name + "__const";
  if (materialized_.insert(name).second) {
    it->second.Load();
    Op op;
    op.type = op.onnx_op = "const";
    op.name = Sanitized(name) + "_const";
    op.output = value;
    op.weight = it->second;
    op.const_dtype = it->second.is_bool ? DType::kBool
                     : it->second.is_int ? DType::kInt
                                         : DType::kFloat;
    graph_.shapes[value] = it->second.shape;
    if (op.const_dtype != DType::kFloat) graph_.dtypes[value] = op.const_dtype;
    graph_.ops.push_back(std::move(op));
  }
  return value;
}

Status Importer::EmitGeneric(const onnx::NodeProto& node, Op op, const std::string& mil_type,
                             const std::vector<std::string>& inputs,
                             const std::vector<std::string>& params, const Shape& out,
                             DType dtype) {
  for (const std::string& in : inputs) {
    if (!graph_.shapes.count(in)) return Fail(node, "input '" + in + "' has no known shape");
  }
  op.type = mil_type;
  op.generic = true;
  op.params = params;
  op.inputs.clear();
  for (const std::string& in : inputs) op.inputs.push_back(Materialize(in));
  if (dtype != DType::kFloat) graph_.dtypes[op.output] = dtype;
  Emit(std::move(op), out);
  return Status::Ok();
}

Status Importer::EmitAs(Op& op, const std::string& type, const std::string& x,
                        const Shape& shape) {
  op.type = type;
  op.inputs = {x};
  Emit(std::move(op), shape);
  return Status::Ok();
}

Status Importer::EmitLike(const onnx::NodeProto& node, Op& op, const std::string& type) {
  return EmitAs(op, type, In(node, 0), InputShape(node, 0));
}

Status Importer::ReshapeOrFold(const onnx::NodeProto& node, Op& op, const Shape& target) {
  std::string x = In(node, 0);
  if (const Constant* c = ConstOf(x)) {
    Constant folded = *c;
    folded.shape = target;
    graph_.shapes[node.output(0)] = target;
    consts_[node.output(0)] = std::move(folded);
    return Status::Ok();
  }
  return EmitAs(op, "reshape", x, target);
}

// Kahn's algorithm over value names. A node whose input nobody produces, or that sits on a
// cycle, is reported by name.
Status Importer::TopologicalOrder(std::vector<int>* order) {
  const auto& nodes = model_->graph().node();
  std::unordered_map<std::string, int> producer;
  for (int n = 0; n < nodes.size(); ++n) {
    for (const auto& out : nodes[n].output()) {
      if (out.empty()) continue;
      if (producer.count(out) || graph_.shapes.count(out)) {
        return InvalidArgument("value '" + out + "' is produced twice (node '" + nodes[n].name() +
                               "')");
      }
      producer[out] = n;
    }
  }
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<int>> users(nodes.size());
  for (int n = 0; n < nodes.size(); ++n) {
    for (const auto& in : nodes[n].input()) {
      if (in.empty() || graph_.shapes.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        node_index_ = n;
        return Fail(nodes[n], "input '" + in +
                                  "' is not produced by any node, initializer or "
                                  "graph input");
      }
      ++pending[n];
      users[it->second].push_back(n);
    }
  }
  std::deque<int> ready;
  for (int n = 0; n < nodes.size(); ++n) {
    if (pending[n] == 0) ready.push_back(n);
  }
  while (!ready.empty()) {
    int n = ready.front();
    ready.pop_front();
    order->push_back(n);
    for (int u : users[n]) {
      if (--pending[u] == 0) ready.push_back(u);
    }
  }
  if (static_cast<int>(order->size()) != nodes.size()) {
    for (int n = 0; n < nodes.size(); ++n) {
      if (pending[n] > 0) {
        return InvalidArgument("the ONNX graph has a cycle through node '" +
                               (nodes[n].name().empty() ? nodes[n].op_type() : nodes[n].name()) +
                               "'");
      }
    }
  }
  return Status::Ok();
}

Result<Graph> Importer::Run() {
  if (!model_->has_graph()) return InvalidArgument("'" + source_ + "' has no graph");
  bool has_onnx_domain = false;
  for (const auto& imp : model_->opset_import()) {
    if (imp.domain().empty() || imp.domain() == "ai.onnx") {
      opset_ = static_cast<int>(imp.version());
      has_onnx_domain = true;
    }
  }
  // Each op is converted by its own version under the model's opset, so any opset whose op
  // versions are known will do; an op whose old version means something else is refused by name.
  const int max_opset = MaxOpset();
  // A model of other domains only: its nodes are refused by name, not for an opset.
  if (!has_onnx_domain) opset_ = max_opset;
  if (opset_ < kMinOpset || opset_ > max_opset) {
    return InvalidArgument("'" + source_ + "' uses ONNX opset " + std::to_string(opset_) +
                           "; ringo converts opsets " + std::to_string(kMinOpset) + " to " +
                           std::to_string(max_opset));
  }
  onnx::GraphProto* g = model_->mutable_graph();
  for (auto& t : *g->mutable_initializer()) {
    auto mapped = raw_.find(t.name());
    RETURN_IF_ERROR(ReadInitializer(&t, mapped == raw_.end() ? nullptr : &mapped->second));
  }
  for (const auto& in : g->input()) RETURN_IF_ERROR(ReadInput(in));
  if (graph_.inputs.empty()) return InvalidArgument("'" + source_ + "' has no graph inputs");
  if (g->output_size() == 0) return InvalidArgument("'" + source_ + "' has no graph outputs");

  std::vector<int> order;
  RETURN_IF_ERROR(TopologicalOrder(&order));
  for (const auto& node : g->node()) {
    for (const auto& in : node.input()) ++uses_[in];
  }
  for (const auto& out : g->output()) ++uses_[out.name()];
  for (size_t k = 0; k < order.size(); ++k) {
    node_index_ = order[k];
    op_version_ = OpVersion(g->node(order[k]).op_type(), opset_);
    RETURN_IF_ERROR(LowerOrRecord(g->node(order[k])));
    if (progress_ && k % 16 == 0) progress_(static_cast<double>(k) / order.size());
  }

  for (const auto& out : g->output()) {
    std::string name = out.name();
    auto a = alias_.find(name);
    std::string value = a == alias_.end() ? name : a->second;
    if (unknown_.count(value)) continue;  // its node's problem is already recorded
    if (!graph_.shapes.count(value)) {
      return InvalidArgument("output '" + name + "' is not produced by any node");
    }
    if (consts_.count(value)) value = Materialize(value);  // a constant output is a const op
    bool is_input =
        std::find(graph_.inputs.begin(), graph_.inputs.end(), value) != graph_.inputs.end();
    bool is_output =
        std::find(graph_.outputs.begin(), graph_.outputs.end(), value) != graph_.outputs.end();
    if (is_input || is_output) {
      // An output that passes an input (or another output) through needs a value of its own.
      Op copy;
      copy.type = copy.onnx_op = "identity";
      copy.name = Sanitized(name) + "_identity";
      copy.generic = true;
      copy.inputs = {value};
      copy.params = {"x"};
      copy.output = name + "__copy";
      graph_.shapes[copy.output] = graph_.shapes[value];
      if (graph_.TypeOf(value) != DType::kFloat) graph_.dtypes[copy.output] = graph_.TypeOf(value);
      value = copy.output;
      graph_.ops.push_back(std::move(copy));
    }
    if (value != name) RenameValue(&graph_, value, name);
    graph_.outputs.push_back(name);
  }
  return std::move(graph_);
}

Status Importer::Lower(const onnx::NodeProto& node) {
  const std::string& t = node.op_type();
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    return InvalidArgument("unsupported ONNX operator '" + node.domain() + "." + t + "' at node '" +
                           NodeName(node) + "' (opset " + std::to_string(op_version_) + ")");
  }
  if (node.output_size() == 0) return Fail(node, "node has no outputs");
  // Before version 7 binary ops broadcast only when told to, possibly from a given axis.
  if (op_version_ < 7 && (FindAttr(node, "broadcast") || FindAttr(node, "axis")) &&
      (t == "Add" || t == "Sub" || t == "Mul" || t == "Div" || t == "Pow" || t == "And" ||
       t == "Or" || t == "Xor" || t == "Equal" || t == "Less" || t == "Greater")) {
    return Fail(node, "the broadcast and axis attributes of versions before 7 are not supported");
  }
  bool folded = false;
  RETURN_IF_ERROR(Fold(node, &folded));
  if (folded) return Status::Ok();

  Op op;
  op.name = UniqueOpName(node);
  op.onnx_op = t;
  op.node = NodeName(node);
  op.output = node.output(0);
  std::string x = In(node, 0);
  if (t != "Constant" && node.input_size() > 0 && !x.empty() && !graph_.shapes.count(x)) {
    return Fail(node, "input '" + x + "' has no known shape");
  }
  for (auto family : {&Importer::LowerElementwise, &Importer::LowerReduction,
                      &Importer::LowerTensorOp, &Importer::LowerNormalization}) {
    bool handled = false;
    Status s = (this->*family)(node, op, &handled);
    if (s.ok() && !step_status_.ok()) s = step_status_;
    step_status_ = Status::Ok();
    if (!s.ok() || handled) return s;
  }
  // These ops compute in float only (shape ops and Add/Sub/Mul below also take integers).
  static const std::set<std::string> kFloatOnly = {
      "Conv",        "MaxPool", "AveragePool",        "GlobalAveragePool", "Relu",
      "Sigmoid",     "Tanh",    "HardSwish",          "LeakyRelu",         "HardSigmoid",
      "Clip",        "Gemm",    "BatchNormalization", "MatMul",            "Softmax",
      "Pad",         "ReduceMean"};
  if (!x.empty() && kFloatOnly.count(t) && TypeOf(x) != DType::kFloat) {
    return Fail(node, "integer and bool inputs are not supported");
  }
  // The ops the families above leave: each has a Core ML layer of its own (nn_emit.cc), so both
  // formats write them.
  using Lowering = Status (Importer::*)(const onnx::NodeProto&, Op&);
  static const std::map<std::string, Lowering> kLayerOps = {
      {"Identity", &Importer::LowerIdentity},
      {"Dropout", &Importer::LowerIdentity},
      {"Conv", &Importer::LowerConv},
      {"MaxPool", &Importer::LowerPool},
      {"AveragePool", &Importer::LowerPool},
      {"GlobalAveragePool", &Importer::LowerGlobalAveragePool},
      {"BatchNormalization", &Importer::LowerBatchNorm},
      {"Relu", &Importer::LowerActivation},
      {"Sigmoid", &Importer::LowerActivation},
      {"Tanh", &Importer::LowerActivation},
      {"HardSwish", &Importer::LowerActivation},
      {"LeakyRelu", &Importer::LowerActivation},
      {"HardSigmoid", &Importer::LowerActivation},
      {"Clip", &Importer::LowerClip},
      {"Softmax", &Importer::LowerSoftmax},
      {"Gemm", &Importer::LowerLinear},
      {"MatMul", &Importer::LowerMatMul},
      {"Add", &Importer::LowerArithmetic},
      {"Sub", &Importer::LowerArithmetic},
      {"Mul", &Importer::LowerArithmetic},
      {"Div", &Importer::LowerArithmetic},
      {"Flatten", &Importer::LowerFlatten},
      {"Reshape", &Importer::LowerReshape},
      {"Squeeze", &Importer::LowerSqueeze},
      {"Unsqueeze", &Importer::LowerSqueeze},
      {"Transpose", &Importer::LowerTranspose},
      {"Concat", &Importer::LowerConcat},
      {"Pad", &Importer::LowerPad},
      {"ReduceMean", &Importer::LowerReduceMean},
  };
  auto it = kLayerOps.find(t);
  if (it != kLayerOps.end()) return (this->*it->second)(node, op);
  return InvalidArgument("unsupported ONNX operator '" + t + "' at node '" + NodeName(node) +
                         "' (opset " + std::to_string(op_version_) + ")");
}

Status Importer::LowerOrRecord(const onnx::NodeProto& node) {
  bool reads_unknown = false;
  for (const auto& in : node.input()) reads_unknown |= unknown_.count(in) > 0;
  Status s = Status::Ok();
  if (!reads_unknown) {
    s = Lower(node);
  } else if (!IsSupportedOnnxOp(node.op_type()) ||
             (!node.domain().empty() && node.domain() != "ai.onnx")) {
    // Its inputs are unknown, but an op ringo has no lowering for is a problem of its own.
    std::string type =
        node.domain().empty() ? node.op_type() : node.domain() + "." + node.op_type();
    s = InvalidArgument("unsupported ONNX operator '" + type + "' at node '" + NodeName(node) +
                        "' (opset " + std::to_string(op_version_) + ")");
  }
  if (reads_unknown || !s.ok()) {
    for (const auto& out : node.output()) {
      if (!out.empty()) unknown_.insert(out);
    }
  }
  if (s.ok() || problems_ == nullptr || s.code() != Code::kInvalidArgument) return s;
  problems_->push_back({NodeName(node), node.op_type(), op_version_, s.message()});
  return Status::Ok();
}

bool IsSupportedOnnxOp(const std::string& op_type) {
  static const std::set<std::string> kOps = {
      // lower_conv.cc, lower_activation.cc, lower_linear.cc, lower_shape.cc and fold.cc
      "Identity", "Dropout", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Relu",
      "Sigmoid", "Tanh", "HardSwish", "LeakyRelu", "HardSigmoid", "Clip", "BatchNormalization",
      "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Flatten", "Reshape", "Squeeze", "Unsqueeze",
      "Transpose", "Concat", "Softmax", "Pad", "ReduceMean", "Constant", "Shape", "Size",
      "EyeLike", "ConstantOfShape", "Range",
      // lower_ops.cc
      "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Exp",
      "Floor", "Log", "Sin", "Sinh", "Sqrt", "Tan", "Softplus", "Softsign", "Round", "Abs",
      "Sign", "Neg", "Reciprocal", "Not", "Elu", "ThresholdedRelu", "Selu", "Celu", "Shrink",
      "PRelu", "Pow", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or",
      "Xor", "Mod", "Max", "Min", "Sum", "Mean", "Where", "IsNaN", "IsInf", "ArgMax", "ArgMin",
      "ReduceSum",
      "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
      "ReduceLogSumExp", "ReduceSumSquare",
      // lower_tensor.cc and the lower_*.cc it dispatches to
      "LogSoftmax", "Hardmax", "Slice", "Split", "Cast", "CastLike", "Gather", "GatherElements",
      "ScatterElements", "Scatter", "ScatterND", "GatherND", "CumSum", "Tile", "Expand", "Trilu",
      "DepthToSpace", "SpaceToDepth", "LayerNormalization", "LRN",
      "InstanceNormalization", "MeanVarianceNormalization", "NegativeLogLikelihoodLoss",
      "SoftmaxCrossEntropyLoss", "Resize", "Upsample", "GlobalMaxPool",
      "ConvTranspose", "LSTM", "GRU", "RNN", "Einsum"};
  return kOps.count(op_type) > 0;
}

Result<Graph> ImportOnnx(onnx::ModelProto* model, const RawData& raw,
                         const std::string& source_name,
                         const std::function<void(double)>& progress,
                         std::vector<NodeProblem>* problems) {
  Importer importer(model, raw, source_name, progress, problems);
  return importer.Run();
}

}  // namespace ringo::convert
