// What an ONNX node and its tensor types say: attributes and element types.
#include <onnx/onnx_pb.h>

#include "convert/importer.h"

namespace ringo::convert {

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& node, std::string_view name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

int64_t AttrInt(const onnx::NodeProto& node, std::string_view name, int64_t def) {
  const auto* a = FindAttr(node, name);
  return a ? a->i() : def;
}

float AttrFloat(const onnx::NodeProto& node, std::string_view name, float def) {
  const auto* a = FindAttr(node, name);
  return a ? a->f() : def;
}

std::string AttrString(const onnx::NodeProto& node, std::string_view name, std::string def) {
  const auto* a = FindAttr(node, name);
  return a ? a->s() : def;
}

std::vector<int64_t> AttrInts(const onnx::NodeProto& node, std::string_view name,
                              std::vector<int64_t> def) {
  const auto* a = FindAttr(node, name);
  if (!a) return def;
  return {a->ints().begin(), a->ints().end()};
}

bool ElementType(int32_t onnx_type, DType* dtype) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::DOUBLE:  // computed in float32, as Core ML would
      *dtype = DType::kFloat;
      return true;
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT64:  // Core ML's integers are int32
      *dtype = DType::kInt;
      return true;
    case onnx::TensorProto::BOOL:
      *dtype = DType::kBool;
      return true;
    default:
      return false;
  }
}

}  // namespace ringo::convert
