// Folding ONNX nodes whose inputs are all constants into constants (shape arithmetic).
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>

#include "convert/importer.h"

namespace ringo::convert {

namespace {

// ONNX Gather of constant `idx` from constant `a` along `axis`.
Result<Constant> GatherConstant(const Constant& a, const Constant& idx, int64_t axis) {
  Shape s(a.shape.begin(), a.shape.begin() + axis);
  s.insert(s.end(), idx.shape.begin(), idx.shape.end());
  s.insert(s.end(), a.shape.begin() + axis + 1, a.shape.end());
  int64_t outer = NumElements(Shape(a.shape.begin(), a.shape.begin() + axis));
  int64_t inner = NumElements(Shape(a.shape.begin() + axis + 1, a.shape.end()));
  Constant c;
  c.is_int = a.is_int;
  c.shape = s;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < idx.size(); ++k) {
      int64_t j = idx.int_at(k);
      if (j < 0) j += a.shape[axis];
      if (j < 0 || j >= a.shape[axis]) return InvalidArgument("index out of range");
      int64_t base = (o * a.shape[axis] + j) * inner;
      for (int64_t in = 0; in < inner; ++in) {
        if (a.is_int) {
          c.i.push_back(a.i[base + in]);
        } else {
          c.f.push_back(a.f[base + in]);
        }
      }
    }
  }
  return c;
}

// `a` cast to ONNX element type `to`: float and double become float, int32 and int64 int.
Result<Constant> CastConstant(const Constant& a, int64_t to) {
  Constant c;
  c.shape = a.shape;
  if (to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE) {
    for (int64_t k = 0; k < a.size(); ++k) c.f.push_back(static_cast<float>(a.at(k)));
  } else if (to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32) {
    c.is_int = true;
    for (int64_t k = 0; k < a.size(); ++k) c.i.push_back(a.int_at(k));
  } else {
    return InvalidArgument("cast of a constant to ONNX type " + std::to_string(to));
  }
  return c;
}

// `parts` joined along `axis`, in the element type of the first.
Result<Constant> ConcatConstants(const std::vector<const Constant*>& parts, int64_t axis) {
  const Constant& a = *parts[0];
  Shape s = a.shape;
  s[axis] = 0;
  for (const Constant* p : parts) {
    if (p->shape.size() != a.shape.size()) return InvalidArgument("inputs differ in rank");
    s[axis] += p->shape[axis];
  }
  Constant c;
  c.is_int = a.is_int;
  c.shape = s;
  int64_t outer = NumElements(Shape(s.begin(), s.begin() + axis));
  for (int64_t o = 0; o < outer; ++o) {
    for (const Constant* p : parts) {
      int64_t chunk = NumElements(Shape(p->shape.begin() + axis, p->shape.end()));
      for (int64_t k = 0; k < chunk; ++k) {
        if (c.is_int) {
          c.i.push_back(p->is_int ? p->i[o * chunk + k]
                                  : static_cast<int64_t>(p->f[o * chunk + k]));
        } else {
          c.f.push_back(static_cast<float>(p->at(o * chunk + k)));
        }
      }
    }
  }
  return c;
}

}  // namespace

Status Importer::Fold(const onnx::NodeProto& node, bool* folded) {
  const std::string& t = node.op_type();
  *folded = false;
  auto out = [&](Constant c) { return FoldTo(node, std::move(c), folded); };
  if (t == "Constant") {
    if (const auto* a = FindAttr(node, "value")) {
      onnx::TensorProto tensor = a->t();
      tensor.set_name(node.output(0));
      RETURN_IF_ERROR(ReadInitializer(&tensor));
      *folded = true;
      return Status::Ok();
    }
    if (const auto* a = FindAttr(node, "value_float")) return out(Constant::Floats({}, {a->f()}));
    if (const auto* a = FindAttr(node, "value_int")) return out(Constant::Ints({}, {a->i()}));
    if (const auto* a = FindAttr(node, "value_floats")) {
      return out(Constant::Floats({a->floats_size()}, {a->floats().begin(), a->floats().end()}));
    }
    if (const auto* a = FindAttr(node, "value_ints")) {
      return out(Constant::Ints({a->ints_size()}, {a->ints().begin(), a->ints().end()}));
    }
    return Fail(node, "Constant without a supported value attribute");
  }
  if (t == "Shape") {
    std::string x = In(node, 0);
    if (!graph_.shapes.count(x)) return Fail(node, "input has no known shape");
    const Shape& s = ShapeOf(x);
    int64_t r = static_cast<int64_t>(s.size());
    int64_t start = AttrInt(node, "start", 0), end = AttrInt(node, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, start, r);
    return out(Constant::Ints({end - start}, {s.begin() + start, s.begin() + end}));
  }
  RETURN_IF_ERROR(FoldCreation(node, folded));
  if (*folded) return Status::Ok();
  // Every other foldable op needs all of its (present) inputs constant.
  for (int k = 0; k < node.input_size(); ++k) {
    if (!node.input(k).empty() && !ConstOf(In(node, k))) return Status::Ok();
  }
  if (node.input_size() == 0) return Status::Ok();
  const Constant& a = *ConstOf(In(node, 0));
  if (t == "Equal" || t == "Less" || t == "Greater" || t == "Where") {
    // Shape arithmetic exporters write (expand's -1 as Where(Equal(shape, -1), 1, shape)).
    return FoldSelect(node, folded);
  }
  if (t == "Add" || t == "Sub" || t == "Mul" || t == "Div") {
    auto r = FoldBinary(t, a, *ConstOf(In(node, 1)));
    if (!r.ok()) return Fail(node, r.status().message());
    return out(std::move(r).value());
  }
  if (t == "Gather") {
    auto axis = NormalizeAxis(AttrInt(node, "axis", 0), a.shape.size());
    if (!axis.ok()) return Fail(node, axis.status().message());
    auto c = GatherConstant(a, *ConstOf(In(node, 1)), *axis);
    if (!c.ok()) return Fail(node, c.status().message());
    return out(std::move(c).value());
  }
  if (t == "Cast") {
    auto c = CastConstant(a, AttrInt(node, "to", 0));
    if (!c.ok()) return Fail(node, c.status().message());
    return out(std::move(c).value());
  }
  if (t == "Concat") {
    auto axis = NormalizeAxis(AttrInt(node, "axis", op_version_ < 4 ? 1 : 0), a.shape.size());
    if (!axis.ok()) return Fail(node, axis.status().message());
    std::vector<const Constant*> parts;
    for (int k = 0; k < node.input_size(); ++k) parts.push_back(ConstOf(In(node, k)));
    auto c = ConcatConstants(parts, *axis);
    if (!c.ok()) return Fail(node, c.status().message());
    return out(std::move(c).value());
  }
  if (t == "Transpose") {
    std::vector<int64_t> perm = AttrInts(node, "perm", {});
    if (perm.empty()) {
      for (int64_t k = static_cast<int64_t>(a.shape.size()) - 1; k >= 0; --k) perm.push_back(k);
    }
    if (perm.size() != a.shape.size()) return Fail(node, "perm does not match the rank");
    return out(Transposed(a, perm));
  }
  if (t == "Unsqueeze" || t == "Squeeze" || t == "Reshape" || t == "Flatten" || t == "Identity") {
    return Status::Ok();  // shape-only ops: Lower handles constants through its shape logic
  }
  return Status::Ok();
}

Status Importer::FoldTo(const onnx::NodeProto& node, Constant c, bool* folded) {
  graph_.shapes[node.output(0)] = c.shape;
  consts_[node.output(0)] = std::move(c);
  *folded = true;
  return Status::Ok();
}

Status Importer::FoldCreation(const onnx::NodeProto& node, bool* folded) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  auto out = [&](Constant c) { return FoldTo(node, std::move(c), folded); };
  if (t == "Size" && graph_.shapes.count(x)) {
    return out(Constant::Ints({}, {NumElements(ShapeOf(x))}));
  }
  if (t == "EyeLike" && graph_.shapes.count(x)) {
    const Shape& s = ShapeOf(x);
    if (s.size() != 2) return Fail(node, "the input must be a matrix");
    DType dt = TypeOf(x);
    if (FindAttr(node, "dtype") &&
        !ElementType(static_cast<int32_t>(AttrInt(node, "dtype", 1)), &dt)) {
      return Fail(node, "dtype " + std::to_string(AttrInt(node, "dtype", 1)) + " is not supported");
    }
    const int64_t k = AttrInt(node, "k", 0);
    std::vector<int64_t> eye(static_cast<size_t>(s[0] * s[1]), 0);
    for (int64_t i = 0; i < s[0]; ++i) {
      if (i + k >= 0 && i + k < s[1]) eye[i * s[1] + i + k] = 1;
    }
    if (dt == DType::kFloat) return out(Constant::Floats(s, {eye.begin(), eye.end()}));
    Constant c = Constant::Ints(s, eye);
    c.is_bool = dt == DType::kBool;
    return out(std::move(c));
  }
  const Constant* in = ConstOf(x);
  if (t == "ConstantOfShape" && in) {
    Shape s;
    for (int64_t k = 0; k < in->size(); ++k) s.push_back(in->int_at(k));
    Constant c = Constant::Floats(s, std::vector<float>(NumElements(s), 0.0f));
    if (const auto* a = FindAttr(node, "value")) {
      onnx::TensorProto value = a->t();
      value.set_name(Temp(node, "value"));
      RETURN_IF_ERROR(ReadInitializer(&value));
      Constant v = consts_[value.name()];
      consts_.erase(value.name());
      graph_.shapes.erase(value.name());
      if (v.size() != 1) return Fail(node, "value must hold one element");
      c.is_int = v.is_int;
      c.is_bool = v.is_bool;
      if (v.is_int) {
        c.f.clear();
        c.i.assign(NumElements(s), v.i[0]);
      } else {
        c.f.assign(NumElements(s), v.f[0]);
      }
    }
    return out(std::move(c));
  }
  if (t == "Range" && in && ConstOf(In(node, 1)) && ConstOf(In(node, 2))) {
    const double start = in->at(0), limit = ConstOf(In(node, 1))->at(0),
                 delta = ConstOf(In(node, 2))->at(0);
    if (delta == 0) return Fail(node, "delta is 0");
    const int64_t n =
        std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
    if (in->is_int) {
      std::vector<int64_t> v(n);
      const int64_t first = static_cast<int64_t>(start), step = static_cast<int64_t>(delta);
      for (int64_t k = 0; k < n; ++k) v[k] = first + k * step;
      return out(Constant::Ints({n}, v));
    }
    std::vector<float> v(n);
    for (int64_t k = 0; k < n; ++k) v[k] = static_cast<float>(start + k * delta);
    return out(Constant::Floats({n}, v));
  }
  return Status::Ok();
}

Status Importer::FoldSelect(const onnx::NodeProto& node, bool* folded) {
  const std::string& t = node.op_type();
  const bool where = t == "Where";
  const Constant& a = *ConstOf(In(node, where ? 1 : 0));
  const Constant& b = *ConstOf(In(node, where ? 2 : 1));
  const Constant* cond = where ? ConstOf(In(node, 0)) : nullptr;
  auto shape = BroadcastShapes(a.shape, b.shape);
  if (shape.ok() && cond) shape = BroadcastShapes(*shape, cond->shape);
  if (!shape.ok()) return Fail(node, shape.status().message());
  const Shape& out = *shape;
  const auto os = Strides(out);
  auto at = [&](const Constant& c, int64_t flat) {
    return BroadcastIndex(flat, out, os, c.shape, Strides(c.shape));
  };
  Constant r;
  r.shape = out;
  r.is_int = where ? a.is_int : true;
  r.is_bool = where ? a.is_bool : true;
  for (int64_t k = 0; k < NumElements(out); ++k) {
    const double x = a.at(at(a, k)), y = b.at(at(b, k));
    if (where) {
      const bool pick = cond->at(at(*cond, k)) != 0;
      const Constant& src = pick ? a : b;
      if (r.is_int) {
        r.i.push_back(src.int_at(at(src, k)));
      } else {
        r.f.push_back(static_cast<float>(src.at(at(src, k))));
      }
    } else {
      r.i.push_back(t == "Equal" ? x == y : t == "Less" ? x < y : x > y);
    }
  }
  return FoldTo(node, std::move(r), folded);
}

}  // namespace ringo::convert
