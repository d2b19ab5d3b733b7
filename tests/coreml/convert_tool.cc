// Test-only driver: converts an ONNX file, saves it, loads it back and prints a JSON summary.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "convert/convert.h"
#include "coreml/schema.h"

namespace {

namespace spec = ringo::coreml::spec;

nlohmann::json Features(const google::protobuf::RepeatedPtrField<spec::FeatureDescription>& fs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : fs) {
    nlohmann::json j = {{"name", f.name()}};
    const auto& t = f.type();
    if (t.has_multiarraytype()) {
      j["type"] = "MultiArray";
      j["shape"] = std::vector<int64_t>(t.multiarraytype().shape().begin(),
                                        t.multiarraytype().shape().end());
    } else if (t.has_imagetype()) {
      j["type"] = "Image";
      j["width"] = t.imagetype().width();
      j["height"] = t.imagetype().height();
    } else if (t.has_stringtype()) {
      j["type"] = "String";
    } else if (t.has_dictionarytype()) {
      j["type"] = "Dictionary";
    } else {
      j["type"] = "other";
    }
    out.push_back(j);
  }
  return out;
}

nlohmann::json Summary(const ringo::coreml::Model& model) {
  const spec::Model& m = model.spec();
  nlohmann::json j = {{"spec_version", m.specificationversion()},
                      {"inputs", Features(m.description().input())},
                      {"outputs", Features(m.description().output())},
                      {"metadata", m.description().metadata().userdefined()},
                      {"weights_bytes", model.weights().size()}};
  std::map<std::string, int> counts;
  const google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>* layers = nullptr;
  if (m.has_neuralnetwork()) {
    j["type"] = "neuralNetwork";
    layers = &m.neuralnetwork().layers();
  } else if (m.has_neuralnetworkclassifier()) {
    j["type"] = "neuralNetworkClassifier";
    layers = &m.neuralnetworkclassifier().layers();
    j["labels"] = m.neuralnetworkclassifier().stringclasslabels().vector_size();
  } else if (m.has_mlprogram()) {
    j["type"] = "mlProgram";
    const auto& fn = m.mlprogram().functions().at("main");
    j["opset"] = fn.opset();
    for (const auto& op : fn.block_specializations().at(fn.opset()).operations()) {
      ++counts[op.type()];
    }
  }
  if (layers) {
    for (const auto& l : *layers) {
      const auto* field = l.GetDescriptor()->FindFieldByNumber(l.layer_case());
      ++counts[field ? field->name() : "unknown"];
    }
  }
  j["layers"] = counts;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: convert_tool IN.onnx OUT.mlmodel|OUT.mlpackage [--fp16] [--labels FILE]"
                 " [--image NAME] [--target OS] [--no-verify]\n";
    return 2;
  }
  ringo::convert::Options options;
  bool verify = true;
  for (int k = 3; k < argc; ++k) {
    std::string arg = argv[k];
    if (arg == "--fp16") {
      options.precision = ringo::convert::Precision::kFloat16;
    } else if (arg == "--labels" && k + 1 < argc) {
      std::ifstream in(argv[++k]);
      for (std::string line; std::getline(in, line);) {
        if (!line.empty()) options.class_labels.push_back(line);
      }
    } else if (arg == "--image" && k + 1 < argc) {
      options.image_input = argv[++k];
      options.image_scale = 1.0f / 255.0f;
    } else if (arg == "--no-verify") {
      verify = false;  // benchmarks time the conversion alone
    } else if (arg == "--target" && k + 1 < argc) {
      options.minimum_deployment_target = argv[++k];
    } else {
      std::cerr << "unknown argument " << arg << "\n";
      return 2;
    }
  }
  ringo::Status s = ringo::convert::ConvertFile(argv[1], argv[2], options);
  if (!s.ok()) {
    std::cerr << "convert_tool: " << s.ToString() << "\n";
    return 1;
  }
  if (!verify) return 0;
  auto loaded = ringo::coreml::Load(argv[2]);
  if (!loaded.ok()) {
    std::cerr << "convert_tool: reload failed: " << loaded.status().ToString() << "\n";
    return 1;
  }
  std::cout << Summary(*loaded).dump() << "\n";
  return 0;
}
