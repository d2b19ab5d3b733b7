// Arithmetic on shapes and constant tensors, shared by the importer's folding and lowering.
#include <algorithm>
#include <cstring>

#include "convert/graph.h"
#include "convert/importer.h"

namespace ringo::convert {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

Constant Constant::Floats(Shape shape, std::vector<float> values) {
  Constant c;
  c.shape = std::move(shape);
  c.f = std::move(values);
  return c;
}

void Constant::Load() {
  if (!is_mapped()) return;
  f.resize(mapped.size() / sizeof(float));
  std::memcpy(f.data(), mapped.data(), f.size() * sizeof(float));  // ONNX raw data: little-endian
  mapped = {};
}

Constant Constant::Ints(Shape shape, std::vector<int64_t> values) {
  Constant c;
  c.is_int = true;
  c.shape = std::move(shape);
  c.i = std::move(values);
  return c;
}

std::vector<int64_t> Strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int k = static_cast<int>(s.size()) - 2; k >= 0; --k) st[k] = st[k + 1] * s[k + 1];
  return st;
}

Result<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("shapes " + ShapeToString(a) + " and " + ShapeToString(b) +
                             " do not broadcast");
    }
    out[k] = da == 1 ? db : da;
  }
  return out;
}

int64_t BroadcastIndex(int64_t flat, const Shape& out, const std::vector<int64_t>& out_strides,
                       const Shape& in, const std::vector<int64_t>& in_strides) {
  int64_t idx = 0;
  size_t off = out.size() - in.size();
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t c = (flat / out_strides[k]) % out[k];
    if (k >= off && in[k - off] != 1) idx += c * in_strides[k - off];
  }
  return idx;
}

Result<Constant> FoldBinary(const std::string& op, const Constant& a, const Constant& b) {
  ASSIGN_OR_RETURN(Shape out, BroadcastShapes(a.shape, b.shape));
  int64_t n = NumElements(out);
  auto os = Strides(out), as = Strides(a.shape), bs = Strides(b.shape);
  Constant c;
  c.shape = out;
  c.is_int = a.is_int && b.is_int;
  if (c.is_int) {
    c.i.resize(n);
  } else {
    c.f.resize(n);
  }
  for (int64_t k = 0; k < n; ++k) {
    int64_t ia = BroadcastIndex(k, out, os, a.shape, as);
    int64_t ib = BroadcastIndex(k, out, os, b.shape, bs);
    if (c.is_int) {
      int64_t x = a.i[ia], y = b.i[ib], r = 0;
      if (op == "Add") r = x + y;
      if (op == "Sub") r = x - y;
      if (op == "Mul") r = x * y;
      if (op == "Div") {
        if (y == 0) return InvalidArgument("integer division by zero in a constant");
        r = x / y;
      }
      c.i[k] = r;
    } else {
      double x = a.at(ia), y = b.at(ib), r = 0;
      if (op == "Add") r = x + y;
      if (op == "Sub") r = x - y;
      if (op == "Mul") r = x * y;
      if (op == "Div") r = x / y;
      c.f[k] = static_cast<float>(r);
    }
  }
  return c;
}

Constant Transposed(const Constant& in, const std::vector<int64_t>& perm) {
  Shape out(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) out[k] = in.shape[perm[k]];
  auto is = Strides(in.shape), os = Strides(out);
  Constant c;
  c.is_int = in.is_int;
  c.shape = out;
  int64_t n = in.size();
  if (c.is_int) {
    c.i.resize(n);
  } else {
    c.f.resize(n);
  }
  for (int64_t k = 0; k < n; ++k) {
    int64_t src = 0;
    for (size_t d = 0; d < out.size(); ++d) src += ((k / os[d]) % out[d]) * is[perm[d]];
    if (c.is_int) {
      c.i[k] = in.i[src];
    } else {
      c.f[k] = in.f[src];
    }
  }
  return c;
}

Result<int64_t> NormalizeAxis(int64_t axis, size_t rank) {
  int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) {
    return InvalidArgument("axis " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(r));
  }
  return axis < 0 ? axis + r : axis;
}

Result<Shape> ReshapeTarget(const Shape& in, const Constant& target, bool allow_zero) {
  Shape out(target.size());
  int infer = -1;
  int64_t known = 1;
  for (int64_t k = 0; k < target.size(); ++k) {
    int64_t d = target.int_at(k);
    if (d == 0 && !allow_zero) {
      if (k >= static_cast<int64_t>(in.size())) return InvalidArgument("0 in shape beyond rank");
      d = in[k];
    }
    if (d == -1) {
      if (infer >= 0) return InvalidArgument("more than one -1 in the target shape");
      infer = static_cast<int>(k);
      d = 1;
    } else if (d < 0) {
      return InvalidArgument("negative dimension in the target shape");
    }
    out[k] = d;
    known *= d;
  }
  int64_t total = NumElements(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return InvalidArgument("cannot infer -1 reshaping " + ShapeToString(in));
    }
    out[infer] = total / known;
  } else if (known != total) {
    return InvalidArgument("cannot reshape " + ShapeToString(in) + " to " + ShapeToString(out));
  }
  return out;
}

int64_t PoolOut(int64_t in, int64_t k_eff, int64_t s, int64_t p0, int64_t p1, bool ceil_mode) {
  int64_t span = in + p0 + p1 - k_eff;
  if (!ceil_mode) return span / s + 1;
  int64_t out = (span + s - 1) / s + 1;
  // A last window that would start inside the end padding is dropped.
  if ((out - 1) * s >= in + p0) --out;
  return out;
}

}  // namespace ringo::convert
