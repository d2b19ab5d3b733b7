// The ML Program back end's canonical ops: each a MIL op (or two) with const-bound parameters.
#include <algorithm>
#include <cmath>
#include <limits>

#include "convert/mil_emitter.h"

namespace ringo::convert {

Status MilEmitter::Lower(Op& op) {
  const std::string& t = op.type;
  if (op.inputs.empty() && t != "const") {
    return InvalidArgument("ONNX node '" + op.name + "' (" + op.onnx_op + ") has no inputs");
  }
  const std::string x = op.inputs.empty() ? "" : var_.at(op.inputs[0]);
  if (op.generic) return Generic(op);
  if (t == "const") return ConstOp(op);
  using Emitter = Status (MilEmitter::*)(Op&, const std::string&);
  static const std::map<std::string, Emitter> kEmitters = {
      {"conv", &MilEmitter::EmitConv},
      {"linear", &MilEmitter::EmitLinear},
      {"add", &MilEmitter::EmitBinary},
      {"sub", &MilEmitter::EmitBinary},
      {"mul", &MilEmitter::EmitBinary},
      {"div", &MilEmitter::EmitBinary},
      {"matmul", &MilEmitter::EmitBinary},
      {"relu", &MilEmitter::EmitActivation},
      {"sigmoid", &MilEmitter::EmitActivation},
      {"tanh", &MilEmitter::EmitActivation},
      {"leaky_relu", &MilEmitter::EmitActivation},
      {"hard_sigmoid", &MilEmitter::EmitHardActivation},
      {"clip", &MilEmitter::EmitHardActivation},
      {"hard_swish", &MilEmitter::EmitHardActivation},
      {"batch_norm", &MilEmitter::EmitBatchNorm},
      {"max_pool", &MilEmitter::EmitPool},
      {"avg_pool", &MilEmitter::EmitPool},
      {"global_avg_pool", &MilEmitter::EmitReduceMean},
      {"reduce_mean", &MilEmitter::EmitReduceMean},
      {"reshape", &MilEmitter::EmitReshape},
      {"transpose", &MilEmitter::EmitTranspose},
      {"concat", &MilEmitter::EmitConcat},
      {"softmax", &MilEmitter::EmitSoftmax},
      {"pad", &MilEmitter::EmitPad},
  };
  auto it = kEmitters.find(t);
  if (it != kEmitters.end()) return (this->*it->second)(op, x);
  return InvalidArgument("ONNX node '" + op.name + "' (" + op.onnx_op + ", opset " +
                         std::to_string(op.onnx_version) + "): no ML Program op for '" + t + "'");
}

mil::Operation* MilEmitter::Output(const Op& op, const std::string& type) {
  std::string out = ResultVar(op.output);
  return AddOp(type, op.name, out, MilType(g_.TypeOf(op.output), fp_), g_.shapes[op.output]);
}

Status MilEmitter::EmitConv(Op& op, const std::string& x) {
  const std::string& n = op.name;
  std::string w = Weight(n + "_weight", &op.weight);
  std::string b = op.has_bias ? Floats(n + "_bias", op.bias.shape, &op.bias.f) : "";
  std::string strides = Ints(n + "_strides", op.strides, false);
  std::string pad_type = String(n + "_pad_type", "custom");
  std::string pad = Ints(n + "_pad", {op.pads[0], op.pads[2], op.pads[1], op.pads[3]}, false);
  std::string dil = Ints(n + "_dilations", op.dilations, false);
  std::string groups = Ints(n + "_groups", {op.groups}, true);
  auto* c = Output(op, "conv");
  Bind(c, "x", x);
  Bind(c, "weight", w);
  if (!b.empty()) Bind(c, "bias", b);
  Bind(c, "strides", strides);
  Bind(c, "pad_type", pad_type);
  Bind(c, "pad", pad);
  Bind(c, "dilations", dil);
  Bind(c, "groups", groups);
  return Status::Ok();
}

Status MilEmitter::EmitLinear(Op& op, const std::string& x) {
  const std::string& n = op.name;
  std::string w = Weight(n + "_weight", &op.weight);
  std::string b = op.has_bias ? Floats(n + "_bias", op.bias.shape, &op.bias.f) : "";
  auto* l = Output(op, "linear");
  Bind(l, "x", x);
  Bind(l, "weight", w);
  if (!b.empty()) Bind(l, "bias", b);
  return Status::Ok();
}

// A constant operand is a const of its own on the side it was.
Status MilEmitter::EmitBinary(Op& op, const std::string& x) {
  const std::string& t = op.type;
  const std::string& n = op.name;
  std::string a = x, b;
  if (op.operand) {
    std::string c = Floats(n + "_operand", op.operand->shape, &op.operand->f);
    (op.operand_index == 0 ? a : b) = c;
    if (op.operand_index == 0) b = x;
  } else {
    b = var_.at(op.inputs[1]);
  }
  static const std::map<std::string, std::string> kOps = {
      {"add", "add"}, {"sub", "sub"}, {"mul", "mul"}, {"div", "real_div"}, {"matmul", "matmul"}};
  std::string tx, ty;
  if (t == "matmul") {
    tx = Bool(n + "_transpose_x", false);
    ty = Bool(n + "_transpose_y", false);
  }
  auto* o = Output(op, kOps.at(t));
  Bind(o, "x", a);
  Bind(o, "y", b);
  if (t == "matmul") {
    Bind(o, "transpose_x", tx);
    Bind(o, "transpose_y", ty);
  }
  return Status::Ok();
}

Status MilEmitter::EmitActivation(Op& op, const std::string& x) {
  if (op.type == "leaky_relu") {
    std::string alpha = FloatScalar(op.name + "_alpha", op.alpha);
    auto* o = Output(op, "leaky_relu");
    Bind(o, "x", x);
    Bind(o, "alpha", alpha);
    return Status::Ok();
  }
  Bind(Output(op, op.type), "x", x);
  return Status::Ok();
}

// hard_swish is x * sigmoid_hard(x) with alpha 1/6 and beta 1/2.
Status MilEmitter::EmitHardActivation(Op& op, const std::string& x) {
  const std::string& t = op.type;
  const std::string& n = op.name;
  const Shape& out_shape = g_.shapes[op.output];
  float alpha = op.alpha, beta = op.beta_value;
  if (t == "hard_swish") alpha = 1.0f / 6.0f, beta = 0.5f;
  if (t == "clip") {  // infinite bounds as the largest finite value of the compute type
    float big = Half() ? 65504.0f : std::numeric_limits<float>::max();
    alpha = std::max(alpha, -big);
    beta = std::min(beta, big);
  }
  std::string a = FloatScalar(n + "_alpha", alpha), b = FloatScalar(n + "_beta", beta);
  mil::Operation* o;
  if (t == "hard_swish") {
    std::string gate = Fresh(n + "_gate");
    o = AddOp("sigmoid_hard", gate, gate, fp_, out_shape);
    Bind(o, "x", x);
    Bind(o, "alpha", a);
    Bind(o, "beta", b);
    auto* m = Output(op, "mul");
    Bind(m, "x", x);
    Bind(m, "y", gate);
    return Status::Ok();
  }
  o = Output(op, t == "clip" ? "clip" : "sigmoid_hard");
  Bind(o, "x", x);
  Bind(o, "alpha", a);
  Bind(o, "beta", b);
  return Status::Ok();
}

Status MilEmitter::EmitBatchNorm(Op& op, const std::string& x) {
  const std::string& n = op.name;
  const Shape& out_shape = g_.shapes[op.output];
  const Shape& xs = g_.shapes[op.inputs[0]];
  if (xs.size() == 4) {
    Shape c = {xs[1]};
    std::string mean = Floats(n + "_mean", c, &op.mean.f);
    std::string var = Floats(n + "_variance", c, &op.variance.f);
    std::string gamma = Floats(n + "_gamma", c, &op.gamma.f);
    std::string beta = Floats(n + "_beta", c, &op.beta.f);
    std::string eps = FloatScalar(n + "_epsilon", op.epsilon);
    auto* o = Output(op, "batch_norm");
    Bind(o, "x", x);
    Bind(o, "mean", mean);
    Bind(o, "variance", var);
    Bind(o, "gamma", gamma);
    Bind(o, "beta", beta);
    Bind(o, "epsilon", eps);
    return Status::Ok();
  }
  // Other ranks: the same affine map as a mul and an add over axis 1.
  int64_t ch = xs[1];
  Shape cs = {ch};
  for (size_t k = 2; k < xs.size(); ++k) cs.push_back(1);
  std::vector<float> scale(ch), shift(ch);
  for (int64_t k = 0; k < ch; ++k) {
    scale[k] = static_cast<float>(op.gamma.f[k] / std::sqrt(op.variance.f[k] + op.epsilon));
    shift[k] = op.beta.f[k] - op.mean.f[k] * scale[k];
  }
  std::string s = Floats(n + "_scale", cs, &scale), b = Floats(n + "_shift", cs, &shift);
  std::string mid = Fresh(n + "_scaled");
  auto* m = AddOp("mul", mid, mid, fp_, out_shape);
  Bind(m, "x", x);
  Bind(m, "y", s);
  auto* a = Output(op, "add");
  Bind(a, "x", mid);
  Bind(a, "y", b);
  return Status::Ok();
}

Status MilEmitter::EmitPool(Op& op, const std::string& x) {
  const std::string& t = op.type;
  const std::string& n = op.name;
  std::string k = Ints(n + "_kernel_sizes", op.kernel, false);
  std::string s = Ints(n + "_strides", op.strides, false);
  std::string pt = String(n + "_pad_type", "custom");
  std::string pad = Ints(n + "_pad", {op.pads[0], op.pads[2], op.pads[1], op.pads[3]}, false);
  std::string ceil = Bool(n + "_ceil_mode", op.ceil_mode);
  std::string excl = t == "avg_pool" ? Bool(n + "_exclude_padding", op.exclude_padding) : "";
  auto* o = Output(op, t);
  Bind(o, "x", x);
  Bind(o, "kernel_sizes", k);
  Bind(o, "strides", s);
  Bind(o, "pad_type", pt);
  Bind(o, "pad", pad);
  Bind(o, "ceil_mode", ceil);
  if (!excl.empty()) Bind(o, "exclude_padding_from_average", excl);
  return Status::Ok();
}

Status MilEmitter::EmitReduceMean(Op& op, const std::string& x) {
  const std::string& t = op.type;
  const std::string& n = op.name;
  std::vector<int64_t> axes = t == "global_avg_pool" ? std::vector<int64_t>{2, 3} : op.axes;
  std::string a = Ints(n + "_axes", axes, false);
  std::string keep = Bool(n + "_keep_dims", t == "global_avg_pool" || op.keep_dims);
  auto* o = Output(op, "reduce_mean");
  Bind(o, "x", x);
  Bind(o, "axes", a);
  Bind(o, "keep_dims", keep);
  return Status::Ok();
}

Status MilEmitter::EmitReshape(Op& op, const std::string& x) {
  const std::string& n = op.name;
  const Shape& out_shape = g_.shapes[op.output];
  std::string s = Ints(n + "_shape", out_shape, false);
  auto* o = Output(op, "reshape");
  Bind(o, "x", x);
  Bind(o, "shape", s);
  return Status::Ok();
}

Status MilEmitter::EmitTranspose(Op& op, const std::string& x) {
  const std::string& n = op.name;
  std::string p = Ints(n + "_perm", op.perm, false);
  auto* o = Output(op, "transpose");
  Bind(o, "x", x);
  Bind(o, "perm", p);
  return Status::Ok();
}

Status MilEmitter::EmitConcat(Op& op, const std::string& /*x*/) {
  const std::string& n = op.name;
  std::string axis = Ints(n + "_axis", {op.axis}, true);
  std::string inter = Bool(n + "_interleave", false);
  auto* o = Output(op, "concat");
  for (const std::string& in : op.inputs) Bind(o, "values", var_.at(in));
  Bind(o, "axis", axis);
  Bind(o, "interleave", inter);
  return Status::Ok();
}

Status MilEmitter::EmitSoftmax(Op& op, const std::string& x) {
  const std::string& n = op.name;
  std::string axis = Ints(n + "_axis", {op.axis}, true);
  auto* o = Output(op, "softmax");
  Bind(o, "x", x);
  Bind(o, "axis", axis);
  return Status::Ok();
}

Status MilEmitter::EmitPad(Op& op, const std::string& x) {
  const std::string& n = op.name;
  std::string p = Ints(n + "_pad", op.pad_amounts, false);
  std::string mode = String(n + "_mode", "constant");
  std::string val = FloatScalar(n + "_constant_val", op.pad_value);
  auto* o = Output(op, "pad");
  Bind(o, "x", x);
  Bind(o, "pad", p);
  Bind(o, "mode", mode);
  Bind(o, "constant_val", val);
  return Status::Ok();
}

}  // namespace ringo::convert
