// ONNX indexing, shape and type ops and normalizations lowered to ML Program ops.
#include <algorithm>
#include <cmath>

#include "convert/importer.h"

namespace ringo::convert {

Status Importer::LowerTensorOp(const onnx::NodeProto& node, Op& op, bool* handled) {
  (void)node;
  (void)op;
  *handled = false;
  return Status::Ok();
}

Status Importer::LowerNormalization(const onnx::NodeProto& node, Op& op, bool* handled) {
  (void)node;
  (void)op;
  *handled = false;
  return Status::Ok();
}

}  // namespace ringo::convert
