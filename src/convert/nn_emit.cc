// NeuralNetwork (.mlmodel) back end: canonical ops as the legacy rank-5 layers of spec 1-2.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include "convert/nn_emitter.h"

namespace ringo::convert {

std::optional<Dims> NnDims(const Shape& s) {
  if (s.size() == 4 && s[0] == 1) return Dims{s[1], s[2], s[3]};
  if (s.size() == 2 && s[0] == 1) return Dims{s[1], 1, 1};
  if (s.size() == 1) return Dims{s[0], 1, 1};
  return std::nullopt;
}

void SetWeights(spec::WeightParams* w, std::vector<float>* values, bool fp16) {
  if (fp16) {
    std::string bytes(values->size() * 2, '\0');
    for (size_t k = 0; k < values->size(); ++k) {
      uint16_t h = coreml::FloatToHalf((*values)[k]);
      std::memcpy(&bytes[2 * k], &h, 2);  // little-endian, as the format stores binary16
    }
    w->set_float16value(std::move(bytes));
  } else {
    w->mutable_floatvalue()->Add(values->begin(), values->end());
  }
  std::vector<float>().swap(*values);  // the graph's copy is done with
}

namespace {

void SetBorders(spec::BorderAmounts* b, const std::vector<int64_t>& pads) {
  // ONNX pads are [top, left, bottom, right]; Core ML wants (start, end) for H, then W.
  for (int d = 0; d < 2; ++d) {
    auto* e = b->add_borderamounts();
    e->set_startedgesize(static_cast<uint64_t>(pads[d]));
    e->set_endedgesize(static_cast<uint64_t>(pads[d + 2]));
  }
}

// A constant operand of add/sub/mul/div as a scale or bias layer shape: [1] (scalar), [C]
// (per channel) or [Cc, H, W] with Cc in {1, C}. Empty when the layout does not fit.
std::vector<uint64_t> OperandShape(const Shape& x, const Shape& c) {
  if (NumElements(c) == 1) return {1};
  if (c.size() > x.size()) return {};
  Shape p(x.size() - c.size(), 1);
  p.insert(p.end(), c.begin(), c.end());
  auto xd = NnDims(x);
  auto pd = NnDims(p);
  if (!xd || !pd || p[0] != 1) return {};
  const Dims& d = *pd;
  if (d[1] == 1 && d[2] == 1 && d[0] == (*xd)[0]) return {static_cast<uint64_t>(d[0])};
  if ((d[0] == 1 || d[0] == (*xd)[0]) && d[1] == (*xd)[1] && d[2] == (*xd)[2] && x.size() == 4) {
    return {static_cast<uint64_t>(d[0]), static_cast<uint64_t>(d[1]), static_cast<uint64_t>(d[2])};
  }
  return {};
}

}  // namespace

Status NnEmitter::ConstantBinary(Op& op) {
  const std::string& x = op.inputs[0];
  const Shape& xs = g_.shapes[x];
  if (g_.shapes[op.output] != xs) return Fail(op, "the constant operand broadcasts the input");
  Constant& c = *op.operand;
  bool left = op.operand_index == 0;  // c - x or c / x
  std::string in = x;
  if (op.type == "div" && left) {
    Inverse(op.name + "_inverse", x, op.output + "__inv");
    in = op.output + "__inv";
  }
  if (c.size() == 1) {
    float v = c.f[0];
    if (op.type == "add") {
      Layer(op.name, {in}, op.output)->mutable_add()->set_alpha(v);
    } else if (op.type == "sub") {
      if (left) {
        Linear(op.name, in, op.output, -1.0f, v);
      } else {
        Layer(op.name, {in}, op.output)->mutable_add()->set_alpha(-v);
      }
    } else {
      float k = op.type == "div" && !left ? 1.0f / v : v;
      Layer(op.name, {in}, op.output)->mutable_multiply()->set_alpha(k);
    }
    return Status::Ok();
  }
  std::vector<uint64_t> shape = OperandShape(xs, c.shape);
  if (shape.empty()) {
    return Fail(op, "a constant of shape " + ShapeToString(c.shape) + " against " +
                        ShapeToString(xs) + " fits no scale or bias layer");
  }
  if (op.type == "div" && !left && !dry_run_) {
    for (float& v : c.f) v = 1.0f / v;
  }
  if (op.type == "sub" && !left && !dry_run_) {
    for (float& v : c.f) v = -v;
  }
  if (op.type == "add" || (op.type == "sub" && !left)) {
    auto* b = Layer(op.name, {in}, op.output)->mutable_bias();
    for (uint64_t d : shape) b->add_shape(d);
    Store(b->mutable_bias(), &c.f);
    return Status::Ok();
  }
  auto* s = Layer(op.name, {in}, op.output)->mutable_scale();
  for (uint64_t d : shape) s->add_shapescale(d);
  if (op.type == "sub") {  // c - x = (-1) * x + c
    std::vector<float> minus(c.size(), -1.0f);
    for (uint64_t d : shape) s->add_shapebias(d);
    s->set_hasbias(true);
    Store(s->mutable_scale(), &minus);
    Store(s->mutable_bias(), &c.f);
    return Status::Ok();
  }
  Store(s->mutable_scale(), &c.f);
  return Status::Ok();
}

Status NnEmitter::Binary(Op& op) {
  if (op.operand) return ConstantBinary(op);
  const Shape& out = g_.shapes[op.output];
  auto od = NnDims(out);
  if (!od) return Fail(op, "result shape " + ShapeToString(out) + " is not [1,C,H,W] or [1,F]");
  // The legacy add/multiply broadcast only whole C, H x W, or all three, in rank-5 layout.
  for (const std::string& in : op.inputs) {
    Shape s = g_.shapes[in];
    if (s.size() > out.size()) return Fail(op, "operand rank exceeds the result rank");
    Shape p(out.size() - s.size(), 1);
    p.insert(p.end(), s.begin(), s.end());
    auto pd = NnDims(p), sd = NnDims(s);
    if (!pd || !sd || *pd != *sd) return Fail(op, "operands broadcast across the batch layout");
    const Dims& d = *pd;
    bool ok = d == *od || d == Dims{1, 1, 1} || d == Dims{(*od)[0], 1, 1} ||
              d == Dims{1, (*od)[1], (*od)[2]};
    if (!ok) return Fail(op, "broadcast of " + ShapeToString(s) + " is not supported");
  }
  std::string a = op.inputs[0], b = op.inputs[1];
  if (op.type == "sub") {
    auto* neg = Layer(op.name + "_negate", {b}, op.output + "__neg")->mutable_multiply();
    neg->set_alpha(-1.0f);
    b = op.output + "__neg";
  } else if (op.type == "div") {
    Inverse(op.name + "_inverse", b, op.output + "__inv");
    b = op.output + "__inv";
  }
  auto* l = Layer(op.name, {a, b}, op.output);
  if (op.type == "add" || op.type == "sub") {
    l->mutable_add();
  } else {
    l->mutable_multiply()->set_alpha(1.0f);
  }
  return Status::Ok();
}

// clip(x, lo, hi) = -max(-max(x, lo), -hi): THRESHOLD is max(alpha, x), and the two negations
// turn the lower bound into an upper one. lo = 0 uses ReLU, as coremltools does for ReLU6.
Status NnEmitter::Clip(const Op& op) {
  float lo = op.alpha, hi = op.beta_value;
  bool has_lo = !std::isinf(lo), has_hi = !std::isinf(hi);
  if (!has_lo && !has_hi) {
    Linear(op.name, op.inputs[0], op.output, 1.0f, 0.0f);
    return Status::Ok();
  }
  std::string cur = op.inputs[0];
  if (has_lo) {
    std::string out = has_hi ? op.output + "__lo" : op.output;
    if (lo == 0.0f) {
      Layer(op.name + "_relu", {cur}, out)->mutable_activation()->mutable_relu();
    } else {
      Threshold(op.name + "_min", cur, out, lo);
    }
    cur = out;
  }
  if (has_hi) {
    Linear(op.name + "_neg1", cur, op.output + "__n1", -1.0f, 0.0f);
    Threshold(op.name + "_max", op.output + "__n1", op.output + "__n2", -hi);
    Linear(op.name + "_neg2", op.output + "__n2", op.output, -1.0f, 0.0f);
  }
  return Status::Ok();
}

Status NnEmitter::Pool(const Op& op) {
  const Shape& xs = g_.shapes[op.inputs[0]];
  auto* p = Layer(op.name, {op.inputs[0]}, op.output)->mutable_pooling();
  p->set_type(op.type == "max_pool" ? spec::PoolingLayerParams::MAX
                                    : spec::PoolingLayerParams::AVERAGE);
  for (int64_t k : op.kernel) p->add_kernelsize(static_cast<uint64_t>(k));
  for (int64_t s : op.strides) p->add_stride(static_cast<uint64_t>(s));
  p->set_avgpoolexcludepadding(op.type == "avg_pool" && op.exclude_padding);
  if (!op.ceil_mode) {
    SetBorders(p->mutable_valid()->mutable_paddingamounts(), op.pads);
    return Status::Ok();
  }
  // Ceil mode maps to includeLastPixel, which pads symmetrically; check that Core ML's output
  // size rule gives ONNX's.
  if (op.pads[0] != op.pads[2] || op.pads[1] != op.pads[3]) {
    return Fail(op, "ceil_mode with asymmetric pads");
  }
  const Shape& out = g_.shapes[op.output];
  for (int d = 0; d < 2; ++d) {
    int64_t in = xs[2 + d], pad = op.pads[d], k = op.kernel[d], s = op.strides[d];
    int64_t o = (in + 2 * pad - k + s - 1) / s + 1;
    if (pad > 0 && (o - 1) * s >= in + pad) --o;
    if (o != out[2 + d]) return Fail(op, "ceil_mode output size differs from Core ML's rule");
  }
  auto* ilp = p->mutable_includelastpixel();
  ilp->add_paddingamounts(static_cast<uint64_t>(op.pads[0]));
  ilp->add_paddingamounts(static_cast<uint64_t>(op.pads[1]));
  return Status::Ok();
}

Status NnEmitter::Reshape(const Op& op, const Shape& in, const Shape& out) {
  if (!NnDims(in)) return Fail(op, "input shape " + ShapeToString(in) + " has no rank-5 layout");
  if (out.size() <= 2 && NnDims(out)) {
    Layer(op.name, {op.inputs[0]}, op.output)->mutable_flatten();  // CHANNEL_FIRST
    return Status::Ok();
  }
  auto od = NnDims(out);
  if (!od || out.size() != 4) {
    return Fail(op, "result shape " + ShapeToString(out) + " is not [1,C,H,W] or [1,F]");
  }
  auto* r = Layer(op.name, {op.inputs[0]}, op.output)->mutable_reshape();
  for (int64_t d : *od) r->add_targetshape(d);
  return Status::Ok();
}

Status NnEmitter::Lower(Op& op) {
  const std::string& t = op.type;
  if (nd_) {
    bool handled = false;
    RETURN_IF_ERROR(LowerNd(op, &handled));
    if (handled) return Status::Ok();
  }
  if (op.generic || op.inputs.empty()) return Fail(op, "no rank-5 layer for '" + t + "'");
  for (const std::string& v : {op.inputs[0], op.output}) {
    if (g_.TypeOf(v) != DType::kFloat) return Fail(op, "integer and bool tensors");
  }
  const Shape& xs = g_.shapes[op.inputs[0]];
  const Shape& out = g_.shapes[op.output];
  // A rank-N network reaches here only with element-wise ops and the spatial ones on
  // [N, C, H, W], whose rank-5 layers it runs on its last axes.
  std::optional<Dims> xd = NnDims(xs);
  if (nd_) xd = xs.size() == 4 ? Dims{xs[1], xs[2], xs[3]} : Dims{NumElements(xs), 1, 1};
  if (!xd) return Fail(op, "input shape " + ShapeToString(xs) + " is not [1,C,H,W] or [1,F]");
  if (t == "conv") {
    auto* c = Layer(op.name, {op.inputs[0]}, op.output)->mutable_convolution();
    c->set_outputchannels(static_cast<uint64_t>(op.weight.shape[0]));
    c->set_kernelchannels(static_cast<uint64_t>(op.weight.shape[1]));
    c->set_ngroups(static_cast<uint64_t>(op.groups));
    for (int d = 0; d < 2; ++d) {
      c->add_kernelsize(static_cast<uint64_t>(op.kernel[d]));
      c->add_stride(static_cast<uint64_t>(op.strides[d]));
      c->add_dilationfactor(static_cast<uint64_t>(op.dilations[d]));
    }
    SetBorders(c->mutable_valid()->mutable_paddingamounts(), op.pads);
    // Core ML's convolution weights are [C_out, C_in / groups, kH, kW], ONNX's layout.
    MainWeights(c->mutable_weights(), &op.weight);
    if (op.has_bias) {
      c->set_hasbias(true);
      Store(c->mutable_bias(), &op.bias.f);
    }
    return Status::Ok();
  }
  if (t == "linear") {
    if (xs.size() > 2)
      return Fail(op, "inner product on a rank-" + std::to_string(xs.size()) + " input");
    auto* ip = Layer(op.name, {op.inputs[0]}, op.output)->mutable_innerproduct();
    ip->set_inputchannels(static_cast<uint64_t>(op.weight.shape[1]));
    ip->set_outputchannels(static_cast<uint64_t>(op.weight.shape[0]));
    MainWeights(ip->mutable_weights(), &op.weight);
    if (op.has_bias) {
      ip->set_hasbias(true);
      Store(ip->mutable_bias(), &op.bias.f);
    }
    return Status::Ok();
  }
  if (t == "add" || t == "sub" || t == "mul" || t == "div") return Binary(op);
  if (t == "relu" || t == "sigmoid" || t == "tanh" || t == "leaky_relu" || t == "hard_sigmoid") {
    auto* a = Layer(op.name, {op.inputs[0]}, op.output)->mutable_activation();
    if (t == "relu") a->mutable_relu();
    if (t == "sigmoid") a->mutable_sigmoid();
    if (t == "tanh") a->mutable_tanh();
    if (t == "leaky_relu") a->mutable_leakyrelu()->set_alpha(op.alpha);
    if (t == "hard_sigmoid") {
      a->mutable_sigmoidhard()->set_alpha(op.alpha);
      a->mutable_sigmoidhard()->set_beta(op.beta_value);
    }
    return Status::Ok();
  }
  if (t == "hard_swish") {  // x * clip(x / 6 + 1/2, 0, 1)
    auto* h = Layer(op.name + "_gate", {op.inputs[0]}, op.output + "__gate")->mutable_activation();
    h->mutable_sigmoidhard()->set_alpha(1.0f / 6.0f);
    h->mutable_sigmoidhard()->set_beta(0.5f);
    Layer(op.name, {op.inputs[0], op.output + "__gate"}, op.output)
        ->mutable_multiply()
        ->set_alpha(1.0f);
    return Status::Ok();
  }
  if (t == "clip") return Clip(op);
  if (t == "batch_norm") {
    auto* bn = Layer(op.name, {op.inputs[0]}, op.output)->mutable_batchnorm();
    bn->set_channels(static_cast<uint64_t>((*xd)[0]));
    bn->set_epsilon(op.epsilon);
    Store(bn->mutable_gamma(), &op.gamma.f);
    Store(bn->mutable_beta(), &op.beta.f);
    Store(bn->mutable_mean(), &op.mean.f);
    Store(bn->mutable_variance(), &op.variance.f);
    return Status::Ok();
  }
  if (t == "max_pool" || t == "avg_pool") return Pool(op);
  bool spatial_mean = t == "reduce_mean" && xs.size() == 4 && op.axes == std::vector<int64_t>{2, 3};
  if (t == "global_avg_pool" || spatial_mean) {
    // [1, C, 1, 1] and [1, C] share the rank-5 layout (C, 1, 1): keep_dims needs no reshape.
    auto* p = Layer(op.name, {op.inputs[0]}, op.output)->mutable_pooling();
    p->set_type(spec::PoolingLayerParams::AVERAGE);
    p->set_globalpooling(true);
    p->add_kernelsize(static_cast<uint64_t>(xs[2]));
    p->add_kernelsize(static_cast<uint64_t>(xs[3]));
    p->add_stride(1);
    p->add_stride(1);
    p->mutable_valid();
    return Status::Ok();
  }
  if (t == "reduce_mean") return Fail(op, "mean over axes other than H and W");
  if (t == "reshape") return Reshape(op, xs, out);
  if (t == "transpose") {
    // Moving only size-1 axes does not reorder memory: a reshape.
    std::vector<int64_t> moved;
    for (int64_t p : op.perm) {
      if (xs[p] != 1) moved.push_back(p);
    }
    if (std::is_sorted(moved.begin(), moved.end())) return Reshape(op, xs, out);
    // [1, C, H, W] keeping the leading axis: a permute of the rank-5 blob's (C, H, W).
    if (xs.size() != 4 || op.perm[0] != 0) {
      return Fail(op, "a transpose that moves the leading axis or is not on [1, C, H, W]");
    }
    auto* p = Layer(op.name, {op.inputs[0]}, op.output)->mutable_permute();
    p->add_axis(0);  // Sequence stays
    for (size_t d = 1; d < 4; ++d) p->add_axis(static_cast<uint64_t>(op.perm[d]));
    return Status::Ok();
  }
  if (t == "concat") {
    if (op.axis != 1) return Fail(op, "concatenation on an axis other than channels");
    Layer(op.name, op.inputs, op.output)->mutable_concat();
    return Status::Ok();
  }
  if (t == "softmax") {
    if (op.axis != 1 || (xs.size() != 2 && xs.size() != 4)) {
      return Fail(op, "softmax on an axis other than channels");
    }
    Layer(op.name, {op.inputs[0]}, op.output)->mutable_softmax();
    return Status::Ok();
  }
  if (t == "pad") {
    const auto& p = op.pad_amounts;
    if (xs.size() != 4 || p[0] || p[1] || p[2] || p[3]) {
      return Fail(op, "padding outside the H and W axes");
    }
    auto* pad = Layer(op.name, {op.inputs[0]}, op.output)->mutable_padding();
    pad->mutable_constant()->set_value(op.pad_value);
    SetBorders(pad->mutable_paddingamounts(), {p[4], p[6], p[5], p[7]});
    return Status::Ok();
  }
  return Fail(op, "no rank-5 layer for '" + t + "'");
}

Status NnEmitter::Describe(bool classifier) {
  auto* desc = m_.mutable_description();
  for (const std::string& name : g_.inputs) {
    const Shape& s = g_.shapes[name];
    auto* f = desc->add_input();
    f->set_name(name);
    if (name == o_.image_input) {
      DescribeImageInput(f, s, o_);
      continue;
    }
    if (nd_) {
      DescribeNdArray(f, name, s, true);
      continue;
    }
    // A bad input is a problem of its own; with problems collected the layers are still tried.
    auto bad_input = [&](const std::string& msg) {
      if (o_.problems == nullptr) return InvalidArgument(msg);
      o_.problems->push_back({name, "input", 0, msg});
      return Status::Ok();
    };
    if (g_.TypeOf(name) != DType::kFloat) {
      RETURN_IF_ERROR(bad_input("input '" + name + "' is an integer or bool tensor; a " +
                                "NeuralNetwork (.mlmodel) takes float inputs; convert to " +
                                ".mlpackage instead"));
      continue;
    }
    // RANK5 mapping takes [C] or [C, H, W]: the batch dimension is implied.
    auto* arr = f->mutable_type()->mutable_multiarraytype();
    arr->set_datatype(spec::ArrayFeatureType::FLOAT32);
    if (s.size() == 4 && s[0] == 1) {
      for (size_t k = 1; k < 4; ++k) arr->add_shape(s[k]);
    } else if (s.size() == 2 && s[0] == 1) {
      arr->add_shape(s[1]);
    } else if (s.size() == 1) {
      arr->add_shape(s[0]);
    } else {
      RETURN_IF_ERROR(bad_input("input '" + name + "' has shape " + ShapeToString(s) +
                                "; a NeuralNetwork (.mlmodel) takes [1,C,H,W] or [1,F] "
                                "inputs; convert to .mlpackage instead"));
    }
  }
  for (size_t k = 0; k < g_.outputs.size(); ++k) {
    const std::string& name = g_.outputs[k];
    if (classifier && k == 0) {
      DescribeClassifierOutputs(desc, name);
      continue;
    }
    const Shape& s = g_.shapes[name];
    if (nd_) {
      DescribeNdArray(desc->add_output(), name, s, false);
      continue;
    }
    auto* arr = desc->add_output()->mutable_type()->mutable_multiarraytype();
    desc->mutable_output(desc->output_size() - 1)->set_name(name);
    arr->set_datatype(spec::ArrayFeatureType::FLOAT32);
    if (auto d = NnDims(s)) {
      if (s.size() == 4) {
        for (int64_t v : *d) arr->add_shape(v);
      } else {
        arr->add_shape((*d)[0]);
      }
    }
  }
  return Status::Ok();
}

Result<int> NnEmitter::Run() {
  bool classifier = !o_.class_labels.empty();
  spec::NeuralNetworkClassifier* nnc = nullptr;
  spec::NeuralNetwork* nn = nullptr;
  if (classifier) {
    nnc = m_.mutable_neuralnetworkclassifier();
    layers_ = nnc->mutable_layers();
  } else {
    nn = m_.mutable_neuralnetwork();
    layers_ = nn->mutable_layers();
  }
  if (nd_) {
    version_ = 4;
    if (classifier) {
      nnc->set_arrayinputshapemapping(spec::EXACT_ARRAY_MAPPING);
      nnc->set_imageinputshapemapping(spec::RANK4_IMAGE_MAPPING);
    } else {
      nn->set_arrayinputshapemapping(spec::EXACT_ARRAY_MAPPING);
      nn->set_imageinputshapemapping(spec::RANK4_IMAGE_MAPPING);
    }
  }
  RETURN_IF_ERROR(Describe(classifier));
  std::set<std::string> available(g_.inputs.begin(), g_.inputs.end());
  for (Op& op : g_.ops) {
    bool ready = std::all_of(op.inputs.begin(), op.inputs.end(),
                             [&](const std::string& in) { return available.count(in) > 0; });
    if (!ready) continue;  // reads the result of an op that failed
    fp16_ = o_.fp16 && !o_.fp32_ops.count(op.name);
    Status s = Lower(op);
    if (!s.ok()) {
      if (o_.problems == nullptr) return s;
      o_.problems->push_back({op.node, op.onnx_op, op.onnx_version, s.message()});
      continue;
    }
    available.insert(op.output);
  }
  if (!o_.image_input.empty()) {
    auto* pre = classifier ? nnc->add_preprocessing() : nn->add_preprocessing();
    pre->set_featurename(o_.image_input);
    auto* sc = pre->mutable_scaler();
    sc->set_channelscale(o_.image_scale);  // always written: 0 would blank the image
    if (o_.color_layout == "GRAYSCALE") {
      sc->set_graybias(o_.image_bias[0]);
    } else {
      sc->set_redbias(o_.image_bias[0]);
      sc->set_greenbias(o_.image_bias[1]);
      sc->set_bluebias(o_.image_bias[2]);
    }
  }
  if (classifier) {
    auto* labels = nnc->mutable_stringclasslabels();
    for (const auto& l : o_.class_labels) labels->add_vector(l);
    nnc->set_labelprobabilitylayername(g_.outputs[0]);
  }
  if (o_.fp16) version_ = std::max(version_, 2);  // float16Value needs spec 2
  return version_;
}

Result<int> EmitNeuralNetwork(Graph* graph, const EmitOptions& options, coreml::Model* model) {
  // Rank-5 layers when they express the whole graph, so the model loads on every Core ML
  // version; else the rank-N layers of iOS 13 (spec 4). A dry run decides, into a scratch model
  // and without taking the graph's weights.
  if (options.spec_version != 0 && options.spec_version < 4) {
    return NnEmitter(graph, options, &model->spec(), false, false).Run();
  }
  std::vector<NodeProblem> problems;
  EmitOptions trial = options;
  trial.problems = &problems;
  spec::Model scratch;
  Result<int> rank5 = NnEmitter(graph, trial, &scratch, false, true).Run();
  const bool nd = !rank5.ok() || !problems.empty();
  return NnEmitter(graph, options, &model->spec(), nd, false).Run();
}

}  // namespace ringo::convert
