// Helpers shared by the converter's tests: an ONNX graph builder, attributes, temporary
// directories, and what a converted model holds.
#ifndef RINGO_CONVERT_CONVERT_TEST_UTIL_H_
#define RINGO_CONVERT_CONVERT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "convert/convert.h"
#include "coreml/schema.h"

namespace ringo::convert::test {

namespace fs = std::filesystem;
namespace spec = coreml::spec;

// Builds an ONNX model node by node.
class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 13) {
    model_.set_ir_version(8);
    auto* imp = model_.add_opset_import();
    imp->set_domain("");
    imp->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }
  // A float input; a dimension of -1 is symbolic.
  OnnxBuilder& Input(const std::string& name, const std::vector<int64_t>& shape) {
    auto* in = model_.mutable_graph()->add_input();
    in->set_name(name);
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    auto* s = tt->mutable_shape();
    for (int64_t d : shape) {
      if (d < 0) {
        s->add_dim()->set_dim_param("N");
      } else {
        s->add_dim()->set_dim_value(d);
      }
    }
    return *this;
  }
  OnnxBuilder& Output(const std::string& name) {
    model_.mutable_graph()->add_output()->set_name(name);
    return *this;
  }
  OnnxBuilder& Floats(const std::string& name, const std::vector<int64_t>& shape,
                      const std::vector<float>& values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), 4 * values.size()));
    return *this;
  }
  OnnxBuilder& Ints(const std::string& name, const std::vector<int64_t>& values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return *this;
  }
  OnnxBuilder& IntScalar(const std::string& name, int64_t value) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_int64_data(value);
    return *this;
  }
  // Random weights of a shape, deterministic per name.
  OnnxBuilder& Weights(const std::string& name, const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::mt19937 gen(static_cast<unsigned>(std::hash<std::string>()(name)));
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return Floats(name, shape, v);
  }
  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + std::to_string(model_.graph().node_size()) : name);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return n;
  }
  std::string Bytes() const { return model_.SerializeAsString(); }
  onnx::ModelProto& model() { return model_; }

 private:
  onnx::ModelProto model_;
};

inline void SetInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

inline void SetInt(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

inline void SetFloat(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

inline void SetString(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("ringo_convert_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

inline const google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>& Layers(
    const spec::Model& m) {
  return m.has_neuralnetworkclassifier() ? m.neuralnetworkclassifier().layers()
                                         : m.neuralnetwork().layers();
}

inline std::vector<std::string> LayerTypes(const spec::Model& m) {
  std::vector<std::string> out;
  for (const auto& l : Layers(m)) {
    out.push_back(l.GetDescriptor()->FindFieldByNumber(l.layer_case())->name());
  }
  return out;
}

inline const google::protobuf::RepeatedPtrField<coreml::mil::Operation>& Ops(const spec::Model& m) {
  const auto& fn = m.mlprogram().functions().at("main");
  return fn.block_specializations().at(fn.opset()).operations();
}

inline std::vector<std::string> OpTypes(const spec::Model& m) {
  std::vector<std::string> out;
  for (const auto& op : Ops(m)) {
    if (op.type() != "const") out.push_back(op.type());
  }
  return out;
}

inline bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Converts to `format`, saves into a fresh directory and loads it back.
inline Result<coreml::Model> RoundTrip(const std::string& bytes, Format format,
                                const Options& options = {}) {
  ASSIGN_OR_RETURN(coreml::Model m, ConvertOnnxBytes(bytes, "test.onnx", format, options));
  TempDir dir;
  fs::path out = dir.path() / (format == Format::kNeuralNetwork ? "m.mlmodel" : "m.mlpackage");
  RETURN_IF_ERROR(coreml::Save(m, out));
  return coreml::Load(out);
}

}  // namespace ringo::convert::test

#endif  // RINGO_CONVERT_CONVERT_TEST_UTIL_H_
