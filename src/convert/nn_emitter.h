// The NeuralNetwork (.mlmodel) back end's private interface: the emitter class, whose rank-5
// layers live in nn_emit.cc and rank-N layers (spec 4, EXACT_ARRAY_MAPPING) in nn_emit_nd.cc.
#ifndef RINGO_CONVERT_NN_EMITTER_H_
#define RINGO_CONVERT_NN_EMITTER_H_

#include <array>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "convert/compress.h"
#include "convert/emit.h"
#include "coreml/schema.h"

namespace ringo::convert {

namespace spec = coreml::spec;

// Weights this large are quantized when compression is asked for, as in the ML Program writer.
inline constexpr int64_t kNnCompressThreshold = 2048;
using Dims = std::array<int64_t, 3>;  // C, H, W of a rank-5 blob (sequence and batch are 1)

// Where an ONNX tensor lives in a rank-5 blob: [1, C, H, W] -> (C, H, W); [1, F] and [F] ->
// (F, 1, 1). The two are the same memory layout, which is why flatten needs no transpose.
std::optional<Dims> NnDims(const Shape& s);

// Writes `values` as float32 or binary16 weights and frees them.
void SetWeights(spec::WeightParams* w, std::vector<float>* values, bool fp16);

class NnEmitter {
 public:
  // `nd`: a network of rank-N layers with EXACT_ARRAY_MAPPING (spec 4) instead of the rank-5
  // layers every Core ML version reads. `dry_run`: finds out whether the graph can be written,
  // leaving the graph's weights where they are (the model written is then to be thrown away).
  NnEmitter(Graph* g, const EmitOptions& o, spec::Model* m, bool nd, bool dry_run)
      : g_(*g), o_(o), m_(*m), nd_(nd), dry_run_(dry_run) {}
  // The lowest specification version the network needs.
  Result<int> Run();

 private:
  Status Fail(const Op& op, const std::string& msg) const {
    return InvalidArgument("ONNX node '" + op.name + "' (" + op.onnx_op + ", opset " +
                           std::to_string(op.onnx_version) +
                           ") cannot be written as a NeuralNetwork (.mlmodel): " + msg +
                           "; convert to .mlpackage (ML Program) instead");
  }
  // SetWeights, except in a dry run, which leaves the values to the real run.
  void Store(spec::WeightParams* w, std::vector<float>* values) {
    if (!dry_run_) SetWeights(w, values, fp16_);
  }
  spec::NeuralNetworkLayer* Layer(const std::string& name, std::vector<std::string> inputs,
                                  const std::string& output) {
    std::string unique = name;
    for (int k = 1; layer_names_.count(unique); ++k) unique = name + "_" + std::to_string(k);
    layer_names_.insert(unique);
    auto* l = layers_->Add();
    l->set_name(unique);
    for (auto& in : inputs) l->add_input(std::move(in));
    l->add_output(output);
    return l;
  }
  void Linear(const std::string& name, const std::string& in, const std::string& out, float a,
              float b) {
    auto* act = Layer(name, {in}, out)->mutable_activation()->mutable_linear();
    act->set_alpha(a);
    act->set_beta(b);
  }
  void Threshold(const std::string& name, const std::string& in, const std::string& out,
                 float alpha) {
    auto* u = Layer(name, {in}, out)->mutable_unary();
    u->set_type(spec::UnaryFunctionLayerParams::THRESHOLD);
    u->set_alpha(alpha);
    u->set_scale(1.0f);  // written out: an absent scale would read as 0
  }
  void Inverse(const std::string& name, const std::string& in, const std::string& out) {
    auto* u = Layer(name, {in}, out)->mutable_unary();
    u->set_type(spec::UnaryFunctionLayerParams::INVERSE);
    u->set_scale(1.0f);
  }
  // A convolution's or inner product's weights: quantized to 8 bits when compression is on and
  // the tensor is large (spec 3), else as SetWeights writes them.
  void MainWeights(spec::WeightParams* w, Constant* c) {
    if (dry_run_) return;
    if (c->is_mapped() && o_.streamed && o_.compress.empty()) {
      o_.streamed->params[w] = {c->mapped, fp16_};
      c->mapped = {};
      return;
    }
    c->Load();
    if (o_.compress.empty() || c->size() < kNnCompressThreshold) {
      SetWeights(w, &c->f, fp16_);
      return;
    }
    version_ = std::max(version_, 3);
    auto* q = w->mutable_quantization();
    q->set_numberofbits(8);
    std::string raw(c->f.size(), '\0');
    if (o_.compress == "palettize8") {
      Palette p = Palettize(c->f, 8);
      raw = p.packed;
      q->mutable_lookuptablequantization()->mutable_floatvalue()->Add(p.lut.begin(), p.lut.end());
    } else {
      // Symmetric int8 stored unsigned: w = (q + 128) * scale - 128 * scale.
      const int64_t channels = o_.compress == "int8" ? c->shape[0] : 1;
      Int8Weights iq = QuantizeInt8(c->f, channels);
      for (size_t k = 0; k < raw.size(); ++k) raw[k] = static_cast<char>(iq.q[k] + 128);
      auto* lin = q->mutable_linearquantization();
      for (float scale : iq.scale) {
        lin->add_scale(scale);
        lin->add_bias(-128.0f * scale);
      }
    }
    w->set_rawvalue(std::move(raw));
    std::vector<float>().swap(c->f);
  }
  Status Binary(Op& op);
  Status ConstantBinary(Op& op);
  Status Clip(const Op& op);
  Status Pool(const Op& op);
  Status Reshape(const Op& op, const Shape& in, const Shape& out);
  Status Lower(Op& op);
  Status Describe(bool classifier);

  // ---- rank-N layers (nn_emit_nd.cc) ----
  // Lowers the ops that have rank-N layers; sets *handled when it did. The others (convolution,
  // pooling, batch norm on [N, C, H, W], activations) keep their rank-5 layers, which a
  // rank-N network runs on its last axes.
  Status LowerNd(Op& op, bool* handled);
  Status NdGeneric(Op& op);
  // The families of generic ops NdGeneric hands on; each sets *handled when `op` is its own.
  Status NdElementwise(Op& op, bool* handled);
  Status NdIndexing(Op& op, bool* handled);
  Status NdShape(Op& op, bool* handled);
  // add, sub, mul, div, matmul (canonical or generic `type`) of the blobs `a` and `b`.
  Status NdBinary(const Op& op, const std::string& type, const std::string& a,
                  const std::string& b);
  // A loadConstantND layer holding `values` of `shape` (rank 0 held as [1]); its blob's name.
  std::string NdConstant(const std::string& hint, const Shape& shape, std::vector<float> values);
  // The blob bound to parameter `param` of a generic op: its input, or a constant made of its
  // constant parameter; empty when the op has neither.
  std::string NdOperand(const Op& op, const std::string& param);
  // Declares input or output `name` of shape `s` as a MultiArray of that exact shape.
  void DescribeNdArray(spec::FeatureDescription* f, const std::string& name, const Shape& s,
                       bool input);

  Graph& g_;
  const EmitOptions& o_;
  spec::Model& m_;
  google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>* layers_ = nullptr;
  std::set<std::string> layer_names_;
  int version_ = 1;
  const bool nd_;
  const bool dry_run_;
  // Whether the op being written stores fp16 weights: fp16, unless --precision auto keeps the op
  // in fp32 (EmitOptions::fp32_ops).
  bool fp16_ = false;
  int constants_ = 0;  // loadConstantND layers written, for unique blob names
};

}  // namespace ringo::convert

#endif  // RINGO_CONVERT_NN_EMITTER_H_
