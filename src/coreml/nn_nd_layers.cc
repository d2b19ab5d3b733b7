// The NeuralNetwork evaluator's layers for EXACT_ARRAY_MAPPING networks: blobs keep their rank.
#include <algorithm>
#include <cmath>

#include <optional>

#include "coreml/evaluate_mil.h"
#include "coreml/evaluate_nn.h"
#include "coreml/kernels.h"

namespace ringo::coreml::internal {

namespace {

using kernels::ShapeString;
using L = spec::NeuralNetworkLayer;

// A possibly negative axis of a rank-`rank` blob, made non-negative.
Result<int64_t> NdAxis(const spec::NeuralNetworkLayer& layer, int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    return InvalidArgument(LayerName(layer) + ": axis " + std::to_string(axis) +
                           " is out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + r : axis;
}

// The layers of earlier specs run on rank-5 blobs whose axes count from the end; a blob of
// rank <= 5 is given leading unit axes for them and keeps its rank. Element-wise layers take
// a blob of any rank.
Result<Tensor> Legacy(const spec::NeuralNetworkLayer& layer, const std::vector<const Tensor*>& in) {
  const bool elementwise = layer.layer_case() == L::kActivation ||
                           layer.layer_case() == L::kUnary || layer.layer_case() == L::kAdd ||
                           layer.layer_case() == L::kMultiply;
  const std::vector<int64_t> shape = in[0]->shape;
  std::vector<Tensor> padded;
  for (const Tensor* t : in) {
    if (t->shape != shape) {
      return InvalidArgument(LayerName(layer) + " joins blobs of shapes " + ShapeString(shape) +
                             " and " + ShapeString(t->shape));
    }
    Tensor p = *t;
    if (elementwise) {
      p.shape = {1, 1, p.size(), 1, 1};
    } else if (shape.size() <= 5) {
      p.shape.insert(p.shape.begin(), 5 - shape.size(), 1);
    } else {
      return InvalidArgument(LayerName(layer) + " takes blobs of rank <= 5, not " +
                             ShapeString(shape));
    }
    padded.push_back(std::move(p));
  }
  std::vector<const Tensor*> args;
  for (const Tensor& t : padded) args.push_back(&t);
  ASSIGN_OR_RETURN(Tensor out, RunLayer(layer, args));
  if (elementwise) {
    out.shape = shape;
    return out;
  }
  // Spatial layers change only C, H and W; the leading unit axes go again.
  const size_t drop = 5 - shape.size();
  out.shape.erase(out.shape.begin(), out.shape.begin() + static_cast<int64_t>(drop));
  return out;
}

// Offsets of the matrices of a batch of matrix products: shape `batch` broadcast from `from`.
std::vector<int64_t> BatchOffsets(const std::vector<int64_t>& from,
                                  const std::vector<int64_t>& batch, int64_t matrix) {
  std::vector<int64_t> padded(batch.size() - from.size(), 1);
  padded.insert(padded.end(), from.begin(), from.end());
  const std::vector<int64_t> strides = kernels::Strides(padded);
  std::vector<int64_t> offsets, index(batch.size(), 0);
  do {
    int64_t off = 0;
    for (size_t d = 0; d < batch.size(); ++d) {
      if (padded[d] != 1) off += index[d] * strides[d];
    }
    offsets.push_back(off * matrix);
  } while (kernels::Next(&index, batch));
  return offsets;
}

Tensor SwapLastTwo(const Tensor& x) {
  std::vector<int64_t> perm(x.shape.size());
  for (size_t d = 0; d < perm.size(); ++d) perm[d] = static_cast<int64_t>(d);
  std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
  return kernels::Transpose(x, perm);
}

Result<Tensor> BatchedMatMul(const spec::NeuralNetworkLayer& layer,
                             const std::vector<const Tensor*>& in) {
  const spec::BatchedMatMulLayerParams& p = layer.batchedmatmul();
  if (in.size() == 1) {
    const Tensor& x = *in[0];
    const int64_t k = static_cast<int64_t>(p.weightmatrixfirstdimension());
    const int64_t n = static_cast<int64_t>(p.weightmatrixseconddimension());
    if (x.shape.empty() || x.shape.back() != k) {
      return InvalidArgument(LayerName(layer) + ": input " + ShapeString(x.shape) +
                             " does not end in weightMatrixFirstDimension " + std::to_string(k));
    }
    ASSIGN_OR_RETURN(std::vector<float> w, Weights(p.weights(), k * n, layer, "weights"));
    Tensor out;
    out.shape = x.shape;
    out.shape.back() = n;
    const int64_t rows = x.size() / k;
    out.data.resize(static_cast<size_t>(rows * n));
    // Column-major [K, N] is row-major [N, K]: the product reads it transposed.
    kernels::Gemm(x.data.data(), w.data(), out.data.data(), rows, n, k, false, true);
    if (p.hasbias()) {
      ASSIGN_OR_RETURN(std::vector<float> b, Weights(p.bias(), n, layer, "bias"));
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < n; ++j) out.data[r * n + j] += b[j];
      }
    }
    return out;
  }
  if (in.size() != 2) {
    return InvalidArgument(LayerName(layer) + " takes one or two inputs");
  }
  Tensor a = *in[0], b = *in[1];
  if (a.shape.empty() || b.shape.empty()) {
    return InvalidArgument(LayerName(layer) + " multiplies a rank-0 blob");
  }
  if (a.shape.size() == 1) a.shape.insert(a.shape.begin(), 1);
  if (b.shape.size() == 1) b.shape.push_back(1);
  if (p.transposea()) a = SwapLastTwo(a);
  if (p.transposeb()) b = SwapLastTwo(b);
  const int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back();
  const int64_t n = b.shape.back();
  if (b.shape[b.shape.size() - 2] != k) {
    return InvalidArgument(LayerName(layer) + " multiplies " + ShapeString(a.shape) + " by " +
                           ShapeString(b.shape));
  }
  std::vector<int64_t> ab(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> bb(b.shape.begin(), b.shape.end() - 2);
  ASSIGN_OR_RETURN(std::vector<int64_t> batch, kernels::BroadcastShape(ab, bb));
  std::vector<int64_t> ao = BatchOffsets(ab, batch, m * k), bo = BatchOffsets(bb, batch, k * n);
  Tensor out;
  out.shape = batch;
  out.shape.push_back(m);
  out.shape.push_back(n);
  out.data.resize(static_cast<size_t>(out.size()));
  for (size_t i = 0; i < ao.size(); ++i) {
    kernels::Gemm(a.data.data() + ao[i], b.data.data() + bo[i],
                  out.data.data() + static_cast<int64_t>(i) * m * n, m, n, k, false, false);
  }
  return out;
}

Result<Tensor> SliceStatic(const spec::NeuralNetworkLayer& layer, const Tensor& x) {
  const spec::SliceStaticLayerParams& p = layer.slicestatic();
  const size_t rank = x.shape.size();
  const auto sized = [&](int n) { return n == static_cast<int>(rank); };
  if (!sized(p.beginids_size()) || !sized(p.endids_size()) || !sized(p.strides_size()) ||
      !sized(p.beginmasks_size()) || !sized(p.endmasks_size()) ||
      (p.squeezemasks_size() != 0 && !sized(p.squeezemasks_size()))) {
    return InvalidArgument(LayerName(layer) + " needs one begin, end, stride and mask per axis");
  }
  std::vector<int64_t> begin(rank), end(rank), stride(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = x.shape[d], s = p.strides(static_cast<int>(d));
    if (s == 0) return InvalidArgument(LayerName(layer) + " has a zero stride");
    auto clamp = [&](int64_t v) {
      if (v < 0) v += n;
      return s > 0 ? std::clamp<int64_t>(v, 0, n) : std::clamp<int64_t>(v, -1, n - 1);
    };
    const int i = static_cast<int>(d);
    begin[d] = p.beginmasks(i) ? (s > 0 ? 0 : n - 1) : clamp(p.beginids(i));
    end[d] = p.endmasks(i) ? (s > 0 ? n : -1) : clamp(p.endids(i));
    stride[d] = s;
    if (p.squeezemasks_size() != 0 && p.squeezemasks(i)) {
      begin[d] = clamp(p.beginids(i));
      end[d] = begin[d] + 1;
      stride[d] = 1;
      if (begin[d] < 0 || begin[d] >= n) {
        return InvalidArgument(LayerName(layer) + " squeezes an index outside axis " +
                               std::to_string(d));
      }
    }
  }
  Tensor out = kernels::StridedSlice(x, begin, end, stride);
  if (p.squeezemasks_size() != 0) {
    std::vector<int64_t> kept;
    for (size_t d = 0; d < rank; ++d) {
      if (!p.squeezemasks(static_cast<int>(d))) kept.push_back(out.shape[d]);
    }
    out.shape = kept;
  }
  return out;
}

Result<Tensor> Gather(const spec::NeuralNetworkLayer& layer, const std::vector<const Tensor*>& in) {
  if (in.size() != 2) return InvalidArgument(LayerName(layer) + " takes data and indices");
  const Tensor& x = *in[0];
  ASSIGN_OR_RETURN(int64_t axis, NdAxis(layer, layer.gather().axis(), x.shape.size()));
  const int64_t n = x.shape[axis];
  std::vector<int64_t> indices;
  for (float v : in[1]->data) {
    int64_t i = static_cast<int64_t>(v);
    if (i < 0) i += n;
    if (i < 0 || i >= n || static_cast<float>(static_cast<int64_t>(v)) != v) {
      return InvalidArgument(LayerName(layer) + ": index " + std::to_string(v) +
                             " is outside an axis of " + std::to_string(n));
    }
    indices.push_back(i);
  }
  return kernels::Gather(x, indices, in[1]->shape, axis);
}

// A reduce* layer's parameters; kind empty for the mean.
struct ReduceParams {
  std::vector<int64_t> axes;
  bool keep = false;
  bool all = false;
  std::optional<kernels::ReduceKind> kind;
};

template <typename P>
ReduceParams ParamsOf(const P& p, std::optional<kernels::ReduceKind> kind) {
  return {{p.axes().begin(), p.axes().end()}, p.keepdims(), p.reduceall(), kind};
}

std::optional<ReduceParams> ReductionOf(const spec::NeuralNetworkLayer& layer) {
  using K = kernels::ReduceKind;
  switch (layer.layer_case()) {
    case L::kReduceMean:
      return ParamsOf(layer.reducemean(), std::nullopt);
    case L::kReduceSum:
      return ParamsOf(layer.reducesum(), K::kSum);
    case L::kReduceMax:
      return ParamsOf(layer.reducemax(), K::kMax);
    case L::kReduceMin:
      return ParamsOf(layer.reducemin(), K::kMin);
    case L::kReduceProd:
      return ParamsOf(layer.reduceprod(), K::kProd);
    case L::kReduceL1:
      return ParamsOf(layer.reducel1(), K::kL1);
    case L::kReduceL2:
      return ParamsOf(layer.reducel2(), K::kL2);
    case L::kReduceLogSum:
      return ParamsOf(layer.reducelogsum(), K::kLogSum);
    case L::kReduceSumSquare:
      return ParamsOf(layer.reducesumsquare(), K::kSumSquare);
    case L::kReduceLogSumExp:
      return ParamsOf(layer.reducelogsumexp(), K::kLogSumExp);
    default:
      return std::nullopt;
  }
}

// Drops the axes of `shape` listed in `axes` (sorted); a rank-N network has no rank-0 blobs.
std::vector<int64_t> Without(const std::vector<int64_t>& shape, const std::vector<int64_t>& axes) {
  std::vector<int64_t> kept;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(d))) {
      kept.push_back(shape[d]);
    }
  }
  if (kept.empty()) kept = {1};
  return kept;
}

Result<Tensor> Reduction(const spec::NeuralNetworkLayer& layer, const ReduceParams& p,
                         const Tensor& x) {
  std::vector<int64_t> axes;
  for (size_t d = 0; p.all && d < x.shape.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  for (int64_t a : p.all ? std::vector<int64_t>() : p.axes) {
    ASSIGN_OR_RETURN(int64_t axis, NdAxis(layer, a, x.shape.size()));
    if (std::find(axes.begin(), axes.end(), axis) == axes.end()) axes.push_back(axis);
  }
  std::sort(axes.begin(), axes.end());
  Tensor out = p.kind ? kernels::Reduce(x, axes, *p.kind) : kernels::ReduceMean(x, axes);
  if (!p.keep) out.shape = Without(x.shape, axes);
  return out;
}

// The element-wise layers of one input that are a MIL math function of the same name.
const char* MathName(L::LayerCase kind) {
  switch (kind) {
    case L::kCeil: return "ceil";
    case L::kFloor: return "floor";
    case L::kRound: return "round";
    case L::kSin: return "sin";
    case L::kCos: return "cos";
    case L::kTan: return "tan";
    case L::kAsin: return "asin";
    case L::kAcos: return "acos";
    case L::kAtan: return "atan";
    case L::kSinh: return "sinh";
    case L::kCosh: return "cosh";
    case L::kAsinh: return "asinh";
    case L::kAcosh: return "acosh";
    case L::kAtanh: return "atanh";
    case L::kErf: return "erf";
    default: return nullptr;
  }
}

// Comparisons and logical operators of two inputs (or one and alpha), as MIL names them.
const char* ComparisonName(L::LayerCase kind) {
  switch (kind) {
    case L::kEqual: return "equal";
    case L::kNotEqual: return "not_equal";
    case L::kLessThan: return "less";
    case L::kLessEqual: return "less_equal";
    case L::kGreaterThan: return "greater";
    case L::kGreaterEqual: return "greater_equal";
    case L::kLogicalOr: return "logical_or";
    case L::kLogicalXor: return "logical_xor";
    case L::kLogicalAnd: return "logical_and";
    default: return nullptr;
  }
}

float ComparisonAlpha(const spec::NeuralNetworkLayer& layer) {
  switch (layer.layer_case()) {
    case L::kEqual: return layer.equal().alpha();
    case L::kNotEqual: return layer.notequal().alpha();
    case L::kLessThan: return layer.lessthan().alpha();
    case L::kLessEqual: return layer.lessequal().alpha();
    case L::kGreaterThan: return layer.greaterthan().alpha();
    case L::kGreaterEqual: return layer.greaterequal().alpha();
    default: return 0.0f;
  }
}

Result<Tensor> Compare(const spec::NeuralNetworkLayer& layer,
                       const std::vector<const Tensor*>& in) {
  std::function<float(float, float)> f = Comparison(ComparisonName(layer.layer_case()));
  if (in.size() == 2) return kernels::Binary(*in[0], *in[1], f);
  if (in.size() != 1) return InvalidArgument(LayerName(layer) + " takes one or two inputs");
  Tensor alpha;
  alpha.shape = {1};
  alpha.data = {ComparisonAlpha(layer)};
  return kernels::Binary(*in[0], alpha, f);
}

Result<Tensor> GatherAlongAxis(const spec::NeuralNetworkLayer& layer,
                               const std::vector<const Tensor*>& in) {
  if (in.size() != 2) return InvalidArgument(LayerName(layer) + " takes data and indices");
  const Tensor& x = *in[0];
  Tensor indices = *in[1];
  ASSIGN_OR_RETURN(int64_t axis, NdAxis(layer, layer.gatheralongaxis().axis(), x.shape.size()));
  if (indices.shape.size() != x.shape.size()) {
    return InvalidArgument(LayerName(layer) + ": indices and data differ in rank");
  }
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (static_cast<int64_t>(d) != axis && indices.shape[d] > x.shape[d]) {
      return InvalidArgument(LayerName(layer) + ": indices exceed data outside the axis");
    }
  }
  const int64_t n = x.shape[axis];
  for (float& v : indices.data) {
    if (v < 0) v += static_cast<float>(n);
    if (!(v >= 0 && v < static_cast<float>(n)) || std::floor(v) != v) {
      return InvalidArgument(LayerName(layer) + ": an index is outside an axis of " +
                             std::to_string(n));
    }
  }
  return kernels::GatherAlongAxis(x, indices, axis);
}

// The MIL name of a NeuralNetwork scatter mode.
const char* ScatterModeName(spec::ScatterMode mode) {
  switch (mode) {
    case spec::SCATTER_UPDATE: return "update";
    case spec::SCATTER_ADD: return "add";
    case spec::SCATTER_SUB: return "sub";
    case spec::SCATTER_MUL: return "mul";
    case spec::SCATTER_DIV: return "div";
    case spec::SCATTER_MAX: return "max";
    case spec::SCATTER_MIN: return "min";
    default: return "";
  }
}

// gatherND, scatterND and scatterAlongAxis.
Result<Tensor> Scatter(const spec::NeuralNetworkLayer& layer,
                       const std::vector<const Tensor*>& in) {
  const L::LayerCase kind = layer.layer_case();
  const size_t inputs = kind == L::kGatherND ? 2 : 3;
  if (in.size() != inputs) {
    return InvalidArgument(LayerName(layer) + " takes " + std::to_string(inputs) + " inputs");
  }
  const Tensor& data = *in[0];
  if (kind == L::kScatterAlongAxis) {
    const Tensor& updates = *in[2];
    Tensor indices = *in[1];
    ASSIGN_OR_RETURN(int64_t axis,
                     NdAxis(layer, layer.scatteralongaxis().axis(), data.shape.size()));
    bool fits = indices.shape.size() == data.shape.size() && updates.shape == indices.shape;
    for (size_t d = 0; fits && d < data.shape.size(); ++d) fits = indices.shape[d] <= data.shape[d];
    const int64_t n = data.shape[axis];
    for (float& v : indices.data) {
      if (v < 0) v += static_cast<float>(n);
      fits = fits && v >= 0 && v < static_cast<float>(n);
    }
    if (!fits) return InvalidArgument(LayerName(layer) + ": indices or updates do not fit data");
    auto combine = kernels::ScatterCombine(ScatterModeName(layer.scatteralongaxis().mode()));
    if (!combine) return InvalidArgument(LayerName(layer) + " has an unknown mode");
    return kernels::ScatterAlongAxis(data, indices, updates, axis, combine);
  }
  int64_t slice = 0;
  auto offsets = kernels::TupleOffsets(*in[1], data.shape, &slice);
  if (!offsets.ok()) return InvalidArgument(LayerName(layer) + ": " + offsets.status().message());
  if (kind == L::kGatherND) return kernels::GatherNd(data, in[1]->shape, *offsets, slice);
  if (in[2]->size() != static_cast<int64_t>(offsets->size()) * slice) {
    return InvalidArgument(LayerName(layer) + ": updates do not hold one slice per index tuple");
  }
  auto combine = kernels::ScatterCombine(ScatterModeName(layer.scatternd().mode()));
  if (!combine) return InvalidArgument(LayerName(layer) + " has an unknown mode");
  return kernels::ScatterNd(data, *offsets, slice, *in[2], combine);
}

Result<Tensor> ArgExtreme(const spec::NeuralNetworkLayer& layer, const Tensor& x) {
  const bool largest = layer.layer_case() == L::kArgMax;
  const int64_t raw = largest ? layer.argmax().axis() : layer.argmin().axis();
  const bool remove = largest ? layer.argmax().removedim() : layer.argmin().removedim();
  ASSIGN_OR_RETURN(int64_t axis, NdAxis(layer, raw, x.shape.size()));
  Tensor out = kernels::ArgReduce(x, axis, largest);
  if (remove) out.shape = Without(x.shape, {axis});
  return out;
}

Result<Tensor> ReshapeStatic(const spec::NeuralNetworkLayer& layer, Tensor x) {
  std::vector<int64_t> shape(layer.reshapestatic().targetshape().begin(),
                             layer.reshapestatic().targetshape().end());
  int64_t known = 1, inferred = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1 && inferred < 0) {
      inferred = static_cast<int64_t>(d);
    } else if (shape[d] > 0) {
      known *= shape[d];
    } else {
      return InvalidArgument(LayerName(layer) + " has target shape " + ShapeString(shape));
    }
  }
  if (inferred >= 0 && known > 0 && x.size() % known == 0) shape[inferred] = x.size() / known;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (shape.empty() || n != x.size()) {
    return InvalidArgument(LayerName(layer) + " reshapes " + ShapeString(x.shape) + " to " +
                           ShapeString(shape));
  }
  x.shape = shape;
  return x;
}

Result<Tensor> Transpose(const spec::NeuralNetworkLayer& layer, const Tensor& x) {
  std::vector<int64_t> perm(layer.transpose().axes().begin(), layer.transpose().axes().end());
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool permutation = sorted.size() == x.shape.size();
  for (size_t d = 0; permutation && d < sorted.size(); ++d) {
    permutation = sorted[d] == static_cast<int64_t>(d);
  }
  if (!permutation) {
    return InvalidArgument(LayerName(layer) + ": axes are not a permutation of the " +
                           std::to_string(x.shape.size()) + " axes");
  }
  return kernels::Transpose(x, perm);
}

Result<Tensor> Broadcastable(const spec::NeuralNetworkLayer& layer,
                             const std::vector<const Tensor*>& in) {
  if (in.size() != 2) return InvalidArgument(LayerName(layer) + " takes two inputs");
  std::function<float(float, float)> f;
  switch (layer.layer_case()) {
    case L::kAddBroadcastable:
      f = [](float a, float b) { return a + b; };
      break;
    case L::kSubtractBroadcastable:
      f = [](float a, float b) { return a - b; };
      break;
    case L::kMultiplyBroadcastable:
      f = [](float a, float b) { return a * b; };
      break;
    case L::kDivideBroadcastable:
      f = [](float a, float b) { return a / b; };
      break;
    case L::kPowBroadcastable:
      f = [](float a, float b) { return std::pow(a, b); };
      break;
    case L::kMaxBroadcastable:
      f = [](float a, float b) { return std::max(a, b); };
      break;
    default:
      f = [](float a, float b) { return std::min(a, b); };
  }
  return kernels::Binary(*in[0], *in[1], f);
}

}  // namespace

Result<Tensor> RunNdLayer(const spec::NeuralNetworkLayer& layer,
                          const std::vector<const Tensor*>& in) {
  const L::LayerCase kind = layer.layer_case();
  if (kind == L::kLoadConstantND) {
    const spec::LoadConstantNDLayerParams& p = layer.loadconstantnd();
    Tensor t;
    t.shape.assign(p.shape().begin(), p.shape().end());
    if (t.shape.empty()) return InvalidArgument(LayerName(layer) + " has no shape");
    ASSIGN_OR_RETURN(t.data, Weights(p.data(), t.size(), layer, "data"));
    return t;
  }
  if (in.empty()) return InvalidArgument(LayerName(layer) + " has no input");
  switch (kind) {
    case L::kBatchedMatmul:
      return BatchedMatMul(layer, in);
    case L::kGather:
      return Gather(layer, in);
    case L::kAddBroadcastable:
    case L::kSubtractBroadcastable:
    case L::kMultiplyBroadcastable:
    case L::kDivideBroadcastable:
    case L::kPowBroadcastable:
    case L::kMaxBroadcastable:
    case L::kMinBroadcastable:
      return Broadcastable(layer, in);
    case L::kGatherAlongAxis:
      return GatherAlongAxis(layer, in);
    case L::kGatherND:
    case L::kScatterND:
    case L::kScatterAlongAxis:
      return Scatter(layer, in);
    case L::kWhereBroadcastable:
      if (in.size() != 3) return InvalidArgument(LayerName(layer) + " takes three inputs");
      return kernels::Select(*in[0], *in[1], *in[2]);
    case L::kConcatND: {
      ASSIGN_OR_RETURN(int64_t axis, NdAxis(layer, layer.concatnd().axis(), in[0]->shape.size()));
      if (layer.concatnd().interleave()) {
        return FailedPrecondition(LayerName(layer) + ": interleave is not implemented");
      }
      for (const Tensor* t : in) {
        for (size_t d = 0; d < in[0]->shape.size(); ++d) {
          if (t->shape.size() != in[0]->shape.size() ||
              (static_cast<int64_t>(d) != axis && t->shape[d] != in[0]->shape[d])) {
            return InvalidArgument(LayerName(layer) + " cannot join " +
                                   ShapeString(in[0]->shape) + " and " + ShapeString(t->shape));
          }
        }
      }
      return kernels::Concat(in, axis);
    }
    default:
      break;
  }
  if (ComparisonName(kind)) return Compare(layer, in);
  if (in.size() != 1 && kind != L::kAdd && kind != L::kMultiply) {
    return InvalidArgument(LayerName(layer) + " takes one input, not " +
                           std::to_string(in.size()));
  }
  const Tensor& x = *in[0];
  switch (kind) {
    case L::kTranspose:
      return Transpose(layer, x);
    case L::kReshapeStatic:
      return ReshapeStatic(layer, x);
    case L::kSliceStatic:
      return SliceStatic(layer, x);
    case L::kSoftmaxND: {
      ASSIGN_OR_RETURN(int64_t axis, NdAxis(layer, layer.softmaxnd().axis(), x.shape.size()));
      Tensor t = x;
      kernels::Softmax(&t, axis);
      return t;
    }
    case L::kTile: {
      std::vector<int64_t> reps(layer.tile().reps().begin(), layer.tile().reps().end());
      if (reps.size() != x.shape.size()) {
        return InvalidArgument(LayerName(layer) + " needs one repetition per axis");
      }
      return kernels::Tile(x, reps);
    }
    case L::kArgMax:
    case L::kArgMin:
      return ArgExtreme(layer, x);
    case L::kCumSum: {
      const spec::CumSumLayerParams& p = layer.cumsum();
      ASSIGN_OR_RETURN(int64_t axis, NdAxis(layer, p.axis(), x.shape.size()));
      return kernels::CumSum(x, axis, p.excludefinalsum(), p.reverse());
    }
    case L::kSign:
    case L::kLogicalNot: {
      Tensor t = x;
      for (float& v : t.data) {
        v = kind == L::kLogicalNot ? (v == 0.0f ? 1.0f : 0.0f)
                                   : static_cast<float>((v > 0.0f) - (v < 0.0f));
      }
      return t;
    }
    case L::kActivation:
    case L::kUnary:
    case L::kAdd:
    case L::kMultiply:
    case L::kConvolution:
    case L::kPooling:
    case L::kBatchnorm:
    case L::kPadding:
      return Legacy(layer, in);
    default:
      break;
  }
  if (auto reduction = ReductionOf(layer)) return Reduction(layer, *reduction, x);
  if (const char* math = MathName(kind)) {
    Tensor t = x;
    std::function<float(float)> f = MathFunction(math);
    for (float& v : t.data) v = f(v);
    return t;
  }
  return FailedPrecondition(LayerName(layer) +
                            " has a layer type the evaluator does not implement for "
                            "EXACT_ARRAY_MAPPING networks (field " +
                            std::to_string(static_cast<int>(kind)) + ")");
}

}  // namespace ringo::coreml::internal
