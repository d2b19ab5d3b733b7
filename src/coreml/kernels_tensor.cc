// Float32 CPU kernels for reductions, selection, indexing and tiling (see kernels.h).
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <limits>

#include "coreml/kernels.h"

namespace ringo::coreml::kernels {

namespace {

int64_t Count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Offset in a tensor of shape `own` (right-aligned against `index`'s rank, unit axes broadcast).
int64_t BroadcastOffset(const std::vector<int64_t>& index, const std::vector<int64_t>& own,
                        const std::vector<int64_t>& own_strides) {
  int64_t off = 0;
  size_t lead = index.size() - own.size();
  for (size_t d = 0; d < own.size(); ++d) {
    if (own[d] != 1) off += index[lead + d] * own_strides[d];
  }
  return off;
}

// A tensor of `shape` whose element at each multi-index is x's element at offset
// source(index): the common walk of slicing and tiling.
template <typename Source>
Tensor Indexed(const Tensor& x, std::vector<int64_t> shape, const Source& source) {
  Tensor out;
  out.shape = std::move(shape);
  out.data.resize(static_cast<size_t>(Count(out.shape)));
  if (out.data.empty()) return out;
  std::vector<int64_t> index(out.shape.size(), 0);
  size_t i = 0;
  do {
    out.data[i++] = x.data[source(index)];
  } while (Next(&index, out.shape));
  return out;
}

}  // namespace

Tensor Reduce(const Tensor& x, const std::vector<int64_t>& axes, ReduceKind kind) {
  Tensor out;
  out.shape = x.shape;
  for (int64_t a : axes) out.shape[a] = 1;
  double init = 0.0;
  if (kind == ReduceKind::kMax) init = -std::numeric_limits<double>::infinity();
  if (kind == ReduceKind::kMin) init = std::numeric_limits<double>::infinity();
  if (kind == ReduceKind::kProd) init = 1.0;
  std::vector<double> acc(static_cast<size_t>(Count(out.shape)), init);
  // log-sum-exp subtracts each group's maximum first, so large values do not overflow.
  Tensor max_t;
  if (kind == ReduceKind::kLogSumExp) max_t = Reduce(x, axes, ReduceKind::kMax);
  ForEachReduced(x, out.shape, [&](int64_t dst, double v) {
    double& a = acc[dst];
    switch (kind) {
      case ReduceKind::kSum:
      case ReduceKind::kLogSum: a += v; break;
      case ReduceKind::kMax: a = std::max(a, v); break;
      case ReduceKind::kMin: a = std::min(a, v); break;
      case ReduceKind::kProd: a *= v; break;
      case ReduceKind::kL1: a += std::fabs(v); break;
      case ReduceKind::kL2:
      case ReduceKind::kSumSquare: a += v * v; break;
      case ReduceKind::kLogSumExp: a += std::exp(v - max_t.data[dst]); break;
    }
  });
  out.data.resize(acc.size());
  for (size_t j = 0; j < acc.size(); ++j) {
    double a = acc[j];
    if (kind == ReduceKind::kL2) a = std::sqrt(a);
    if (kind == ReduceKind::kLogSum) a = std::log(a);
    if (kind == ReduceKind::kLogSumExp) a = std::log(a) + max_t.data[j];
    out.data[j] = static_cast<float>(a);
  }
  return out;
}

Tensor ArgReduce(const Tensor& x, int64_t axis, bool largest) {
  Tensor out;
  out.shape = x.shape;
  out.shape[axis] = 1;
  const int64_t n = x.shape[axis];
  const int64_t inner = Strides(x.shape)[axis];
  const int64_t outer = Count(x.shape) / std::max<int64_t>(1, n * inner);
  out.data.resize(static_cast<size_t>(outer * inner));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < n; ++k) {
        float v = x.data[(o * n + k) * inner + i], b = x.data[(o * n + best) * inner + i];
        if (largest ? v > b : v < b) best = k;
      }
      out.data[o * inner + i] = static_cast<float>(best);
    }
  }
  return out;
}

Result<Tensor> Select(const Tensor& cond, const Tensor& a, const Tensor& b) {
  ASSIGN_OR_RETURN(std::vector<int64_t> ab, BroadcastShape(a.shape, b.shape));
  ASSIGN_OR_RETURN(std::vector<int64_t> shape, BroadcastShape(cond.shape, ab));
  Tensor out;
  out.shape = shape;
  out.data.resize(static_cast<size_t>(Count(shape)));
  if (out.data.empty()) return out;
  auto cs = Strides(cond.shape), as = Strides(a.shape), bs = Strides(b.shape);
  std::vector<int64_t> index(shape.size(), 0);
  size_t i = 0;
  do {
    bool c = cond.data[BroadcastOffset(index, cond.shape, cs)] != 0;
    out.data[i++] = c ? a.data[BroadcastOffset(index, a.shape, as)]
                      : b.data[BroadcastOffset(index, b.shape, bs)];
  } while (Next(&index, shape));
  return out;
}

Tensor Gather(const Tensor& x, const std::vector<int64_t>& indices,
              const std::vector<int64_t>& indices_shape, int64_t axis) {
  const int64_t n = x.shape[axis];
  const int64_t inner = Strides(x.shape)[axis];
  const int64_t outer = Count(std::vector<int64_t>(x.shape.begin(), x.shape.begin() + axis));
  Tensor out;
  out.shape.assign(x.shape.begin(), x.shape.begin() + axis);
  out.shape.insert(out.shape.end(), indices_shape.begin(), indices_shape.end());
  out.shape.insert(out.shape.end(), x.shape.begin() + axis + 1, x.shape.end());
  out.data.reserve(static_cast<size_t>(Count(out.shape)));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j : indices) {
      const float* src = x.data.data() + (o * n + j) * inner;
      out.data.insert(out.data.end(), src, src + inner);
    }
  }
  return out;
}

Tensor GatherAlongAxis(const Tensor& x, const Tensor& indices, int64_t axis) {
  Tensor out;
  out.shape = indices.shape;
  out.data.resize(indices.data.size());
  if (out.data.empty()) return out;
  auto xs = Strides(x.shape);
  std::vector<int64_t> index(indices.shape.size(), 0);
  size_t i = 0;
  do {
    int64_t off = 0;
    for (size_t d = 0; d < index.size(); ++d) {
      const bool along = static_cast<int64_t>(d) == axis;
      int64_t c = along ? static_cast<int64_t>(indices.data[i]) : index[d];
      off += c * xs[d];
    }
    out.data[i++] = x.data[off];
  } while (Next(&index, indices.shape));
  return out;
}

Tensor StridedSlice(const Tensor& x, const std::vector<int64_t>& begin,
                    const std::vector<int64_t>& end, const std::vector<int64_t>& stride) {
  const size_t rank = x.shape.size();
  std::vector<int64_t> shape(rank);
  for (size_t d = 0; d < rank; ++d) {
    int64_t span = stride[d] > 0 ? end[d] - begin[d] : begin[d] - end[d];
    int64_t step = stride[d] > 0 ? stride[d] : -stride[d];
    shape[d] = span > 0 ? (span + step - 1) / step : 0;
  }
  auto xs = Strides(x.shape);
  return Indexed(x, std::move(shape), [&](const std::vector<int64_t>& index) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (begin[d] + index[d] * stride[d]) * xs[d];
    return off;
  });
}

Tensor Tile(const Tensor& x, const std::vector<int64_t>& reps) {
  const size_t rank = x.shape.size();
  std::vector<int64_t> shape(rank);
  for (size_t d = 0; d < rank; ++d) shape[d] = x.shape[d] * reps[d];
  auto xs = Strides(x.shape);
  return Indexed(x, std::move(shape), [&](const std::vector<int64_t>& index) {
    int64_t off = 0;
    for (size_t d = 0; d < rank; ++d) off += (index[d] % x.shape[d]) * xs[d];
    return off;
  });
}

std::function<float(float, float)> ScatterCombine(const std::string& mode) {
  static const std::map<std::string, std::function<float(float, float)>> kModes = {
      {"update", [](float, float u) { return u; }},
      {"add", [](float a, float u) { return a + u; }},
      {"sub", [](float a, float u) { return a - u; }},
      {"mul", [](float a, float u) { return a * u; }},
      {"div", [](float a, float u) { return a / u; }},
      {"max", [](float a, float u) { return std::max(a, u); }},
      {"min", [](float a, float u) { return std::min(a, u); }}};
  auto it = kModes.find(mode);
  return it == kModes.end() ? nullptr : it->second;
}

Tensor ScatterAlongAxis(const Tensor& data, const Tensor& indices, const Tensor& updates,
                        int64_t axis, const std::function<float(float, float)>& combine) {
  Tensor out = data;
  if (indices.data.empty()) return out;
  const std::vector<int64_t> strides = Strides(data.shape);
  std::vector<int64_t> pos(indices.shape.size(), 0);
  size_t i = 0;
  do {
    int64_t dst = 0;
    for (size_t d = 0; d < pos.size(); ++d) {
      const int64_t at = static_cast<int64_t>(d) == axis ? static_cast<int64_t>(indices.data[i])
                                                          : pos[d];
      dst += at * strides[d];
    }
    out.data[dst] = combine(out.data[dst], updates.data[i]);
    ++i;
  } while (Next(&pos, indices.shape));
  return out;
}

Result<std::vector<int64_t>> TupleOffsets(const Tensor& indices, const std::vector<int64_t>& shape,
                                          int64_t* slice) {
  const int64_t k = indices.shape.empty() ? 0 : indices.shape.back();
  if (k < 1 || k > static_cast<int64_t>(shape.size())) {
    return InvalidArgument("index tuples of " + std::to_string(k) + " for a rank-" +
                           std::to_string(shape.size()) + " tensor");
  }
  const std::vector<int64_t> strides = Strides(shape);
  *slice = strides[k - 1];
  std::vector<int64_t> offsets;
  for (size_t t = 0; t < indices.data.size(); t += static_cast<size_t>(k)) {
    int64_t off = 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = static_cast<int64_t>(indices.data[t + j]);
      if (v < 0) v += shape[j];
      if (v < 0 || v >= shape[j]) {
        return InvalidArgument("index " + std::to_string(v) + " is out of range for size " +
                               std::to_string(shape[j]));
      }
      off += v * strides[j];
    }
    offsets.push_back(off);
  }
  return offsets;
}

Tensor ScatterNd(const Tensor& data, const std::vector<int64_t>& offsets, int64_t slice,
                 const Tensor& updates, const std::function<float(float, float)>& combine) {
  Tensor out = data;
  for (size_t t = 0; t < offsets.size(); ++t) {
    for (int64_t s = 0; s < slice; ++s) {
      float& dst = out.data[offsets[t] + s];
      dst = combine(dst, updates.data[static_cast<int64_t>(t) * slice + s]);
    }
  }
  return out;
}

Tensor GatherNd(const Tensor& x, const std::vector<int64_t>& indices_shape,
                const std::vector<int64_t>& offsets, int64_t slice) {
  Tensor out;
  out.shape.assign(indices_shape.begin(), indices_shape.end() - 1);
  out.shape.insert(out.shape.end(), x.shape.begin() + indices_shape.back(), x.shape.end());
  for (int64_t off : offsets) {
    out.data.insert(out.data.end(), x.data.begin() + off, x.data.begin() + off + slice);
  }
  return out;
}

Tensor CumSum(const Tensor& x, int64_t axis, bool exclusive, bool reverse) {
  Tensor out = x;
  const int64_t n = x.shape[axis];
  const int64_t inner = Strides(x.shape)[axis];
  const int64_t outer = n * inner == 0 ? 0 : Count(x.shape) / (n * inner);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      double acc = 0;
      for (int64_t s = 0; s < n; ++s) {
        int64_t k = reverse ? n - 1 - s : s;
        size_t at = static_cast<size_t>((o * n + k) * inner + i);
        double v = x.data[at];
        out.data[at] = static_cast<float>(exclusive ? acc : acc + v);
        acc += v;
      }
    }
  }
  return out;
}

}  // namespace ringo::coreml::kernels
