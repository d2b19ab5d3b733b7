// NeuralNetwork (.mlmodel) back end, rank-N part: the layers of spec 4 (iOS 13) that take
// blobs of any rank, for graphs the rank-5 layers cannot express (transformers, matrices).
#include <algorithm>
#include <map>

#include "convert/nn_emitter.h"

namespace ringo::convert {

namespace {

// Generic (ML Program) ops that are one NeuralNetwork unary function.
const std::map<std::string, spec::UnaryFunctionLayerParams::Operation>& UnaryOps() {
  using U = spec::UnaryFunctionLayerParams;
  static const std::map<std::string, U::Operation> kOps = {
      {"sqrt", U::SQRT}, {"rsqrt", U::RSQRT}, {"inverse", U::INVERSE},
      {"exp", U::EXP},   {"log", U::LOG},     {"abs", U::ABS}};
  return kOps;
}

using SetLayer = void (*)(spec::NeuralNetworkLayer*);

// Generic ops that are one element-wise layer of their own, without parameters.
const std::map<std::string, SetLayer>& ElementwiseLayers() {
  using Layer = spec::NeuralNetworkLayer;
  static const std::map<std::string, SetLayer> kOps = {
      {"ceil", [](Layer* l) { l->mutable_ceil(); }},
      {"floor", [](Layer* l) { l->mutable_floor(); }},
      {"sign", [](Layer* l) { l->mutable_sign(); }},
      {"round", [](Layer* l) { l->mutable_round(); }},
      {"sin", [](Layer* l) { l->mutable_sin(); }},
      {"cos", [](Layer* l) { l->mutable_cos(); }},
      {"tan", [](Layer* l) { l->mutable_tan(); }},
      {"asin", [](Layer* l) { l->mutable_asin(); }},
      {"acos", [](Layer* l) { l->mutable_acos(); }},
      {"atan", [](Layer* l) { l->mutable_atan(); }},
      {"sinh", [](Layer* l) { l->mutable_sinh(); }},
      {"cosh", [](Layer* l) { l->mutable_cosh(); }},
      {"asinh", [](Layer* l) { l->mutable_asinh(); }},
      {"acosh", [](Layer* l) { l->mutable_acosh(); }},
      {"atanh", [](Layer* l) { l->mutable_atanh(); }},
      {"erf", [](Layer* l) { l->mutable_erf(); }},
      {"logical_not", [](Layer* l) { l->mutable_logicalnot(); }},
      // Comparisons and logical operators of two inputs.
      {"equal", [](Layer* l) { l->mutable_equal(); }},
      {"not_equal", [](Layer* l) { l->mutable_notequal(); }},
      {"less", [](Layer* l) { l->mutable_lessthan(); }},
      {"less_equal", [](Layer* l) { l->mutable_lessequal(); }},
      {"greater", [](Layer* l) { l->mutable_greaterthan(); }},
      {"greater_equal", [](Layer* l) { l->mutable_greaterequal(); }},
      {"logical_or", [](Layer* l) { l->mutable_logicalor(); }},
      {"logical_xor", [](Layer* l) { l->mutable_logicalxor(); }},
      {"logical_and", [](Layer* l) { l->mutable_logicaland(); }}};
  return kOps;
}

// Sets a reduce* layer's axes and keepDims.
template <typename P>
void SetReduce(P* p, const std::vector<int64_t>& axes, bool keep) {
  for (int64_t a : axes) p->add_axes(a);
  p->set_keepdims(keep);
}

// The generic reductions, each one reduce* layer.
bool IsReduction(const std::string& t) {
  static const std::set<std::string> kOps = {
      "reduce_sum",     "reduce_mean",    "reduce_max",        "reduce_min",
      "reduce_prod",    "reduce_l1_norm", "reduce_l2_norm",    "reduce_log_sum",
      "reduce_sum_square", "reduce_log_sum_exp"};
  return kOps.count(t) > 0;
}

void SetReduction(const std::string& t, spec::NeuralNetworkLayer* l,
                  const std::vector<int64_t>& axes, bool keep) {
  if (t == "reduce_sum") SetReduce(l->mutable_reducesum(), axes, keep);
  if (t == "reduce_mean") SetReduce(l->mutable_reducemean(), axes, keep);
  if (t == "reduce_max") SetReduce(l->mutable_reducemax(), axes, keep);
  if (t == "reduce_min") SetReduce(l->mutable_reducemin(), axes, keep);
  if (t == "reduce_prod") SetReduce(l->mutable_reduceprod(), axes, keep);
  if (t == "reduce_l1_norm") SetReduce(l->mutable_reducel1(), axes, keep);
  if (t == "reduce_l2_norm") SetReduce(l->mutable_reducel2(), axes, keep);
  if (t == "reduce_log_sum") SetReduce(l->mutable_reducelogsum(), axes, keep);
  if (t == "reduce_sum_square") SetReduce(l->mutable_reducesumsquare(), axes, keep);
  if (t == "reduce_log_sum_exp") SetReduce(l->mutable_reducelogsumexp(), axes, keep);
}

// Generic ops and canonical binary ops that are one broadcasting layer of two inputs.
bool IsBroadcastBinary(const std::string& t) {
  static const std::set<std::string> kOps = {"add",  "sub", "mul",     "div",     "real_div",
                                             "pow",  "maximum", "minimum", "matmul"};
  return kOps.count(t) > 0;
}

// The constant parameter `name` of a generic op, or null.
const Param* Attr(const Op& op, const char* name) {
  auto it = op.attrs.find(name);
  return it == op.attrs.end() ? nullptr : &it->second;
}

std::vector<int64_t> IntsOf(const Param& p) {
  return std::vector<int64_t>(p.values.begin(), p.values.end());
}

}  // namespace

void NnEmitter::DescribeNdArray(spec::FeatureDescription* f, const std::string& name,
                                const Shape& s, bool input) {
  f->set_name(name);
  auto* arr = f->mutable_type()->mutable_multiarraytype();
  // The network computes in float whatever the type; integer inputs (token ids) are declared
  // int32 so apps pass them as they have them. Results are float32.
  const bool integer = input && g_.TypeOf(name) != DType::kFloat;
  arr->set_datatype(integer ? spec::ArrayFeatureType::INT32 : spec::ArrayFeatureType::FLOAT32);
  for (int64_t d : s) arr->add_shape(d);
  if (s.empty()) arr->add_shape(1);  // a rank-N network has no rank-0 blobs
}

std::string NnEmitter::NdConstant(const std::string& hint, const Shape& shape,
                                  std::vector<float> values) {
  std::string blob = hint + "__const" + std::to_string(constants_++);
  auto* c = Layer(hint + "_const", {}, blob)->mutable_loadconstantnd();
  for (int64_t d : shape) c->add_shape(static_cast<uint64_t>(d));
  if (shape.empty()) c->add_shape(1);
  // A large constant (an embedding table) is compressed like weights, per tensor: Core ML
  // reads a quantized loadConstantND as one flat array.
  const auto n = static_cast<int64_t>(values.size());
  Constant flat = Constant::Floats({1, n}, std::move(values));
  MainWeights(c->mutable_data(), &flat);
  return blob;
}

std::string NnEmitter::NdOperand(const Op& op, const std::string& param) {
  for (size_t k = 0; k < op.params.size() && k < op.inputs.size(); ++k) {
    if (op.params[k] == param) return op.inputs[k];
  }
  auto it = op.attrs.find(param);
  if (it == op.attrs.end() || !it->second.text.empty()) return "";
  const Param& p = it->second;
  std::vector<float> v(p.values.begin(), p.values.end());
  Shape shape = p.scalar ? Shape{} : Shape{static_cast<int64_t>(v.size())};
  return NdConstant(op.name + "_" + param, shape, std::move(v));
}

Status NnEmitter::NdBinary(const Op& op, const std::string& type, const std::string& a,
                           const std::string& b) {
  auto* l = Layer(op.name, {a, b}, op.output);
  if (type == "add") {
    l->mutable_addbroadcastable();
  } else if (type == "sub") {
    l->mutable_subtractbroadcastable();
  } else if (type == "mul") {
    l->mutable_multiplybroadcastable();
  } else if (type == "div" || type == "real_div") {
    l->mutable_dividebroadcastable();
  } else if (type == "pow") {
    l->mutable_powbroadcastable();
  } else if (type == "maximum") {
    l->mutable_maxbroadcastable();
  } else if (type == "minimum") {
    l->mutable_minbroadcastable();
  } else {  // matmul
    auto* m = l->mutable_batchedmatmul();
    auto flag = [&](const char* name) {
      auto it = op.attrs.find(name);
      return it != op.attrs.end() && !it->second.values.empty() && it->second.values[0] != 0;
    };
    m->set_transposea(flag("transpose_x"));
    m->set_transposeb(flag("transpose_y"));
  }
  return Status::Ok();
}

Status NnEmitter::NdGeneric(Op& op) {
  const std::string& t = op.type;
  const bool integer = g_.TypeOf(op.output) != DType::kFloat;
  if (IsBroadcastBinary(t)) {
    // Integers are computed in float: exact for sums and products below 2^24, not for
    // division or powers.
    if (integer && (t == "real_div" || t == "pow")) return Fail(op, "integer " + t);
    std::string a = NdOperand(op, "x"), b = NdOperand(op, "y");
    if (a.empty() || b.empty()) return Fail(op, "'" + t + "' without both operands");
    return NdBinary(op, t, a, b);
  }
  if (op.inputs.empty()) return Fail(op, "no NeuralNetwork layer for '" + t + "' of constants");
  for (auto family : {&NnEmitter::NdElementwise, &NnEmitter::NdIndexing, &NnEmitter::NdShape}) {
    bool handled = false;
    RETURN_IF_ERROR((this->*family)(op, &handled));
    if (handled) return Status::Ok();
  }
  return Fail(op, "no NeuralNetwork layer for '" + t + "'");
}

// Element-wise functions, activations, comparisons, casts and selection.
Status NnEmitter::NdElementwise(Op& op, bool* handled) {
  const std::string& t = op.type;
  const std::string x = op.inputs[0];
  auto attr = [&](const char* name) { return Attr(op, name); };
  *handled = true;
  if (auto u = UnaryOps().find(t); u != UnaryOps().end()) {
    auto* l = Layer(op.name, {x}, op.output)->mutable_unary();
    l->set_type(u->second);
    l->set_scale(1.0f);  // written out: an absent scale would read as 0
    return Status::Ok();
  }
  if (t == "relu" || t == "sigmoid" || t == "tanh" || t == "softplus" || t == "softsign") {
    auto* a = Layer(op.name, {x}, op.output)->mutable_activation();
    if (t == "relu") a->mutable_relu();
    if (t == "sigmoid") a->mutable_sigmoid();
    if (t == "tanh") a->mutable_tanh();
    if (t == "softplus") a->mutable_softplus();
    if (t == "softsign") a->mutable_softsign();
    return Status::Ok();
  }
  if (auto e = ElementwiseLayers().find(t); e != ElementwiseLayers().end()) {
    std::vector<std::string> operands;
    for (const char* param : {"x", "y"}) {
      std::string v = NdOperand(op, param);
      if (!v.empty()) operands.push_back(v);
    }
    e->second(Layer(op.name, operands, op.output));
    return Status::Ok();
  }
  if (t == "cast" && attr("dtype")) {
    // The network holds every number as a float: integers and bools convert exactly, to bool
    // is a comparison with zero, and floats become integers truncated towards zero, as
    // sign(x) * floor(|x|).
    const std::string& to = attr("dtype")->text;
    if (to == "bool") {
      Layer(op.name, {x}, op.output)->mutable_notequal()->set_alpha(0.0f);
      return Status::Ok();
    }
    if (g_.TypeOf(x) == DType::kFloat && to != "fp32" && to != "fp16") {
      auto* abs = Layer(op.name + "_abs", {x}, op.output + "__abs")->mutable_unary();
      abs->set_type(spec::UnaryFunctionLayerParams::ABS);
      abs->set_scale(1.0f);
      Layer(op.name + "_floor", {op.output + "__abs"}, op.output + "__floor")->mutable_floor();
      Layer(op.name + "_sign", {x}, op.output + "__sign")->mutable_sign();
      Layer(op.name, {op.output + "__sign", op.output + "__floor"}, op.output)
          ->mutable_multiplybroadcastable();
      return Status::Ok();
    }
    Layer(op.name, {x}, op.output)->mutable_activation()->mutable_linear()->set_alpha(1.0f);
    return Status::Ok();
  }
  if ((t == "elu" || t == "thresholded_relu") && attr("alpha")) {
    auto* a = Layer(op.name, {x}, op.output)->mutable_activation();
    const auto alpha = static_cast<float>(attr("alpha")->values.at(0));
    if (t == "elu") a->mutable_elu()->set_alpha(alpha);
    if (t == "thresholded_relu") a->mutable_thresholdedrelu()->set_alpha(alpha);
    return Status::Ok();
  }
  if (t == "identity") {
    auto* a = Layer(op.name, {x}, op.output)->mutable_activation()->mutable_linear();
    a->set_alpha(1.0f);
    return Status::Ok();
  }
  if (t == "select") {
    std::string c = NdOperand(op, "cond"), a = NdOperand(op, "a"), b = NdOperand(op, "b");
    if (c.empty() || a.empty() || b.empty()) return Fail(op, "select without its operands");
    Layer(op.name, {c, a, b}, op.output)->mutable_wherebroadcastable();
    return Status::Ok();
  }
  *handled = false;
  return Status::Ok();
}

// Gathers, scatters and slices.
Status NnEmitter::NdIndexing(Op& op, bool* handled) {
  const std::string& t = op.type;
  const std::string x = op.inputs[0];
  const Shape& xs = g_.shapes[x];
  const Shape& out = g_.shapes[op.output];
  auto attr = [&](const char* name) { return Attr(op, name); };
  *handled = true;
  if (t == "gather_along_axis" && op.inputs.size() == 2 && attr("axis")) {
    Layer(op.name, {op.inputs[0], op.inputs[1]}, op.output)
        ->mutable_gatheralongaxis()
        ->set_axis(static_cast<int64_t>(attr("axis")->values.at(0)));
    return Status::Ok();
  }
  if (t == "gather_nd" && op.inputs.size() == 2) {
    Layer(op.name, {op.inputs[0], op.inputs[1]}, op.output)->mutable_gathernd();
    return Status::Ok();
  }
  if ((t == "scatter_nd" || t == "scatter_along_axis") && op.inputs.size() == 3) {
    static const std::map<std::string, spec::ScatterMode> kModes = {
        {"update", spec::SCATTER_UPDATE}, {"add", spec::SCATTER_ADD}, {"sub", spec::SCATTER_SUB},
        {"mul", spec::SCATTER_MUL},       {"div", spec::SCATTER_DIV}, {"max", spec::SCATTER_MAX},
        {"min", spec::SCATTER_MIN}};
    auto mode = kModes.find(attr("mode") ? attr("mode")->text : "add");
    if (mode == kModes.end()) return Fail(op, "scatter mode '" + attr("mode")->text + "'");
    auto* l = Layer(op.name, op.inputs, op.output);
    if (t == "scatter_nd") {
      l->mutable_scatternd()->set_mode(mode->second);
    } else {
      l->mutable_scatteralongaxis()->set_mode(mode->second);
      l->mutable_scatteralongaxis()->set_axis(
          attr("axis") ? static_cast<int64_t>(attr("axis")->values.at(0)) : 0);
    }
    return Status::Ok();
  }
  if (t == "gather" && op.inputs.size() == 2 && op.attrs.size() == 1 && attr("axis")) {
    // A scalar index is held as [1], which the gathered result keeps: reshaped away.
    const bool scalar = g_.shapes[op.inputs[1]].empty();
    const std::string gathered = scalar ? op.output + "__gathered" : op.output;
    Layer(op.name, {op.inputs[0], op.inputs[1]}, gathered)
        ->mutable_gather()
        ->set_axis(static_cast<int64_t>(attr("axis")->values.at(0)));
    if (scalar) {
      auto* r = Layer(op.name + "_squeeze", {gathered}, op.output)->mutable_reshapestatic();
      for (int64_t d : out) r->add_targetshape(d);
      if (out.empty()) r->add_targetshape(1);
    }
    return Status::Ok();
  }
  if (t == "slice_by_index" && attr("begin") && attr("end")) {
    const size_t rank = xs.size();
    auto ints = [&](const char* name, int64_t def) {
      const Param* p = attr(name);
      return p ? IntsOf(*p) : std::vector<int64_t>(rank, def);
    };
    std::vector<int64_t> begin = ints("begin", 0), end = ints("end", 0), stride = ints("stride", 1);
    std::vector<int64_t> bmask = ints("begin_mask", 0), emask = ints("end_mask", 0);
    std::vector<int64_t> squeeze = ints("squeeze_mask", 0);
    auto* l = Layer(op.name, {x}, op.output)->mutable_slicestatic();
    for (size_t d = 0; d < rank; ++d) {
      l->add_beginids(begin.at(d));
      l->add_endids(end.at(d));
      l->add_strides(stride.at(d));
      l->add_beginmasks(bmask.at(d) != 0);
      l->add_endmasks(emask.at(d) != 0);
    }
    if (std::any_of(squeeze.begin(), squeeze.end(), [](int64_t v) { return v != 0; })) {
      for (int64_t v : squeeze) l->add_squeezemasks(v != 0);
      version_ = std::max(version_, 5);  // squeezeMasks came with iOS 14
    }
    return Status::Ok();
  }
  *handled = false;
  return Status::Ok();
}

// Layout (concat, transpose, reshape, tile), softmax, reductions, arg-extremes, cumsum.
Status NnEmitter::NdShape(Op& op, bool* handled) {
  const std::string& t = op.type;
  const std::string x = op.inputs[0];
  const Shape& out = g_.shapes[op.output];
  auto attr = [&](const char* name) { return Attr(op, name); };
  *handled = true;
  if ((t == "reduce_argmax" || t == "reduce_argmin") && attr("axis")) {
    const auto axis = static_cast<int64_t>(attr("axis")->values.at(0));
    const bool keep = attr("keep_dims") && attr("keep_dims")->values.at(0) != 0;
    auto* l = Layer(op.name, {x}, op.output);
    if (t == "reduce_argmax") {
      l->mutable_argmax()->set_axis(axis);
      l->mutable_argmax()->set_removedim(!keep);
    } else {
      l->mutable_argmin()->set_axis(axis);
      l->mutable_argmin()->set_removedim(!keep);
    }
    return Status::Ok();
  }
  if (t == "cumsum" && attr("axis")) {
    auto* c = Layer(op.name, {x}, op.output)->mutable_cumsum();
    c->set_axis(static_cast<int64_t>(attr("axis")->values.at(0)));
    c->set_excludefinalsum(attr("exclusive") && attr("exclusive")->values.at(0) != 0);
    c->set_reverse(attr("reverse") && attr("reverse")->values.at(0) != 0);
    return Status::Ok();
  }
  if (t == "concat" && attr("axis") && std::all_of(op.params.begin(), op.params.end(),
                                                   [](const std::string& p) {
                                                     return p == "values";
                                                   })) {
    const Param* inter = attr("interleave");
    if (inter && !inter->values.empty() && inter->values[0] != 0) return Fail(op, "interleave");
    Layer(op.name, op.inputs, op.output)
        ->mutable_concatnd()
        ->set_axis(static_cast<int64_t>(attr("axis")->values.at(0)));
    return Status::Ok();
  }
  if (t == "transpose" && attr("perm")) {
    auto* l = Layer(op.name, {x}, op.output)->mutable_transpose();
    for (int64_t p : IntsOf(*attr("perm"))) l->add_axes(static_cast<uint64_t>(p));
    return Status::Ok();
  }
  if (t == "reshape") {
    auto* l = Layer(op.name, {x}, op.output)->mutable_reshapestatic();
    for (int64_t d : out) l->add_targetshape(d);
    if (out.empty()) l->add_targetshape(1);
    return Status::Ok();
  }
  if (t == "tile" && attr("reps")) {
    auto* l = Layer(op.name, {x}, op.output)->mutable_tile();
    for (int64_t r : IntsOf(*attr("reps"))) l->add_reps(static_cast<uint64_t>(r));
    return Status::Ok();
  }
  if (t == "softmax" && attr("axis")) {
    Layer(op.name, {x}, op.output)
        ->mutable_softmaxnd()
        ->set_axis(static_cast<int64_t>(attr("axis")->values.at(0)));
    return Status::Ok();
  }
  if (IsReduction(t) && attr("axes")) {
    const bool keep = attr("keep_dims") && attr("keep_dims")->values.at(0) != 0;
    SetReduction(t, Layer(op.name, {x}, op.output), IntsOf(*attr("axes")), keep);
    return Status::Ok();
  }
  *handled = false;
  return Status::Ok();
}


Status NnEmitter::LowerNd(Op& op, bool* handled) {
  const std::string& t = op.type;
  *handled = true;
  if (t == "const") {
    std::vector<float> v = op.weight.f;
    if (op.weight.is_int) v.assign(op.weight.i.begin(), op.weight.i.end());
    NdConstant(op.name, op.weight.shape, std::move(v));
    // The constant's blob is the op's value: renamed to it.
    layers_->rbegin()->set_output(0, op.output);
    return Status::Ok();
  }
  if (op.generic) return NdGeneric(op);
  if (op.inputs.empty()) return Fail(op, "no inputs");
  const std::string& x = op.inputs[0];
  const Shape& xs = g_.shapes[x];
  const Shape& out = g_.shapes[op.output];
  if (IsBroadcastBinary(t)) {
    std::string a = x, b;
    if (op.operand) {
      std::vector<float> v = op.operand->f;
      if (op.operand->is_int) v.assign(op.operand->i.begin(), op.operand->i.end());
      b = NdConstant(op.name, op.operand->shape, std::move(v));
      if (op.operand_index == 0) std::swap(a, b);
    } else {
      b = op.inputs.at(1);
    }
    return NdBinary(op, t, a, b);
  }
  if (t == "linear") {
    auto* m = Layer(op.name, {x}, op.output)->mutable_batchedmatmul();
    // The weight matrix [in, out] stored column-major is ONNX's [out, in] row-major.
    m->set_weightmatrixfirstdimension(static_cast<uint64_t>(op.weight.shape[1]));
    m->set_weightmatrixseconddimension(static_cast<uint64_t>(op.weight.shape[0]));
    MainWeights(m->mutable_weights(), &op.weight);
    if (op.has_bias) {
      m->set_hasbias(true);
      Store(m->mutable_bias(), &op.bias.f);
    }
    return Status::Ok();
  }
  if (t == "hard_swish") {  // x * clip(x / 6 + 1/2, 0, 1)
    auto* h = Layer(op.name + "_gate", {x}, op.output + "__gate")->mutable_activation();
    h->mutable_sigmoidhard()->set_alpha(1.0f / 6.0f);
    h->mutable_sigmoidhard()->set_beta(0.5f);
    Layer(op.name, {x, op.output + "__gate"}, op.output)->mutable_multiplybroadcastable();
    return Status::Ok();
  }
  if (t == "reduce_mean") {
    auto* r = Layer(op.name, {x}, op.output)->mutable_reducemean();
    for (int64_t a : op.axes) r->add_axes(a);
    r->set_keepdims(op.keep_dims);
    return Status::Ok();
  }
  if (t == "reshape") {
    auto* r = Layer(op.name, {x}, op.output)->mutable_reshapestatic();
    for (int64_t d : out) r->add_targetshape(d);
    if (out.empty()) r->add_targetshape(1);
    return Status::Ok();
  }
  if (t == "transpose") {
    auto* p = Layer(op.name, {x}, op.output)->mutable_transpose();
    for (int64_t a : op.perm) p->add_axes(static_cast<uint64_t>(a));
    return Status::Ok();
  }
  if (t == "concat") {
    Layer(op.name, op.inputs, op.output)->mutable_concatnd()->set_axis(op.axis);
    return Status::Ok();
  }
  if (t == "softmax") {
    Layer(op.name, {x}, op.output)->mutable_softmaxnd()->set_axis(op.axis);
    return Status::Ok();
  }
  static const std::set<std::string> kSpatial = {"conv",     "max_pool",        "avg_pool",
                                                 "batch_norm", "global_avg_pool", "pad"};
  if (kSpatial.count(t) && xs.size() != 4) {
    return Fail(op, "'" + t + "' on " + ShapeToString(xs) + "; the layer takes [N, C, H, W]");
  }
  *handled = false;  // a rank-5 layer, run on the last axes
  return Status::Ok();
}

}  // namespace ringo::convert
