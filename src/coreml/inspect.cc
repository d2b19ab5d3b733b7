// Inspecting and validating Core ML models: interface, size, precision, and loader checks.
#include <google/protobuf/descriptor.h>

#include <nlohmann/json.hpp>
#include <set>

#include "coreml/coreml.h"
#include "coreml/schema.h"

namespace ringo::coreml {

namespace fs = std::filesystem;

namespace {

// Oldest OS per specification version (Core ML's compatibility table).
struct OsFloor {
  const char* ios;
  const char* macos;
};
constexpr OsFloor kOsFloor[] = {{"?", "?"},      {"11", "10.13"}, {"11.2", "10.13.2"},
                                {"12", "10.14"}, {"13", "10.15"}, {"14", "11"},
                                {"15", "12"},    {"16", "13"},    {"17", "14"},
                                {"18", "15"},    {"26", "26"}};

std::string ArrayTypeName(spec::ArrayFeatureType::ArrayDataType t) {
  switch (t) {
    case spec::ArrayFeatureType::FLOAT32:
      return "FLOAT32";
    case spec::ArrayFeatureType::FLOAT16:
      return "FLOAT16";
    case spec::ArrayFeatureType::DOUBLE:
      return "DOUBLE";
    case spec::ArrayFeatureType::INT32:
      return "INT32";
    case spec::ArrayFeatureType::INT8:
      return "INT8";
    default:
      return "INVALID";
  }
}

std::string ColorSpaceName(spec::ImageFeatureType::ColorSpace c) {
  switch (c) {
    case spec::ImageFeatureType::RGB:
      return "RGB";
    case spec::ImageFeatureType::BGR:
      return "BGR";
    case spec::ImageFeatureType::GRAYSCALE:
      return "GRAYSCALE";
    case spec::ImageFeatureType::GRAYSCALE_FLOAT16:
      return "GRAYSCALE_FLOAT16";
    default:
      return "INVALID";
  }
}

Feature ToFeature(const spec::FeatureDescription& d) {
  Feature f;
  f.name = d.name();
  f.description = d.shortdescription();
  f.optional = d.type().isoptional();
  const spec::FeatureType& t = d.type();
  switch (t.Type_case()) {
    case spec::FeatureType::kInt64Type:
      f.type = "Int64";
      break;
    case spec::FeatureType::kDoubleType:
      f.type = "Double";
      break;
    case spec::FeatureType::kStringType:
      f.type = "String";
      break;
    case spec::FeatureType::kImageType:
      f.type = "Image";
      f.image_width = t.imagetype().width();
      f.image_height = t.imagetype().height();
      f.color_space = ColorSpaceName(t.imagetype().colorspace());
      break;
    case spec::FeatureType::kMultiArrayType:
      f.type = "MultiArray";
      f.shape.assign(t.multiarraytype().shape().begin(), t.multiarraytype().shape().end());
      f.data_type = ArrayTypeName(t.multiarraytype().datatype());
      break;
    case spec::FeatureType::kDictionaryType:
      f.type = "Dictionary";
      f.key_type = t.dictionarytype().has_int64keytype() ? "Int64" : "String";
      break;
    default:
      f.type = "Unknown";
  }
  return f;
}

// The layers of whichever NeuralNetwork flavour the model holds (nullptr for ML Programs).
const google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>* Layers(const spec::Model& m) {
  if (m.has_neuralnetwork()) return &m.neuralnetwork().layers();
  if (m.has_neuralnetworkclassifier()) return &m.neuralnetworkclassifier().layers();
  if (m.has_neuralnetworkregressor()) return &m.neuralnetworkregressor().layers();
  return nullptr;
}

const google::protobuf::RepeatedPtrField<spec::NeuralNetworkPreprocessing>* Preprocessing(
    const spec::Model& m) {
  if (m.has_neuralnetwork()) return &m.neuralnetwork().preprocessing();
  if (m.has_neuralnetworkclassifier()) return &m.neuralnetworkclassifier().preprocessing();
  if (m.has_neuralnetworkregressor()) return &m.neuralnetworkregressor().preprocessing();
  return nullptr;
}

// Name of the oneof case of a layer ("convolution", "innerProduct", ...).
std::string LayerType(const spec::NeuralNetworkLayer& layer) {
  const auto* d = spec::NeuralNetworkLayer::descriptor()->FindFieldByNumber(layer.layer_case());
  return d ? d->name() : "unknown";
}

int64_t WeightCount(const spec::WeightParams& w) {
  if (w.floatvalue_size() > 0) return w.floatvalue_size();
  const uint64_t bits = w.quantization().numberofbits();
  if (!w.rawvalue().empty() && bits > 0) {
    return static_cast<int64_t>(w.rawvalue().size() * 8 / bits);
  }
  return static_cast<int64_t>(w.float16value().size() / 2);
}

// Visits every WeightParams of a layer with its expected element count (-1: unchecked).
template <typename F>
void ForEachWeight(const spec::NeuralNetworkLayer& l, F f) {
  switch (l.layer_case()) {
    case spec::NeuralNetworkLayer::kConvolution: {
      const auto& c = l.convolution();
      int64_t k = 1;
      for (uint64_t s : c.kernelsize()) k *= static_cast<int64_t>(s);
      if (c.kernelsize_size() == 0) k = 9;  // default 3x3
      int64_t groups = c.ngroups() ? static_cast<int64_t>(c.ngroups()) : 1;
      int64_t expected = c.isdeconvolution()
                             ? static_cast<int64_t>(c.kernelchannels()) *
                                   static_cast<int64_t>(c.outputchannels()) / groups * k
                             : static_cast<int64_t>(c.outputchannels() * c.kernelchannels()) * k;
      f("weights", c.weights(), expected);
      if (c.hasbias()) f("bias", c.bias(), static_cast<int64_t>(c.outputchannels()));
      break;
    }
    case spec::NeuralNetworkLayer::kInnerProduct: {
      const auto& p = l.innerproduct();
      f("weights", p.weights(), static_cast<int64_t>(p.inputchannels() * p.outputchannels()));
      if (p.hasbias()) f("bias", p.bias(), static_cast<int64_t>(p.outputchannels()));
      break;
    }
    case spec::NeuralNetworkLayer::kBatchnorm: {
      const auto& b = l.batchnorm();
      int64_t c = static_cast<int64_t>(b.channels());
      f("gamma", b.gamma(), c);
      f("beta", b.beta(), c);
      if (!b.computemeanvar()) {
        f("mean", b.mean(), c);
        f("variance", b.variance(), c);
      }
      break;
    }
    case spec::NeuralNetworkLayer::kScale: {
      const auto& s = l.scale();
      f("scale", s.scale(), -1);
      if (s.hasbias()) f("bias", s.bias(), -1);
      break;
    }
    case spec::NeuralNetworkLayer::kBias:
      f("bias", l.bias().bias(), -1);
      break;
    default:
      break;
  }
}

// Element count of a MIL tensor type (-1 when a dimension is unknown).
int64_t ElementCount(const mil::ValueType& t) {
  if (!t.has_tensortype()) return -1;
  int64_t n = 1;
  for (const auto& d : t.tensortype().dimensions()) {
    if (!d.has_constant()) return -1;
    n *= static_cast<int64_t>(d.constant().size());
  }
  return n;
}

// "int8", "palettized N-bit" or "pruned" for a constexpr op of weight compression.
std::string CompressionKind(const mil::Operation& op,
                            const std::map<std::string, const mil::Operation*>& consts) {
  if (op.type() == "constexpr_affine_dequantize") return "int8";
  if (op.type() == "constexpr_sparse_to_dense") return "pruned";
  if (op.type() != "constexpr_lut_to_dense") return op.type();
  auto in = op.inputs().find("lut");
  if (in != op.inputs().end() && in->second.arguments_size() == 1) {
    auto c = consts.find(in->second.arguments(0).name());
    if (c != consts.end()) {
      int64_t entries = ElementCount(c->second->outputs(0).type());
      int bits = 0;
      while ((int64_t{1} << bits) < entries) ++bits;
      return "palettized " + std::to_string(bits) + "-bit";
    }
  }
  return "palettized";
}

const mil::Block* MainBlock(const spec::Model& m, std::string* opset = nullptr) {
  if (!m.has_mlprogram()) return nullptr;
  auto it = m.mlprogram().functions().find("main");
  if (it == m.mlprogram().functions().end()) return nullptr;
  auto b = it->second.block_specializations().find(it->second.opset());
  if (b == it->second.block_specializations().end()) return nullptr;
  if (opset) *opset = it->second.opset();
  return &b->second;
}

int64_t PathSize(const fs::path& p) {
  std::error_code ec;
  if (p.empty() || !fs::exists(p, ec)) return 0;
  if (fs::is_regular_file(p, ec)) return static_cast<int64_t>(fs::file_size(p, ec));
  int64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(p, ec)) {
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  }
  return total;
}

}  // namespace

Info Inspect(const Model& model, const fs::path& path) {
  const spec::Model& m = model.spec();
  Info info;
  info.spec_version = m.specificationversion();
  int v = std::clamp(info.spec_version, 0, 10);
  info.min_ios = kOsFloor[v].ios;
  info.min_macos = kOsFloor[v].macos;
  const auto* type_field = spec::Model::descriptor()->FindFieldByNumber(m.Type_case());
  info.model_type = type_field ? type_field->name() : "unknown";
  for (const auto& f : m.description().input()) info.inputs.push_back(ToFeature(f));
  for (const auto& f : m.description().output()) info.outputs.push_back(ToFeature(f));
  info.predicted_feature = m.description().predictedfeaturename();
  info.predicted_probabilities = m.description().predictedprobabilitiesname();
  const spec::Metadata& md = m.description().metadata();
  if (!md.author().empty()) info.metadata["author"] = md.author();
  if (!md.license().empty()) info.metadata["license"] = md.license();
  if (!md.versionstring().empty()) info.metadata["version"] = md.versionstring();
  if (!md.shortdescription().empty()) info.metadata["short_description"] = md.shortdescription();
  for (const auto& [k, val] : md.userdefined()) info.metadata[k] = val;

  bool fp32 = false, fp16 = false;
  if (m.has_neuralnetworkclassifier()) {
    const auto& c = m.neuralnetworkclassifier();
    for (const auto& s : c.stringclasslabels().vector()) info.class_labels.push_back(s);
    for (int64_t i : c.int64classlabels().vector()) info.class_labels.push_back(std::to_string(i));
  }
  std::set<std::string> nn_compression;
  if (const auto* layers = Layers(m)) {
    for (const auto& l : *layers) {
      ++info.layer_counts[LayerType(l)];
      ForEachWeight(l, [&](const char*, const spec::WeightParams& w, int64_t) {
        info.parameter_count += WeightCount(w);
        if (w.floatvalue_size() > 0) fp32 = true;
        if (!w.float16value().empty()) fp16 = true;
        if (!w.rawvalue().empty()) {
          const auto& q = w.quantization();
          nn_compression.insert(q.has_lookuptablequantization()
                                    ? "palettized " + std::to_string(q.numberofbits()) + "-bit"
                                    : "int" + std::to_string(q.numberofbits()));
        }
      });
    }
  }
  for (const std::string& kind : nn_compression) {
    info.weight_compression += (info.weight_compression.empty() ? "" : ", ") + kind;
  }
  if (const mil::Block* block = MainBlock(m)) {
    std::map<std::string, const mil::Operation*> consts;
    std::set<std::string> compression;
    // The parts of a compressed weight (scales, tables, kept values) are not weights themselves.
    std::set<std::string> parts;
    for (const auto& op : block->operations()) {
      if (op.type().rfind("constexpr_", 0) != 0) continue;
      for (const auto& [param, arg] : op.inputs()) {
        for (const auto& b : arg.arguments()) parts.insert(b.name());
      }
    }
    for (const auto& op : block->operations()) {
      ++info.layer_counts[op.type()];
      if (op.type().rfind("constexpr_", 0) == 0 && op.outputs_size() == 1) {
        // A compressed weight: counted as the tensor it decompresses to.
        const auto& t = op.outputs(0).type();
        info.parameter_count += ElementCount(t);
        if (t.has_tensortype()) {
          (t.tensortype().datatype() == mil::FLOAT16 ? fp16 : fp32) = true;
        }
        compression.insert(CompressionKind(op, consts));
      }
      if (op.type() != "const" || op.outputs_size() != 1) continue;
      consts[op.outputs(0).name()] = &op;
      if (parts.count(op.outputs(0).name())) continue;
      const auto& t = op.outputs(0).type();
      int64_t n = ElementCount(t);
      if (!t.has_tensortype() || n < 10) continue;  // scalars and small vectors are not weights
      if (t.tensortype().datatype() == mil::FLOAT32) {
        fp32 = true;
        info.parameter_count += n;
      } else if (t.tensortype().datatype() == mil::FLOAT16) {
        fp16 = true;
        info.parameter_count += n;
      }
    }
    for (const std::string& kind : compression) {
      info.weight_compression += (info.weight_compression.empty() ? "" : ", ") + kind;
    }
    // A classifier program ends in classify(probabilities, classes): its labels are the classes.
    for (const auto& op : block->operations()) {
      if (op.type() != "classify") continue;
      auto it = op.inputs().find("classes");
      if (it == op.inputs().end() || it->second.arguments_size() != 1) continue;
      const auto& binding = it->second.arguments(0);
      const mil::Value* val = nullptr;
      if (binding.has_value()) {
        val = &binding.value();
      } else if (auto c = consts.find(binding.name()); c != consts.end()) {
        auto a = c->second->attributes().find("val");
        if (a != c->second->attributes().end()) val = &a->second;
      }
      if (!val || !val->has_immediatevalue()) continue;
      const auto& imm = val->immediatevalue();
      if (imm.has_tensor()) {
        for (const auto& s : imm.tensor().strings().values()) info.class_labels.push_back(s);
        for (int64_t i : imm.tensor().longints().values())
          info.class_labels.push_back(std::to_string(i));
      } else if (imm.has_list()) {
        for (const auto& item : imm.list().values()) {
          const auto& t = item.immediatevalue().tensor();
          for (const auto& s : t.strings().values()) info.class_labels.push_back(s);
          for (int64_t i : t.longints().values()) info.class_labels.push_back(std::to_string(i));
        }
      }
    }
  }
  info.weight_precision = fp32 && fp16 ? "mixed" : fp16 ? "float16" : fp32 ? "float32" : "none";
  if (info.weight_compression.empty()) info.weight_compression = "none";
  info.file_size = PathSize(path);
  info.unknown_fields = model.unknown_fields();
  return info;
}

namespace {

// The problems Validate finds, and the specification version features are checked against.
struct Problems {
  std::vector<std::string> list;
  int spec_version = 0;
  void Add(std::string problem) { list.push_back(std::move(problem)); }
  // A feature that needs at least specification `version`.
  void Need(int version, const std::string& feature) {
    if (spec_version < version) {
      Add(feature + " needs specification version " + std::to_string(version) +
          " but the model declares " + std::to_string(spec_version));
    }
  }
};

// Inputs and outputs: unique names, types set, and the versions their types need.
void ValidateInterface(const spec::Model& m, std::set<std::string>* input_names,
                       std::set<std::string>* output_names, Problems* p) {
  for (const auto& in : m.description().input()) {
    if (!input_names->insert(in.name()).second)
      p->Add("input '" + in.name() + "' declared twice");
    const auto& t = in.type();
    if (t.Type_case() == spec::FeatureType::TYPE_NOT_SET) {
      p->Add("input '" + in.name() + "' has no type");
    }
    if (t.has_multiarraytype()) {
      auto dt = t.multiarraytype().datatype();
      if (dt == spec::ArrayFeatureType::FLOAT16) p->Need(7, "FLOAT16 input '" + in.name() + "'");
      if (dt == spec::ArrayFeatureType::INT8) p->Need(10, "INT8 input '" + in.name() + "'");
      if (dt == spec::ArrayFeatureType::INVALID_ARRAY_DATA_TYPE) {
        p->Add("input '" + in.name() + "' has no array data type");
      }
    }
    if (t.has_imagetype()) {
      if (t.imagetype().colorspace() == spec::ImageFeatureType::INVALID_COLOR_SPACE) {
        p->Add("image input '" + in.name() + "' has no colour space");
      }
      if (t.imagetype().colorspace() == spec::ImageFeatureType::GRAYSCALE_FLOAT16) {
        p->Need(7, "GRAYSCALE_FLOAT16 input '" + in.name() + "'");
      }
      if (t.imagetype().width() <= 0 || t.imagetype().height() <= 0) {
        p->Add("image input '" + in.name() + "' has no fixed size");
      }
    }
  }
  for (const auto& out : m.description().output()) {
    if (!output_names->insert(out.name()).second)
      p->Add("output '" + out.name() + "' declared twice");
  }
  if (m.description().input_size() == 0 && p->spec_version < 9) {
    p->Add("a model without inputs needs specification version 9");
  }
}

// A classifier's labels, its label and probability outputs, and the layer they come from.
void ValidateClassifier(const spec::Model& m, const std::set<std::string>& blobs, Problems* p) {
  const std::string& label = m.description().predictedfeaturename();
  const std::string& probs = m.description().predictedprobabilitiesname();
  const auto& c = m.neuralnetworkclassifier();
  bool string_labels = c.has_stringclasslabels();
  int n =
      string_labels ? c.stringclasslabels().vector_size() : c.int64classlabels().vector_size();
  if (n == 0) p->Add("classifier has no class labels");
  if (label.empty()) p->Add("classifier lacks predictedFeatureName");
  const spec::FeatureDescription* label_out = nullptr;
  const spec::FeatureDescription* probs_out = nullptr;
  for (const auto& out : m.description().output()) {
    if (out.name() == label) label_out = &out;
    if (out.name() == probs) probs_out = &out;
  }
  if (!label.empty() && !label_out)
    p->Add("predictedFeatureName '" + label + "' is not an output");
  if (label_out && !(string_labels ? label_out->type().has_stringtype()
                                   : label_out->type().has_int64type())) {
    p->Add("output '" + label + "' must be " +
           (string_labels ? "String" : "Int64") + " to match the class labels");
  }
  if (!probs.empty()) {
    if (!probs_out) {
      p->Add("predictedProbabilitiesName '" + probs + "' is not an output");
    } else if (!probs_out->type().has_dictionarytype() &&
               !probs_out->type().has_multiarraytype()) {
      p->Add("output '" + probs + "' must be a Dictionary");
    } else if (probs_out->type().has_dictionarytype() &&
               probs_out->type().dictionarytype().has_stringkeytype() != string_labels) {
      p->Add("the key type of output '" + probs +
             "' does not match the class labels");
    }
  }
  if (!c.labelprobabilitylayername().empty() && !blobs.count(c.labelprobabilitylayername())) {
    p->Add("labelProbabilityLayerName '" + c.labelprobabilitylayername() +
           "' is not produced by any layer");
  }
}

// Layer order, weight counts and precisions, outputs, preprocessing and the classifier contract.
void ValidateNeuralNetwork(const spec::Model& m, const std::set<std::string>& input_names,
                           Problems* p) {
  const spec::NeuralNetworkMultiArrayShapeMapping array_mapping =
      m.has_neuralnetwork()             ? m.neuralnetwork().arrayinputshapemapping()
      : m.has_neuralnetworkclassifier() ? m.neuralnetworkclassifier().arrayinputshapemapping()
                                        : m.neuralnetworkregressor().arrayinputshapemapping();
  const spec::NeuralNetworkImageShapeMapping image_mapping =
      m.has_neuralnetwork()             ? m.neuralnetwork().imageinputshapemapping()
      : m.has_neuralnetworkclassifier() ? m.neuralnetworkclassifier().imageinputshapemapping()
                                        : m.neuralnetworkregressor().imageinputshapemapping();
  if (array_mapping == spec::EXACT_ARRAY_MAPPING) p->Need(4, "EXACT_ARRAY_MAPPING");
  if (image_mapping == spec::RANK4_IMAGE_MAPPING) p->Need(4, "RANK4_IMAGE_MAPPING");
  if (array_mapping == spec::RANK5_ARRAY_MAPPING) {
    for (const auto& in : m.description().input()) {
      if (in.type().has_multiarraytype()) {
        int rank = in.type().multiarraytype().shape_size();
        if (rank != 1 && rank != 3) {
          p->Add("input '" + in.name() + "' has rank " + std::to_string(rank) +
                 "; with RANK5 mapping MultiArray inputs must have rank 1 or 3");
        }
      }
    }
  }
  std::set<std::string> blobs(input_names.begin(), input_names.end());
  int index = 0;
  for (const auto& l : *Layers(m)) {
    std::string where =
        "layer " + std::to_string(index++) + " '" + l.name() + "' (" + LayerType(l) + ")";
    if (l.layer_case() == spec::NeuralNetworkLayer::LAYER_NOT_SET) {
      p->Add(where + " has no type ringo knows");
    }
    for (const auto& in : l.input()) {
      if (!blobs.count(in)) {
        p->Add(where + " reads '" + in + "' before any layer produces it");
      }
    }
    for (const auto& out : l.output()) {
      if (!blobs.insert(out).second) p->Add(where + " produces '" + out + "' again");
    }
    if (l.output_size() == 0) p->Add(where + " has no output");
    bool has32 = false, has16 = false;
    ForEachWeight(l, [&](const char* what, const spec::WeightParams& w, int64_t expected) {
      int set = (w.floatvalue_size() > 0) + (!w.float16value().empty()) +
                (!w.rawvalue().empty()) + (!w.int8rawvalue().empty());
      if (set != 1) {
        p->Add(where + " " + what + ": exactly one value field must be set");
        return;
      }
      if (w.float16value().size() % 2)
        p->Add(where + " " + what + ": odd float16 byte count");
      if (!w.float16value().empty()) {
        has16 = true;
        p->Need(2, where + " float16 weights");
      }
      if (w.floatvalue_size() > 0) has32 = true;
      if (!w.rawvalue().empty()) p->Need(3, where + " quantized weights");
      if (!w.rawvalue().empty() && w.quantization().numberofbits() == 0) {
        p->Add(where + " " + what + ": quantized without numberOfBits");
      }
      if (expected >= 0 &&
          (w.floatvalue_size() > 0 || !w.float16value().empty() || !w.rawvalue().empty()) &&
          WeightCount(w) != expected) {
        p->Add(where + " " + what + ": " + std::to_string(WeightCount(w)) +
               " values where the shape needs " + std::to_string(expected));
      }
    });
    if (has32 && has16) p->Add(where + " mixes float32 and float16 weights");
  }
  const std::string& label = m.description().predictedfeaturename();
  const std::string& probs = m.description().predictedprobabilitiesname();
  for (const auto& out : m.description().output()) {
    bool classifier_output =
        m.has_neuralnetworkclassifier() && (out.name() == label || out.name() == probs);
    if (!classifier_output && !blobs.count(out.name())) {
      p->Add("output '" + out.name() + "' is not produced by any layer");
    }
  }
  if (const auto* pre = Preprocessing(m)) {
    for (const auto& step : *pre) {
      bool image = false;
      for (const auto& in : m.description().input()) {
        if (in.name() == step.featurename() && in.type().has_imagetype()) image = true;
      }
      if (!step.featurename().empty() && !image) {
        p->Add("preprocessing names '" + step.featurename() + "', which is not an image input");
      }
    }
  }
  if (m.has_neuralnetworkclassifier()) ValidateClassifier(m, blobs, p);
}

// A const op's blob in weight.bin: the file it names, its record, and the type and size its
// output declares.
void CheckConstBlob(const Model& model, const mil::Operation& op, const std::string& where,
                    Problems* p) {
  auto val = op.attributes().find("val");
  const auto& blob = val->second.blobfilevalue();
  if (blob.filename() != "@model_path/weights/weight.bin") {
    p->Add(where + " refers to weight file '" + blob.filename() + "'");
    return;
  }
  auto view = ReadBlob(model.weights(), blob.offset());
  if (!view.ok()) {
    p->Add(where + ": " + view.status().message());
    return;
  }
  const auto& t = op.outputs(0).type();
  int64_t n = ElementCount(t);
  int elem = 0;
  BlobType expected{};
  switch (t.tensortype().datatype()) {
    case mil::FLOAT16:
      elem = 2;
      expected = BlobType::kFloat16;
      break;
    case mil::FLOAT32:
      elem = 4;
      expected = BlobType::kFloat32;
      break;
    case mil::INT8:
      elem = 1;
      expected = BlobType::kInt8;
      break;
    case mil::UINT8:
      elem = 1;
      expected = BlobType::kUInt8;
      break;
    case mil::INT32:
      elem = 4;
      expected = BlobType::kInt32;
      break;
    default:
      break;
  }
  if (elem == 0) {
    p->Add(where + " has a blob of an unsupported value type");
  } else if (view->type != expected) {
    p->Add(where + " declares a type its blob does not hold");
  } else if (n >= 0 && static_cast<int64_t>(view->data.size()) != n * elem) {
    p->Add(where + " blob holds " + std::to_string(view->data.size()) +
           " bytes where its shape needs " + std::to_string(n * elem));
  }
}

// The main function: opset, inputs, definitions before use, const ops and the weight file.
void ValidateProgram(const Model& model, const std::set<std::string>& input_names,
                     const std::set<std::string>& output_names, Problems* p) {
  const spec::Model& m = model.spec();
  p->Need(6, "an ML Program");
  std::string opset;
  const mil::Block* block = MainBlock(m, &opset);
  if (!block) {
    p->Add("ML Program has no function 'main' with a block for its opset");
    return;
  }
  static const std::map<std::string, int> kOpsetSpec = {
      {"CoreML5", 6}, {"CoreML6", 7}, {"CoreML7", 8}, {"CoreML8", 9}, {"CoreML9", 10}};
  auto os = kOpsetSpec.find(opset);
  if (os == kOpsetSpec.end()) {
    p->Add("unknown opset '" + opset + "'");
  } else {
    p->Need(os->second, "opset " + opset);
  }
  const mil::Function& main = m.mlprogram().functions().at("main");
  std::set<std::string> defined;
  std::set<std::string> fn_inputs;
  for (const auto& in : main.inputs()) {
    defined.insert(in.name());
    fn_inputs.insert(in.name());
  }
  if (fn_inputs != input_names)
    p->Add("the main function's inputs differ from the model's inputs");
  int index = 0;
  for (const auto& op : block->operations()) {
    std::string where = "op " + std::to_string(index++) + " (" + op.type() + ")";
    for (const auto& [param, arg] : op.inputs()) {
      for (const auto& b : arg.arguments()) {
        if (b.has_name() && !defined.count(b.name())) {
          p->Add(where + " parameter '" + param + "' uses '" + b.name() +
                 "' before it is defined");
        }
      }
    }
    for (const auto& out : op.outputs()) {
      if (!defined.insert(out.name()).second)
        p->Add(where + " redefines '" + out.name() + "'");
      if (!out.type().has_tensortype() && op.type() != "classify") {
        continue;
      }
    }
    if (op.type() != "const") continue;
    auto val = op.attributes().find("val");
    if (val == op.attributes().end() || op.outputs_size() != 1) {
      p->Add(where + " is a const without exactly one output and a 'val'");
      continue;
    }
    if (val->second.has_blobfilevalue()) CheckConstBlob(model, op, where, p);
  }
  std::vector<std::string> outs(block->outputs().begin(), block->outputs().end());
  for (const auto& o : outs) {
    if (!defined.count(o)) p->Add("block output '" + o + "' is not defined");
  }
  std::set<std::string> block_outputs(outs.begin(), outs.end());
  if (block_outputs != output_names)
    p->Add("the main block's outputs differ from the model's outputs");
  if (!model.weights().empty()) {
    Status s = ValidateBlobFile(model.weights());
    if (!s.ok()) p->Add("weights/weight.bin: " + s.message());
  }
}

}  // namespace

std::vector<std::string> Validate(const Model& model) {
  const spec::Model& m = model.spec();
  Problems p;
  p.spec_version = m.specificationversion();
  std::set<std::string> input_names, output_names;
  ValidateInterface(m, &input_names, &output_names, &p);
  if (Layers(m)) ValidateNeuralNetwork(m, input_names, &p);
  if (m.has_mlprogram()) ValidateProgram(model, input_names, output_names, &p);
  return p.list;
}

namespace {

nlohmann::json InfoJson(const Info& info) {
  using nlohmann::json;
  auto features = [](const std::vector<Feature>& fs) {
    json arr = json::array();
    for (const Feature& f : fs) {
      json j = {{"name", f.name}, {"type", f.type}, {"optional", f.optional}};
      if (!f.description.empty()) j["description"] = f.description;
      if (f.type == "MultiArray") {
        j["shape"] = f.shape;
        j["data_type"] = f.data_type;
      }
      if (f.type == "Image") {
        j["width"] = f.image_width;
        j["height"] = f.image_height;
        j["color_space"] = f.color_space;
      }
      if (f.type == "Dictionary") j["key_type"] = f.key_type;
      arr.push_back(std::move(j));
    }
    return arr;
  };
  json j = {{"specification_version", info.spec_version},
            {"minimum_ios", info.min_ios},
            {"minimum_macos", info.min_macos},
            {"model_type", info.model_type},
            {"inputs", features(info.inputs)},
            {"outputs", features(info.outputs)},
            {"class_labels", info.class_labels},
            {"metadata", info.metadata},
            {"layer_counts", info.layer_counts},
            {"parameter_count", info.parameter_count},
            {"weight_precision", info.weight_precision},
            {"weight_compression", info.weight_compression},
            {"file_size", info.file_size},
            {"unknown_fields", info.unknown_fields}};
  if (!info.predicted_feature.empty()) j["predicted_feature"] = info.predicted_feature;
  if (!info.predicted_probabilities.empty())
    j["predicted_probabilities"] = info.predicted_probabilities;
  return j;
}

}  // namespace

std::string InfoToJson(const Info& info) {
  // Model files carry arbitrary bytes in names and metadata: never let one fail the rendering.
  return InfoJson(info).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ModelCardJson(const Info& info, const std::vector<std::string>& problems) {
  nlohmann::json j = InfoJson(info);
  j["valid"] = problems.empty();
  j["problems"] = problems;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Info> InfoFromJson(std::string_view text) {
  using nlohmann::json;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("interface is not a JSON object");
  Info info;
  try {
    for (const char* side : {"inputs", "outputs"}) {
      if (!j.contains(side) || !j[side].is_array())
        return InvalidArgument(std::string("interface has no '") + side + "' array");
      std::vector<Feature>& dst = std::string(side) == "inputs" ? info.inputs : info.outputs;
      for (const json& f : j[side]) {
        Feature feature;
        feature.name = f.at("name").get<std::string>();
        feature.type = f.at("type").get<std::string>();
        feature.optional = f.value("optional", false);
        feature.description = f.value("description", "");
        if (f.contains("shape")) feature.shape = f["shape"].get<std::vector<int64_t>>();
        feature.data_type = f.value("data_type", "");
        feature.image_width = f.value("width", int64_t{0});
        feature.image_height = f.value("height", int64_t{0});
        feature.color_space = f.value("color_space", "");
        feature.key_type = f.value("key_type", "");
        dst.push_back(std::move(feature));
      }
    }
    info.spec_version = j.value("specification_version", 0);
    info.min_ios = j.value("minimum_ios", "");
    info.min_macos = j.value("minimum_macos", "");
    info.model_type = j.value("model_type", "");
    if (j.contains("class_labels"))
      info.class_labels = j["class_labels"].get<std::vector<std::string>>();
    if (j.contains("metadata"))
      info.metadata = j["metadata"].get<std::map<std::string, std::string>>();
    info.predicted_feature = j.value("predicted_feature", "");
    info.predicted_probabilities = j.value("predicted_probabilities", "");
    info.weight_precision = j.value("weight_precision", "");
    info.weight_compression = j.value("weight_compression", "none");
    info.parameter_count = j.value("parameter_count", int64_t{0});
    info.file_size = j.value("file_size", int64_t{0});
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("interface JSON: ") + e.what());
  }
  return info;
}

}  // namespace ringo::coreml
