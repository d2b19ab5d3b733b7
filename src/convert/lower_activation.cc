// Activations and one-axis softmax: the element-wise ops with a Core ML layer of their own.
#include <onnx/onnx_pb.h>

#include <cmath>
#include <limits>

#include "convert/importer.h"

namespace ringo::convert {

Status Importer::LowerActivation(const onnx::NodeProto& node, Op& op) {
  static const std::map<std::string, std::string> kTypes = {
      {"Relu", "relu"},           {"Sigmoid", "sigmoid"},         {"Tanh", "tanh"},
      {"HardSwish", "hard_swish"}, {"LeakyRelu", "leaky_relu"}, {"HardSigmoid", "hard_sigmoid"}};
  const std::string& t = node.op_type();
  if (t == "LeakyRelu") op.alpha = AttrFloat(node, "alpha", 0.01f);
  if (t == "HardSigmoid") {
    op.alpha = AttrFloat(node, "alpha", 0.2f);
    op.beta_value = AttrFloat(node, "beta", 0.5f);
  }
  return EmitLike(node, op, kTypes.at(t));
}

Status Importer::LowerClip(const onnx::NodeProto& node, Op& op) {
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (FindAttr(node, "min") || FindAttr(node, "max")) {  // the attribute form before opset 11
    lo = AttrFloat(node, "min", lo);
    hi = AttrFloat(node, "max", hi);
  }
  for (int k = 1; k <= 2; ++k) {
    std::string b = In(node, k);
    if (b.empty()) continue;
    const Constant* c = ConstOf(b);
    if (!c || c->size() != 1) return Fail(node, "min and max must be constant scalars");
    (k == 1 ? lo : hi) = static_cast<float>(c->at(0));
  }
  if (lo == 0.0f && std::isinf(hi)) return EmitLike(node, op, "relu");
  op.alpha = lo;
  op.beta_value = hi;
  return EmitLike(node, op, "clip");
}

Status Importer::LowerSoftmax(const onnx::NodeProto& node, Op& op) {
  std::string x = In(node, 0);
  Shape xs = InputShape(node, 0);
  auto axis = NormalizeAxis(AttrInt(node, "axis", op_version_ < 13 ? 1 : -1), xs.size());
  if (!axis.ok()) return Fail(node, axis.status().message());
  // Before opset 13 Softmax normalises over all axes from `axis` on; that equals a softmax
  // over `axis` only when the axes after it have size 1.
  if (op_version_ < 13) {
    for (size_t d = *axis + 1; d < xs.size(); ++d) {
      if (xs[d] != 1) return Fail(node, "softmax over several axes is not supported");
    }
  }
  op.axis = *axis;
  return EmitAs(op, "softmax", x, xs);
}

}  // namespace ringo::convert
