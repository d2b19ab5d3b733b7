// Convolution, pooling and batch normalisation: the image ops with a Core ML layer of their own.
#include <onnx/onnx_pb.h>

#include "convert/importer.h"

namespace ringo::convert {

Status Importer::LowerConv(const onnx::NodeProto& node, Op& op) {
  op.type = "conv";
  std::string x = In(node, 0);
  const Shape& xs = ShapeOf(x);
  const Constant* w = Peek(In(node, 1));
  if (!w) return Fail(node, "weights must be a constant (initializer)");
  if (xs.size() != 4 || w->shape.size() != 4) {
    return Fail(node,
                "only 2-D convolution on [N, C, H, W] is supported, input is " + ShapeToString(xs));
  }
  op.groups = AttrInt(node, "group", 1);
  if (op.groups < 1 || w->shape[1] * op.groups != xs[1] || w->shape[0] % op.groups != 0) {
    return Fail(node, "weights " + ShapeToString(w->shape) + " do not fit input " +
                          ShapeToString(xs) + " with group " + std::to_string(op.groups));
  }
  op.kernel = {w->shape[2], w->shape[3]};
  op.strides = AttrInts(node, "strides", {1, 1});
  op.dilations = AttrInts(node, "dilations", {1, 1});
  op.pads = AttrInts(node, "pads", {0, 0, 0, 0});
  if (op.strides.size() != 2 || op.dilations.size() != 2 || op.pads.size() != 4) {
    return Fail(node, "strides, dilations and pads must be 2-D");
  }
  for (int64_t v : op.strides) {
    if (v < 1) return Fail(node, "strides must be positive");
  }
  std::string auto_pad = AttrString(node, "auto_pad", "NOTSET");
  Shape out = {xs[0], w->shape[0], 0, 0};
  for (int d = 0; d < 2; ++d) {
    int64_t in = xs[2 + d], s = op.strides[d], k_eff = (op.kernel[d] - 1) * op.dilations[d] + 1;
    RETURN_IF_ERROR(ResolveAutoPad(node, auto_pad, d, in, s, k_eff, &op.pads));
    int64_t span = in + op.pads[d] + op.pads[d + 2] - k_eff;
    if (span < 0) return Fail(node, "kernel larger than the padded input");
    out[2 + d] = span / s + 1;
  }
  op.inputs = {x};
  if (const Constant* b = ConstOf(In(node, 2))) {
    if (b->size() != w->shape[0]) return Fail(node, "bias length does not match the weights");
    op.bias = Take(In(node, 2));
    op.has_bias = true;
  } else if (!In(node, 2).empty()) {
    return Fail(node, "bias must be a constant");
  }
  op.weight = TakeWeight(In(node, 1));
  Emit(std::move(op), out);
  return Status::Ok();
}

Status Importer::LowerPool(const onnx::NodeProto& node, Op& op) {
  op.type = node.op_type() == "MaxPool" ? "max_pool" : "avg_pool";
  std::string x = In(node, 0);
  const Shape& xs = ShapeOf(x);
  if (xs.size() != 4) return Fail(node, "only 2-D pooling on [N, C, H, W] is supported");
  if (node.output_size() > 1 && !node.output(1).empty()) {
    return Fail(node, "the Indices output is not supported");
  }
  op.kernel = AttrInts(node, "kernel_shape", {});
  op.strides = AttrInts(node, "strides", {1, 1});
  op.pads = AttrInts(node, "pads", {0, 0, 0, 0});
  std::vector<int64_t> dil = AttrInts(node, "dilations", {1, 1});
  if (op.kernel.size() != 2 || op.strides.size() != 2 || op.pads.size() != 4) {
    return Fail(node, "kernel_shape, strides and pads must be 2-D");
  }
  if (dil != std::vector<int64_t>{1, 1}) return Fail(node, "dilated pooling is not supported");
  op.ceil_mode = AttrInt(node, "ceil_mode", 0) != 0;
  op.exclude_padding = AttrInt(node, "count_include_pad", 0) == 0;
  std::string auto_pad = AttrString(node, "auto_pad", "NOTSET");
  Shape out = {xs[0], xs[1], 0, 0};
  for (int d = 0; d < 2; ++d) {
    int64_t in = xs[2 + d], s = op.strides[d], k = op.kernel[d];
    if (s < 1 || k < 1) return Fail(node, "kernel and strides must be positive");
    RETURN_IF_ERROR(ResolveAutoPad(node, auto_pad, d, in, s, k, &op.pads));
    if (in + op.pads[d] + op.pads[d + 2] < k) return Fail(node, "kernel larger than the input");
    out[2 + d] = PoolOut(in, k, s, op.pads[d], op.pads[d + 2], op.ceil_mode);
  }
  op.inputs = {x};
  Emit(std::move(op), out);
  return Status::Ok();
}

Status Importer::LowerGlobalAveragePool(const onnx::NodeProto& node, Op& op) {
  Shape xs = InputShape(node, 0);
  if (xs.size() != 4) return Fail(node, "input must be [N, C, H, W]");
  return EmitAs(op, "global_avg_pool", In(node, 0), {xs[0], xs[1], 1, 1});
}

Status Importer::LowerBatchNorm(const onnx::NodeProto& node, Op& op) {
  Shape xs = InputShape(node, 0);
  for (int k = 1; k < node.output_size(); ++k) {
    if (!node.output(k).empty()) return Fail(node, "training outputs are not supported");
  }
  if (AttrInt(node, "training_mode", 0) != 0) return Fail(node, "training_mode is set");
  if (xs.size() < 2) return Fail(node, "input rank must be at least 2");
  Constant* parts[4] = {&op.gamma, &op.beta, &op.mean, &op.variance};
  for (int k = 0; k < 4; ++k) {
    const Constant* c = ConstOf(In(node, k + 1));
    if (!c || c->size() != xs[1] || c->is_int) {
      return Fail(node, "scale, bias, mean and variance must be constant vectors of length " +
                            std::to_string(xs[1]));
    }
    *parts[k] = Take(In(node, k + 1));
  }
  op.epsilon = AttrFloat(node, "epsilon", 1e-5f);
  return EmitAs(op, "batch_norm", In(node, 0), xs);
}

}  // namespace ringo::convert
