// Element-wise, reduction, selection and softmax ops of the ML Program evaluator.
#include <algorithm>
#include <cmath>

#include "coreml/evaluate_mil.h"

namespace ringo::coreml::internal {

// The element-wise MIL math ops that are one C function.
std::function<float(float)> MathFunction(const std::string& type) {
  static const std::map<std::string, float (*)(float)> kFunctions = {
      {"acos", std::acos},   {"acosh", std::acosh}, {"asin", std::asin}, {"asinh", std::asinh},
      {"atan", std::atan},   {"atanh", std::atanh}, {"ceil", std::ceil}, {"cos", std::cos},
      {"cosh", std::cosh},   {"erf", std::erf},     {"floor", std::floor}, {"log", std::log},
      {"sin", std::sin},     {"sinh", std::sinh},   {"tan", std::tan},
      {"round", std::nearbyint}};  // to nearest, ties to even (the default rounding mode)
  auto it = kFunctions.find(type);
  if (it != kFunctions.end()) return it->second;
  if (type == "sign") return [](float v) { return v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f; };
  return nullptr;
}

// Comparisons and logical ops, as 1 (true) or 0 (false).
std::function<float(float, float)> Comparison(const std::string& type) {
  auto b = [](bool v) { return v ? 1.0f : 0.0f; };
  if (type == "equal") return [=](float x, float y) { return b(x == y); };
  if (type == "not_equal") return [=](float x, float y) { return b(x != y); };
  if (type == "less") return [=](float x, float y) { return b(x < y); };
  if (type == "less_equal") return [=](float x, float y) { return b(x <= y); };
  if (type == "greater") return [=](float x, float y) { return b(x > y); };
  if (type == "greater_equal") return [=](float x, float y) { return b(x >= y); };
  if (type == "logical_and") return [=](float x, float y) { return b(x != 0 && y != 0); };
  if (type == "logical_or") return [=](float x, float y) { return b(x != 0 || y != 0); };
  if (type == "logical_xor") return [=](float x, float y) { return b((x != 0) != (y != 0)); };
  return nullptr;
}

Result<std::vector<MilValue>> OpRunner::UnaryOp(const std::function<float(float)>& f) {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  Tensor t = x->t;
  for (float& v : t.data) v = f(v);
  return One(Float(std::move(t)));
}

Result<std::vector<MilValue>> OpRunner::BinaryOp(const std::function<float(float, float)>& f) {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* y, Required("y"));
  auto out = kernels::Binary(x->t, y->t, f);
  if (!out.ok()) return InvalidArgument(what_ + ": " + out.status().message());
  return One(Float(std::move(out).value()));
}

Result<std::vector<int64_t>> OpRunner::Axes(const std::vector<int64_t>& raw, size_t rank) {
  std::vector<int64_t> axes;
  for (int64_t a : raw) {
    ASSIGN_OR_RETURN(int64_t n, Axis(a, rank, what_));
    if (std::find(axes.begin(), axes.end(), n) != axes.end()) {
      return InvalidArgument(what_ + ": axis " + std::to_string(a) + " repeats");
    }
    axes.push_back(n);
  }
  return axes;
}

Result<std::vector<MilValue>> OpRunner::Reduction(std::optional<kernels::ReduceKind> kind) {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  std::vector<int64_t> all;
  for (size_t i = 0; i < x->t.shape.size(); ++i) all.push_back(static_cast<int64_t>(i));
  ASSIGN_OR_RETURN(std::vector<int64_t> raw, Ints("axes", all));
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, Axes(raw, x->t.shape.size()));
  ASSIGN_OR_RETURN(bool keep, Bool("keep_dims", false));
  Tensor out = kind ? kernels::Reduce(x->t, axes, *kind) : kernels::ReduceMean(x->t, axes);
  if (!keep) {
    std::vector<int64_t> shape;
    for (size_t i = 0; i < out.shape.size(); ++i) {
      if (std::find(axes.begin(), axes.end(), int64_t(i)) == axes.end()) {
        shape.push_back(out.shape[i]);
      }
    }
    out.shape = shape;
  }
  return One(Float(std::move(out)));
}

Result<std::vector<MilValue>> OpRunner::ArgReduce(bool largest) {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{-1}));
  ASSIGN_OR_RETURN(bool keep, Bool("keep_dims", false));
  if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
  ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
  Tensor out = kernels::ArgReduce(x->t, a, largest);
  if (!keep) out.shape.erase(out.shape.begin() + a);
  return One(Float(std::move(out)));
}

Result<std::vector<MilValue>> OpRunner::Select() {
  ASSIGN_OR_RETURN(const MilValue* c, Required("cond"));
  ASSIGN_OR_RETURN(const MilValue* a, Required("a"));
  ASSIGN_OR_RETURN(const MilValue* b, Required("b"));
  auto out = kernels::Select(c->t, a->t, b->t);
  if (!out.ok()) return InvalidArgument(what_ + ": " + out.status().message());
  return One(Float(std::move(out).value()));
}

Result<std::vector<MilValue>> OpRunner::CumSum() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{0}));
  ASSIGN_OR_RETURN(bool exclusive, Bool("exclusive", false));
  ASSIGN_OR_RETURN(bool reverse, Bool("reverse", false));
  if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
  ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
  return One(Float(kernels::CumSum(x->t, a, exclusive, reverse)));
}

Result<std::vector<MilValue>> OpRunner::Softmax() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{-1}));
  if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
  ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
  Tensor t = x->t;
  kernels::Softmax(&t, a);
  return One(Float(std::move(t)));
}

}  // namespace ringo::coreml::internal
