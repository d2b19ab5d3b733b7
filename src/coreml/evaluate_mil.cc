// Reference evaluator for ML Programs: the main function's block, op by op, with MIL semantics.
#include <algorithm>
#include <cmath>

#include "coreml/evaluate_mil.h"

namespace ringo::coreml::internal {

using kernels::ShapeString;

OpRunner::OpRunner(const mil::Operation& op, const std::map<std::string, MilValue>& env,
                   const std::string& weights)
    : op_(op), env_(env), weights_(weights) {
  auto it = op.attributes().find("name");
  if (it != op.attributes().end() && it->second.immediatevalue().tensor().has_strings() &&
      it->second.immediatevalue().tensor().strings().values_size() == 1) {
    name_ = it->second.immediatevalue().tensor().strings().values(0);
  } else if (op.outputs_size() > 0) {
    name_ = op.outputs(0).name();
  }
  what_ = op.type() + " op '" + name_ + "'";
}

Result<std::vector<MilValue>> OpRunner::Run() {
  const std::string& type = op_.type();
  if (type == "const") {
    auto it = op_.attributes().find("val");
    if (it == op_.attributes().end()) return InvalidArgument(what_ + " has no 'val' attribute");
    ASSIGN_OR_RETURN(MilValue v, Decode(it->second, weights_, what_));
    return One(std::move(v));
  }
  if (type == "constexpr_affine_dequantize") return AffineDequantize();
  if (type == "constexpr_lut_to_dense") return LutToDense();
  if (type == "constexpr_sparse_to_dense") return SparseToDense();
  if (type == "conv") return Conv();
  if (type == "linear") return Linear();
  if (type == "matmul") return MatMul();
  if (type == "add") return BinaryOp([](float a, float b) { return a + b; });
  if (type == "sub") return BinaryOp([](float a, float b) { return a - b; });
  if (type == "mul") return BinaryOp([](float a, float b) { return a * b; });
  if (type == "real_div") return BinaryOp([](float a, float b) { return a / b; });
  if (type == "maximum") return BinaryOp([](float a, float b) { return std::max(a, b); });
  if (type == "minimum") return BinaryOp([](float a, float b) { return std::min(a, b); });
  if (type == "pow") return BinaryOp([](float a, float b) { return std::pow(a, b); });
  if (type == "relu") return UnaryOp([](float v) { return v > 0 ? v : 0.0f; });
  if (type == "relu6") return UnaryOp([](float v) { return std::clamp(v, 0.0f, 6.0f); });
  if (type == "sigmoid") return UnaryOp([](float v) { return 1.0f / (1.0f + std::exp(-v)); });
  if (type == "tanh") return UnaryOp([](float v) { return std::tanh(v); });
  if (type == "exp") return UnaryOp([](float v) { return std::exp(v); });
  if (type == "sqrt") return UnaryOp([](float v) { return std::sqrt(v); });
  if (type == "abs") return UnaryOp([](float v) { return std::fabs(v); });
  if (type == "softsign") return UnaryOp([](float v) { return v / (1.0f + std::fabs(v)); });
  if (type == "softplus") {
    return UnaryOp(
        [](float v) { return std::max(v, 0.0f) + std::log1p(std::exp(-std::fabs(v))); });
  }
  if (type == "identity") return UnaryOp([](float v) { return v; });
  if (auto f = MathFunction(type)) return UnaryOp(f);
  if (auto f = Comparison(type)) return BinaryOp(f);
  if (type == "logical_not") return UnaryOp([](float v) { return v == 0 ? 1.0f : 0.0f; });
  if (type == "thresholded_relu") {
    ASSIGN_OR_RETURN(float alpha, Scalar("alpha", 1.0f));
    return UnaryOp([=](float v) { return v > alpha ? v : 0.0f; });
  }
  if (type == "floor_div") return BinaryOp([](float a, float b) { return std::floor(a / b); });
  if (type == "mod") {
    // Floor modulo: the result takes the divisor's sign.
    return BinaryOp([](float a, float b) { return a - std::floor(a / b) * b; });
  }
  if (type == "leaky_relu") {
    ASSIGN_OR_RETURN(float alpha, Scalar("alpha", 0.01f));
    return UnaryOp([=](float v) { return v < 0 ? alpha * v : v; });
  }
  if (type == "elu") {
    ASSIGN_OR_RETURN(float alpha, Scalar("alpha", 1.0f));
    return UnaryOp([=](float v) { return v < 0 ? alpha * (std::exp(v) - 1.0f) : v; });
  }
  if (type == "sigmoid_hard") {
    ASSIGN_OR_RETURN(float alpha, Scalar("alpha", 0.2f));
    ASSIGN_OR_RETURN(float beta, Scalar("beta", 0.5f));
    return UnaryOp([=](float v) { return std::clamp(alpha * v + beta, 0.0f, 1.0f); });
  }
  if (type == "clip") {
    ASSIGN_OR_RETURN(float lo, Scalar("alpha", std::nullopt));
    ASSIGN_OR_RETURN(float hi, Scalar("beta", std::nullopt));
    return UnaryOp([=](float v) { return std::min(std::max(v, lo), hi); });
  }
  if (type == "batch_norm") return BatchNorm();
  if (type == "max_pool") return Pool(kernels::PoolType::kMax);
  if (type == "avg_pool") return Pool(kernels::PoolType::kAverage);
  if (type == "reduce_mean") return Reduction(std::nullopt);
  static const std::map<std::string, kernels::ReduceKind> kReductions = {
      {"reduce_sum", kernels::ReduceKind::kSum},
      {"reduce_max", kernels::ReduceKind::kMax},
      {"reduce_min", kernels::ReduceKind::kMin},
      {"reduce_prod", kernels::ReduceKind::kProd},
      {"reduce_l1_norm", kernels::ReduceKind::kL1},
      {"reduce_l2_norm", kernels::ReduceKind::kL2},
      {"reduce_log_sum", kernels::ReduceKind::kLogSum},
      {"reduce_log_sum_exp", kernels::ReduceKind::kLogSumExp},
      {"reduce_sum_square", kernels::ReduceKind::kSumSquare}};
  if (auto it = kReductions.find(type); it != kReductions.end()) return Reduction(it->second);
  if (type == "reduce_argmax" || type == "reduce_argmin") {
    return ArgReduce(type == "reduce_argmax");
  }
  if (type == "select") return Select();
  if (type == "gather") return Gather();
  if (type == "gather_along_axis") return GatherAlongAxis();
  if (type == "scatter_along_axis") return ScatterAlongAxis();
  if (type == "scatter_nd") return ScatterNd();
  if (type == "gather_nd") return GatherNd();
  if (type == "slice_by_index") return SliceByIndex();
  if (type == "tile") return Tile();
  if (type == "cumsum") return CumSum();
  if (type == "softmax") return Softmax();
  if (type == "reshape") return Reshape();
  if (type == "transpose") return Transpose();
  if (type == "squeeze") return Squeeze();
  if (type == "expand_dims") return ExpandDims();
  if (type == "concat") return Concat();
  if (type == "pad") return Pad();
  if (type == "cast") return Cast();
  if (type == "classify") return Classify();
  return FailedPrecondition("the evaluator does not implement op type '" + type + "' (op '" +
                            name_ + "')");
}

Result<std::map<std::string, Value>> PredictProgram(const Model& model,
                                                    const std::map<std::string, Value>& inputs,
                                                    std::map<std::string, Tensor>* trace) {
  const mil::Program& program = model.spec().mlprogram();
  auto fn_it = program.functions().find("main");
  if (fn_it == program.functions().end()) {
    return FailedPrecondition("the ML Program has no 'main' function");
  }
  const mil::Function& fn = fn_it->second;
  auto block_it = fn.block_specializations().find(fn.opset());
  if (block_it == fn.block_specializations().end()) {
    if (fn.block_specializations().size() != 1) {
      return FailedPrecondition("function main has no block for its opset '" + fn.opset() + "'");
    }
    block_it = fn.block_specializations().begin();
  }
  const mil::Block& block = block_it->second;

  std::map<std::string, MilValue> env;
  for (const mil::NamedValueType& in : fn.inputs()) {
    auto it = inputs.find(in.name());
    if (it == inputs.end()) {
      return InvalidArgument("missing input '" + in.name() + "'");
    }
    MilValue v;
    v.t = it->second.tensor;
    std::vector<int64_t> shape;
    // The function declares the full shape (an image as [1, C, H, W]); the caller's value was
    // already checked against the description, so only the batch axes can differ.
    if (DeclaredShape(in.type(), &shape)) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      if (n != v.t.size()) {
        return InvalidArgument("input '" + in.name() + "' has shape " + ShapeString(v.t.shape) +
                               "; the program expects " + ShapeString(shape));
      }
      v.t.shape = shape;
    }
    if (in.type().has_tensortype()) v.type = in.type().tensortype().datatype();
    if (IsInteger(v.type)) {
      for (float f : v.t.data) v.ints.push_back(static_cast<int64_t>(f));
    }
    env[in.name()] = std::move(v);
  }

  for (const mil::Operation& op : block.operations()) {
    OpRunner runner(op, env, model.weights());
    ASSIGN_OR_RETURN(std::vector<MilValue> outs, runner.Run());
    if (static_cast<int>(outs.size()) != op.outputs_size()) {
      return InvalidArgument(op.type() + " op declares " + std::to_string(op.outputs_size()) +
                             " outputs; it produces " + std::to_string(outs.size()));
    }
    if (trace != nullptr && op.type() != "const" && !outs.empty() && outs[0].strings.empty() &&
        !outs[0].is_dict) {
      (*trace)[runner.name()] = outs[0].t;
    }
    for (int i = 0; i < op.outputs_size(); ++i) env[op.outputs(i).name()] = std::move(outs[i]);
  }

  std::map<std::string, Value> outputs;
  for (const std::string& name : block.outputs()) {
    auto it = env.find(name);
    if (it == env.end()) {
      return InvalidArgument("block output '" + name + "' is not produced by any op");
    }
    const MilValue& v = it->second;
    Value out;
    if (v.is_dict) {
      out.kind = "dictionary";
      out.dict = v.dict;
    } else if (v.type == mil::STRING) {
      out.kind = "string";
      out.string_value = v.strings.empty() ? std::string() : v.strings[0];
    } else if (IsInteger(v.type) && v.ints.size() == 1 && v.t.shape.empty()) {
      out.kind = "int64";
      out.int_value = v.ints[0];
    } else {
      out.tensor = v.t;
    }
    outputs[name] = std::move(out);
  }
  return outputs;
}

}  // namespace ringo::coreml::internal
