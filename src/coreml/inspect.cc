// Inspecting Core ML models: interface, oldest OS, size, precision, compression; the JSON of it.
#include <google/protobuf/descriptor.h>

#include <nlohmann/json.hpp>
#include <set>

#include "coreml/coreml.h"
#include "coreml/schema.h"
#include "coreml/spec_walk.h"

namespace ringo::coreml {

namespace fs = std::filesystem;
using internal::ElementCount;
using internal::ForEachWeight;
using internal::Layers;
using internal::LayerType;
using internal::DescribeUpdate;
using internal::MainBlock;
using internal::UpdateParams;
using internal::WeightCount;

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

std::string FlexibleShape(const spec::ArrayFeatureType& a) {
  std::string out;
  if (a.has_shaperange()) {
    for (const auto& r : a.shaperange().sizeranges()) {
      out += (out.empty() ? "" : " x ") + std::to_string(r.lowerbound());
      if (r.upperbound() != static_cast<int64_t>(r.lowerbound())) {
        out += ".." + (r.upperbound() >= 0 ? std::to_string(r.upperbound()) : std::string());
      }
    }
  }
  for (const auto& e : a.enumeratedshapes().shapes()) {
    std::string one;
    for (int64_t d : e.shape()) one += (one.empty() ? "" : "x") + std::to_string(d);
    out += (out.empty() ? "" : " | ") + one;
  }
  return out;
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
      f.flexible_shape = FlexibleShape(t.multiarraytype());
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
  if (const auto* layers = Layers(m); layers != nullptr && m.isupdatable()) {
    for (const auto& l : *layers) {
      if (!l.isupdatable()) continue;
      std::string counts;
      ForEachWeight(l, [&](const char* what, const spec::WeightParams& w, int64_t) {
        if (!w.isupdatable()) return;
        counts += (counts.empty() ? "" : " + ") + std::to_string(WeightCount(w)) + " " + what;
      });
      info.updatable_layers.push_back(l.name() + " (" + LayerType(l) + ", " + counts + ")");
    }
    info.update = DescribeUpdate(*UpdateParams(m));
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
        if (!f.flexible_shape.empty()) j["flexible_shape"] = f.flexible_shape;
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
  if (!info.update.empty()) {
    j["updatable_layers"] = info.updatable_layers;
    j["update"] = info.update;
  }
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
