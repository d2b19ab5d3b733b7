// Fully connected layers, matrix products and the four arithmetic ops with Core ML layers.
#include <onnx/onnx_pb.h>

#include "convert/importer.h"

namespace ringo::convert {

// Gemm with a constant B and plain A (LowerTensorOp takes the other forms) as Core ML's linear
// layer, alpha and beta folded into its weights and bias.
Status Importer::LowerLinear(const onnx::NodeProto& node, Op& op) {
  std::string x = In(node, 0);
  Shape xs = InputShape(node, 0);
  if (xs.size() != 2) return Fail(node, "A must be a matrix");
  if (AttrInt(node, "transA", 0) != 0) return Fail(node, "transA=1 is not supported");
  const Constant* b = Peek(In(node, 1));
  if (!b || b->shape.size() != 2 || b->is_int) return Fail(node, "B must be a constant matrix");
  float alpha = AttrFloat(node, "alpha", 1.0f), beta = AttrFloat(node, "beta", 1.0f);
  Shape b_shape = b->shape;
  // Core ML wants [out, in]: ONNX transB=1 already is; otherwise transpose.
  const bool trans_b = AttrInt(node, "transB", 0) != 0;
  op.weight = trans_b ? TakeWeight(In(node, 1)) : Transposed(*ConstOf(In(node, 1)), {1, 0});
  if (op.weight.shape[1] != xs[1]) {
    return Fail(node, "B " + ShapeToString(b_shape) + " does not fit A " + ShapeToString(xs));
  }
  if (alpha != 1.0f) {
    op.weight.Load();
    for (float& v : op.weight.f) v *= alpha;
  }
  int64_t n_out = op.weight.shape[0];
  if (!In(node, 2).empty()) {
    const Constant* c = ConstOf(In(node, 2));
    if (!c || c->is_int) return Fail(node, "C must be a constant");
    if (c->size() != 1 && c->size() != n_out) {
      return Fail(node, "C " + ShapeToString(c->shape) + " is not a per-output bias");
    }
    op.bias = Constant::Floats({n_out}, std::vector<float>(n_out));
    for (int64_t k = 0; k < n_out; ++k) {
      op.bias.f[k] = beta * c->f[c->size() == 1 ? 0 : k];
    }
    op.has_bias = true;
  }
  return EmitAs(op, "linear", x, {xs[0], n_out});
}

void Importer::BindOperands(const onnx::NodeProto& node, Op& op) {
  std::string x = In(node, 0), y = In(node, 1);
  const Constant* x_const = ConstOf(x);
  const Constant* y_const = ConstOf(y);
  if (x_const || y_const) {
    op.operand = x_const ? *x_const : *y_const;
    op.operand_index = x_const ? 0 : 1;
    op.inputs = {x_const ? y : x};
  } else {
    op.inputs = {x, y};
  }
}

Status Importer::LowerMatMul(const onnx::NodeProto& node, Op& op) {
  std::string x = In(node, 0), y = In(node, 1);
  Shape xs = InputShape(node, 0);
  const Constant* x_const = ConstOf(x);
  const Constant* b = ConstOf(y);
  if (x_const && b) return Fail(node, "constant MatMul is not folded");
  if (b && b->shape.size() == 2 && !b->is_int && !xs.empty() && xs.back() == b->shape[0]) {
    op.weight = Transposed(*b, {1, 0});
    Shape out = xs;
    out.back() = b->shape[1];
    return EmitAs(op, "linear", x, out);
  }
  Shape a = xs, bs = ShapeOf(y);
  if (a.size() < 2 || bs.size() < 2 || a.back() != bs[bs.size() - 2]) {
    return Fail(node, "shapes " + ShapeToString(a) + " and " + ShapeToString(bs) +
                          " do not multiply (rank >= 2 required)");
  }
  auto batch = BroadcastShapes(Shape(a.begin(), a.end() - 2), Shape(bs.begin(), bs.end() - 2));
  if (!batch.ok()) return Fail(node, batch.status().message());
  Shape out = *batch;
  out.push_back(a[a.size() - 2]);
  out.push_back(bs.back());
  op.type = "matmul";
  BindOperands(node, op);
  Emit(std::move(op), out);
  return Status::Ok();
}

Status Importer::LowerArithmetic(const onnx::NodeProto& node, Op& op) {
  const std::string& t = node.op_type();
  std::string x = In(node, 0), y = In(node, 1);
  if (!graph_.shapes.count(y)) return Fail(node, "input '" + y + "' has no known shape");
  auto shape = BroadcastShapes(InputShape(node, 0), ShapeOf(y));
  if (!shape.ok()) return Fail(node, shape.status().message());
  static const std::map<std::string, std::string> kTypes = {
      {"Add", "add"}, {"Sub", "sub"}, {"Mul", "mul"}, {"Div", "div"}};
  op.type = kTypes.at(t);
  if (TypeOf(x) != DType::kFloat || TypeOf(y) != DType::kFloat) {
    if (TypeOf(x) != DType::kInt || TypeOf(y) != DType::kInt || t == "Div") {
      return Fail(node, "only Add, Sub and Mul of two integer tensors are supported");
    }
    std::string mil = op.type;
    return EmitGeneric(node, std::move(op), mil, {x, y}, {"x", "y"}, *shape, DType::kInt);
  }
  BindOperands(node, op);
  Emit(std::move(op), *shape);
  return Status::Ok();
}

}  // namespace ringo::convert
