// ScatterElements (and the older Scatter), ScatterND and GatherND as MIL's scatter_along_axis,
// scatter_nd and gather_nd, with negative indices wrapped in the graph.
#include "convert/importer.h"

namespace ringo::convert {

// idx < 0 ? idx + dims : idx, element-wise; `dims` is one size, or one per index of a tuple
// (the last axis of `idx`). Written as ops because the indices are values of the model.
std::string Importer::WrapIndices(const onnx::NodeProto& node, const std::string& idx,
                                  const std::vector<int64_t>& dims) {
  const Shape& s = ShapeOf(idx);
  const DType i = DType::kInt;
  Param size = dims.size() == 1 ? Param::Int(dims[0]) : Param::Ints(dims);
  std::string negative = Step(node, "less", {idx}, {"x"}, {{"y", Param::Int(0)}}, s, DType::kBool);
  std::string wrapped = Step(node, "add", {idx}, {"x"}, {{"y", size}}, s, i);
  return Step(node, "select", {negative, wrapped, idx}, {"cond", "a", "b"}, {}, s, i);
}

Status Importer::LowerScatter(const onnx::NodeProto& node, Op& op) {
  const std::string& t = node.op_type();
  const std::string data = In(node, 0), idx = In(node, 1);
  if (!graph_.shapes.count(idx)) return Fail(node, "indices have no known shape");
  if (TypeOf(idx) != DType::kInt) return Fail(node, "indices must be integers");
  if (TypeOf(data) == DType::kBool) return Fail(node, "bool data is not supported");
  const Shape& xs = ShapeOf(data);
  const Shape& is = ShapeOf(idx);
  if (is.empty()) return Fail(node, "indices must have a rank");
  if (t == "GatherND") {
    if (AttrInt(node, "batch_dims", 0) != 0) return Fail(node, "batch_dims is not supported");
    const int64_t k = is.back();
    if (k < 1 || k > static_cast<int64_t>(xs.size())) {
      return Fail(node, "index tuples of " + std::to_string(k) + " for a rank-" +
                            std::to_string(xs.size()) + " input");
    }
    Shape out(is.begin(), is.end() - 1);
    out.insert(out.end(), xs.begin() + k, xs.end());
    std::string fixed = WrapIndices(node, idx, Shape(xs.begin(), xs.begin() + k));
    RETURN_IF_ERROR(step_status_);
    return EmitGeneric(node, std::move(op), "gather_nd", {data, fixed}, {"x", "indices"}, out,
                       TypeOf(data));
  }
  const std::string updates = In(node, 2);
  if (!graph_.shapes.count(updates)) return Fail(node, "updates have no known shape");
  if (TypeOf(updates) != TypeOf(data)) return Fail(node, "updates and data differ in type");
  static const std::map<std::string, std::string> kModes = {
      {"none", "update"}, {"add", "add"}, {"mul", "mul"}, {"max", "max"}, {"min", "min"}};
  const std::string reduction = AttrString(node, "reduction", "none");
  auto mode = kModes.find(reduction);
  if (mode == kModes.end()) return Fail(node, "reduction '" + reduction + "' is not supported");
  op.attrs["mode"] = Param::String(mode->second);
  if (t == "ScatterND") {
    const int64_t k = is.back();
    Shape want(is.begin(), is.end() - 1);
    if (k >= 1 && k <= static_cast<int64_t>(xs.size())) {
      want.insert(want.end(), xs.begin() + k, xs.end());
    }
    if (k < 1 || k > static_cast<int64_t>(xs.size()) || ShapeOf(updates) != want) {
      return Fail(node, "indices " + ShapeToString(is) + " and updates " +
                            ShapeToString(ShapeOf(updates)) + " do not fit data " +
                            ShapeToString(xs));
    }
    std::string fixed = WrapIndices(node, idx, Shape(xs.begin(), xs.begin() + k));
    RETURN_IF_ERROR(step_status_);
    return EmitGeneric(node, std::move(op), "scatter_nd", {data, fixed, updates},
                       {"data", "indices", "updates"}, xs, TypeOf(data));
  }
  // ScatterElements and Scatter: indices and updates of one shape, data's rank.
  auto axis = NormalizeAxis(AttrInt(node, "axis", 0), xs.size());
  if (!axis.ok()) return Fail(node, axis.status().message());
  if (is.size() != xs.size() || ShapeOf(updates) != is) {
    return Fail(node, "indices and updates must share a shape of data's rank");
  }
  for (size_t d = 0; d < xs.size(); ++d) {
    if (is[d] > xs[d]) return Fail(node, "indices exceed data on axis " + std::to_string(d));
  }
  op.attrs["axis"] = Param::Int(*axis);
  std::string fixed = WrapIndices(node, idx, {xs[*axis]});
  RETURN_IF_ERROR(step_status_);
  return EmitGeneric(node, std::move(op), "scatter_along_axis", {data, fixed, updates},
                     {"data", "indices", "updates"}, xs, TypeOf(data));
}

}  // namespace ringo::convert
