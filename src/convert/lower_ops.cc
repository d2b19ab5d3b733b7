// ONNX op families that lower to ML Program ops one for one or by short compositions:
// element-wise math and logic, reductions, indexing and shape ops, normalizations.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "convert/importer.h"

namespace ringo::convert {

namespace {

// ONNX unary ops that are the ML Program op of the given name on float tensors.
const std::map<std::string, std::string>& FloatUnaries() {
  static const std::map<std::string, std::string> kOps = {
      {"Acos", "acos"},   {"Acosh", "acosh"}, {"Asin", "asin"},         {"Asinh", "asinh"},
      {"Atan", "atan"},   {"Atanh", "atanh"}, {"Ceil", "ceil"},         {"Cos", "cos"},
      {"Cosh", "cosh"},   {"Erf", "erf"},     {"Exp", "exp"},           {"Floor", "floor"},
      {"Log", "log"},     {"Sin", "sin"},     {"Sinh", "sinh"},         {"Sqrt", "sqrt"},
      {"Tan", "tan"},     {"Softplus", "softplus"}, {"Softsign", "softsign"},
      {"Round", "round"}};  // both round half to even
  return kOps;
}

// Binary ops with numpy broadcasting; the flag says whether the result is bool.
struct BinaryKind {
  std::string mil;
  bool logical_result;
  bool bool_inputs;
};

const std::map<std::string, BinaryKind>& Binaries() {
  static const std::map<std::string, BinaryKind> kOps = {
      {"Pow", {"pow", false, false}},
      {"Equal", {"equal", true, false}},
      {"Less", {"less", true, false}},
      {"LessOrEqual", {"less_equal", true, false}},
      {"Greater", {"greater", true, false}},
      {"GreaterOrEqual", {"greater_equal", true, false}},
      {"And", {"logical_and", true, true}},
      {"Or", {"logical_or", true, true}},
      {"Xor", {"logical_xor", true, true}},
  };
  return kOps;
}

const std::map<std::string, std::string>& Reductions() {
  static const std::map<std::string, std::string> kOps = {
      {"ReduceSum", "reduce_sum"},         {"ReduceMax", "reduce_max"},
      {"ReduceMin", "reduce_min"},         {"ReduceProd", "reduce_prod"},
      {"ReduceL1", "reduce_l1_norm"},      {"ReduceL2", "reduce_l2_norm"},
      {"ReduceLogSum", "reduce_log_sum"},  {"ReduceLogSumExp", "reduce_log_sum_exp"},
      {"ReduceSumSquare", "reduce_sum_square"}};
  return kOps;
}

// `xs` reduced over `axes`: each kept as 1 (keep_dims) or dropped.
Shape ReducedShape(const Shape& xs, const std::set<int64_t>& axes, bool keep_dims) {
  Shape out;
  for (size_t k = 0; k < xs.size(); ++k) {
    if (!axes.count(static_cast<int64_t>(k))) {
      out.push_back(xs[k]);
    } else if (keep_dims) {
      out.push_back(1);
    }
  }
  return out;
}

}  // namespace

std::string Importer::Step(const onnx::NodeProto& node, const std::string& mil_type,
                           const std::vector<std::string>& inputs,
                           const std::vector<std::string>& params,
                           std::map<std::string, Param> attrs, const Shape& shape, DType dtype,
                           std::string out) {
  Op op;
  op.name = UniqueOpName(node);
  op.onnx_op = node.op_type();
  op.node = NodeName(node);
  op.output = out.empty() ? Temp(node, mil_type) : out;
  op.attrs = std::move(attrs);
  std::string result = op.output;
  Status s = EmitGeneric(node, std::move(op), mil_type, inputs, params, shape, dtype);
  if (!s.ok() && step_status_.ok()) step_status_ = s;
  return result;
}

std::optional<std::vector<int64_t>> Importer::AxesOf(const onnx::NodeProto& node,
                                                      int input) const {
  if (FindAttr(node, "axes")) return AttrInts(node, "axes", {});
  std::string name = In(node, input);
  if (name.empty()) return std::vector<int64_t>{};
  const Constant* c = ConstOf(name);
  if (!c) return std::nullopt;
  std::vector<int64_t> v;
  for (int64_t k = 0; k < c->size(); ++k) v.push_back(c->int_at(k));
  return v;
}

Status Importer::FloatInput(const onnx::NodeProto& node) const {
  if (TypeOf(In(node, 0)) != DType::kFloat) return Fail(node, "the input must be a float tensor");
  return Status::Ok();
}

Status Importer::LowerElementwise(const onnx::NodeProto& node, Op& op, bool* handled) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  *handled = true;
  if (auto it = FloatUnaries().find(t); it != FloatUnaries().end()) {
    RETURN_IF_ERROR(FloatInput(node));
    return EmitGeneric(node, std::move(op), it->second, {x}, {"x"}, ShapeOf(x), DType::kFloat);
  }
  if (t == "Abs" || t == "Sign") {
    std::string mil = t == "Abs" ? "abs" : "sign";
    return EmitGeneric(node, std::move(op), mil, {x}, {"x"}, ShapeOf(x), TypeOf(x));
  }
  if (t == "Neg" || t == "Reciprocal") {
    // -x as (-1) * x, 1 / x as a real division: exact, unlike inverse's epsilon.
    DType dt = TypeOf(x);
    if (t == "Reciprocal") RETURN_IF_ERROR(FloatInput(node));
    Param one = dt == DType::kFloat ? Param::Float(t == "Neg" ? -1.0 : 1.0) : Param::Int(-1);
    if (t == "Neg") {
      op.attrs["y"] = one;
      return EmitGeneric(node, std::move(op), "mul", {x}, {"x"}, ShapeOf(x), dt);
    }
    op.attrs["x"] = one;
    return EmitGeneric(node, std::move(op), "real_div", {x}, {"y"}, ShapeOf(x), dt);
  }
  if (t == "Not") {
    if (TypeOf(x) != DType::kBool) return Fail(node, "the input must be bool");
    return EmitGeneric(node, std::move(op), "logical_not", {x}, {"x"}, ShapeOf(x), DType::kBool);
  }
  if (t == "IsNaN") {  // NaN is the one value unequal to itself
    RETURN_IF_ERROR(FloatInput(node));
    return EmitGeneric(node, std::move(op), "not_equal", {x, x}, {"x", "y"}, ShapeOf(x),
                       DType::kBool);
  }
  if (t == "IsInf") return LowerIsInf(node);
  if (t == "Elu" || t == "ThresholdedRelu") {
    RETURN_IF_ERROR(FloatInput(node));
    op.attrs["alpha"] = Param::Float(AttrFloat(node, "alpha", 1.0f));
    std::string mil = t == "Elu" ? "elu" : "thresholded_relu";
    return EmitGeneric(node, std::move(op), mil, {x}, {"x"}, ShapeOf(x), DType::kFloat);
  }
  if (t == "Selu") return LowerSelu(node);
  if (t == "Celu") return LowerCelu(node);
  if (t == "Shrink") return LowerShrink(node);
  if (t == "PRelu") return LowerPRelu(node);
  if (Binaries().count(t)) return LowerBinary(node, op);
  if (t == "Mod") return LowerMod(node, op);
  if (t == "Max" || t == "Min" || t == "Sum" || t == "Mean") return LowerVariadic(node, op);
  if (t == "Where") return LowerWhere(node, op);
  *handled = false;
  return Status::Ok();
}

// x == +inf, x == -inf, or either, as detect_positive and detect_negative ask.
Status Importer::LowerIsInf(const onnx::NodeProto& node) {
  const std::string x = In(node, 0);
  RETURN_IF_ERROR(FloatInput(node));
  const bool pos = AttrInt(node, "detect_positive", 1) != 0;
  const bool neg = AttrInt(node, "detect_negative", 1) != 0;
  const Shape& s = ShapeOf(x);
  const DType b = DType::kBool;
  const double inf = std::numeric_limits<double>::infinity();
  auto equal = [&](double v, const std::string& out) {
    return Step(node, "equal", {x}, {"x"}, {{"y", Param::Float(v)}}, s, b, out);
  };
  if (pos != neg) {
    equal(pos ? inf : -inf, node.output(0));
    return Status::Ok();
  }
  std::string p = equal(inf, ""), n = equal(-inf, "");
  // Neither asked: no value is both, so the result is all false.
  Step(node, pos ? "logical_or" : "logical_and", {p, n}, {"x", "y"}, {}, s, b, node.output(0));
  return Status::Ok();
}

Status Importer::LowerSelu(const onnx::NodeProto& node) {
  const std::string x = In(node, 0);
  const std::string out = node.output(0);
  RETURN_IF_ERROR(FloatInput(node));
  float alpha = AttrFloat(node, "alpha", 1.67326319217681884765625f);
  float gamma = AttrFloat(node, "gamma", 1.05070102214813232421875f);
  std::string e =
      Step(node, "elu", {x}, {"x"}, {{"alpha", Param::Float(alpha)}}, ShapeOf(x), DType::kFloat);
  Step(node, "mul", {e}, {"x"}, {{"y", Param::Float(gamma)}}, ShapeOf(x), DType::kFloat, out);
  return Status::Ok();
}

// max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
Status Importer::LowerCelu(const onnx::NodeProto& node) {
  const std::string x = In(node, 0);
  const std::string out = node.output(0);
  RETURN_IF_ERROR(FloatInput(node));
  const float alpha = AttrFloat(node, "alpha", 1.0f);
  const Shape& s = ShapeOf(x);
  const DType f = DType::kFloat;
  std::string q = Step(node, "mul", {x}, {"x"}, {{"y", Param::Float(1.0 / alpha)}}, s, f);
  std::string e = Step(node, "exp", {q}, {"x"}, {}, s, f);
  std::string m = Step(node, "add", {e}, {"x"}, {{"y", Param::Float(-1.0)}}, s, f);
  m = Step(node, "mul", {m}, {"x"}, {{"y", Param::Float(alpha)}}, s, f);
  m = Step(node, "minimum", {m}, {"x"}, {{"y", Param::Float(0.0)}}, s, f);
  std::string p = Step(node, "maximum", {x}, {"x"}, {{"y", Param::Float(0.0)}}, s, f);
  Step(node, "add", {p, m}, {"x", "y"}, {}, s, f, out);
  return Status::Ok();
}

// x < -lambd: x + bias; x > lambd: x - bias; else 0
Status Importer::LowerShrink(const onnx::NodeProto& node) {
  const std::string x = In(node, 0);
  const std::string out = node.output(0);
  RETURN_IF_ERROR(FloatInput(node));
  const float lambd = AttrFloat(node, "lambd", 0.5f), bias = AttrFloat(node, "bias", 0.0f);
  const Shape& s = ShapeOf(x);
  const DType f = DType::kFloat, b = DType::kBool;
  std::string low = Step(node, "less", {x}, {"x"}, {{"y", Param::Float(-lambd)}}, s, b);
  std::string high = Step(node, "greater", {x}, {"x"}, {{"y", Param::Float(lambd)}}, s, b);
  std::string up = Step(node, "add", {x}, {"x"}, {{"y", Param::Float(bias)}}, s, f);
  std::string down = Step(node, "sub", {x}, {"x"}, {{"y", Param::Float(bias)}}, s, f);
  std::string zero = AddConst(node, "zero", Constant::Floats({}, {0.0f}));
  std::string r = Step(node, "select", {high, down, zero}, {"cond", "a", "b"}, {}, s, f);
  Step(node, "select", {low, up, r}, {"cond", "a", "b"}, {}, s, f, out);
  return Status::Ok();
}

// max(x, 0) + slope * min(x, 0), with the slope broadcast as ONNX does.
Status Importer::LowerPRelu(const onnx::NodeProto& node) {
  const std::string x = In(node, 0);
  const std::string out = node.output(0);
  RETURN_IF_ERROR(FloatInput(node));
  std::string slope = In(node, 1);
  auto shape = BroadcastShapes(ShapeOf(x), ShapeOf(slope));
  if (!shape.ok() || *shape != ShapeOf(x)) return Fail(node, "slope does not broadcast to X");
  std::string pos = Step(node, "maximum", {x}, {"x"}, {{"y", Param::Float(0)}}, ShapeOf(x),
                         DType::kFloat);
  std::string neg = Step(node, "minimum", {x}, {"x"}, {{"y", Param::Float(0)}}, ShapeOf(x),
                         DType::kFloat);
  std::string scaled = Step(node, "mul", {neg, slope}, {"x", "y"}, {}, ShapeOf(x), DType::kFloat);
  Step(node, "add", {pos, scaled}, {"x", "y"}, {}, ShapeOf(x), DType::kFloat, out);
  return Status::Ok();
}

Status Importer::LowerBinary(const onnx::NodeProto& node, Op& op) {
  const BinaryKind& kind = Binaries().at(node.op_type());
  const std::string x = In(node, 0);
  const std::string out = node.output(0);
  std::string y = In(node, 1);
  if (!graph_.shapes.count(y)) return Fail(node, "input '" + y + "' has no known shape");
  DType dx = TypeOf(x), dy = TypeOf(y);
  if (kind.bool_inputs && (dx != DType::kBool || dy != DType::kBool)) {
    return Fail(node, "inputs must be bool");
  }
  if (!kind.bool_inputs && (dx == DType::kBool || dy == DType::kBool)) {
    return Fail(node, "bool inputs are not supported");
  }
  auto shape = BroadcastShapes(ShapeOf(x), ShapeOf(y));
  if (!shape.ok()) return Fail(node, shape.status().message());
  if (node.op_type() == "Pow" && (dx != DType::kFloat || dy != DType::kFloat)) {
    // ONNX lets base and exponent differ in type: computed in float, the base's type out.
    auto to_float = [&](const std::string& v) {
      if (TypeOf(v) == DType::kFloat) return v;
      return Step(node, "cast", {v}, {"x"}, {{"dtype", Param::String("fp32")}}, ShapeOf(v),
                  DType::kFloat);
    };
    std::string fx = to_float(x), fy = to_float(y);
    std::string p = Step(node, "pow", {fx, fy}, {"x", "y"}, {}, *shape, DType::kFloat,
                         dx == DType::kFloat ? out : "");
    if (dx != DType::kFloat) {
      Step(node, "cast", {p}, {"x"}, {{"dtype", Param::String("int32")}}, *shape, dx, out);
    }
    return Status::Ok();
  }
  if (dx != dy) return Fail(node, "inputs of different element types");
  return EmitGeneric(node, std::move(op), kind.mil, {x, y}, {"x", "y"}, *shape,
                     kind.logical_result ? DType::kBool : dx);
}

Status Importer::LowerMod(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  const std::string out = node.output(0);
  std::string y = In(node, 1);
  auto shape = BroadcastShapes(ShapeOf(x), ShapeOf(y));
  if (!shape.ok()) return Fail(node, shape.status().message());
  const DType f = DType::kFloat;
  if (AttrInt(node, "fmod", 0) != 0) {
    // C's fmod, the dividend's sign: x - trunc(x / y) * y, trunc(q) = sign(q) * floor(|q|).
    if (TypeOf(x) != f || TypeOf(y) != f) return Fail(node, "fmod=1 needs float inputs");
    const Shape& s = *shape;
    std::string q = Step(node, "real_div", {x, y}, {"x", "y"}, {}, s, f);
    std::string a = Step(node, "abs", {q}, {"x"}, {}, s, f);
    std::string fl = Step(node, "floor", {a}, {"x"}, {}, s, f);
    std::string sg = Step(node, "sign", {q}, {"x"}, {}, s, f);
    std::string tq = Step(node, "mul", {sg, fl}, {"x", "y"}, {}, s, f);
    std::string p = Step(node, "mul", {tq, y}, {"x", "y"}, {}, s, f);
    Step(node, "sub", {x, p}, {"x", "y"}, {}, s, f, out);
    return Status::Ok();
  }
  if (TypeOf(x) != DType::kInt || TypeOf(y) != DType::kInt) {
    return Fail(node, "Mod of non-integer tensors needs fmod=1");
  }
  // ONNX's integer Mod takes the divisor's sign, as MIL's floor modulo does.
  return EmitGeneric(node, std::move(op), "mod", {x, y}, {"x", "y"}, *shape, DType::kInt);
}

Status Importer::LowerVariadic(const onnx::NodeProto& node, Op& op) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  const std::string out = node.output(0);
  std::string mil = t == "Max" ? "maximum" : t == "Min" ? "minimum" : "add";
  std::string acc = x;
  DType dt = TypeOf(x);
  if (dt == DType::kBool) return Fail(node, "bool inputs are not supported");
  if (t == "Mean" && dt != DType::kFloat) return Fail(node, "the inputs must be float");
  Shape shape = ShapeOf(x);
  int n = node.input_size();
  if (n == 1) {
    return EmitGeneric(node, std::move(op), "identity", {x}, {"x"}, shape, dt);
  }
  for (int k = 1; k < n; ++k) {
    std::string y = In(node, k);
    if (!graph_.shapes.count(y)) return Fail(node, "input '" + y + "' has no known shape");
    if (TypeOf(y) != dt) return Fail(node, "inputs of different element types");
    auto s = BroadcastShapes(shape, ShapeOf(y));
    if (!s.ok()) return Fail(node, s.status().message());
    shape = *s;
    bool last = k == n - 1 && t != "Mean";
    acc = Step(node, mil, {acc, y}, {"x", "y"}, {}, shape, dt, last ? out : "");
  }
  if (t == "Mean") {
    Step(node, "mul", {acc}, {"x"}, {{"y", Param::Float(1.0 / n)}}, shape, dt, out);
  }
  return Status::Ok();
}

Status Importer::LowerWhere(const onnx::NodeProto& node, Op& op) {
  std::string c = In(node, 0), a = In(node, 1), b = In(node, 2);
  for (const std::string& v : {a, b}) {
    if (!graph_.shapes.count(v)) return Fail(node, "input '" + v + "' has no known shape");
  }
  if (TypeOf(c) != DType::kBool) return Fail(node, "the condition must be bool");
  if (TypeOf(a) != TypeOf(b)) return Fail(node, "X and Y differ in element type");
  auto s1 = BroadcastShapes(ShapeOf(c), ShapeOf(a));
  if (!s1.ok()) return Fail(node, s1.status().message());
  auto s2 = BroadcastShapes(*s1, ShapeOf(b));
  if (!s2.ok()) return Fail(node, s2.status().message());
  return EmitGeneric(node, std::move(op), "select", {c, a, b}, {"cond", "a", "b"}, *s2,
                     TypeOf(a));
}

Result<std::set<int64_t>> Importer::ReducedAxes(const onnx::NodeProto& node, const Shape& xs,
                                                bool* identity) {
  *identity = false;
  auto axes = AxesOf(node, 1);
  if (!axes) return Fail(node, "axes must be a constant");
  std::set<int64_t> set;
  for (int64_t a : *axes) {
    auto n = NormalizeAxis(a, xs.size());
    if (!n.ok()) return Fail(node, n.status().message());
    set.insert(*n);
  }
  if (set.empty()) {
    // ONNX: no axes and noop_with_empty_axes make the op an identity.
    if (AttrInt(node, "noop_with_empty_axes", 0) != 0) {
      *identity = true;
      return set;
    }
    for (size_t k = 0; k < xs.size(); ++k) set.insert(static_cast<int64_t>(k));
  }
  return set;
}

Status Importer::LowerReduction(const onnx::NodeProto& node, Op& op, bool* handled) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  *handled = true;
  if (t == "ArgMax" || t == "ArgMin") {
    const Shape& xs = ShapeOf(x);
    auto axis = NormalizeAxis(AttrInt(node, "axis", 0), xs.size());
    if (!axis.ok()) return Fail(node, axis.status().message());
    if (TypeOf(x) == DType::kBool) return Fail(node, "bool inputs are not supported");
    bool keep = AttrInt(node, "keepdims", 1) != 0;
    Shape out;
    for (size_t k = 0; k < xs.size(); ++k) {
      if (static_cast<int64_t>(k) != *axis) {
        out.push_back(xs[k]);
      } else if (keep) {
        out.push_back(1);
      }
    }
    std::string mil = t == "ArgMax" ? "reduce_argmax" : "reduce_argmin";
    std::map<std::string, Param> attrs = {{"axis", Param::Int(*axis)},
                                          {"keep_dims", Param::Bool(keep)}};
    if (AttrInt(node, "select_last_index", 0) == 0) {
      op.attrs = attrs;
      return EmitGeneric(node, std::move(op), mil, {x}, {"x"}, out, DType::kInt);
    }
    // The last extreme: the first one of the axis reversed, counted back from the end.
    const size_t rank = xs.size();
    std::vector<int64_t> zeros(rank, 0), stride(rank, 1);
    stride[*axis] = -1;
    std::string reversed =
        Step(node, "slice_by_index", {x}, {"x"},
             {{"begin", Param::Ints(zeros)},
              {"end", Param::Ints(zeros)},
              {"stride", Param::Ints(stride)},
              {"begin_mask", Param::Bools(std::vector<bool>(rank, true))},
              {"end_mask", Param::Bools(std::vector<bool>(rank, true))}},
             xs, TypeOf(x));
    std::string arg = Step(node, mil, {reversed}, {"x"}, attrs, out, DType::kInt);
    Step(node, "sub", {arg}, {"y"}, {{"x", Param::Int(xs[*axis] - 1)}}, out, DType::kInt,
         node.output(0));
    return Status::Ok();
  }
  if (t == "GlobalMaxPool" || (t == "GlobalAveragePool" && ShapeOf(x).size() != 4)) {
    // Over every spatial axis of [N, C, ...], kept.
    const Shape& xs = ShapeOf(x);
    if (xs.size() < 3) return Fail(node, "the input must be [N, C, ...]");
    if (TypeOf(x) != DType::kFloat) return Fail(node, "the input must be a float tensor");
    std::vector<int64_t> axes;
    Shape out = xs;
    for (size_t d = 2; d < xs.size(); ++d) {
      axes.push_back(static_cast<int64_t>(d));
      out[d] = 1;
    }
    op.attrs = {{"axes", Param::Ints(axes)}, {"keep_dims", Param::Bool(true)}};
    std::string mil = t == "GlobalMaxPool" ? "reduce_max" : "reduce_mean";
    return EmitGeneric(node, std::move(op), mil, {x}, {"x"}, out, DType::kFloat);
  }
  auto it = Reductions().find(t);
  if (it == Reductions().end()) {
    *handled = false;
    return Status::Ok();
  }
  const Shape& xs = ShapeOf(x);
  bool identity = false;
  ASSIGN_OR_RETURN(std::set<int64_t> set, ReducedAxes(node, xs, &identity));
  if (identity) {
    return EmitGeneric(node, std::move(op), "identity", {x}, {"x"}, xs, TypeOf(x));
  }
  bool keep = AttrInt(node, "keepdims", 1) != 0;
  Shape out = ReducedShape(xs, set, keep);
  if (TypeOf(x) == DType::kBool) return Fail(node, "bool inputs are not supported");
  op.attrs["axes"] = Param::Ints({set.begin(), set.end()});
  op.attrs["keep_dims"] = Param::Bool(keep);
  return EmitGeneric(node, std::move(op), it->second, {x}, {"x"}, out, TypeOf(x));
}

// ReduceMean has a Core ML layer of its own (the other reductions are ML Program ops).
Status Importer::LowerReduceMean(const onnx::NodeProto& node, Op& op) {
  std::string x = In(node, 0);
  Shape xs = InputShape(node, 0);
  bool identity = false;
  ASSIGN_OR_RETURN(std::set<int64_t> set, ReducedAxes(node, xs, &identity));
  if (identity) {
    alias_[node.output(0)] = x;
    return Status::Ok();
  }
  op.axes.assign(set.begin(), set.end());
  op.keep_dims = AttrInt(node, "keepdims", 1) != 0;
  return EmitAs(op, "reduce_mean", x, ReducedShape(xs, set, op.keep_dims));
}

}  // namespace ringo::convert
