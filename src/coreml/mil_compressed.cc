// iOS 16's compressed weights in the ML Program evaluator: the constexpr_* ops.
#include <algorithm>
#include <cmath>

#include "coreml/evaluate_mil.h"

namespace ringo::coreml::internal {

using kernels::ShapeString;

Result<MilValue> OpRunner::Decompressed(std::vector<float> data, std::vector<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n != static_cast<int64_t>(data.size())) {
    return InvalidArgument(what_ + " yields " + std::to_string(data.size()) +
                           " values for shape " + ShapeString(shape));
  }
  Tensor t;
  t.shape = std::move(shape);
  t.data = std::move(data);
  MilValue v = Float(std::move(t));
  if (v.type == mil::FLOAT16) {
    for (float& f : v.t.data) f = RoundToHalf(f);
  }
  return v;
}

Result<std::vector<MilValue>> OpRunner::AffineDequantize() {
  ASSIGN_OR_RETURN(const MilValue* q, Required("quantized_data"));
  ASSIGN_OR_RETURN(const MilValue* zp, Required("zero_point"));
  ASSIGN_OR_RETURN(const MilValue* scale, Required("scale"));
  ASSIGN_OR_RETURN(std::vector<int64_t> axis_v, Ints("axis", std::vector<int64_t>{0}));
  if (axis_v.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
  ASSIGN_OR_RETURN(int64_t axis, Axis(axis_v[0], q->t.shape.size(), what_));
  const int64_t channels = q->t.shape[axis];
  int64_t inner = 1;
  for (size_t d = axis + 1; d < q->t.shape.size(); ++d) inner *= q->t.shape[d];
  for (const MilValue* p : {zp, scale}) {
    if (p->t.size() != 1 && p->t.size() != channels) {
      return InvalidArgument(what_ + ": scale and zero_point need 1 or " +
                             std::to_string(channels) + " values");
    }
  }
  std::vector<float> out(q->t.data.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t c = static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels);
    const float s = scale->t.data[scale->t.data.size() == 1 ? 0 : c];
    const float z = zp->t.data[zp->t.data.size() == 1 ? 0 : c];
    out[i] = s * (q->t.data[i] - z);
  }
  ASSIGN_OR_RETURN(MilValue v, Decompressed(std::move(out), q->t.shape));
  return One(std::move(v));
}

uint32_t OpRunner::Bits(const std::vector<float>& bytes, size_t first_bit, int count) {
  uint32_t v = 0;
  for (int b = 0; b < count; ++b) {
    size_t bit = first_bit + b;
    uint32_t byte = static_cast<uint32_t>(bytes[bit / 8]);
    v |= ((byte >> (bit % 8)) & 1u) << b;
  }
  return v;
}

Result<std::vector<MilValue>> OpRunner::LutToDense() {
  ASSIGN_OR_RETURN(const MilValue* indices, Required("indices"));
  ASSIGN_OR_RETURN(const MilValue* lut, Required("lut"));
  ASSIGN_OR_RETURN(std::vector<int64_t> shape, Ints("shape", std::nullopt));
  const size_t k = lut->t.data.size();
  int bits = 0;
  while ((size_t{1} << bits) < k) ++bits;
  const bool width_ok = bits == 1 || bits == 2 || bits == 4 || bits == 6 || bits == 8;
  if ((size_t{1} << bits) != k || !width_ok) {
    return InvalidArgument(what_ + ": the lookup table has " + std::to_string(k) + " entries");
  }
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (static_cast<int64_t>(indices->t.data.size()) != (n * bits + 7) / 8) {
    return InvalidArgument(what_ + ": " + std::to_string(indices->t.data.size()) +
                           " index bytes for " + std::to_string(n) + " values");
  }
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = lut->t.data[Bits(indices->t.data, i * bits, bits)];
  ASSIGN_OR_RETURN(MilValue v, Decompressed(std::move(out), shape));
  return One(std::move(v));
}

Result<std::vector<MilValue>> OpRunner::SparseToDense() {
  ASSIGN_OR_RETURN(const MilValue* data, Required("nonzero_data"));
  ASSIGN_OR_RETURN(const MilValue* mask, Required("mask"));
  ASSIGN_OR_RETURN(std::vector<int64_t> shape, Ints("shape", std::nullopt));
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (static_cast<int64_t>(mask->t.data.size()) != (n + 7) / 8) {
    return InvalidArgument(what_ + ": the mask does not fit shape " + ShapeString(shape));
  }
  std::vector<float> out(static_cast<size_t>(n), 0.0f);
  size_t next = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!Bits(mask->t.data, i, 1)) continue;
    if (next >= data->t.data.size()) {
      return InvalidArgument(what_ + ": the mask has more set bits than nonzero_data values");
    }
    out[i] = data->t.data[next++];
  }
  if (next != data->t.data.size()) {
    return InvalidArgument(what_ + ": nonzero_data has values the mask does not place");
  }
  ASSIGN_OR_RETURN(MilValue v, Decompressed(std::move(out), shape));
  return One(std::move(v));
}

}  // namespace ringo::coreml::internal
