// Indexing, shape, layout and type ops of the ML Program evaluator, and classify.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "coreml/evaluate_mil.h"

namespace ringo::coreml::internal {

using kernels::ShapeString;

Result<std::vector<int64_t>> OpRunner::Indices(const MilValue& v, int64_t n) {
  std::vector<int64_t> out;
  for (float f : v.t.data) {
    int64_t j = static_cast<int64_t>(f);
    if (j < 0) j += n;
    if (j < 0 || j >= n) {
      return InvalidArgument(what_ + ": index " + std::to_string(static_cast<int64_t>(f)) +
                             " is out of range for size " + std::to_string(n));
    }
    out.push_back(j);
  }
  return out;
}

Result<std::vector<MilValue>> OpRunner::Gather() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* idx, Required("indices"));
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{0}));
  if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
  ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
  ASSIGN_OR_RETURN(std::vector<int64_t> indices, Indices(*idx, x->t.shape[a]));
  return One(Float(kernels::Gather(x->t, indices, idx->t.shape, a)));
}

Result<std::vector<MilValue>> OpRunner::GatherAlongAxis() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* idx, Required("indices"));
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{0}));
  if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
  ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], x->t.shape.size(), what_));
  if (idx->t.shape.size() != x->t.shape.size()) {
    return InvalidArgument(what_ + ": indices and x differ in rank");
  }
  Tensor indices = idx->t;
  ASSIGN_OR_RETURN(std::vector<int64_t> flat, Indices(*idx, x->t.shape[a]));
  for (size_t i = 0; i < flat.size(); ++i) indices.data[i] = static_cast<float>(flat[i]);
  for (size_t d = 0; d < indices.shape.size(); ++d) {
    if (int64_t(d) != a && indices.shape[d] > x->t.shape[d]) {
      return InvalidArgument(what_ + ": indices exceed x outside the axis");
    }
  }
  return One(Float(kernels::GatherAlongAxis(x->t, indices, a)));
}

Result<std::function<float(float, float)>> OpRunner::ScatterMode() {
  ASSIGN_OR_RETURN(std::string mode, String("mode", "add"));
  auto combine = kernels::ScatterCombine(mode);
  if (!combine) return InvalidArgument(what_ + ": mode '" + mode + "' is unknown");
  return combine;
}

Result<std::vector<MilValue>> OpRunner::ScatterAlongAxis() {
  ASSIGN_OR_RETURN(const MilValue* data, Required("data"));
  ASSIGN_OR_RETURN(const MilValue* idx, Required("indices"));
  ASSIGN_OR_RETURN(const MilValue* updates, Required("updates"));
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::vector<int64_t>{0}));
  ASSIGN_OR_RETURN(auto combine, ScatterMode());
  const std::vector<int64_t>& ds = data->t.shape;
  if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
  ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], ds.size(), what_));
  const std::vector<int64_t>& is = idx->t.shape;
  bool fits = is.size() == ds.size() && updates->t.shape == is;
  for (size_t d = 0; fits && d < ds.size(); ++d) fits = is[d] <= ds[d];
  if (!fits) {
    return InvalidArgument(what_ + ": indices " + ShapeString(is) + " and updates " +
                           ShapeString(updates->t.shape) + " do not fit data " + ShapeString(ds));
  }
  Tensor indices = idx->t;
  ASSIGN_OR_RETURN(std::vector<int64_t> flat, Indices(*idx, ds[a]));
  for (size_t i = 0; i < flat.size(); ++i) indices.data[i] = static_cast<float>(flat[i]);
  return One(Float(kernels::ScatterAlongAxis(data->t, indices, updates->t, a, combine)));
}

Result<std::vector<MilValue>> OpRunner::ScatterNd() {
  ASSIGN_OR_RETURN(const MilValue* data, Required("data"));
  ASSIGN_OR_RETURN(const MilValue* idx, Required("indices"));
  ASSIGN_OR_RETURN(const MilValue* updates, Required("updates"));
  ASSIGN_OR_RETURN(auto combine, ScatterMode());
  int64_t slice = 0;
  auto offsets = kernels::TupleOffsets(idx->t, data->t.shape, &slice);
  if (!offsets.ok()) return InvalidArgument(what_ + ": " + offsets.status().message());
  if (updates->t.size() != static_cast<int64_t>(offsets->size()) * slice) {
    return InvalidArgument(what_ + ": updates " + ShapeString(updates->t.shape) +
                           " do not hold one slice per index tuple");
  }
  return One(Float(kernels::ScatterNd(data->t, *offsets, slice, updates->t, combine)));
}

Result<std::vector<MilValue>> OpRunner::GatherNd() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* idx, Required("indices"));
  int64_t slice = 0;
  auto offsets = kernels::TupleOffsets(idx->t, x->t.shape, &slice);
  if (!offsets.ok()) return InvalidArgument(what_ + ": " + offsets.status().message());
  return One(Float(kernels::GatherNd(x->t, idx->t.shape, *offsets, slice)));
}

Result<std::vector<MilValue>> OpRunner::SliceByIndex() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  const size_t rank = x->t.shape.size();
  ASSIGN_OR_RETURN(std::vector<int64_t> begin, Ints("begin", std::nullopt));
  ASSIGN_OR_RETURN(std::vector<int64_t> end, Ints("end", std::nullopt));
  ASSIGN_OR_RETURN(std::vector<int64_t> stride,
                   Ints("stride", std::vector<int64_t>(rank, 1)));
  std::vector<int64_t> none(rank, 0);
  ASSIGN_OR_RETURN(std::vector<int64_t> begin_mask, Ints("begin_mask", none));
  ASSIGN_OR_RETURN(std::vector<int64_t> end_mask, Ints("end_mask", none));
  ASSIGN_OR_RETURN(std::vector<int64_t> squeeze_mask, Ints("squeeze_mask", none));
  if (begin.size() != rank || end.size() != rank || stride.size() != rank ||
      begin_mask.size() != rank || end_mask.size() != rank || squeeze_mask.size() != rank) {
    return InvalidArgument(what_ + ": begin, end, stride and masks need one value per axis");
  }
  std::vector<int64_t> b(rank), e(rank), keep;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = x->t.shape[d], s = stride[d];
    if (s == 0) return InvalidArgument(what_ + ": stride 0");
    auto clamp = [&](int64_t v) {
      if (v < 0) v += n;
      return s > 0 ? std::clamp<int64_t>(v, 0, n) : std::clamp<int64_t>(v, -1, n - 1);
    };
    b[d] = begin_mask[d] ? (s > 0 ? 0 : n - 1) : clamp(begin[d]);
    e[d] = end_mask[d] ? (s > 0 ? n : -1) : clamp(end[d]);
    if (squeeze_mask[d]) e[d] = b[d] + (s > 0 ? 1 : -1);
    if (!squeeze_mask[d]) keep.push_back(static_cast<int64_t>(d));
  }
  Tensor out = kernels::StridedSlice(x->t, b, e, stride);
  std::vector<int64_t> shape;
  for (int64_t d : keep) shape.push_back(out.shape[d]);
  out.shape = shape;
  return One(Float(std::move(out)));
}

Result<std::vector<MilValue>> OpRunner::Tile() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::vector<int64_t> reps, Ints("reps", std::nullopt));
  if (reps.size() != x->t.shape.size()) {
    return InvalidArgument(what_ + ": reps needs one value per axis");
  }
  for (int64_t r : reps) {
    if (r < 0) return InvalidArgument(what_ + ": negative repetition");
  }
  return One(Float(kernels::Tile(x->t, reps)));
}

Result<std::vector<MilValue>> OpRunner::Reshape() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::vector<int64_t> shape, Ints("shape", std::nullopt));
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) return InvalidArgument(what_ + ": shape has more than one -1");
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      return InvalidArgument(what_ + ": negative dimension in shape");
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known > 0) shape[infer] = x->t.size() / known;
  Tensor t = x->t;
  t.shape = shape;
  if (t.size() != x->t.size()) {
    return InvalidArgument(what_ + " cannot reshape " + ShapeString(x->t.shape) + " to " +
                           ShapeString(shape));
  }
  return One(Float(std::move(t)));
}

Result<std::vector<MilValue>> OpRunner::Transpose() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::vector<int64_t> raw, Ints("perm", std::nullopt));
  ASSIGN_OR_RETURN(std::vector<int64_t> perm, Axes(raw, x->t.shape.size()));
  if (perm.size() != x->t.shape.size()) {
    return InvalidArgument(what_ + ": perm has " + std::to_string(perm.size()) +
                           " axes for rank " + std::to_string(x->t.shape.size()));
  }
  return One(Float(kernels::Transpose(x->t, perm)));
}

Result<std::vector<MilValue>> OpRunner::Squeeze() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(const MilValue* axes_v, Optional("axes"));
  Tensor t = x->t;
  std::vector<int64_t> shape;
  std::vector<int64_t> axes;
  if (axes_v != nullptr) {
    ASSIGN_OR_RETURN(std::vector<int64_t> raw, Ints("axes", std::nullopt));
    ASSIGN_OR_RETURN(axes, Axes(raw, t.shape.size()));
  }
  for (size_t i = 0; i < t.shape.size(); ++i) {
    bool listed = std::find(axes.begin(), axes.end(), int64_t(i)) != axes.end();
    if (listed && t.shape[i] != 1) {
      return InvalidArgument(what_ + ": axis " + std::to_string(i) + " has size " +
                             std::to_string(t.shape[i]));
    }
    if ((axes_v == nullptr && t.shape[i] == 1) || listed) continue;
    shape.push_back(t.shape[i]);
  }
  t.shape = shape;
  return One(Float(std::move(t)));
}

Result<std::vector<MilValue>> OpRunner::ExpandDims() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::vector<int64_t> raw, Ints("axes", std::nullopt));
  Tensor t = x->t;
  // Axes index the output, whose rank is the input's plus the number of new axes.
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, Axes(raw, t.shape.size() + raw.size()));
  std::sort(axes.begin(), axes.end());
  for (int64_t a : axes) t.shape.insert(t.shape.begin() + a, 1);
  return One(Float(std::move(t)));
}

Result<std::vector<MilValue>> OpRunner::Concat() {
  auto it = op_.inputs().find("values");
  if (it == op_.inputs().end() || it->second.arguments().empty()) {
    return InvalidArgument(what_ + " lacks parameter 'values'");
  }
  std::vector<const Tensor*> parts;
  for (const auto& b : it->second.arguments()) {
    ASSIGN_OR_RETURN(const MilValue* v, Resolve(b, "values"));
    parts.push_back(&v->t);
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, Ints("axis", std::nullopt));
  ASSIGN_OR_RETURN(bool interleave, Bool("interleave", false));
  if (interleave) return FailedPrecondition(what_ + ": interleave is not implemented");
  if (axis.size() != 1) return InvalidArgument(what_ + ": axis must be a scalar");
  ASSIGN_OR_RETURN(int64_t a, Axis(axis[0], parts[0]->shape.size(), what_));
  for (const Tensor* p : parts) {
    bool fits = p->shape.size() == parts[0]->shape.size();
    for (size_t d = 0; fits && d < p->shape.size(); ++d) {
      fits = int64_t(d) == a || p->shape[d] == parts[0]->shape[d];
    }
    if (!fits) {
      return InvalidArgument(what_ + " cannot join " + ShapeString(parts[0]->shape) + " and " +
                             ShapeString(p->shape));
    }
  }
  return One(Float(kernels::Concat(parts, a)));
}

Result<std::vector<MilValue>> OpRunner::Pad() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::vector<int64_t> pad, Ints("pad", std::nullopt));
  ASSIGN_OR_RETURN(std::string mode, String("mode", "constant"));
  ASSIGN_OR_RETURN(float value, Scalar("constant_val", 0.0f));
  const size_t rank = x->t.shape.size();
  if (pad.size() % 2 != 0 || pad.size() / 2 > rank) {
    return InvalidArgument(what_ + ": pad needs before/after pairs for at most " +
                           std::to_string(rank) + " axes");
  }
  // The pairs cover the last pad.size()/2 axes.
  std::vector<std::pair<int64_t, int64_t>> pads(rank, {0, 0});
  const size_t first = rank - pad.size() / 2;
  for (size_t i = 0; i < pad.size() / 2; ++i) {
    if (pad[2 * i] < 0 || pad[2 * i + 1] < 0) {
      return InvalidArgument(what_ + ": negative padding");
    }
    pads[first + i] = {pad[2 * i], pad[2 * i + 1]};
  }
  kernels::PadMode m;
  if (mode == "constant") {
    m = kernels::PadMode::kConstant;
  } else if (mode == "reflect") {
    m = kernels::PadMode::kReflect;
  } else if (mode == "replicate") {
    m = kernels::PadMode::kReplicate;
  } else {
    return FailedPrecondition(what_ + ": pad mode '" + mode + "' is not implemented");
  }
  return One(Float(kernels::Pad(x->t, pads, m, value)));
}

Result<std::vector<MilValue>> OpRunner::Cast() {
  ASSIGN_OR_RETURN(const MilValue* x, Required("x"));
  ASSIGN_OR_RETURN(std::string dtype, String("dtype", ""));
  MilValue v;
  v.t = x->t;
  if (dtype == "fp16") {
    // Half precision as the device stores it: every value rounded to the nearest binary16.
    v.type = mil::FLOAT16;
    for (float& f : v.t.data) f = RoundToHalf(f);
  } else if (dtype == "fp32") {
    v.type = mil::FLOAT32;
  } else if (dtype == "int32" || dtype == "int64" || dtype == "bool") {
    v.type = dtype == "bool" ? mil::BOOL : dtype == "int32" ? mil::INT32 : mil::INT64;
    std::vector<int64_t> ints;
    for (float f : v.t.data) {
      ints.push_back(dtype == "bool" ? int64_t(f != 0) : static_cast<int64_t>(f));
    }
    SetInts(&v, std::move(ints));
  } else {
    return FailedPrecondition(what_ + ": cast to '" + dtype + "' is not implemented");
  }
  return One(std::move(v));
}

Result<std::vector<MilValue>> OpRunner::Classify() {
  ASSIGN_OR_RETURN(const MilValue* probs, Required("probabilities"));
  ASSIGN_OR_RETURN(const MilValue* classes, Required("classes"));
  const bool strings = !classes->strings.empty();
  std::vector<std::string> labels = classes->strings;
  if (!strings) {
    for (int64_t c : classes->ints) labels.push_back(std::to_string(c));
  }
  if (labels.empty() || static_cast<int64_t>(labels.size()) != probs->t.size()) {
    return InvalidArgument(what_ + ": " + std::to_string(labels.size()) + " classes for " +
                           std::to_string(probs->t.size()) + " probabilities");
  }
  if (op_.outputs_size() != 2) return InvalidArgument(what_ + " needs two outputs");
  size_t best = static_cast<size_t>(std::max_element(probs->t.data.begin(), probs->t.data.end()) -
                                    probs->t.data.begin());
  MilValue label;
  if (strings) {
    label.type = mil::STRING;
    label.strings = {labels[best]};
  } else {
    label.type = mil::INT64;
    SetInts(&label, {classes->ints[best]});
  }
  label.t.shape = {};
  MilValue dict;
  dict.is_dict = true;
  for (size_t i = 0; i < labels.size(); ++i) dict.dict[labels[i]] = probs->t.data[i];
  std::vector<MilValue> out;
  out.push_back(std::move(label));
  out.push_back(std::move(dict));
  return out;
}

}  // namespace ringo::coreml::internal
