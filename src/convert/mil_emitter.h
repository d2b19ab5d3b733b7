// The ML Program back end's private interface: the emitter shared by mil_emit.cc (the program,
// constants, generic ops) and mil_emit_layers.cc (the canonical ops).
#ifndef RINGO_CONVERT_MIL_EMITTER_H_
#define RINGO_CONVERT_MIL_EMITTER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "convert/emit.h"
#include "convert/graph.h"
#include "coreml/schema.h"

namespace ringo::convert {

namespace spec = coreml::spec;
namespace mil = coreml::mil;

inline constexpr const char* kWeightFile = "@model_path/weights/weight.bin";
// coremltools moves float constants of this many elements or more into weight.bin.
inline constexpr int64_t kBlobThreshold = 10;
// Constants this large are compressed when compression is asked for (coremltools' default
// threshold): biases and normalisation parameters stay as they are.
inline constexpr int64_t kCompressThreshold = 2048;

// The type of a tensor of `dt` with a static shape.
mil::ValueType TensorValueType(mil::DataType dt, const Shape& shape);
// A string scalar immediate value.
mil::Value StringScalar(const std::string& s);

// ONNX writes "to the end" as INT64_MAX; Core ML's integers are int32.
int32_t ClampInt32(int64_t v);
// The MIL type of a graph value; floats in `fp`, the compute precision.
mil::DataType MilType(DType d, mil::DataType fp);

// Writes one Graph as an ML Program into a Model. One use per instance.
class MilEmitter {
 public:
  MilEmitter(Graph* g, const EmitOptions& o, coreml::Model* m)
      : g_(*g), o_(o), model_(*m), fp_(o.fp16 ? mil::FLOAT16 : mil::FLOAT32) {
    // Size the weight file once: growing it by doubling would briefly hold two copies.
    uint64_t bytes = 0, count = 0;
    auto add = [&](const Constant& c) {
      if (c.is_int || NumElements(c.shape) < kBlobThreshold || (c.is_mapped() && o.streamed)) {
        return;
      }
      const size_t n = c.is_mapped() ? c.mapped.size() / sizeof(float) : c.f.size();
      bytes += static_cast<uint64_t>(n) * (o.fp16 ? 2 : 4);
      ++count;
    };
    for (const Op& op : g->ops) {
      for (const Constant* c : {&op.weight, &op.bias, &op.mean, &op.variance, &op.gamma, &op.beta}) add(*c);
      if (op.operand) add(*op.operand);
    }
    blobs_.Reserve(bytes, count);
  }
  Status Run();

 private:
  std::string Fresh(const std::string& hint) {
    std::string name = hint;
    for (int k = 1; names_.count(name); ++k) name = hint + "_" + std::to_string(k);
    names_.insert(name);
    return name;
  }
  // A const op producing `value`; returns its name.
  std::string Const(const std::string& hint, mil::Value value) {
    std::string name = Fresh(hint);
    auto* op = block_->add_operations();
    op->set_type("const");
    auto* out = op->add_outputs();
    out->set_name(name);
    *out->mutable_type() = value.type();
    (*op->mutable_attributes())["name"] = StringScalar(name);
    (*op->mutable_attributes())["val"] = std::move(value);
    return name;
  }
  // A float constant in the compute precision; with compression on, large ones (weights) are
  // written compressed and decompressed by a constexpr op.
  std::string Floats(const std::string& hint, const Shape& shape, std::vector<float>* values) {
    if (!o_.compress.empty() && NumElements(shape) >= kCompressThreshold) {
      return Compressed(hint, shape, values);
    }
    return PlainFloats(hint, shape, values);
  }
  std::string Compressed(const std::string& hint, const Shape& shape, std::vector<float>* values);
  // A conv's or linear's weights: left to the writer (EmitOptions::streamed) when they are still
  // in the ONNX file's mapping and go to weight.bin as they are, else as Floats.
  std::string Weight(const std::string& hint, Constant* c) {
    if (c->is_mapped() && o_.streamed && o_.compress.empty() &&
        NumElements(c->shape) >= kBlobThreshold) {
      const StreamedWeight w{c->mapped, Half()};
      mil::Value v;
      *v.mutable_type() = TensorValueType(fp_, c->shape);
      auto* b = v.mutable_blobfilevalue();
      b->set_filename(kWeightFile);
      b->set_offset(blobs_.AddHole(
          Half() ? coreml::BlobType::kFloat16 : coreml::BlobType::kFloat32, w.bytes()));
      ++blob_count_;
      o_.streamed->blobs.push_back(w);
      c->mapped = {};
      return Const(hint, std::move(v));
    }
    c->Load();
    return Floats(hint, c->shape, &c->f);
  }
  // Raw little-endian values of `dt`: in weight.bin (as `blob`) when large, else inline.
  std::string RawConst(const std::string& hint, mil::DataType dt, const Shape& shape,
                       coreml::BlobType blob, const std::string& bytes) {
    mil::Value v;
    *v.mutable_type() = TensorValueType(dt, shape);
    if (NumElements(shape) >= kBlobThreshold) {
      auto* b = v.mutable_blobfilevalue();
      b->set_filename(kWeightFile);
      b->set_offset(blobs_.Add(blob, bytes));
      ++blob_count_;
    } else {
      v.mutable_immediatevalue()->mutable_tensor()->mutable_bytes()->set_values(bytes);
    }
    return Const(hint, std::move(v));
  }
  std::string PlainFloats(const std::string& hint, const Shape& shape,
                          std::vector<float>* values) {
    mil::Value v;
    *v.mutable_type() = TensorValueType(fp_, shape);
    std::string bytes;
    if (Half()) {
      bytes.resize(values->size() * 2);
      for (size_t k = 0; k < values->size(); ++k) {
        uint16_t h = coreml::FloatToHalf((*values)[k]);
        std::memcpy(&bytes[2 * k], &h, 2);
      }
    }
    if (NumElements(shape) >= kBlobThreshold) {
      if (!Half()) bytes.assign(reinterpret_cast<const char*>(values->data()), values->size() * 4);
      uint64_t offset =
          blobs_.Add(Half() ? coreml::BlobType::kFloat16 : coreml::BlobType::kFloat32, bytes);
      auto* b = v.mutable_blobfilevalue();
      b->set_filename(kWeightFile);
      b->set_offset(offset);
      ++blob_count_;
    } else if (Half()) {
      v.mutable_immediatevalue()->mutable_tensor()->mutable_bytes()->set_values(std::move(bytes));
    } else {
      v.mutable_immediatevalue()->mutable_tensor()->mutable_floats()->mutable_values()->Add(
          values->begin(), values->end());
    }
    std::vector<float>().swap(*values);
    return Const(hint, std::move(v));
  }
  std::string FloatScalar(const std::string& hint, float f) {
    std::vector<float> v = {f};
    return Floats(hint, {}, &v);
  }
  std::string Ints(const std::string& hint, const std::vector<int64_t>& values, bool scalar) {
    mil::Value v;
    *v.mutable_type() =
        TensorValueType(mil::INT32, scalar ? Shape{} : Shape{static_cast<int64_t>(values.size())});
    auto* ints = v.mutable_immediatevalue()->mutable_tensor()->mutable_ints();
    for (int64_t x : values) ints->add_values(ClampInt32(x));
    return Const(hint, std::move(v));
  }
  std::string Bool(const std::string& hint, bool b) {
    mil::Value v;
    *v.mutable_type() = TensorValueType(mil::BOOL, {});
    v.mutable_immediatevalue()->mutable_tensor()->mutable_bools()->add_values(b);
    return Const(hint, std::move(v));
  }
  std::string String(const std::string& hint, const std::string& s) {
    return Const(hint, StringScalar(s));
  }
  mil::Operation* AddOp(const std::string& type, const std::string& name, const std::string& output,
                        mil::DataType dt, const Shape& shape) {
    auto* op = block_->add_operations();
    op->set_type(type);
    auto* out = op->add_outputs();
    out->set_name(output);
    *out->mutable_type() = TensorValueType(dt, shape);
    (*op->mutable_attributes())["name"] = StringScalar(name);
    return op;
  }
  static void Bind(mil::Operation* op, const std::string& param, const std::string& var) {
    (*op->mutable_inputs())[param].add_arguments()->set_name(var);
  }
  // The MIL variable an op result goes to: graph outputs that still need a cast or a classify
  // get an inner name, so the final op can carry the output's own name.
  std::string ResultVar(const std::string& value) {
    bool is_output = std::find(g_.outputs.begin(), g_.outputs.end(), value) != g_.outputs.end();
    bool scores = !o_.class_labels.empty() && value == g_.outputs[0];
    DType dtype = g_.TypeOf(value);
    bool cast = (o_.fp16 && dtype == DType::kFloat) || dtype == DType::kBool;
    std::string var = is_output && (cast || scores) ? Fresh(value + "_inner") : value;
    var_[value] = var;
    return var;
  }
  // Whether the op being written computes in fp16 (ops kept in fp32 switch fp_ while lowered).
  bool Half() const { return fp_ == mil::FLOAT16; }
  Status LowerInFloat32(Op& op);
  // Writes `op` as MIL ops (mil_emit_layers.cc): generic ops by their own type, the canonical
  // ops one function each.
  Status Lower(Op& op);
  // The canonical ops; each binds the op's inputs (`x`: the first) and parameters.
  // An op writing `op`'s result, typed and shaped as the graph says.
  mil::Operation* Output(const Op& op, const std::string& type);
  Status EmitConv(Op& op, const std::string& x);
  Status EmitLinear(Op& op, const std::string& x);
  Status EmitBinary(Op& op, const std::string& x);  // add, sub, mul, div, matmul
  Status EmitActivation(Op& op, const std::string& x);
  Status EmitHardActivation(Op& op, const std::string& x);  // hard_sigmoid, clip, hard_swish
  Status EmitBatchNorm(Op& op, const std::string& x);
  Status EmitPool(Op& op, const std::string& x);
  Status EmitReduceMean(Op& op, const std::string& x);  // and global_avg_pool
  Status EmitReshape(Op& op, const std::string& x);
  Status EmitTranspose(Op& op, const std::string& x);
  Status EmitConcat(Op& op, const std::string& x);
  Status EmitSoftmax(Op& op, const std::string& x);
  Status EmitPad(Op& op, const std::string& x);
  Status Generic(Op& op);
  Status ConstOp(Op& op);
  std::string ParamConst(const std::string& hint, const Param& p);
  Status Finish();

  Graph& g_;
  const EmitOptions& o_;
  coreml::Model& model_;
  mil::DataType fp_;
  mil::Block* block_ = nullptr;
  coreml::BlobWriter blobs_;
  int blob_count_ = 0;
  std::set<std::string> names_;
  std::map<std::string, std::string> var_;
  std::map<std::string, std::string> fp32_var_;  // fp32 results of ops kept in fp32
};

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_MIL_EMITTER_H_
