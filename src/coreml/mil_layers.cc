// Convolution, pooling, matrix products and batch normalisation in the ML Program evaluator.
#include <algorithm>
#include <cmath>

#include "coreml/evaluate_mil.h"

namespace ringo::coreml::internal {

using kernels::ShapeString;

Status OpRunner::Geometry(const Tensor& x, bool ceil_mode, kernels::Window* win) {
  ASSIGN_OR_RETURN(std::string pad_type, String("pad_type", "valid"));
  const int64_t h = x.shape[2], w = x.shape[3];
  const int64_t kh = (win->kh - 1) * win->dh + 1, kw = (win->kw - 1) * win->dw + 1;
  if (pad_type == "same" || pad_type == "same_lower") {
    bool start = pad_type == "same_lower";
    std::tie(win->pad_top, win->pad_bottom) = kernels::SamePadding(h, kh, win->sh, start);
    std::tie(win->pad_left, win->pad_right) = kernels::SamePadding(w, kw, win->sw, start);
  } else if (pad_type == "custom") {
    ASSIGN_OR_RETURN(std::vector<int64_t> pad, Ints("pad", std::vector<int64_t>{0, 0, 0, 0}));
    if (pad.size() != 4) {
      return InvalidArgument(what_ + ": pad needs 4 values [top, bottom, left, right]");
    }
    win->pad_top = pad[0];
    win->pad_bottom = pad[1];
    win->pad_left = pad[2];
    win->pad_right = pad[3];
  } else if (pad_type != "valid") {
    return InvalidArgument(what_ + ": unknown pad_type '" + pad_type + "'");
  }
  auto size = ceil_mode ? kernels::CeilOutSize : kernels::FloorOutSize;
  win->out_h = size(h, kh, win->sh, win->pad_top, win->pad_bottom);
  win->out_w = size(w, kw, win->sw, win->pad_left, win->pad_right);
  if (win->out_h <= 0 || win->out_w <= 0) {
    return InvalidArgument(what_ + ": the window does not fit the input " + ShapeString(x.shape));
  }
  return Status::Ok();
}

Status OpRunner::Pair(const std::string& param, int64_t* a, int64_t* b) {
  ASSIGN_OR_RETURN(std::vector<int64_t> v, Ints(param, std::vector<int64_t>{*a, *b}));
  if (v.size() != 2 || v[0] <= 0 || v[1] <= 0) {
    return InvalidArgument(what_ + ": '" + param + "' needs 2 positive values (2-D only)");
  }
  *a = v[0];
  *b = v[1];
  return Status::Ok();
}

Result<std::vector<MilValue>> OpRunner::Conv() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* weight, Required("weight"));
  ASSIGN_OR_RETURN(const MilValue* bias, Optional("bias"));
  const Tensor& wt = weight->t;
  if (x->t.shape.size() != 4 || wt.shape.size() != 4) {
    return FailedPrecondition(what_ + ": only 2-D convolution ([N, C, H, W]) is implemented");
  }
  ASSIGN_OR_RETURN(float groups_f, Scalar("groups", 1.0f));
  const int64_t groups = static_cast<int64_t>(groups_f), c_out = wt.shape[0];
  if (groups <= 0 || x->t.shape[1] != wt.shape[1] * groups || c_out % groups != 0) {
    return InvalidArgument(what_ + ": input " + ShapeString(x->t.shape) +
                           " does not fit weight " + ShapeString(wt.shape) + " with " +
                           std::to_string(groups) + " groups");
  }
  if (bias != nullptr && bias->t.size() != c_out) {
    return InvalidArgument(what_ + ": bias has " + std::to_string(bias->t.size()) + " values");
  }
  kernels::Window win;
  win.kh = wt.shape[2];
  win.kw = wt.shape[3];
  RETURN_IF_ERROR(Pair("strides", &win.sh, &win.sw));
  RETURN_IF_ERROR(Pair("dilations", &win.dh, &win.dw));
  RETURN_IF_ERROR(Geometry(x->t, false, &win));
  return One(Float(kernels::Conv2D(x->t, wt.data.data(), bias ? bias->t.data.data() : nullptr,
                                   c_out, groups, win)));
}

Result<std::vector<MilValue>> OpRunner::Linear() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* weight, Required("weight"));
  ASSIGN_OR_RETURN(const MilValue* bias, Optional("bias"));
  const Tensor& wt = weight->t;
  if (x->t.shape.empty() || wt.shape.size() != 2 || x->t.shape.back() != wt.shape[1]) {
    return InvalidArgument(what_ + ": input " + ShapeString(x->t.shape) +
                           " does not fit weight " + ShapeString(wt.shape));
  }
  const int64_t in = wt.shape[1], out_features = wt.shape[0], rows = x->t.size() / in;
  if (bias != nullptr && bias->t.size() != out_features) {
    return InvalidArgument(what_ + ": bias has " + std::to_string(bias->t.size()) + " values");
  }
  Tensor out;
  out.shape = x->t.shape;
  out.shape.back() = out_features;
  out.data.resize(static_cast<size_t>(rows * out_features));
  kernels::Gemm(x->t.data.data(), wt.data.data(), out.data.data(), rows, out_features, in, false,
                true);
  if (bias != nullptr) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < out_features; ++o)
        out.data[r * out_features + o] += bias->t.data[o];
    }
  }
  return One(Float(std::move(out)));
}

Result<std::vector<MilValue>> OpRunner::MatMul() {
  ASSIGN_OR_RETURN(const MilValue* xv, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* yv, Required("y"));
  ASSIGN_OR_RETURN(bool tx, Bool("transpose_x", false));
  ASSIGN_OR_RETURN(bool ty, Bool("transpose_y", false));
  Tensor x = xv->t, y = yv->t;
  // Rank-1 operands are promoted (x to a row, y to a column) and the unit axis dropped after.
  bool x_vec = x.shape.size() == 1, y_vec = y.shape.size() == 1;
  if (x.shape.empty() || y.shape.empty()) return InvalidArgument(what_ + ": scalar operand");
  if (x_vec) {
    x.shape.insert(x.shape.begin(), 1);
    tx = false;
  }
  if (y_vec) {
    y.shape.push_back(1);
    ty = false;
  }
  const size_t rx = x.shape.size(), ry = y.shape.size();
  const int64_t m = tx ? x.shape[rx - 1] : x.shape[rx - 2];
  const int64_t k = tx ? x.shape[rx - 2] : x.shape[rx - 1];
  const int64_t k2 = ty ? y.shape[ry - 1] : y.shape[ry - 2];
  const int64_t n = ty ? y.shape[ry - 2] : y.shape[ry - 1];
  if (k != k2) {
    return InvalidArgument(what_ + ": inner dimensions differ for " + ShapeString(xv->t.shape) +
                           " and " + ShapeString(yv->t.shape));
  }
  std::vector<int64_t> bx(x.shape.begin(), x.shape.end() - 2),
      by(y.shape.begin(), y.shape.end() - 2);
  auto batch = kernels::BroadcastShape(bx, by);
  if (!batch.ok()) return InvalidArgument(what_ + ": " + batch.status().message());
  const std::vector<int64_t> bshape = *batch;
  int64_t batches = 1;
  for (int64_t d : bshape) batches *= d;
  Tensor out;
  out.shape = bshape;
  out.shape.push_back(m);
  out.shape.push_back(n);
  out.data.resize(static_cast<size_t>(batches * m * n));
  // Offset of batch `idx` (an index into bshape) in an operand whose batch shape is `own`,
  // right-aligned, with its unit axes broadcast.
  auto offset = [&](const std::vector<int64_t>& own, const std::vector<int64_t>& idx) {
    int64_t off = 0, stride = 1;
    for (size_t i = own.size(); i-- > 0;) {
      if (own[i] != 1) off += idx[bshape.size() - own.size() + i] * stride;
      stride *= own[i];
    }
    return off;
  };
  std::vector<int64_t> idx(bshape.size(), 0);
  for (int64_t b = 0; b < batches; ++b) {
    kernels::Gemm(x.data.data() + offset(bx, idx) * m * k,
                  y.data.data() + offset(by, idx) * k * n, out.data.data() + b * m * n, m, n, k,
                  tx, ty);
    for (size_t i = bshape.size(); i-- > 0;) {
      if (++idx[i] < bshape[i]) break;
      idx[i] = 0;
    }
  }
  if (x_vec) out.shape.erase(out.shape.end() - 2);
  if (y_vec) out.shape.pop_back();
  return One(Float(std::move(out)));
}

Result<std::vector<MilValue>> OpRunner::BatchNorm() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* mean, Required("mean"));
  ASSIGN_OR_RETURN(const MilValue* var, Required("variance"));
  ASSIGN_OR_RETURN(const MilValue* gamma, Optional("gamma"));
  ASSIGN_OR_RETURN(const MilValue* beta, Optional("beta"));
  ASSIGN_OR_RETURN(float eps, Scalar("epsilon", 1e-5f));
  Tensor t = x->t;
  if (t.shape.size() < 2) return InvalidArgument(what_ + ": input needs rank >= 2");
  const int64_t c = t.shape[1];
  for (const MilValue* p : {mean, var, gamma, beta}) {
    if (p != nullptr && p->t.size() != c) {
      return InvalidArgument(what_ + ": per-channel parameters need " + std::to_string(c) +
                             " values");
    }
  }
  const int64_t inner = t.size() / (t.shape[0] * c);
  for (int64_t b = 0; b < t.shape[0]; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      float g = gamma ? gamma->t.data[ch] : 1.0f, be = beta ? beta->t.data[ch] : 0.0f;
      float k = g / std::sqrt(var->t.data[ch] + eps), off = be - k * mean->t.data[ch];
      float* p = t.data.data() + (b * c + ch) * inner;
      for (int64_t i = 0; i < inner; ++i) p[i] = k * p[i] + off;
    }
  }
  return One(Float(std::move(t)));
}

Result<std::vector<MilValue>> OpRunner::Pool(kernels::PoolType type) {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  if (x->t.shape.size() != 4) {
    return FailedPrecondition(what_ + ": only 2-D pooling ([N, C, H, W]) is implemented");
  }
  kernels::Window win;
  ASSIGN_OR_RETURN(std::vector<int64_t> k, Ints("kernel_sizes", std::nullopt));
  if (k.size() != 2 || k[0] <= 0 || k[1] <= 0) {
    return InvalidArgument(what_ + ": kernel_sizes needs 2 positive values");
  }
  win.kh = k[0];
  win.kw = k[1];
  RETURN_IF_ERROR(Pair("strides", &win.sh, &win.sw));
  ASSIGN_OR_RETURN(bool ceil_mode, Bool("ceil_mode", false));
  ASSIGN_OR_RETURN(bool exclude, Bool("exclude_padding_from_average", false));
  RETURN_IF_ERROR(Geometry(x->t, ceil_mode, &win));
  return One(Float(kernels::Pool2D(x->t, type, win, exclude)));
}

}  // namespace ringo::coreml::internal
