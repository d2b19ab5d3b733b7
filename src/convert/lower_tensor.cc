// ONNX indexing, shape and type ops and normalizations lowered to ML Program ops.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "convert/importer.h"

namespace ringo::convert {

namespace {

Shape Kept(const Shape& s, const std::vector<int64_t>& axes) {
  Shape out = s;
  for (int64_t a : axes) out[a] = 1;
  return out;
}

}  // namespace

std::string Importer::AddConst(const onnx::NodeProto& node, const std::string& what,
                               Constant c) {
  std::string name = Temp(node, what);
  graph_.shapes[name] = c.shape;
  consts_[name] = std::move(c);
  return name;
}

std::string Importer::Normalize(const onnx::NodeProto& node, const std::string& x,
                                const std::vector<int64_t>& axes, float epsilon,
                                std::string* mean, std::string* inv) {
  const Shape xs = ShapeOf(x), ks = Kept(xs, axes);
  const DType f = DType::kFloat;
  auto reduce = [&](const std::string& in, const std::string& out) {
    return Step(node, "reduce_mean", {in}, {"x"},
                {{"axes", Param::Ints(axes)}, {"keep_dims", Param::Bool(true)}}, ks, f, out);
  };
  *mean = reduce(x, *mean);
  std::string d = Step(node, "sub", {x, *mean}, {"x", "y"}, {}, xs, f);
  std::string sq = Step(node, "mul", {d, d}, {"x", "y"}, {}, xs, f);
  std::string var = reduce(sq, "");
  std::string ve = Step(node, "add", {var}, {"x"}, {{"y", Param::Float(epsilon)}}, ks, f);
  std::string sd = Step(node, "sqrt", {ve}, {"x"}, {}, ks, f);
  *inv = Step(node, "real_div", {sd}, {"y"}, {{"x", Param::Float(1.0)}}, ks, f, *inv);
  return Step(node, "mul", {d, *inv}, {"x", "y"}, {}, xs, f);
}

Status Importer::LowerSoftmaxFamily(const onnx::NodeProto& node, Op& op) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  const Shape xs = ShapeOf(x);
  const DType f = DType::kFloat;
  if (TypeOf(x) != f) return Fail(node, "the input must be a float tensor");
  const bool old = op_version_ < 13;
  auto axis = NormalizeAxis(AttrInt(node, "axis", old ? 1 : -1), xs.size());
  if (!axis.ok()) return Fail(node, axis.status().message());
  int64_t a = *axis;
  bool flat = false;
  for (size_t d = a + 1; old && d < xs.size(); ++d) flat = flat || xs[d] != 1;
  std::string in = x;
  Shape work = xs;
  if (flat) {
    work = {NumElements(Shape(xs.begin(), xs.begin() + a)),
            NumElements(Shape(xs.begin() + a, xs.end()))};
    in = Step(node, "reshape", {x}, {"x"}, {{"shape", Param::Ints(work)}}, work, f);
    a = 1;
  }
  const std::string out = flat ? "" : node.output(0);
  Shape kept = work;
  kept[a] = 1;
  std::string r;
  if (t == "Softmax") {
    r = Step(node, "softmax", {in}, {"x"}, {{"axis", Param::Int(a)}}, work, f, out);
  } else if (t == "LogSoftmax") {
    // x - log(sum(exp(x))): exact where log(softmax(x)) would underflow.
    std::string lse = Step(node, "reduce_log_sum_exp", {in}, {"x"},
                           {{"axes", Param::Ints({a})}, {"keep_dims", Param::Bool(true)}}, kept, f);
    r = Step(node, "sub", {in, lse}, {"x", "y"}, {}, work, f, out);
  } else {  // Hardmax: 1 where the first maximum along the axis is, else 0
    std::string arg = Step(node, "reduce_argmax", {in}, {"x"},
                           {{"axis", Param::Int(a)}, {"keep_dims", Param::Bool(true)}}, kept,
                           DType::kInt);
    Shape iota_shape(work.size(), 1);
    iota_shape[a] = work[a];
    std::vector<int64_t> iota(work[a]);
    std::iota(iota.begin(), iota.end(), 0);
    std::string positions = AddConst(node, "positions", Constant::Ints(iota_shape, iota));
    std::string hit = Step(node, "equal", {arg, positions}, {"x", "y"}, {}, work, DType::kBool);
    r = Step(node, "cast", {hit}, {"x"}, {{"dtype", Param::String("fp32")}}, work, f, out);
  }
  if (flat) Step(node, "reshape", {r}, {"x"}, {{"shape", Param::Ints(xs)}}, xs, f, node.output(0));
  (void)op;
  return Status::Ok();
}

Result<Importer::SliceGeometry> Importer::SliceOf(const onnx::NodeProto& node,
                                                   const Shape& xs) {
  const size_t rank = xs.size();
  std::vector<int64_t> starts, ends, axes, steps;
  if (op_version_ < 10) {
    starts = AttrInts(node, "starts", {});
    ends = AttrInts(node, "ends", {});
    axes = AttrInts(node, "axes", {});
  } else {
    for (int k = 1; k <= 4; ++k) {
      if (In(node, k).empty()) continue;
      const Constant* c = ConstOf(In(node, k));
      if (!c) return Fail(node, "starts, ends, axes and steps must be constants");
      std::vector<int64_t>& dst = k == 1 ? starts : k == 2 ? ends : k == 3 ? axes : steps;
      for (int64_t i = 0; i < c->size(); ++i) dst.push_back(c->int_at(i));
    }
  }
  if (axes.empty()) {
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return Fail(node, "starts, ends, axes and steps differ in length");
  }
  SliceGeometry g;
  g.begin.assign(rank, 0);
  g.end.assign(xs.begin(), xs.end());
  g.stride.assign(rank, 1);
  g.end_mask.assign(rank, false);
  g.out = xs;
  for (size_t k = 0; k < starts.size(); ++k) {
    auto axis = NormalizeAxis(axes[k], rank);
    if (!axis.ok()) return Fail(node, axis.status().message());
    const int64_t d = *axis, n = xs[d], s = steps[k];
    if (s == 0) return Fail(node, "a step of 0");
    int64_t b = starts[k], e = ends[k];
    if (b < 0) b += n;
    if (e < 0) e += n;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      g.out[d] = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      g.out[d] = b > e ? (b - e - s - 1) / -s : 0;
      g.end_mask[d] = e < 0;  // "through index 0": a negative end would count from the back
    }
    g.begin[d] = b;
    g.end[d] = e < 0 ? 0 : e;
    g.stride[d] = s;
  }
  return g;
}

Status Importer::LowerSlice(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  const Shape xs = ShapeOf(x);
  ASSIGN_OR_RETURN(SliceGeometry g, SliceOf(node, xs));
  if (const Constant* c = ConstOf(x)) {
    // Shape arithmetic on constants (an empty result included) folds.
    Constant r;
    r.is_int = c->is_int;
    r.is_bool = c->is_bool;
    r.shape = g.out;
    const auto strides = Strides(xs);
    std::vector<int64_t> index(xs.size(), 0);
    for (int64_t k = 0; k < NumElements(g.out); ++k) {
      int64_t src = 0;
      for (size_t d = 0; d < xs.size(); ++d) {
        src += (g.begin[d] + index[d] * g.stride[d]) * strides[d];
      }
      if (c->is_int) {
        r.i.push_back(c->i[src]);
      } else {
        r.f.push_back(c->f[src]);
      }
      for (size_t d = xs.size(); d-- > 0;) {
        if (++index[d] < g.out[d]) break;
        index[d] = 0;
      }
    }
    graph_.shapes[node.output(0)] = r.shape;
    consts_[node.output(0)] = std::move(r);
    return Status::Ok();
  }
  if (NumElements(g.out) == 0) return Fail(node, "the slice is empty");
  const size_t rank = xs.size();
  op.attrs = {{"begin", Param::Ints(g.begin)},
              {"end", Param::Ints(g.end)},
              {"stride", Param::Ints(g.stride)},
              {"begin_mask", Param::Bools(std::vector<bool>(rank, false))},
              {"end_mask", Param::Bools(g.end_mask)}};
  return EmitGeneric(node, std::move(op), "slice_by_index", {x}, {"x"}, g.out, TypeOf(x));
}

Status Importer::LowerSplit(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  const Shape xs = ShapeOf(x);
  auto axis = NormalizeAxis(AttrInt(node, "axis", 0), xs.size());
  if (!axis.ok()) return Fail(node, axis.status().message());
  std::vector<int64_t> sizes = AttrInts(node, "split", {});
  if (!In(node, 1).empty()) {
    const Constant* c = ConstOf(In(node, 1));
    if (!c) return Fail(node, "split must be a constant");
    for (int64_t i = 0; i < c->size(); ++i) sizes.push_back(c->int_at(i));
  }
  const int64_t n = xs[*axis], parts = node.output_size();
  if (sizes.empty()) {
    if (n % parts != 0) return Fail(node, "the axis does not split evenly");
    sizes.assign(parts, n / parts);
  }
  if (static_cast<int64_t>(sizes.size()) != parts ||
      std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) != n) {
    return Fail(node, "split sizes do not fit the outputs and the axis");
  }
  const size_t rank = xs.size();
  std::vector<bool> whole(rank, true);
  whole[*axis] = false;
  int64_t offset = 0;
  for (int64_t k = 0; k < parts; ++k) {
    if (sizes[k] <= 0) return Fail(node, "an empty part");
    std::vector<int64_t> begin(rank, 0), end(rank, 0);
    begin[*axis] = offset;
    end[*axis] = offset + sizes[k];
    Shape out = xs;
    out[*axis] = sizes[k];
    Step(node, "slice_by_index", {x}, {"x"},
         {{"begin", Param::Ints(begin)},
          {"end", Param::Ints(end)},
          {"begin_mask", Param::Bools(whole)},
          {"end_mask", Param::Bools(whole)}},
         out, TypeOf(x), node.output(k));
    offset += sizes[k];
  }
  (void)op;
  return Status::Ok();
}

// Gemm as a batched matmul when B is computed or A is transposed (the constant, plain case is
// an inner product in onnx_import.cc).
Status Importer::LowerGemm(const onnx::NodeProto& node, Op& op) {
  const std::string a = In(node, 0), b = In(node, 1), c = In(node, 2);
  const Shape as = ShapeOf(a), bs = ShapeOf(b);
  if (as.size() != 2 || bs.size() != 2) return Fail(node, "A and B must be matrices");
  const bool ta = AttrInt(node, "transA", 0) != 0, tb = AttrInt(node, "transB", 0) != 0;
  const float alpha = AttrFloat(node, "alpha", 1.0f), beta = AttrFloat(node, "beta", 1.0f);
  const Shape out = {ta ? as[1] : as[0], tb ? bs[0] : bs[1]};
  if ((ta ? as[0] : as[1]) != (tb ? bs[1] : bs[0])) return Fail(node, "A and B do not multiply");
  const DType f = DType::kFloat;
  const bool scale = alpha != 1.0f, bias = !c.empty();
  std::string r = Step(node, "matmul", {a, b}, {"x", "y"},
                       {{"transpose_x", Param::Bool(ta)}, {"transpose_y", Param::Bool(tb)}}, out,
                       f, scale || bias ? "" : node.output(0));
  if (scale) {
    r = Step(node, "mul", {r}, {"x"}, {{"y", Param::Float(alpha)}}, out, f,
             bias ? "" : node.output(0));
  }
  if (bias) {
    auto shape = BroadcastShapes(out, ShapeOf(c));
    if (!shape.ok() || *shape != out) return Fail(node, "C does not broadcast to the result");
    std::string cc = c;
    if (beta != 1.0f) {
      cc = Step(node, "mul", {c}, {"x"}, {{"y", Param::Float(beta)}}, ShapeOf(c), f);
    }
    Step(node, "add", {r, cc}, {"x", "y"}, {}, out, f, node.output(0));
  }
  (void)op;
  return Status::Ok();
}

Status Importer::LowerCast(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  DType to;
  if (node.op_type() == "CastLike") {
    to = TypeOf(In(node, 1));
  } else if (!ElementType(static_cast<int32_t>(AttrInt(node, "to", 0)), &to)) {
    return Fail(node, "cast to ONNX element type " + std::to_string(AttrInt(node, "to", 0)) +
                          " is not supported");
  }
  if (to == TypeOf(x)) {
    return EmitGeneric(node, std::move(op), "identity", {x}, {"x"}, ShapeOf(x), to);
  }
  op.attrs["dtype"] =
      Param::String(to == DType::kFloat ? "fp32" : to == DType::kInt ? "int32" : "bool");
  return EmitGeneric(node, std::move(op), "cast", {x}, {"x"}, ShapeOf(x), to);
}

Status Importer::LowerTensorOp(const onnx::NodeProto& node, Op& op, bool* handled) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  *handled = true;
  if (t == "Softmax") {
    // Only the old many-axes form; one-axis softmax stays a canonical op both formats write.
    const Shape& xs = ShapeOf(x);
    auto axis = NormalizeAxis(AttrInt(node, "axis", 1), xs.size());
    bool many = false;
    for (size_t d = axis.ok() ? *axis + 1 : xs.size(); d < xs.size(); ++d) many |= xs[d] != 1;
    if (op_version_ < 13 && many) return LowerSoftmaxFamily(node, op);
  }
  if (t == "LogSoftmax" || t == "Hardmax") return LowerSoftmaxFamily(node, op);
  if (t == "Slice") return LowerSlice(node, op);
  if (t == "Resize" || t == "Upsample") return LowerResize(node, op);
  if (t == "ConvTranspose") return LowerConvTranspose(node, op);
  if (t == "LSTM" || t == "GRU" || t == "RNN") return LowerRnn(node, op);
  if (t == "Einsum") return LowerEinsum(node, op);
  if (t == "NegativeLogLikelihoodLoss" || t == "SoftmaxCrossEntropyLoss") {
    return LowerLoss(node, op);
  }
  if (t == "ConstantOfShape" || t == "Range") {
    return Fail(node, "the inputs must be constants (the result's shape depends on them)");
  }
  if (t == "Split") return LowerSplit(node, op);
  if (t == "Cast" || t == "CastLike") return LowerCast(node, op);
  if (t == "Gemm") {
    const Constant* b = Peek(In(node, 1));  // LowerLinear may write B from the mapping
    if (!b || AttrInt(node, "transA", 0) != 0) return LowerGemm(node, op);
  }
  if (t == "Clip" && op_version_ >= 11) {
    bool dynamic = TypeOf(x) == DType::kInt;  // clip's bounds are float: integers go this way
    for (int k = 1; k <= 2; ++k) dynamic |= !In(node, k).empty() && !ConstOf(In(node, k));
    if (dynamic) {
      if (TypeOf(x) == DType::kBool) return Fail(node, "bool inputs are not supported");
      if (In(node, 1).empty() && In(node, 2).empty()) {
        return EmitGeneric(node, std::move(op), "identity", {x}, {"x"}, ShapeOf(x), TypeOf(x));
      }
      std::string r = x;
      const Shape& xs = ShapeOf(x);
      for (int k = 1; k <= 2; ++k) {
        if (In(node, k).empty()) continue;
        bool last = k == 2 || In(node, 2).empty();
        r = Step(node, k == 1 ? "maximum" : "minimum", {r, In(node, k)}, {"x", "y"}, {}, xs,
                 TypeOf(x), last ? node.output(0) : "");
      }
      return Status::Ok();
    }
  }
  if (t == "Gather" || t == "GatherElements") return LowerGather(node, op);
  if (t == "ScatterElements" || t == "Scatter" || t == "ScatterND" || t == "GatherND") {
    return LowerScatter(node, op);
  }
  if (t == "CumSum") return LowerCumSum(node, op);
  if (t == "Tile" || t == "Expand") return LowerTile(node, op);
  if (t == "Trilu") return LowerTrilu(node, op);
  if (t == "DepthToSpace" || t == "SpaceToDepth") return LowerDepthToSpace(node);
  *handled = false;
  return Status::Ok();
}

// Gather and GatherElements.
Status Importer::LowerGather(const onnx::NodeProto& node, Op& op) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  std::string idx = In(node, 1);
  if (!graph_.shapes.count(idx)) return Fail(node, "indices have no known shape");
  if (TypeOf(idx) != DType::kInt) return Fail(node, "indices must be integers");
  const Shape& xs = ShapeOf(x);
  auto axis = NormalizeAxis(AttrInt(node, "axis", 0), xs.size());
  if (!axis.ok()) return Fail(node, axis.status().message());
  op.attrs["axis"] = Param::Int(*axis);
  if (t == "GatherElements") {
    if (ShapeOf(idx).size() != xs.size()) return Fail(node, "indices and data differ in rank");
    return EmitGeneric(node, std::move(op), "gather_along_axis", {x, idx}, {"x", "indices"},
                       ShapeOf(idx), TypeOf(x));
  }
  Shape out(xs.begin(), xs.begin() + *axis);
  const Shape& is = ShapeOf(idx);
  out.insert(out.end(), is.begin(), is.end());
  out.insert(out.end(), xs.begin() + *axis + 1, xs.end());
  return EmitGeneric(node, std::move(op), "gather", {x, idx}, {"x", "indices"}, out, TypeOf(x));
}

Status Importer::LowerCumSum(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  const Constant* a = ConstOf(In(node, 1));
  if (!a || a->size() != 1) return Fail(node, "axis must be a constant scalar");
  auto axis = NormalizeAxis(a->int_at(0), ShapeOf(x).size());
  if (!axis.ok()) return Fail(node, axis.status().message());
  if (TypeOf(x) == DType::kBool) return Fail(node, "bool inputs are not supported");
  op.attrs = {{"axis", Param::Int(*axis)},
              {"exclusive", Param::Bool(AttrInt(node, "exclusive", 0) != 0)},
              {"reverse", Param::Bool(AttrInt(node, "reverse", 0) != 0)}};
  return EmitGeneric(node, std::move(op), "cumsum", {x}, {"x"}, ShapeOf(x), TypeOf(x));
}

// Tile, and Expand as a tile of the input reshaped to the result's rank.
Status Importer::LowerTile(const onnx::NodeProto& node, Op& op) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  const Constant* c = ConstOf(In(node, 1));
  if (!c) {
    return Fail(node, std::string(t == "Tile" ? "repeats" : "shape") + " must be a constant");
  }
  std::vector<int64_t> v;
  for (int64_t i = 0; i < c->size(); ++i) v.push_back(c->int_at(i));
  Shape xs = ShapeOf(x);
  std::string in = x;
  if (t == "Expand") {
    auto out = BroadcastShapes(xs, v);
    if (!out.ok()) return Fail(node, out.status().message());
    if (out->size() > xs.size()) {
      Shape padded(out->size() - xs.size(), 1);
      padded.insert(padded.end(), xs.begin(), xs.end());
      in = Step(node, "reshape", {x}, {"x"}, {{"shape", Param::Ints(padded)}}, padded,
                TypeOf(x));
      xs = padded;
    }
    v.clear();
    for (size_t d = 0; d < xs.size(); ++d) v.push_back(xs[d] == (*out)[d] ? 1 : (*out)[d]);
  }
  if (v.size() != xs.size()) return Fail(node, "repeats need one value per axis");
  Shape out = xs;
  for (size_t d = 0; d < xs.size(); ++d) out[d] *= v[d];
  if (NumElements(out) == 0) return Fail(node, "the result is empty");
  op.attrs["reps"] = Param::Ints(v);
  return EmitGeneric(node, std::move(op), "tile", {in}, {"x"}, out, TypeOf(x));
}

// Trilu as a select against a constant mask.
Status Importer::LowerTrilu(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  const Shape& xs = ShapeOf(x);
  if (xs.size() < 2) return Fail(node, "the input must have rank 2 or more");
  int64_t k = 0;
  if (!In(node, 1).empty()) {
    const Constant* c = ConstOf(In(node, 1));
    if (!c || c->size() != 1) return Fail(node, "k must be a constant scalar");
    k = c->int_at(0);
  }
  const bool upper = AttrInt(node, "upper", 1) != 0;
  const int64_t rows = xs[xs.size() - 2], cols = xs.back();
  Constant keep = Constant::Ints({rows, cols}, std::vector<int64_t>(rows * cols));
  keep.is_bool = true;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) keep.i[i * cols + j] = upper ? j - i >= k : j - i <= k;
  }
  std::string mask = AddConst(node, "mask", std::move(keep));
  std::string zero = AddConst(node, "zero", TypeOf(x) == DType::kFloat
                                                ? Constant::Floats({}, {0.0f})
                                                : Constant::Ints({}, {0}));
  return EmitGeneric(node, std::move(op), "select", {mask, x, zero}, {"cond", "a", "b"}, xs,
                     TypeOf(x));
}

// DepthToSpace and SpaceToDepth as reshape, transpose, reshape.
Status Importer::LowerDepthToSpace(const onnx::NodeProto& node) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  const Shape& xs = ShapeOf(x);
  const int64_t b = AttrInt(node, "blocksize", 0);
  if (xs.size() != 4 || b < 1) return Fail(node, "needs [N, C, H, W] and a blocksize");
  const int64_t n = xs[0], c = xs[1], h = xs[2], w = xs[3];
  Shape mid, out;
  std::vector<int64_t> perm;
  if (t == "DepthToSpace") {
    if (c % (b * b) != 0) return Fail(node, "channels do not divide by blocksize^2");
    bool crd = AttrString(node, "mode", "DCR") == "CRD";
    mid = crd ? Shape{n, c / (b * b), b, b, h, w} : Shape{n, b, b, c / (b * b), h, w};
    perm = crd ? std::vector<int64_t>{0, 1, 4, 2, 5, 3} : std::vector<int64_t>{0, 3, 4, 1, 5, 2};
    out = {n, c / (b * b), h * b, w * b};
  } else {
    if (h % b != 0 || w % b != 0) return Fail(node, "H and W do not divide by blocksize");
    mid = {n, c, h / b, b, w / b, b};
    perm = {0, 3, 5, 1, 2, 4};
    out = {n, c * b * b, h / b, w / b};
  }
  Shape moved(6);
  for (size_t d = 0; d < 6; ++d) moved[d] = mid[perm[d]];
  DType dt = TypeOf(x);
  std::string r = Step(node, "reshape", {x}, {"x"}, {{"shape", Param::Ints(mid)}}, mid, dt);
  r = Step(node, "transpose", {r}, {"x"}, {{"perm", Param::Ints(perm)}}, moved, dt);
  Step(node, "reshape", {r}, {"x"}, {{"shape", Param::Ints(out)}}, out, dt, node.output(0));
  return Status::Ok();
}

// LRN: x / (bias + alpha / size * s)^beta, s the sum of squares over a window of `size`
// channels (floor((size - 1) / 2) before, the rest after). The window sum is a convolution of
// the squares, laid out as [N, 1, C, H * W], with a kernel of ones.
Status Importer::LowerLrn(const onnx::NodeProto& node, Op& op) {
  const std::string x = In(node, 0);
  const Shape xs = ShapeOf(x);
  const DType f = DType::kFloat;
  if (TypeOf(x) != f) return Fail(node, "the input must be a float tensor");
  if (xs.size() < 3) return Fail(node, "the input must be [N, C, ...]");
  const int64_t size = AttrInt(node, "size", 0);
  if (size < 1) return Fail(node, "size must be positive");
  const float alpha = AttrFloat(node, "alpha", 1e-4f), beta = AttrFloat(node, "beta", 0.75f);
  const float bias = AttrFloat(node, "bias", 1.0f);
  const Shape column = {xs[0], 1, xs[1], NumElements(xs) / (xs[0] * xs[1])};
  std::string sq = Step(node, "mul", {x, x}, {"x", "y"}, {}, xs, f);
  sq = Step(node, "reshape", {sq}, {"x"}, {{"shape", Param::Ints(column)}}, column, f);
  Op sum;
  sum.type = "conv";
  sum.name = UniqueOpName(node);
  sum.onnx_op = node.op_type();
  sum.node = NodeName(node);
  sum.output = Temp(node, "window_sum");
  const std::string window = sum.output;
  sum.inputs = {sq};
  sum.weight = Constant::Floats({1, 1, size, 1}, std::vector<float>(size, 1.0f));
  sum.kernel = {size, 1};
  sum.strides = {1, 1};
  sum.dilations = {1, 1};
  sum.pads = {(size - 1) / 2, 0, size - 1 - (size - 1) / 2, 0};
  Emit(std::move(sum), column);
  std::string w = Step(node, "reshape", {window}, {"x"},
                       {{"shape", Param::Ints(xs)}}, xs, f);
  w = Step(node, "mul", {w}, {"x"}, {{"y", Param::Float(alpha / size)}}, xs, f);
  w = Step(node, "add", {w}, {"x"}, {{"y", Param::Float(bias)}}, xs, f);
  w = Step(node, "pow", {w}, {"x"}, {{"y", Param::Float(beta)}}, xs, f);
  RETURN_IF_ERROR(step_status_);
  return EmitGeneric(node, std::move(op), "real_div", {x, w}, {"x", "y"}, xs, f);
}

Status Importer::LowerNormalization(const onnx::NodeProto& node, Op& op, bool* handled) {
  const std::string& t = node.op_type();
  const std::string x = In(node, 0);
  *handled = true;
  const DType f = DType::kFloat;
  if (t == "LRN") return LowerLrn(node, op);
  if (t != "LayerNormalization" && t != "InstanceNormalization" &&
      t != "MeanVarianceNormalization") {
    *handled = false;
    return Status::Ok();
  }
  if (TypeOf(x) != f) return Fail(node, "the input must be a float tensor");
  const Shape xs = ShapeOf(x);
  const int64_t rank = static_cast<int64_t>(xs.size());
  std::vector<int64_t> axes;
  float eps = AttrFloat(node, "epsilon", 1e-5f);
  if (t == "LayerNormalization") {
    auto axis = NormalizeAxis(AttrInt(node, "axis", -1), xs.size());
    if (!axis.ok()) return Fail(node, axis.status().message());
    for (int64_t d = *axis; d < rank; ++d) axes.push_back(d);
  } else if (t == "InstanceNormalization") {
    if (rank < 3) return Fail(node, "the input must be [N, C, ...]");
    for (int64_t d = 2; d < rank; ++d) axes.push_back(d);
  } else {
    eps = 1e-9f;  // the function body's epsilon
    for (int64_t a : AttrInts(node, "axes", {0, 2, 3})) {
      auto n = NormalizeAxis(a, xs.size());
      if (!n.ok()) return Fail(node, n.status().message());
      axes.push_back(*n);
    }
  }
  std::string mean = t == "LayerNormalization" && node.output_size() > 1 ? node.output(1) : "";
  std::string inv = t == "LayerNormalization" && node.output_size() > 2 ? node.output(2) : "";
  std::string scale = In(node, 1), bias = In(node, 2);
  if (t == "InstanceNormalization") {
    // Per-channel scale and bias broadcast over [C, 1, ...].
    Shape per(rank - 1, 1);
    per[0] = xs[1];
    for (std::string* v : {&scale, &bias}) {
      if (ShapeOf(*v) != Shape{xs[1]}) return Fail(node, "scale and B must be [C]");
      if (const Constant* c = ConstOf(*v)) {
        Constant reshaped = *c;
        reshaped.shape = per;
        *v = AddConst(node, "per_channel", std::move(reshaped));
      } else {
        *v = Step(node, "reshape", {*v}, {"x"}, {{"shape", Param::Ints(per)}}, per, f);
      }
    }
  }
  std::string n = Normalize(node, x, axes, eps, &mean, &inv);
  if (t == "MeanVarianceNormalization") {
    Step(node, "identity", {n}, {"x"}, {}, xs, f, node.output(0));
    return Status::Ok();
  }
  for (const std::string& v : {scale, bias}) {
    if (v.empty()) continue;
    auto s = BroadcastShapes(xs, ShapeOf(v));
    if (!s.ok() || *s != xs) return Fail(node, "scale or bias does not broadcast to X");
  }
  std::string y = Step(node, "mul", {n, scale}, {"x", "y"}, {}, xs, f,
                       bias.empty() ? node.output(0) : "");
  if (!bias.empty()) Step(node, "add", {y, bias}, {"x", "y"}, {}, xs, f, node.output(0));
  (void)op;
  return Status::Ok();
}

}  // namespace ringo::convert
