// ONNX -> Core ML entry points: parsing, options, passes, back end choice and metadata.
#include "convert/convert.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <limits>
#include <set>

#include "convert/emit.h"
#include "convert/graph.h"
#include "convert/onnx_file.h"
#include "convert/precision.h"
#include "convert/weight_stream.h"
#include "coreml/schema.h"

#ifndef RINGO_VERSION
#define RINGO_VERSION "unknown"
#endif

namespace ringo::convert {

namespace fs = std::filesystem;

namespace {

// Protobuf refuses messages over 2 GiB; ONNX files that large keep weights outside anyway.
constexpr size_t kMaxOnnxBytes = std::numeric_limits<int>::max();

Status Rename(Graph* g, const std::map<std::string, std::string>& renames, bool inputs,
              std::map<std::string, std::string>* applied) {
  const std::vector<std::string>& names = inputs ? g->inputs : g->outputs;
  const char* what = inputs ? "input" : "output";
  for (const auto& [from, to] : renames) {
    if (std::find(names.begin(), names.end(), from) == names.end()) {
      return InvalidArgument(std::string("rename of ") + what + " '" + from +
                             "': the model has no " + what + " of that name");
    }
    if (!IsIdentifier(to)) {
      return InvalidArgument(std::string("new ") + what + " name '" + to +
                             "' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
    }
    if (g->shapes.count(to)) {
      return InvalidArgument(std::string("new ") + what + " name '" + to +
                             "' is already used in the model");
    }
    RenameValue(g, from, to);
    (*applied)[from] = to;
  }
  return Status::Ok();
}

void SetMetadata(const Options& o, const std::string& source, coreml::spec::Model* m) {
  auto* md = m->mutable_description()->mutable_metadata();
  auto& user = *md->mutable_userdefined();
  for (const auto& [key, value] : o.metadata) {
    if (key == "author") {
      md->set_author(value);
    } else if (key == "license") {
      md->set_license(value);
    } else if (key == "version") {
      md->set_versionstring(value);
    } else if (key == "short_description") {
      md->set_shortdescription(value);
    } else {
      user[key] = value;
    }
  }
  user["com.ringo.version"] = RINGO_VERSION;
  user["com.ringo.source"] = o.source_description.empty() ? source : o.source_description;
}

// "2 ONNX nodes cannot be converted to ...: 'a' (Det, opset 11), 'b' (Erf, opset 13)", then
// each reason on a line of its own.
std::string ProblemsMessage(const std::vector<NodeProblem>& problems, Format format) {
  std::string m = std::to_string(problems.size()) + " ONNX node" +
                  (problems.size() == 1 ? "" : "s") + " cannot be converted to " +
                  (format == Format::kNeuralNetwork ? "a NeuralNetwork (.mlmodel)"
                                                    : "an ML Program (.mlpackage)") +
                  ": ";
  for (size_t k = 0; k < problems.size(); ++k) {
    const NodeProblem& p = problems[k];
    m += (k ? ", '" : "'") + p.node + "' (" + p.op_type + ", opset " + std::to_string(p.opset) +
         ")";
  }
  for (const NodeProblem& p : problems) m += "\n  " + p.reason;
  return m;
}

// Converts `onnx`; the nodes that cannot be converted go to *problems (the returned model is
// then incomplete and must not be used). With `streamed`, the weights that reach the output as
// they are stay out of the model and are listed there (EmitOptions::streamed).
Result<coreml::Model> ConvertModel(OnnxModel* onnx, const std::string& source, Format format,
                                   const Options& o, std::vector<NodeProblem>* problems,
                                   StreamedWeights* streamed = nullptr) {
  onnx::ModelProto* onnx_model = &onnx->proto;
  auto progress = [&](double f) {
    if (o.progress) o.progress(f);
  };
  if (o.color_layout != "RGB" && o.color_layout != "BGR" && o.color_layout != "GRAYSCALE") {
    return InvalidArgument("color layout '" + o.color_layout + "' is not RGB, BGR or GRAYSCALE");
  }
  static const std::set<std::string> kCompressions = {
      "", "int8", "int8-tensor", "palettize1", "palettize2", "palettize4", "palettize6",
      "palettize8", "prune"};
  if (!kCompressions.count(o.compress)) {
    return InvalidArgument("compression '" + o.compress +
                           "' is not int8, int8-tensor, palettize1|2|4|6|8 or prune");
  }
  if (!(o.sparsity >= 0.0 && o.sparsity < 1.0)) {
    return InvalidArgument("sparsity must be at least 0 and below 1");
  }
  if (format == Format::kNeuralNetwork && !o.compress.empty() && o.compress != "int8" &&
      o.compress != "int8-tensor" && o.compress != "palettize8") {
    return InvalidArgument("a NeuralNetwork (.mlmodel) stores 8-bit weights (int8, int8-tensor, "
                           "palettize8); convert to .mlpackage for '" + o.compress + "'");
  }
  int target = 0;
  if (!o.minimum_deployment_target.empty()) {
    ASSIGN_OR_RETURN(target, SpecVersionForTarget(o.minimum_deployment_target));
  }
  progress(0.05);
  std::function<void(double)> import_progress;
  if (o.progress) import_progress = [&](double f) { o.progress(0.05 + 0.5 * f); };
  std::map<std::string, InputShape> flexible;  // by ONNX name
  RETURN_IF_ERROR(SetDefaultShapes(o.input_shapes, o.input_renames, onnx_model, &flexible));
  ASSIGN_OR_RETURN(Graph graph,
                   ImportOnnx(onnx_model, onnx->raw, source, import_progress, problems));
  progress(0.55);

  std::map<std::string, std::string> input_names;
  RETURN_IF_ERROR(Rename(&graph, o.input_renames, true, &input_names));
  std::map<std::string, std::string> output_names;
  RETURN_IF_ERROR(Rename(&graph, o.output_renames, false, &output_names));
  // With nodes failed, ops that fed only them are kept, so that the check still looks at them.
  OptimizeGraph(&graph, problems->empty());
  // Remember what each interface name was called in ONNX before making every name legal.
  std::vector<std::string> onnx_inputs = graph.inputs;
  SanitizeNames(&graph);

  EmitOptions eo;
  eo.fp16 = o.precision == Precision::kFloat16;
  eo.streamed = streamed;
  eo.fp32_ops = o.float32_ops;
  eo.compress = o.compress;
  eo.sparsity = o.sparsity;
  eo.class_labels = o.class_labels;
  eo.image_scale = o.image_scale;
  eo.image_bias = o.image_bias;
  eo.color_layout = o.color_layout;
  if (!o.image_input.empty()) {
    std::string wanted = o.image_input;
    if (input_names.count(wanted)) wanted = input_names[wanted];
    for (size_t k = 0; k < graph.inputs.size(); ++k) {
      if (onnx_inputs[k] == wanted || graph.inputs[k] == wanted) eo.image_input = graph.inputs[k];
    }
    if (eo.image_input.empty()) {
      return InvalidArgument("image input '" + o.image_input + "' is not an input of the model");
    }
    const Shape& s = graph.shapes[eo.image_input];
    int64_t channels = o.color_layout == "GRAYSCALE" ? 1 : 3;
    if (s.size() != 4 || s[0] != 1 || s[1] != channels) {
      return InvalidArgument("image input '" + o.image_input + "' has shape " + ShapeToString(s) +
                             "; a " + o.color_layout + " image needs [1, " +
                             std::to_string(channels) + ", H, W]");
    }
  }
  if (!o.class_labels.empty() && !graph.outputs.empty()) {
    const std::string& scores = graph.outputs[0];
    int64_t n = NumElements(graph.shapes[scores]);
    if (n != static_cast<int64_t>(o.class_labels.size())) {
      return InvalidArgument("the model's output '" + scores + "' has " + std::to_string(n) +
                             " values but " + std::to_string(o.class_labels.size()) +
                             " class labels were given");
    }
    if (graph.shapes.count(kClassLabelName)) {
      return InvalidArgument(std::string("the model already has a value named '") +
                             kClassLabelName + "'; rename it to make it a classifier");
    }
  }

  coreml::Model model;
  eo.problems = problems;
  int needed = 0;
  if (format == Format::kNeuralNetwork) {
    eo.spec_version = target;  // below 4 the rank-N layers are out of reach
    ASSIGN_OR_RETURN(needed, EmitNeuralNetwork(&graph, eo, &model));
  } else {
    // ML Programs arrived with iOS 15 / macOS 12; the constexpr ops of compression with iOS 16.
    needed = o.compress.empty() ? 6 : 7;
    eo.spec_version = std::max(needed, target);
    RETURN_IF_ERROR(EmitMLProgram(&graph, eo, &model));
  }
  if (!problems->empty()) {
    // A node lowered to several ops is listed once, with the first reason.
    std::set<std::pair<std::string, std::string>> seen;
    std::erase_if(*problems, [&](const NodeProblem& p) {
      return !seen.insert({p.node, p.op_type}).second;
    });
    return model;
  }
  if (!flexible.empty()) {
    std::map<std::string, InputShape> by_name;  // by Core ML name
    for (size_t k = 0; k < onnx_inputs.size(); ++k) {
      for (const auto& [name, shape] : flexible) {
        auto renamed = input_names.find(name);
        if (onnx_inputs[k] == (renamed == input_names.end() ? name : renamed->second)) {
          by_name[graph.inputs[k]] = shape;
        }
      }
    }
    for (const auto& [name, shape] : by_name) {
      RETURN_IF_ERROR(DescribeFlexibleShapes(name, shape, &model));
    }
    // Shape flexibility arrived with specification version 3 (iOS 12).
    needed = std::max(needed, 3);
    model.spec().set_specificationversion(std::max(needed, target));
    RETURN_IF_ERROR(CheckFlexibleShapes(by_name, model));
  }
  if (!o.update.layers.empty()) {
    if (format != Format::kNeuralNetwork) {
      return InvalidArgument("updatable models are NeuralNetworks: write a .mlmodel");
    }
    if (o.precision != Precision::kFloat32 || !o.compress.empty()) {
      return InvalidArgument("an updatable model keeps float32 weights: drop --precision and "
                             "--compress");
    }
    RETURN_IF_ERROR(MakeUpdatable(o.update, &model.spec()));
    needed = std::max(needed, model.spec().specificationversion());
  }
  if (target != 0 && target < needed) {
    return InvalidArgument("minimum deployment target " + o.minimum_deployment_target +
                           " is older than this model needs (specification version " +
                           std::to_string(needed) + ")");
  }
  model.spec().set_specificationversion(std::max(needed, target));
  SetMetadata(o, source, &model.spec());
  progress(1.0);
  return model;
}

}  // namespace

Result<int> SpecVersionForTarget(std::string_view target) {
  static const std::map<std::string, int, std::less<>> kVersions = {
      {"iOS11", 1},        {"iOS11.2", 2},    {"iOS12", 3},      {"iOS13", 4},   {"iOS14", 5},
      {"iOS15", 6},        {"iOS16", 7},      {"iOS17", 8},      {"iOS18", 9},   {"macOS10.13", 1},
      {"macOS10.13.2", 2}, {"macOS10.14", 3}, {"macOS10.15", 4}, {"macOS11", 5}, {"macOS12", 6},
      {"macOS13", 7},      {"macOS14", 8},    {"macOS15", 9}};
  auto it = kVersions.find(target);
  if (it == kVersions.end()) {
    return InvalidArgument("unknown deployment target '" + std::string(target) +
                           "' (expected iOS11..iOS18 or macOS10.13..macOS15)");
  }
  return it->second;
}

Result<Format> FormatForPath(const fs::path& out) {
  std::string ext = out.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".mlmodel") return Format::kNeuralNetwork;
  if (ext == ".mlpackage") return Format::kMLProgram;
  return InvalidArgument("output '" + out.string() + "' must end in .mlmodel or .mlpackage");
}

namespace {

Result<coreml::Model> ConvertOrFail(OnnxModel* model, const std::string& source, Format format,
                                    const Options& options, StreamedWeights* streamed = nullptr) {
  std::vector<NodeProblem> problems;
  ASSIGN_OR_RETURN(coreml::Model m,
                   ConvertModel(model, source, format, options, &problems, streamed));
  if (!problems.empty()) return InvalidArgument(ProblemsMessage(problems, format));
  return m;
}

}  // namespace

Result<coreml::Model> ConvertOnnx(const fs::path& onnx_path, Format format,
                                  const Options& options) {
  if (options.precision == Precision::kAuto) {
    return ConvertAuto([&](const Options& o) { return ConvertOnnx(onnx_path, format, o); },
                       format, options);
  }
  OnnxModel model;
  RETURN_IF_ERROR(ReadOnnxFile(onnx_path, &model));
  return ConvertOrFail(&model, onnx_path.filename().string(), format, options);
}

Result<std::vector<NodeProblem>> CheckOnnx(const fs::path& onnx_path, Format format,
                                           const Options& options) {
  OnnxModel model;
  RETURN_IF_ERROR(ReadOnnxFile(onnx_path, &model));
  std::vector<NodeProblem> problems;
  Options quiet = options;
  quiet.progress = nullptr;
  RETURN_IF_ERROR(
      ConvertModel(&model, onnx_path.filename().string(), format, quiet, &problems).status());
  return problems;
}

Result<coreml::Model> ConvertOnnxBytes(std::string_view onnx_bytes, std::string_view source_name,
                                       Format format, const Options& options) {
  if (onnx_bytes.size() > kMaxOnnxBytes) {
    return InvalidArgument("'" + std::string(source_name) + "' is larger than 2 GiB");
  }
  if (options.precision == Precision::kAuto) {
    return ConvertAuto(
        [&](const Options& o) { return ConvertOnnxBytes(onnx_bytes, source_name, format, o); },
        format, options);
  }
  OnnxModel model;
  RETURN_IF_ERROR(ParseOnnxBytes(onnx_bytes, std::string(source_name), &model));
  return ConvertOrFail(&model, std::string(source_name), format, options);
}

Status ConvertFile(const fs::path& onnx_path, const fs::path& out, const Options& options) {
  ASSIGN_OR_RETURN(Format format, FormatForPath(out));
  // Options that evaluate, compress or retrain the written model need it whole in memory.
  const bool streams = options.precision != Precision::kAuto && options.compress.empty() &&
                       options.update.layers.empty() && options.input_shapes.empty();
  if (!streams) {
    ASSIGN_OR_RETURN(coreml::Model model, ConvertOnnx(onnx_path, format, options));
    return coreml::Save(model, out);
  }
  // The weights that pass through go from the ONNX file's mapping straight into the output, so
  // memory and page faults do not grow with the model.
  OnnxModel onnx;
  RETURN_IF_ERROR(ReadOnnxFile(onnx_path, &onnx));
  StreamedWeights streamed;
  streamed.files = &onnx.files;
  ASSIGN_OR_RETURN(coreml::Model model, ConvertOrFail(&onnx, onnx_path.filename().string(),
                                                      format, options, &streamed));
  if (format == Format::kNeuralNetwork) {
    return coreml::SaveStreamed(
        model, out, [&](int fd) { return WriteNeuralNetwork(fd, model.spec(), streamed); });
  }
  if (!streamed.has_weight_file) return coreml::Save(model, out);
  return coreml::SaveStreamed(model, out,
                              [&](int fd) { return WriteWeightFile(fd, &streamed); });
}

}  // namespace ringo::convert
