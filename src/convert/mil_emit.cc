// ML Program (.mlpackage) back end: the program, its inputs and outputs, constants and weights.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "convert/compress.h"
#include "convert/mil_emitter.h"

namespace ringo::convert {

mil::ValueType TensorValueType(mil::DataType dt, const Shape& shape) {
  mil::ValueType vt;
  auto* t = vt.mutable_tensortype();
  t->set_datatype(dt);
  t->set_rank(static_cast<int64_t>(shape.size()));
  for (int64_t d : shape)
    t->add_dimensions()->mutable_constant()->set_size(static_cast<uint64_t>(d));
  return vt;
}

mil::Value StringScalar(const std::string& s) {
  mil::Value v;
  *v.mutable_type() = TensorValueType(mil::STRING, {});
  v.mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(s);
  return v;
}

// ONNX writes "to the end" as INT64_MAX; Core ML's integers are int32.
int32_t ClampInt32(int64_t v) {
  return static_cast<int32_t>(std::clamp<int64_t>(v, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
}

mil::DataType MilType(DType d, mil::DataType fp) {
  return d == DType::kInt ? mil::INT32 : d == DType::kBool ? mil::BOOL : fp;
}

// Mixed precision: an op of an fp16 program kept in fp32 reads its float inputs cast to fp32,
// has fp32 weights, and its result is cast back to fp16 unless it is a graph output.
Status MilEmitter::LowerInFloat32(Op& op) {
  std::map<std::string, std::string> saved;
  for (const std::string& in : op.inputs) {
    if (g_.TypeOf(in) != DType::kFloat || saved.count(in)) continue;
    saved[in] = var_.at(in);
    // The fp32 result of another fp32 op is read as it is, not through its fp16 copy (which
    // is what overflowed).
    if (auto f = fp32_var_.find(in); f != fp32_var_.end()) {
      var_[in] = f->second;
      continue;
    }
    std::string dtype = String(in + "_dtype", "fp32");
    std::string cast = Fresh(in + "_fp32");
    auto* c = AddOp("cast", cast, cast, mil::FLOAT32, g_.shapes[in]);
    Bind(c, "x", var_.at(in));
    Bind(c, "dtype", dtype);
    var_[in] = cast;
  }
  fp_ = mil::FLOAT32;
  Status s = Lower(op);
  fp_ = mil::FLOAT16;
  for (const auto& [in, var] : saved) var_[in] = var;
  RETURN_IF_ERROR(s);
  if (g_.TypeOf(op.output) != DType::kFloat) return Status::Ok();
  fp32_var_[op.output] = var_.at(op.output);
  bool is_output =
      std::find(g_.outputs.begin(), g_.outputs.end(), op.output) != g_.outputs.end();
  if (is_output) return Status::Ok();  // Finish's cast to fp32 keeps it as it is
  std::string dtype = String(op.output + "_dtype", "fp16");
  std::string cast = Fresh(op.output + "_fp16");
  auto* c = AddOp("cast", cast, cast, mil::FLOAT16, g_.shapes[op.output]);
  Bind(c, "x", var_.at(op.output));
  Bind(c, "dtype", dtype);
  var_[op.output] = cast;
  return Status::Ok();
}

std::string MilEmitter::Compressed(const std::string& hint, const Shape& shape,
                                   std::vector<float>* values) {
  const std::string& c = o_.compress;
  std::string shape_bytes;
  for (int64_t d : shape) {
    uint32_t u = static_cast<uint32_t>(d);
    shape_bytes.append(reinterpret_cast<const char*>(&u), 4);
  }
  auto shape_const = [&] {
    return RawConst(hint + "_shape", mil::UINT32, {static_cast<int64_t>(shape.size())},
                    coreml::BlobType::kUInt8, shape_bytes);
  };
  std::vector<std::pair<std::string, std::string>> bind;
  std::string type;
  if (c == "int8" || c == "int8-tensor") {
    const int64_t channels = c == "int8" && !shape.empty() ? shape[0] : 1;
    Int8Weights q = QuantizeInt8(*values, channels);
    std::string data(reinterpret_cast<const char*>(q.q.data()), q.q.size());
    type = "constexpr_affine_dequantize";
    bind = {{"quantized_data", RawConst(hint + "_quantized", mil::INT8, shape,
                                        coreml::BlobType::kInt8, data)},
            {"zero_point", RawConst(hint + "_zero_point", mil::INT8, {}, coreml::BlobType::kInt8,
                                    std::string(1, '\0'))},
            {"scale", PlainFloats(hint + "_scale", channels == 1 ? Shape{} : Shape{channels},
                                  &q.scale)},
            {"axis", Ints(hint + "_axis", {0}, true)}};
  } else if (c.rfind("palettize", 0) == 0) {
    const int bits = std::stoi(c.substr(9));
    Palette p = Palettize(*values, bits);
    type = "constexpr_lut_to_dense";
    bind = {{"indices", RawConst(hint + "_indices", mil::UINT8,
                                 {static_cast<int64_t>(p.packed.size())}, coreml::BlobType::kUInt8,
                                 p.packed)},
            {"lut", PlainFloats(hint + "_lut", {static_cast<int64_t>(p.lut.size())}, &p.lut)},
            {"shape", shape_const()}};
  } else {  // prune
    Sparse sp = Prune(*values, o_.sparsity);
    type = "constexpr_sparse_to_dense";
    const int64_t kept = static_cast<int64_t>(sp.kept.size());
    bind = {{"nonzero_data", PlainFloats(hint + "_nonzero", {kept}, &sp.kept)},
            {"mask", RawConst(hint + "_mask", mil::UINT8, {static_cast<int64_t>(sp.mask.size())},
                              coreml::BlobType::kUInt8, sp.mask)},
            {"shape", shape_const()}};
  }
  std::vector<float>().swap(*values);
  std::string out = Fresh(hint);
  auto* op = AddOp(type, out, out, fp_, shape);
  for (const auto& [param, var] : bind) Bind(op, param, var);
  return out;
}

std::string MilEmitter::ParamConst(const std::string& hint, const Param& p) {
  if (!p.text.empty() && !(p.text == "fp32" && Half())) return String(hint, p.text);
  if (p.dtype == DType::kBool && p.scalar) return Bool(hint, p.values.at(0) != 0);
  if (p.dtype == DType::kBool) {
    mil::Value v;
    *v.mutable_type() = TensorValueType(mil::BOOL, {static_cast<int64_t>(p.values.size())});
    auto* bools = v.mutable_immediatevalue()->mutable_tensor()->mutable_bools();
    for (double b : p.values) bools->add_values(b != 0);
    return Const(hint, std::move(v));
  }
  // A cast "to float" means the compute precision.
  if (!p.text.empty() && p.text == "fp32" && Half()) return String(hint, "fp16");
  if (p.dtype == DType::kInt) {
    return Ints(hint, std::vector<int64_t>(p.values.begin(), p.values.end()), p.scalar);
  }
  std::vector<float> v(p.values.begin(), p.values.end());
  return Floats(hint, p.scalar ? Shape{} : Shape{static_cast<int64_t>(v.size())}, &v);
}

// An op named by its ML Program type: inputs bound in order to op.params, then the constants.
Status MilEmitter::Generic(Op& op) {
  std::vector<std::pair<std::string, std::string>> bindings;
  for (size_t k = 0; k < op.inputs.size(); ++k) {
    bindings.emplace_back(op.params.at(k), var_.at(op.inputs[k]));
  }
  for (const auto& [param, value] : op.attrs) {
    bindings.emplace_back(param, ParamConst(op.name + "_" + param, value));
  }
  std::string out = ResultVar(op.output);
  auto* o = AddOp(op.type, op.name, out, MilType(g_.TypeOf(op.output), fp_),
                  g_.shapes[op.output]);
  for (const auto& [param, var] : bindings) Bind(o, param, var);
  return Status::Ok();
}

// A folded constant that an op reads as a value: float in the compute precision, else int32 or
// bool, inline or in the weight file as its size says.
Status MilEmitter::ConstOp(Op& op) {
  const Constant& c = op.weight;
  std::string var = ResultVar(op.output);
  mil::Value v;
  if (op.const_dtype == DType::kFloat) {
    std::vector<float> values = c.f;
    std::string tmp = Floats(var + "_value", c.shape, &values);
    // Floats made a const of its own name; give it the value's name instead.
    auto* made = block_->mutable_operations(block_->operations_size() - 1);
    made->mutable_outputs(0)->set_name(var);
    (*made->mutable_attributes())["name"] = StringScalar(var);
    names_.erase(tmp);
    return Status::Ok();
  }
  *v.mutable_type() = TensorValueType(MilType(op.const_dtype, fp_), c.shape);
  auto* tensor = v.mutable_immediatevalue()->mutable_tensor();
  for (int64_t k = 0; k < c.size(); ++k) {
    if (op.const_dtype == DType::kBool) {
      tensor->mutable_bools()->add_values(c.i[k] != 0);
    } else {
      tensor->mutable_ints()->add_values(ClampInt32(c.i[k]));
    }
  }
  auto* o = block_->add_operations();
  o->set_type("const");
  auto* out = o->add_outputs();
  out->set_name(var);
  *out->mutable_type() = v.type();
  (*o->mutable_attributes())["name"] = StringScalar(var);
  (*o->mutable_attributes())["val"] = std::move(v);
  return Status::Ok();
}

Status MilEmitter::Run() {
  spec::Model& m = model_.spec();
  auto* program = m.mutable_mlprogram();
  program->set_version(1);
  auto& fn = (*program->mutable_functions())["main"];
  // Opset CoreML5 goes with spec 6, CoreML6 with 7, and so on.
  std::string opset = "CoreML" + std::to_string(o_.spec_version - 1);
  fn.set_opset(opset);
  block_ = &(*fn.mutable_block_specializations())[opset];
  for (const auto& [name, shape] : g_.shapes) names_.insert(name);
  names_.insert(kClassLabelName);

  auto* desc = m.mutable_description();
  for (const std::string& in : g_.inputs) {
    const Shape& s = g_.shapes[in];
    const DType dtype = g_.TypeOf(in);
    // Core ML has no bool MultiArray: a bool input arrives as int32 and is cast inside.
    const mil::DataType declared = dtype == DType::kFloat ? mil::FLOAT32 : mil::INT32;
    auto* nvt = fn.add_inputs();
    nvt->set_name(in);
    *nvt->mutable_type() = TensorValueType(declared, s);
    auto* f = desc->add_input();
    f->set_name(in);
    std::string cur = in;
    if ((o_.fp16 && dtype == DType::kFloat) || dtype == DType::kBool) {
      bool to_bool = dtype == DType::kBool;
      std::string type = String(in + "_dtype", to_bool ? "bool" : "fp16");
      std::string cast = Fresh(in + (to_bool ? "_bool" : "_fp16"));
      auto* c = AddOp("cast", cast, cast, to_bool ? mil::BOOL : mil::FLOAT16, s);
      Bind(c, "x", cur);
      Bind(c, "dtype", type);
      cur = cast;
    }
    if (in == o_.image_input) {
      DescribeImageInput(f, s, o_);
      // Core ML hands the program pixels 0..255 in the declared channel order; the scaling
      // the NeuralNetwork preprocessing message would do is spelled out as ops.
      std::vector<float> bias;
      if (o_.color_layout == "GRAYSCALE") {
        bias = {o_.image_bias[0]};
      } else if (o_.color_layout == "BGR") {
        bias = {o_.image_bias[2], o_.image_bias[1], o_.image_bias[0]};
      } else {
        bias = {o_.image_bias[0], o_.image_bias[1], o_.image_bias[2]};
      }
      std::string scale = FloatScalar(in + "_scale", o_.image_scale);
      std::string b = Floats(in + "_bias", {1, static_cast<int64_t>(bias.size()), 1, 1}, &bias);
      std::string scaled = Fresh(in + "_scaled");
      auto* mul = AddOp("mul", scaled, scaled, fp_, s);
      Bind(mul, "x", cur);
      Bind(mul, "y", scale);
      std::string pre = Fresh(in + "_preprocessed");
      auto* add = AddOp("add", pre, pre, fp_, s);
      Bind(add, "x", scaled);
      Bind(add, "y", b);
      cur = pre;
    } else {
      auto* arr = f->mutable_type()->mutable_multiarraytype();
      arr->set_datatype(dtype == DType::kFloat ? spec::ArrayFeatureType::FLOAT32
                                               : spec::ArrayFeatureType::INT32);
      for (int64_t d : s) arr->add_shape(d);
    }
    var_[in] = cur;
  }
  for (Op& op : g_.ops) {
    bool ready = std::all_of(op.inputs.begin(), op.inputs.end(),
                             [&](const std::string& in) { return var_.count(in) > 0; });
    if (!ready) continue;  // reads the result of an op that failed
    Status s = o_.fp16 && o_.fp32_ops.count(op.name) ? LowerInFloat32(op) : Lower(op);
    if (!s.ok()) {
      if (o_.problems == nullptr) return s;
      o_.problems->push_back({op.node, op.onnx_op, op.onnx_version, s.message()});
    }
  }
  if (o_.problems != nullptr && !o_.problems->empty()) return Status::Ok();
  return Finish();
}

// Casts outputs back to fp32 and, for classifiers, ends with classify.
Status MilEmitter::Finish() {
  spec::ModelDescription* desc = model_.spec().mutable_description();
  bool classifier = !o_.class_labels.empty();
  for (size_t k = 0; k < g_.outputs.size(); ++k) {
    const std::string& o = g_.outputs[k];
    const Shape& s = g_.shapes[o];
    bool scores = classifier && k == 0;
    const DType dtype = g_.TypeOf(o);
    std::string cur = var_.at(o);
    if ((o_.fp16 && dtype == DType::kFloat) || dtype == DType::kBool) {
      // Outputs are float32 or int32 MultiArrays: fp16 and bool results are cast back.
      bool from_bool = dtype == DType::kBool;
      std::string type = String(o + "_dtype", from_bool ? "int32" : "fp32");
      std::string cast = scores ? Fresh(o + "_fp32") : o;
      auto* c = AddOp("cast", cast, cast, from_bool ? mil::INT32 : mil::FLOAT32, s);
      Bind(c, "x", cur);
      Bind(c, "dtype", type);
      cur = cast;
    }
    if (!scores) {
      block_->add_outputs(o);
      auto* f = desc->add_output();
      f->set_name(o);
      auto* arr = f->mutable_type()->mutable_multiarraytype();
      arr->set_datatype(dtype == DType::kFloat ? spec::ArrayFeatureType::FLOAT32
                                               : spec::ArrayFeatureType::INT32);
      for (int64_t d : s) arr->add_shape(d);
      continue;
    }
    // classify takes a vector of per-class scores.
    if (s.size() != 1) {
      std::string axes = Ints(o + "_squeeze_axes", {0}, false);
      std::string sq = Fresh(o + "_vector");
      auto* q = AddOp("squeeze", sq, sq, mil::FLOAT32, {NumElements(s)});
      Bind(q, "x", cur);
      Bind(q, "axes", axes);
      cur = sq;
    }
    auto* c = block_->add_operations();
    c->set_type("classify");
    (*c->mutable_attributes())["name"] = StringScalar(Fresh(o + "_classify"));
    (*c->mutable_inputs())["probabilities"].add_arguments()->set_name(cur);
    // The labels ride inline: a list of string scalars.
    mil::Value classes;
    auto* lt = classes.mutable_type()->mutable_listtype();
    *lt->mutable_type() = TensorValueType(mil::STRING, {});
    lt->mutable_length()->mutable_constant()->set_size(o_.class_labels.size());
    auto* list = classes.mutable_immediatevalue()->mutable_list();
    for (const auto& label : o_.class_labels) *list->add_values() = StringScalar(label);
    *(*c->mutable_inputs())["classes"].add_arguments()->mutable_value() = std::move(classes);
    auto* label_out = c->add_outputs();
    label_out->set_name(kClassLabelName);
    *label_out->mutable_type() = TensorValueType(mil::STRING, {});
    auto* probs_out = c->add_outputs();
    probs_out->set_name(o);
    auto* dt = probs_out->mutable_type()->mutable_dictionarytype();
    *dt->mutable_keytype() = TensorValueType(mil::STRING, {});
    *dt->mutable_valuetype() = TensorValueType(mil::FLOAT64, {});
    block_->add_outputs(kClassLabelName);
    block_->add_outputs(o);
    DescribeClassifierOutputs(desc, o);
  }
  if (blob_count_ > 0 && o_.streamed) {
    o_.streamed->weight_file = std::move(blobs_);
    o_.streamed->has_weight_file = true;
  } else if (blob_count_ > 0) {
    model_.weights() = blobs_.Release();
  }
  return Status::Ok();
}

Status EmitMLProgram(Graph* graph, const EmitOptions& options, coreml::Model* model) {
  MilEmitter e(graph, options, model);
  return e.Run();
}

}  // namespace ringo::convert
