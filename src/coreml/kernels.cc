// Float32 CPU kernels: convolution by im2col + sgemm (gemm.cc), pooling, broadcasting, layout ops.
#include "coreml/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace ringo::coreml::kernels {

namespace {

int64_t Product(const std::vector<int64_t>& shape, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t i = from; i < to; ++i) n *= shape[i];
  return n;
}

// Depthwise-style convolution (one input channel per group), where im2col would turn every
// group into a one-row product and sgemm cannot amortise anything.
void ConvSingleInputChannel(const Tensor& x, const float* weights, int64_t c_out, int64_t groups,
                            const Window& win, Tensor* out) {
  const int64_t n = x.shape[0], h = x.shape[2], w = x.shape[3];
  const int64_t per_group = c_out / groups;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t oc = 0; oc < c_out; ++oc) {
      const float* src = x.data.data() + (b * x.shape[1] + oc / per_group) * h * w;
      const float* k = weights + oc * win.kh * win.kw;
      float* dst = out->data.data() + (b * c_out + oc) * win.out_h * win.out_w;
      for (int64_t oy = 0; oy < win.out_h; ++oy) {
        for (int64_t ox = 0; ox < win.out_w; ++ox) {
          float acc = 0;
          for (int64_t ky = 0; ky < win.kh; ++ky) {
            int64_t iy = oy * win.sh - win.pad_top + ky * win.dh;
            if (iy < 0 || iy >= h) continue;
            for (int64_t kx = 0; kx < win.kw; ++kx) {
              int64_t ix = ox * win.sw - win.pad_left + kx * win.dw;
              if (ix < 0 || ix >= w) continue;
              acc += src[iy * w + ix] * k[ky * win.kw + kx];
            }
          }
          dst[oy * win.out_w + ox] = acc;
        }
      }
    }
  }
}

}  // namespace

std::vector<int64_t> Strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

bool Next(std::vector<int64_t>* index, const std::vector<int64_t>& shape) {
  for (size_t i = shape.size(); i-- > 0;) {
    if (++(*index)[i] < shape[i]) return true;
    (*index)[i] = 0;
  }
  return false;
}

int64_t FloorOutSize(int64_t in, int64_t k_eff, int64_t stride, int64_t pad_begin,
                     int64_t pad_end) {
  int64_t span = in + pad_begin + pad_end - k_eff;
  if (span < 0 || stride <= 0) return 0;
  return span / stride + 1;
}

int64_t CeilOutSize(int64_t in, int64_t k_eff, int64_t stride, int64_t pad_begin, int64_t pad_end) {
  int64_t span = in + pad_begin + pad_end - k_eff;
  if (span < 0 || stride <= 0) return 0;
  int64_t out = (span + stride - 1) / stride + 1;
  if ((out - 1) * stride >= in + pad_begin) --out;
  return out;
}

std::pair<int64_t, int64_t> SamePadding(int64_t in, int64_t k_eff, int64_t stride,
                                        bool extra_at_start) {
  int64_t out = (in + stride - 1) / stride;
  int64_t total = std::max<int64_t>(0, (out - 1) * stride + k_eff - in);
  int64_t small = total / 2, large = total - small;
  return extra_at_start ? std::pair{large, small} : std::pair{small, large};
}

Tensor Conv2D(const Tensor& x, const float* weights, const float* bias, int64_t c_out,
              int64_t groups, const Window& win) {
  const int64_t n = x.shape[0], c_in = x.shape[1], h = x.shape[2], w = x.shape[3];
  const int64_t cin_g = c_in / groups, cout_g = c_out / groups;
  const int64_t plane = win.out_h * win.out_w;
  Tensor out;
  out.shape = {n, c_out, win.out_h, win.out_w};
  out.data.assign(static_cast<size_t>(n * c_out * plane), 0.0f);
  if (cin_g == 1) {
    ConvSingleInputChannel(x, weights, c_out, groups, win, &out);
  } else {
    const int64_t k = cin_g * win.kh * win.kw;
    const bool pointwise = win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 &&
                           win.pad_top == 0 && win.pad_left == 0 && win.out_h == h &&
                           win.out_w == w;
    std::vector<float> col(pointwise ? 0 : static_cast<size_t>(k * plane));
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t g = 0; g < groups; ++g) {
        const float* src = x.data.data() + (b * c_in + g * cin_g) * h * w;
        const float* rhs = src;
        if (!pointwise) {
          for (int64_t c = 0; c < cin_g; ++c) {
            for (int64_t ky = 0; ky < win.kh; ++ky) {
              for (int64_t kx = 0; kx < win.kw; ++kx) {
                float* row = col.data() + ((c * win.kh + ky) * win.kw + kx) * plane;
                for (int64_t oy = 0; oy < win.out_h; ++oy) {
                  int64_t iy = oy * win.sh - win.pad_top + ky * win.dh;
                  float* dst = row + oy * win.out_w;
                  if (iy < 0 || iy >= h) {
                    std::fill(dst, dst + win.out_w, 0.0f);
                    continue;
                  }
                  const float* line = src + (c * h + iy) * w;
                  for (int64_t ox = 0; ox < win.out_w; ++ox) {
                    int64_t ix = ox * win.sw - win.pad_left + kx * win.dw;
                    dst[ox] = (ix < 0 || ix >= w) ? 0.0f : line[ix];
                  }
                }
              }
            }
          }
          rhs = col.data();
        }
        Gemm(weights + g * cout_g * k, rhs, out.data.data() + (b * c_out + g * cout_g) * plane,
             cout_g, plane, k, false, false);
      }
    }
  }
  if (bias != nullptr) {
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t oc = 0; oc < c_out; ++oc) {
        float* dst = out.data.data() + (b * c_out + oc) * plane;
        for (int64_t i = 0; i < plane; ++i) dst[i] += bias[oc];
      }
    }
  }
  return out;
}

Tensor Pool2D(const Tensor& x, PoolType type, const Window& win, bool exclude_padding) {
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
  Tensor out;
  out.shape = {n, c, win.out_h, win.out_w};
  out.data.resize(static_cast<size_t>(n * c * win.out_h * win.out_w));
  float* dst = out.data.data();
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const float* src = x.data.data() + plane * h * w;
    for (int64_t oy = 0; oy < win.out_h; ++oy) {
      // The window is first clipped to the padded input (this is the divisor when padding
      // counts), then to the real input (the pixels that are read).
      int64_t y0 = oy * win.sh - win.pad_top;
      int64_t y1 = std::min(y0 + win.kh, h + win.pad_bottom);
      int64_t ry0 = std::max<int64_t>(y0, 0), ry1 = std::min(y1, h);
      for (int64_t ox = 0; ox < win.out_w; ++ox) {
        int64_t x0 = ox * win.sw - win.pad_left;
        int64_t x1 = std::min(x0 + win.kw, w + win.pad_right);
        int64_t rx0 = std::max<int64_t>(x0, 0), rx1 = std::min(x1, w);
        float result = 0;
        if (type == PoolType::kMax) {
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t iy = ry0; iy < ry1; ++iy) {
            for (int64_t ix = rx0; ix < rx1; ++ix) m = std::max(m, src[iy * w + ix]);
          }
          result = (ry1 > ry0 && rx1 > rx0) ? m : 0.0f;
        } else {
          float sum = 0;
          for (int64_t iy = ry0; iy < ry1; ++iy) {
            for (int64_t ix = rx0; ix < rx1; ++ix) sum += src[iy * w + ix];
          }
          int64_t count = exclude_padding ? (ry1 - ry0) * (rx1 - rx0) : (y1 - y0) * (x1 - x0);
          result = count > 0 ? sum / static_cast<float>(count) : 0.0f;
        }
        *dst++ = result;
      }
    }
  }
  return out;
}

Result<std::vector<int64_t>> BroadcastShape(const std::vector<int64_t>& a,
                                            const std::vector<int64_t>& b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("shapes " + ShapeString(a) + " and " + ShapeString(b) +
                             " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Result<Tensor> Binary(const Tensor& a, const Tensor& b,
                      const std::function<float(float, float)>& f) {
  ASSIGN_OR_RETURN(std::vector<int64_t> shape, BroadcastShape(a.shape, b.shape));
  Tensor out;
  out.shape = shape;
  out.data.resize(static_cast<size_t>(out.size()));
  if (a.shape == b.shape) {
    for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = f(a.data[i], b.data[i]);
    return out;
  }
  if (b.data.size() == 1 && a.shape == shape) {
    for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = f(a.data[i], b.data[0]);
    return out;
  }
  // Strides of each operand in the output's index space; broadcast axes get stride 0.
  const size_t rank = shape.size();
  auto broadcast_strides = [&](const std::vector<int64_t>& s) {
    std::vector<int64_t> own = Strides(s), st(rank, 0);
    for (size_t i = 0; i < s.size(); ++i) {
      st[rank - s.size() + i] = s[i] == 1 ? 0 : own[i];
    }
    return st;
  };
  std::vector<int64_t> sa = broadcast_strides(a.shape), sb = broadcast_strides(b.shape);
  std::vector<int64_t> index(rank, 0);
  if (out.data.empty()) return out;
  size_t o = 0;
  do {
    int64_t ia = 0, ib = 0;
    for (size_t i = 0; i < rank; ++i) {
      ia += index[i] * sa[i];
      ib += index[i] * sb[i];
    }
    out.data[o++] = f(a.data[ia], b.data[ib]);
  } while (Next(&index, shape));
  return out;
}

void Softmax(Tensor* x, int64_t axis) {
  const int64_t outer = Product(x->shape, 0, axis), n = x->shape[axis];
  const int64_t inner = Product(x->shape, axis + 1, x->shape.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      float* base = x->data.data() + o * n * inner + i;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) m = std::max(m, base[j * inner]);
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        base[j * inner] = std::exp(base[j * inner] - m);
        sum += base[j * inner];
      }
      for (int64_t j = 0; j < n; ++j) base[j * inner] = static_cast<float>(base[j * inner] / sum);
    }
  }
}

Tensor Transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  Tensor out;
  out.shape.resize(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out.shape[i] = x.shape[perm[i]];
  out.data.resize(x.data.size());
  if (out.data.empty()) return out;
  std::vector<int64_t> in_strides = Strides(x.shape), st(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) st[i] = in_strides[perm[i]];
  std::vector<int64_t> index(perm.size(), 0);
  size_t o = 0;
  do {
    int64_t src = 0;
    for (size_t i = 0; i < perm.size(); ++i) src += index[i] * st[i];
    out.data[o++] = x.data[src];
  } while (Next(&index, out.shape));
  return out;
}

Tensor Pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& pads, PadMode mode,
           float value) {
  Tensor out;
  const size_t rank = x.shape.size();
  out.shape.resize(rank);
  for (size_t i = 0; i < rank; ++i) out.shape[i] = x.shape[i] + pads[i].first + pads[i].second;
  out.data.resize(static_cast<size_t>(out.size()));
  if (out.data.empty()) return out;
  std::vector<int64_t> strides = Strides(x.shape), index(rank, 0);
  size_t o = 0;
  do {
    int64_t src = 0;
    bool outside = false;
    for (size_t i = 0; i < rank; ++i) {
      int64_t n = x.shape[i], j = index[i] - pads[i].first;
      if (j < 0 || j >= n) {
        if (mode == PadMode::kConstant || n == 0) {
          outside = true;
          break;
        }
        if (mode == PadMode::kReplicate) {
          j = std::clamp<int64_t>(j, 0, n - 1);
        } else {
          // Reflection excludes the edge pixel; the period is 2(n-1).
          int64_t period = std::max<int64_t>(2 * (n - 1), 1);
          j = ((j % period) + period) % period;
          if (j >= n) j = period - j;
        }
      }
      src += j * strides[i];
    }
    out.data[o++] = outside ? value : x.data[src];
  } while (Next(&index, out.shape));
  return out;
}

Tensor Concat(const std::vector<const Tensor*>& parts, int64_t axis) {
  Tensor out;
  out.shape = parts.front()->shape;
  out.shape[axis] = 0;
  for (const Tensor* p : parts) out.shape[axis] += p->shape[axis];
  out.data.reserve(static_cast<size_t>(out.size()));
  const int64_t outer = Product(out.shape, 0, axis);
  const int64_t inner = Product(out.shape, axis + 1, out.shape.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor* p : parts) {
      int64_t chunk = p->shape[axis] * inner;
      const float* src = p->data.data() + o * chunk;
      out.data.insert(out.data.end(), src, src + chunk);
    }
  }
  return out;
}

Tensor ReduceMean(const Tensor& x, const std::vector<int64_t>& axes) {
  Tensor out;
  out.shape = x.shape;
  int64_t count = 1;
  for (int64_t a : axes) {
    count *= x.shape[a];
    out.shape[a] = 1;
  }
  std::vector<double> acc(static_cast<size_t>(out.size()), 0.0);
  ForEachReduced(x, out.shape, [&](int64_t dst, float v) { acc[dst] += v; });
  out.data.resize(acc.size());
  for (size_t j = 0; j < acc.size(); ++j) {
    out.data[j] = count > 0 ? static_cast<float>(acc[j] / static_cast<double>(count)) : 0.0f;
  }
  return out;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace ringo::coreml::kernels
