// ONNX's loss ops (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss) as ML Program
// compositions: a gather of each target's log-probability, weights, ignored targets, reduction.
#include "convert/importer.h"

namespace ringo::convert {

Status Importer::LowerLoss(const onnx::NodeProto& node, Op& op) {
  const bool softmax = node.op_type() == "SoftmaxCrossEntropyLoss";
  const std::string x = In(node, 0), target = In(node, 1), weight = In(node, 2);
  const DType f = DType::kFloat, i = DType::kInt;
  if (TypeOf(x) != f) return Fail(node, "the scores must be float");
  if (!graph_.shapes.count(target) || TypeOf(target) != i) {
    return Fail(node, "the target must be an integer tensor");
  }
  const Shape xs = ShapeOf(x), ts = ShapeOf(target);
  Shape expect = xs;
  if (xs.size() < 2) return Fail(node, "the input must be [N, C, ...]");
  expect.erase(expect.begin() + 1);
  if (ts != expect) return Fail(node, "the target must be the input's shape without axis 1");
  const std::string reduction = AttrString(node, "reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean") {
    return Fail(node, "reduction '" + reduction + "' is not none, sum or mean");
  }
  std::string logp = x;
  if (softmax) {
    Shape kept = xs;
    kept[1] = 1;
    std::string lse = Step(node, "reduce_log_sum_exp", {x}, {"x"},
                           {{"axes", Param::Ints({1})}, {"keep_dims", Param::Bool(true)}}, kept, f);
    std::string log_prob = node.output_size() > 1 ? node.output(1) : "";
    logp = Step(node, "sub", {x, lse}, {"x", "y"}, {}, xs, f, log_prob);
  }
  // Ignored targets read class 0 and weigh nothing.
  std::string index = target, valid;
  if (FindAttr(node, "ignore_index")) {
    const int64_t ignored = AttrInt(node, "ignore_index", 0);
    std::string ignore = AddConst(node, "ignore", Constant::Ints({}, {ignored}));
    std::string zero = AddConst(node, "zero", Constant::Ints({}, {0}));
    std::string keep = Step(node, "not_equal", {target, ignore}, {"x", "y"}, {}, ts, DType::kBool);
    index = Step(node, "select", {keep, target, zero}, {"cond", "a", "b"}, {}, ts, i);
    valid = Step(node, "cast", {keep}, {"x"}, {{"dtype", Param::String("fp32")}}, ts, f);
  }
  Shape column = xs;
  column[1] = 1;
  std::string index1 = Step(node, "reshape", {index}, {"x"}, {{"shape", Param::Ints(column)}},
                            column, i);
  std::string picked = Step(node, "gather_along_axis", {logp, index1}, {"x", "indices"},
                            {{"axis", Param::Int(1)}}, column, f);
  picked = Step(node, "reshape", {picked}, {"x"}, {{"shape", Param::Ints(ts)}}, ts, f);
  std::string w = valid;
  if (!weight.empty()) {
    if (ShapeOf(weight) != Shape{xs[1]}) return Fail(node, "the weights must be [C]");
    w = Step(node, "gather", {weight, index}, {"x", "indices"}, {{"axis", Param::Int(0)}}, ts, f);
    if (!valid.empty()) w = Step(node, "mul", {w, valid}, {"x", "y"}, {}, ts, f);
  }
  const std::string out = node.output(0);
  const bool none = reduction == "none";
  std::string loss = Step(node, "mul", {picked}, {"x"}, {{"y", Param::Float(-1.0)}}, ts, f,
                          none && w.empty() ? out : "");
  if (!w.empty()) loss = Step(node, "mul", {loss, w}, {"x", "y"}, {}, ts, f, none ? out : "");
  if (none) return Status::Ok();
  std::vector<int64_t> all;
  for (size_t d = 0; d < ts.size(); ++d) all.push_back(static_cast<int64_t>(d));
  auto sum = [&](const std::string& v, const std::string& name) {
    return Step(node, "reduce_sum", {v}, {"x"},
                {{"axes", Param::Ints(all)}, {"keep_dims", Param::Bool(false)}}, {}, f, name);
  };
  if (reduction == "sum") {
    sum(loss, out);
    return Status::Ok();
  }
  std::string total = sum(loss, "");
  if (w.empty()) {
    Step(node, "real_div", {total}, {"x"},
         {{"y", Param::Float(static_cast<double>(NumElements(ts)))}}, {}, f, out);
  } else {
    Step(node, "real_div", {total, sum(w, "")}, {"x", "y"}, {}, {}, f, out);
  }
  (void)op;
  return Status::Ok();
}

}  // namespace ringo::convert
