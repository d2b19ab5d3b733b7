// ONNX Resize and Upsample as exact ML Program compositions: for each resized axis, the source
// indices and weights of every output position are computed here (ONNX's coordinate transforms,
// nearest rounding, linear and cubic kernels), and the op becomes gathers along that axis
// scaled by constant weights and summed.
#include <algorithm>
#include <cmath>

#include "convert/importer.h"

namespace ringo::convert {

namespace {

struct Taps {
  std::vector<std::vector<int64_t>> index;  // [tap][output position], clamped to the input
  std::vector<std::vector<float>> weight;   // [tap][output position]
};

struct ResizeMode {
  std::string mode = "nearest";                 // nearest | linear | cubic
  std::string transform = "half_pixel";         // coordinate_transformation_mode
  std::string nearest = "round_prefer_floor";   // nearest_mode
  double cubic_a = -0.75;
  bool exclude_outside = false;
};

double SourceCoordinate(const ResizeMode& m, int64_t x, int64_t in, int64_t out, double scale) {
  if (m.transform == "align_corners") return out == 1 ? 0.0 : double(x) * (in - 1) / (out - 1);
  if (m.transform == "asymmetric") return x / scale;
  if (m.transform == "pytorch_half_pixel") return out == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (m.transform == "tf_half_pixel_for_nearest") return (x + 0.5) / scale;
  return (x + 0.5) / scale - 0.5;  // half_pixel
}

// The kernel's coefficients for the neighbours left of x (ratio in (0, 1]).
std::vector<double> Coefficients(const ResizeMode& m, double ratio, bool integer) {
  if (m.mode == "nearest") {
    if (integer) return {0, 1};
    if (m.nearest == "round_prefer_ceil") return {double(ratio < 0.5), double(ratio >= 0.5)};
    if (m.nearest == "floor") return {1, 0};
    if (m.nearest == "ceil") return {0, 1};
    return {double(ratio <= 0.5), double(ratio > 0.5)};
  }
  if (m.mode == "linear") return {1 - ratio, ratio};
  const double a = m.cubic_a, r = ratio, s = 1 - ratio;
  return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
          ((a + 2) * r - (a + 3)) * r * r + 1, ((a + 2) * s - (a + 3)) * s * s + 1,
          ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a};
}

Taps AxisTaps(const ResizeMode& m, int64_t in, int64_t out, double scale) {
  const size_t n = m.mode == "cubic" ? 4 : 2;
  Taps t;
  t.index.assign(n, std::vector<int64_t>(out));
  t.weight.assign(n, std::vector<float>(out));
  for (int64_t x = 0; x < out; ++x) {
    const double src = SourceCoordinate(m, x, in, out, scale);
    const double lo = std::floor(src);
    const bool integer = src == lo;
    // The n nearest positions, the left one preferred: src sits between taps n/2-1 and n/2.
    const double ratio = integer ? 1.0 : src - lo;
    const int64_t left = static_cast<int64_t>(integer ? lo - 1 : lo);
    const int64_t first = left - static_cast<int64_t>(n / 2 - 1);
    std::vector<double> c = Coefficients(m, ratio, integer);
    if (m.exclude_outside) {
      double sum = 0;
      for (size_t k = 0; k < n; ++k) {
        int64_t i = first + static_cast<int64_t>(k);
        if (i < 0 || i >= in) c[k] = 0;
        sum += c[k];
      }
      for (double& v : c) v /= sum;
    }
    for (size_t k = 0; k < n; ++k) {
      t.index[k][x] = std::clamp<int64_t>(first + static_cast<int64_t>(k), 0, in - 1);
      t.weight[k][x] = static_cast<float>(c[k]);
    }
  }
  return t;
}

}  // namespace

Status Importer::LowerResize(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  const Shape xs = ShapeOf(x);
  const size_t rank = xs.size();
  if (TypeOf(x) != DType::kFloat) return Fail(node, "the input must be a float tensor");
  ResizeMode m;
  m.mode = AttrString(node, "mode", "nearest");
  const bool legacy = node.op_type() == "Upsample" || op_version_ < 11;
  if (legacy) {
    m.transform = "asymmetric";  // what Upsample and Resize-10 compute
    m.nearest = "floor";
  } else {
    m.transform = AttrString(node, "coordinate_transformation_mode", "half_pixel");
    m.nearest = AttrString(node, "nearest_mode", "round_prefer_floor");
    m.cubic_a = AttrFloat(node, "cubic_coeff_a", -0.75f);
    m.exclude_outside = AttrInt(node, "exclude_outside", 0) != 0;
  }
  if (m.mode != "nearest" && m.mode != "linear" && m.mode != "cubic") {
    return Fail(node, "mode '" + m.mode + "' is not supported");
  }
  if (m.transform == "tf_crop_and_resize") return Fail(node, "tf_crop_and_resize is not supported");
  // Scales: an attribute (Upsample-7), input 1 (Upsample-9, Resize-10) or input 2; else sizes.
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (const auto* a = FindAttr(node, "scales")) {
    for (float v : a->floats()) scales.push_back(v);
  }
  const int scales_input = legacy ? 1 : 2;
  if (scales.empty() && !In(node, scales_input).empty()) {
    const Constant* c = ConstOf(In(node, scales_input));
    if (!c) return Fail(node, "scales must be a constant");
    for (int64_t k = 0; k < c->size(); ++k) scales.push_back(c->at(k));
  }
  if (!legacy && !In(node, 3).empty()) {
    const Constant* c = ConstOf(In(node, 3));
    if (!c) return Fail(node, "sizes must be a constant");
    for (int64_t k = 0; k < c->size(); ++k) sizes.push_back(c->int_at(k));
  }
  Shape out = xs;
  if (!sizes.empty()) {
    if (sizes.size() != rank) return Fail(node, "sizes need one value per axis");
    scales.clear();
    for (size_t d = 0; d < rank; ++d) {
      out[d] = sizes[d];
      scales.push_back(double(sizes[d]) / double(xs[d]));
    }
  } else {
    if (scales.size() != rank) return Fail(node, "scales need one value per axis");
    for (size_t d = 0; d < rank; ++d) out[d] = static_cast<int64_t>(scales[d] * xs[d]);
  }
  std::string cur = x;
  Shape shape = xs;
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == xs[d] && scales[d] == 1.0) continue;
    if (out[d] <= 0) return Fail(node, "the result is empty");
    Taps taps = AxisTaps(m, xs[d], out[d], scales[d]);
    shape[d] = out[d];
    Shape along(rank, 1);
    along[d] = out[d];
    std::string sum;
    for (size_t k = 0; k < taps.index.size(); ++k) {
      bool unused = true;
      for (float w : taps.weight[k]) unused = unused && w == 0.0f;
      if (unused) continue;
      std::string idx = AddConst(node, "index", Constant::Ints({out[d]}, taps.index[k]));
      std::string g = Step(node, "gather", {cur, idx}, {"x", "indices"},
                           {{"axis", Param::Int(static_cast<int64_t>(d))}}, shape, DType::kFloat);
      bool ones = true;
      for (float w : taps.weight[k]) ones = ones && w == 1.0f;
      if (!ones) {
        std::string w = AddConst(node, "weight", Constant::Floats(along, taps.weight[k]));
        g = Step(node, "mul", {g, w}, {"x", "y"}, {}, shape, DType::kFloat);
      }
      sum = sum.empty() ? g : Step(node, "add", {sum, g}, {"x", "y"}, {}, shape, DType::kFloat);
    }
    cur = sum;
  }
  return EmitGeneric(node, std::move(op), "identity", {cur}, {"x"}, shape, DType::kFloat);
}

}  // namespace ringo::convert
