// Shape and layout ops with a Core ML layer: identity, reshapes, transpose, concat and pad.
// A constant input to a reshape stays a constant.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <set>

#include "convert/importer.h"

namespace ringo::convert {

Status Importer::LowerIdentity(const onnx::NodeProto& node, Op& op) {
  (void)op;
  std::string x = In(node, 0);
  Shape xs = InputShape(node, 0);
  if (node.op_type() == "Dropout" && !In(node, 2).empty()) {
    const Constant* training = ConstOf(In(node, 2));
    if (!training || training->at(0) != 0) {
      return Fail(node, "training_mode must be a constant false (inference only)");
    }
  }
  if (node.output_size() > 1 && !node.output(1).empty()) {
    // Inference keeps every element: the mask is all true.
    Constant mask = Constant::Ints(xs, std::vector<int64_t>(NumElements(xs), 1));
    mask.is_bool = true;
    graph_.shapes[node.output(1)] = xs;
    consts_[node.output(1)] = std::move(mask);
  }
  if (const Constant* x_const = ConstOf(x)) {
    consts_[node.output(0)] = *x_const;
    graph_.shapes[node.output(0)] = xs;
  } else {
    alias_[node.output(0)] = x;
  }
  return Status::Ok();
}

Status Importer::LowerFlatten(const onnx::NodeProto& node, Op& op) {
  Shape xs = InputShape(node, 0);
  // Flatten's axis runs from -r to r: a negative one counts from the rank, not rank + 1.
  int64_t raw = AttrInt(node, "axis", 1);
  auto axis =
      NormalizeAxis(raw < 0 ? raw + static_cast<int64_t>(xs.size()) : raw, xs.size() + 1);
  if (!axis.ok()) return Fail(node, axis.status().message());
  Shape target = {NumElements(Shape(xs.begin(), xs.begin() + *axis)),
                  NumElements(Shape(xs.begin() + *axis, xs.end()))};
  return ReshapeOrFold(node, op, target);
}

Status Importer::LowerReshape(const onnx::NodeProto& node, Op& op) {
  const Constant* s = ConstOf(In(node, 1));
  if (!s) {
    return Fail(node, "the target shape is not a constant after folding (dynamic reshape)");
  }
  auto target = ReshapeTarget(InputShape(node, 0), *s, AttrInt(node, "allowzero", 0) != 0);
  if (!target.ok()) return Fail(node, target.status().message());
  return ReshapeOrFold(node, op, *target);
}

Status Importer::LowerSqueeze(const onnx::NodeProto& node, Op& op) {
  Shape xs = InputShape(node, 0);
  auto axes = AxesOf(node, 1);
  if (!axes) return Fail(node, "axes must be a constant");
  Shape target;
  if (node.op_type() == "Squeeze") {
    std::set<int64_t> drop;
    for (int64_t a : *axes) {
      auto n = NormalizeAxis(a, xs.size());
      if (!n.ok()) return Fail(node, n.status().message());
      if (xs[*n] != 1)
        return Fail(node, "cannot squeeze a dimension of size " + std::to_string(xs[*n]));
      drop.insert(*n);
    }
    for (size_t k = 0; k < xs.size(); ++k) {
      if (axes->empty() ? xs[k] != 1 : !drop.count(static_cast<int64_t>(k))) {
        target.push_back(xs[k]);
      }
    }
  } else {
    size_t rank = xs.size() + axes->size();
    std::set<int64_t> add;
    for (int64_t a : *axes) {
      auto n = NormalizeAxis(a, rank);
      if (!n.ok()) return Fail(node, n.status().message());
      add.insert(*n);
    }
    if (add.size() != axes->size()) return Fail(node, "repeated axes");
    size_t src = 0;
    for (size_t k = 0; k < rank; ++k) {
      target.push_back(add.count(static_cast<int64_t>(k)) ? 1 : xs[src++]);
    }
  }
  return ReshapeOrFold(node, op, target);
}

Status Importer::LowerTranspose(const onnx::NodeProto& node, Op& op) {
  Shape xs = InputShape(node, 0);
  op.perm = AttrInts(node, "perm", {});
  if (op.perm.empty()) {
    for (int64_t k = static_cast<int64_t>(xs.size()) - 1; k >= 0; --k) op.perm.push_back(k);
  }
  std::vector<int64_t> sorted = op.perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = 0; k < sorted.size(); ++k) {
    if (sorted[k] != static_cast<int64_t>(k) || sorted.size() != xs.size()) {
      return Fail(node, "perm is not a permutation of the input's axes");
    }
  }
  Shape out(xs.size());
  for (size_t k = 0; k < xs.size(); ++k) out[k] = xs[op.perm[k]];
  return EmitAs(op, "transpose", In(node, 0), out);
}

Status Importer::LowerConcat(const onnx::NodeProto& node, Op& op) {
  std::string x = In(node, 0);
  Shape xs = InputShape(node, 0);
  // Concat's axis defaulted to 1 before version 4.
  auto axis = NormalizeAxis(AttrInt(node, "axis", op_version_ < 4 ? 1 : 0), xs.size());
  if (!axis.ok()) return Fail(node, axis.status().message());
  Shape out = xs;
  out[*axis] = 0;
  for (int k = 0; k < node.input_size(); ++k) {
    std::string in = In(node, k);
    if (!graph_.shapes.count(in)) return Fail(node, "input '" + in + "' has no known shape");
    if (TypeOf(in) != TypeOf(x)) return Fail(node, "inputs differ in element type");
    const Shape& s = ShapeOf(in);
    if (s.size() != xs.size()) return Fail(node, "inputs differ in rank");
    for (size_t d = 0; d < s.size(); ++d) {
      if (static_cast<int64_t>(d) != *axis && s[d] != xs[d]) {
        return Fail(node, "inputs differ outside the concatenation axis");
      }
    }
    out[*axis] += s[*axis];
    op.inputs.push_back(Materialize(in));
  }
  op.type = "concat";
  op.axis = *axis;
  Emit(std::move(op), out);
  return Status::Ok();
}

Status Importer::LowerPad(const onnx::NodeProto& node, Op& op) {
  Shape xs = InputShape(node, 0);
  std::string mode = AttrString(node, "mode", "constant");
  if (mode != "constant") return Fail(node, "pad mode '" + mode + "' is not supported");
  std::vector<int64_t> pads;
  if (FindAttr(node, "pads")) {
    pads = AttrInts(node, "pads", {});
    op.pad_value = AttrFloat(node, "value", 0.0f);
  } else {
    const Constant* p = ConstOf(In(node, 1));
    if (!p) return Fail(node, "pads must be a constant");
    for (int64_t k = 0; k < p->size(); ++k) pads.push_back(p->int_at(k));
    if (!In(node, 2).empty()) {
      const Constant* v = ConstOf(In(node, 2));
      if (!v || v->size() != 1) return Fail(node, "constant_value must be a constant scalar");
      op.pad_value = static_cast<float>(v->at(0));
    }
    if (!In(node, 3).empty()) return Fail(node, "the axes input is not supported");
  }
  size_t r = xs.size();
  if (pads.size() != 2 * r) return Fail(node, "pads must hold 2 values per dimension");
  Shape out = xs;
  for (size_t d = 0; d < r; ++d) {
    if (pads[d] < 0 || pads[d + r] < 0) return Fail(node, "negative pads are not supported");
    op.pad_amounts.push_back(pads[d]);
    op.pad_amounts.push_back(pads[d + r]);
    out[d] += pads[d] + pads[d + r];
  }
  return EmitAs(op, "pad", In(node, 0), out);
}

}  // namespace ringo::convert
