// ONNX ConvTranspose (2-D) as the convolution it equals: the input with stride - 1 zeros
// inserted between its pixels, padded by dilation * (kernel - 1) - pads, convolved with the kernel
// flipped and its channel axes swapped per group. Exact, and only ops the evaluator runs.
#include "convert/importer.h"

namespace ringo::convert {

namespace {

// W' [C_out, C_in/g, kH, kW] from ONNX's W [C_in, C_out/g, kH, kW], spatially flipped.
Constant FlippedWeights(const Constant& w, int64_t groups) {
  const int64_t c_in = w.shape[0], cog = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  const int64_t cig = c_in / groups;
  Constant out = Constant::Floats({cog * groups, cig, kh, kw}, std::vector<float>(w.f.size()));
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t i = 0; i < cig; ++i) {
      for (int64_t o = 0; o < cog; ++o) {
        for (int64_t y = 0; y < kh; ++y) {
          for (int64_t x = 0; x < kw; ++x) {
            const float v = w.f[(((g * cig + i) * cog + o) * kh + y) * kw + x];
            out.f[(((g * cog + o) * cig + i) * kh + (kh - 1 - y)) * kw + (kw - 1 - x)] = v;
          }
        }
      }
    }
  }
  return out;
}

}  // namespace

Status Importer::LowerConvTranspose(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  const Shape xs = ShapeOf(x);
  const Constant* w = ConstOf(In(node, 1));
  if (!w || w->is_int) return Fail(node, "weights must be a constant (initializer)");
  if (xs.size() != 4 || w->shape.size() != 4) {
    return Fail(node, "only 2-D transposed convolution on [N, C, H, W] is supported");
  }
  const int64_t groups = AttrInt(node, "group", 1);
  if (groups < 1 || w->shape[0] != xs[1] || xs[1] % groups != 0) {
    return Fail(node, "weights " + ShapeToString(w->shape) + " do not fit input " +
                          ShapeToString(xs) + " with group " + std::to_string(groups));
  }
  const std::vector<int64_t> k = {w->shape[2], w->shape[3]};
  const auto strides = AttrInts(node, "strides", {1, 1});
  const auto dilations = AttrInts(node, "dilations", {1, 1});
  const auto extra = AttrInts(node, "output_padding", {0, 0});
  auto pads = AttrInts(node, "pads", {0, 0, 0, 0});
  const auto output_shape = AttrInts(node, "output_shape", {});
  const std::string auto_pad = AttrString(node, "auto_pad", "NOTSET");
  if (strides.size() != 2 || dilations.size() != 2 || extra.size() != 2 || pads.size() != 4) {
    return Fail(node, "strides, dilations, output_padding and pads must be 2-D");
  }
  for (int d = 0; d < 2; ++d) {
    const int64_t in = xs[2 + d], span = (k[d] - 1) * dilations[d] + 1;
    if (strides[d] < 1 || dilations[d] < 1) return Fail(node, "strides must be positive");
    int64_t want = -1;
    if (!output_shape.empty()) want = output_shape[output_shape.size() - 2 + d];
    if (want < 0 && (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER")) want = in * strides[d];
    if (want >= 0) {
      const int64_t total = strides[d] * (in - 1) + extra[d] + span - want;
      const bool upper = auto_pad == "SAME_UPPER";
      pads[d] = upper ? total / 2 : total - total / 2;
      pads[d + 2] = upper ? total - total / 2 : total / 2;
    }
  }
  std::string cur = x;
  Shape shape = xs;
  for (int d = 0; d < 2; ++d) {
    if (strides[d] == 1) continue;
    // Zeros between pixels along axis 2 + d: each row (column) read `stride` times by a gather,
    // all copies but the first zeroed by a 0/1 mask. Gather and mul are written by both
    // formats (a NeuralNetwork has no layer for the rank-6 padding this once was).
    const int64_t n = (xs[2 + d] - 1) * strides[d] + 1;
    std::vector<int64_t> index(n);
    std::vector<float> keep(n);
    for (int64_t i = 0; i < n; ++i) {
      index[i] = i / strides[d];
      keep[i] = i % strides[d] == 0 ? 1.0f : 0.0f;
    }
    shape[2 + d] = n;
    Shape along = {1, 1, 1, 1};
    along[2 + d] = n;
    std::string idx = AddConst(node, "index", Constant::Ints({n}, index));
    cur = Step(node, "gather", {cur, idx}, {"x", "indices"}, {{"axis", Param::Int(2 + d)}}, shape,
               DType::kFloat);
    std::string mask = AddConst(node, "mask", Constant::Floats(along, keep));
    cur = Step(node, "mul", {cur, mask}, {"x", "y"}, {}, shape, DType::kFloat);
  }
  op.type = "conv";
  op.kernel = k;
  op.strides = {1, 1};
  op.dilations = dilations;
  op.groups = groups;
  op.pads.assign(4, 0);
  Shape out = {xs[0], w->shape[1] * groups, 0, 0};
  for (int d = 0; d < 2; ++d) {
    const int64_t edge = (k[d] - 1) * dilations[d];
    op.pads[d] = edge - pads[d];
    op.pads[d + 2] = edge - pads[d + 2] + extra[d];
    if (op.pads[d] < 0 || op.pads[d + 2] < 0) {
      return Fail(node, "pads larger than the dilated kernel are not supported");
    }
    out[2 + d] = shape[2 + d] + op.pads[d] + op.pads[d + 2] - edge;
    if (out[2 + d] <= 0) return Fail(node, "the result is empty");
  }
  op.weight = FlippedWeights(*w, groups);
  if (const Constant* b = ConstOf(In(node, 2))) {
    if (b->size() != out[1]) return Fail(node, "bias length does not match the weights");
    op.bias = *b;
    op.has_bias = true;
  } else if (!In(node, 2).empty()) {
    return Fail(node, "bias must be a constant");
  }
  op.inputs = {cur};
  Emit(std::move(op), out);
  return Status::Ok();
}

}  // namespace ringo::convert
