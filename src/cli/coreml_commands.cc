// `ringo inspect` and `ringo diff`: Core ML files on the command line.
#include "cli/coreml_commands.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "common/util.h"
#include "convert/convert.h"
#include "coreml/coreml.h"

namespace ringo::cli {

namespace {

std::string Shape(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out.empty() ? "?" : out;
}

void PrintFeature(const coreml::Feature& f) {
  std::cout << "    " << f.name << ": " << f.type;
  if (f.type == "MultiArray") std::cout << " " << f.data_type << " " << Shape(f.shape);
  if (!f.flexible_shape.empty()) std::cout << " (flexible: " << f.flexible_shape << ")";
  if (f.type == "Image") {
    std::cout << " " << f.color_space << " " << f.image_width << "x" << f.image_height;
  }
  if (f.type == "Dictionary") std::cout << "<" << f.key_type << ", Double>";
  if (f.optional) std::cout << " (optional)";
  if (!f.description.empty()) std::cout << "  -- " << f.description;
  std::cout << "\n";
}

std::string HumanSize(int64_t bytes) {
  char buf[32];
  if (bytes >= (1 << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / (1 << 20));
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KB", double(bytes) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  }
  return buf;
}

}  // namespace

int RunInspect(const std::string& path, bool json, bool validate) {
  auto model = coreml::Load(path);
  if (!model.ok()) {
    std::cerr << "ringo: error: " << model.status().message() << std::endl;
    return 1;
  }
  coreml::Info info = coreml::Inspect(*model, path);
  std::vector<std::string> problems;
  if (validate) problems = coreml::Validate(*model);
  if (json) {
    std::string text = coreml::InfoToJson(info);
    if (validate) {
      // Append the verdict to the object.
      text.pop_back();
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      text += ",\n  \"valid\": " + std::string(problems.empty() ? "true" : "false") +
              ",\n  \"problems\": [";
      for (size_t i = 0; i < problems.size(); ++i) {
        std::string escaped;
        for (char c : problems[i]) {
          if (c == '"' || c == '\\') escaped += '\\';
          escaped += c;
        }
        text += (i ? ", \"" : "\"") + escaped + "\"";
      }
      text += "]\n}";
    }
    std::cout << text << "\n";
  } else {
    std::cout << path << "\n"
              << "  type: " << info.model_type << "\n"
              << "  specification version: " << info.spec_version << " (iOS " << info.min_ios
              << "+, macOS " << info.min_macos << "+)\n"
              << "  inputs:\n";
    for (const auto& f : info.inputs) PrintFeature(f);
    std::cout << "  outputs:\n";
    for (const auto& f : info.outputs) PrintFeature(f);
    if (!info.class_labels.empty()) {
      std::cout << "  class labels (" << info.class_labels.size() << "):";
      for (size_t i = 0; i < info.class_labels.size() && i < 20; ++i) {
        std::cout << " " << info.class_labels[i];
      }
      if (info.class_labels.size() > 20) std::cout << " ...";
      std::cout << "\n";
    }
    if (!info.metadata.empty()) {
      std::cout << "  metadata:\n";
      for (const auto& [k, v] : info.metadata) std::cout << "    " << k << ": " << v << "\n";
    }
    std::cout << "  layers:";
    for (const auto& [k, n] : info.layer_counts) std::cout << " " << k << "=" << n;
    for (const auto& l : info.updatable_layers) std::cout << "\n  updatable: " << l;
    if (!info.update.empty()) std::cout << "\n  update: " << info.update;
    std::cout << "\n  parameters: " << info.parameter_count << " (" << info.weight_precision
              << (info.weight_compression != "none" ? ", " + info.weight_compression : "")
              << ")\n  size: " << HumanSize(info.file_size) << "\n";
    for (const auto& u : info.unknown_fields) {
      std::cout << "  note: field " << u << " is not part of ringo's schema (kept as is)\n";
    }
    if (validate) {
      if (problems.empty()) {
        std::cout << "  valid: yes\n";
      } else {
        std::cout << "  valid: no\n";
        for (const auto& p : problems) std::cout << "    - " << p << "\n";
      }
    }
  }
  if (!problems.empty()) {
    std::cerr << "ringo: error: " << path << " is invalid: " << problems.front()
              << (problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)"
                                      : std::string())
              << std::endl;
    return 1;
  }
  return 0;
}

namespace {

Status SplitPairs(const std::vector<std::string>& pairs, const char* flag,
                  std::map<std::string, std::string>* out) {
  for (const std::string& p : pairs) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument(std::string(flag) + " expects KEY=VALUE; got '" + p + "'");
    }
    (*out)[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return Status::Ok();
}


}  // namespace

Status BuildOptions(const ConvertFlags& f, convert::Options* o) {
  o->compress = f.compress;
  o->sparsity = f.sparsity;
  if (f.precision == "fp32" || f.precision == "float32") {
    o->precision = convert::Precision::kFloat32;
  } else if (f.precision == "fp16" || f.precision == "float16") {
    o->precision = convert::Precision::kFloat16;
  } else if (f.precision == "auto") {
    o->precision = convert::Precision::kAuto;
    o->tolerance = f.tolerance;
    o->report_path = f.report;
  } else {
    return InvalidArgument("--precision must be fp32, fp16 or auto; got '" + f.precision + "'");
  }
  if (!f.labels_file.empty()) {
    std::ifstream in(f.labels_file);
    if (!in) return InvalidArgument("cannot read the labels file '" + f.labels_file + "'");
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) o->class_labels.push_back(line);
    }
    if (o->class_labels.empty())
      return InvalidArgument("the labels file '" + f.labels_file + "' has no labels");
  }
  o->image_input = f.image_input;
  o->image_scale = f.image_scale;
  o->color_layout = f.color_layout;
  if (!f.image_bias.empty()) {
    std::vector<float> values;
    size_t pos = 0;
    while (pos <= f.image_bias.size()) {
      size_t comma = f.image_bias.find(',', pos);
      if (comma == std::string::npos) comma = f.image_bias.size();
      auto v = ParseDouble(f.image_bias.substr(pos, comma - pos));
      if (!v)
        return InvalidArgument("--image-bias expects numbers like -1,-1,-1; got '" + f.image_bias +
                               "'");
      values.push_back(static_cast<float>(*v));
      pos = comma + 1;
    }
    if (values.size() == 1) values = {values[0], values[0], values[0]};
    if (values.size() != 3) return InvalidArgument("--image-bias expects 1 or 3 values");
    o->image_bias = {values[0], values[1], values[2]};
  }
  RETURN_IF_ERROR(SplitPairs(f.input_renames, "--rename-input", &o->input_renames));
  RETURN_IF_ERROR(SplitPairs(f.output_renames, "--rename-output", &o->output_renames));
  RETURN_IF_ERROR(SplitPairs(f.metadata, "--metadata", &o->metadata));
  o->minimum_deployment_target = f.minimum_deployment_target;
  std::map<std::string, std::string> shapes;
  RETURN_IF_ERROR(SplitPairs(f.shapes, "--shape", &shapes));
  for (const auto& [name, text] : shapes) {
    Result<convert::InputShape> shape = convert::ParseInputShape(text);
    if (!shape.ok()) return InvalidArgument("--shape " + name + ": " + shape.status().message());
    o->input_shapes[name] = std::move(*shape);
  }
  const convert::UpdateOptions defaults;
  if (f.updatable.empty() &&
      (f.update.loss != defaults.loss || f.update.optimizer != defaults.optimizer ||
       f.update.learning_rate != defaults.learning_rate || f.update.epochs != defaults.epochs ||
       f.update.batch_size != defaults.batch_size || f.update.momentum != defaults.momentum)) {
    return InvalidArgument("--loss, --optimizer, --learning-rate, --epochs, --batch-size and "
                           "--momentum describe an update: give the layers with --updatable");
  }
  o->update = f.update;
  o->update.layers.clear();
  for (size_t pos = 0; !f.updatable.empty() && pos <= f.updatable.size();) {
    size_t comma = std::min(f.updatable.find(',', pos), f.updatable.size());
    if (comma > pos) o->update.layers.push_back(f.updatable.substr(pos, comma - pos));
    pos = comma + 1;
  }
  o->source_description = std::filesystem::path(f.input).filename().string();
  if (isatty(2)) {
    o->progress = [](double fraction) {
      std::fprintf(stderr, "\rconverting: %3d%%", static_cast<int>(fraction * 100));
      if (fraction >= 1.0) std::fprintf(stderr, "\n");
    };
  }
  return Status::Ok();
}

namespace {

// `ringo convert --check`: the coverage report, one line per node that cannot be converted.
int RunCheck(const ConvertFlags& flags, const convert::Options& options) {
  Result<convert::Format> format = convert::Format::kMLProgram;
  if (!flags.to.empty()) {
    format = flags.to == "mlmodel"     ? Result<convert::Format>(convert::Format::kNeuralNetwork)
             : flags.to == "mlpackage" ? Result<convert::Format>(convert::Format::kMLProgram)
                                       : InvalidArgument("--to must be mlmodel or mlpackage");
  } else if (!flags.output.empty()) {
    format = convert::FormatForPath(flags.output);
  }
  Result<std::vector<convert::NodeProblem>> problems =
      format.ok() ? convert::CheckOnnx(flags.input, *format, options)
                  : Result<std::vector<convert::NodeProblem>>(format.status());
  if (!problems.ok()) {
    std::cerr << "ringo: error: " << problems.status().message() << std::endl;
    return 1;
  }
  const char* what = *format == convert::Format::kNeuralNetwork ? ".mlmodel" : ".mlpackage";
  for (const convert::NodeProblem& p : *problems) {
    std::cout << p.node << "\t" << p.op_type << "\t"
              << (p.op_type == "input" ? "-" : "opset " + std::to_string(p.opset)) << "\t"
              << p.reason << "\n";
  }
  if (problems->empty()) {
    std::cout << "every node converts to " << what << "\n";
    return 0;
  }
  std::cout << problems->size() << " node" << (problems->size() == 1 ? "" : "s")
            << " cannot be converted to " << what << "\n";
  return 1;
}

}  // namespace

int RunConvert(const ConvertFlags& flags) {
  // Weights pass through many large buffers that are freed as soon as they are copied onward.
  // Pinning glibc's mmap threshold keeps those buffers in their own mappings, so freeing one
  // returns its memory at once instead of leaving it in the heap (the default threshold grows
  // past tensor sizes after the first large free, which doubled the peak).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  convert::Options options;
  Status s = BuildOptions(flags, &options);
  if (s.ok() && flags.check) return RunCheck(flags, options);
  if (s.ok() && !flags.sweep.empty()) return RunSweep(flags);
  if (s.ok() && flags.output.empty()) s = InvalidArgument("--output is required to convert");
  if (s.ok()) s = convert::ConvertFile(flags.input, flags.output, options);
  if (!s.ok()) {
    std::cerr << "ringo: error: " << s.message() << std::endl;
    return 1;
  }
  std::cout << "wrote " << flags.output << "\n";
  return 0;
}

int RunPredict(const std::string& path, const std::vector<std::string>& inputs, bool json) {
  auto fail = [](const Status& s) {
    std::cerr << "ringo: error: " << s.message() << std::endl;
    return 1;
  };
  auto model = coreml::Load(path);
  if (!model.ok()) return fail(model.status());
  coreml::Info info = coreml::Inspect(*model, path);
  std::map<std::string, coreml::Value> values;
  for (const std::string& arg : inputs) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(InvalidArgument("--input expects NAME=FILE; got '" + arg + "'"));
    }
    std::string name = arg.substr(0, eq);
    const coreml::Feature* declared = nullptr;
    for (const auto& f : info.inputs) {
      if (f.name == name) declared = &f;
    }
    if (!declared) return fail(InvalidArgument("the model has no input named '" + name + "'"));
    auto value = coreml::LoadInputFile(*declared, arg.substr(eq + 1));
    if (!value.ok()) return fail(value.status());
    values[name] = std::move(*value);
  }
  auto outputs = coreml::Predict(*model, values);
  if (!outputs.ok()) return fail(outputs.status());
  if (json) {
    std::cout << coreml::OutputsToJson(*outputs) << "\n";
    return 0;
  }
  for (const auto& [name, v] : *outputs) {
    std::cout << name << ": ";
    if (v.kind == "string") {
      std::cout << v.string_value;
    } else if (v.kind == "int64") {
      std::cout << v.int_value;
    } else if (v.kind == "dictionary") {
      // The five most likely entries.
      std::vector<std::pair<double, std::string>> top;
      for (const auto& [k, p] : v.dict) top.emplace_back(p, k);
      std::sort(top.rbegin(), top.rend());
      for (size_t i = 0; i < top.size() && i < 5; ++i) {
        std::cout << (i ? ", " : "") << top[i].second << "=" << top[i].first;
      }
    } else {
      std::cout << "shape " << Shape(v.tensor.shape) << " [";
      for (size_t i = 0; i < v.tensor.data.size() && i < 8; ++i) {
        std::cout << (i ? ", " : "") << v.tensor.data[i];
      }
      std::cout << (v.tensor.data.size() > 8 ? ", ...]" : "]");
    }
    std::cout << "\n";
  }
  return 0;
}

int RunDiff(const std::string& old_path, const std::string& new_path, bool json) {
  auto old_model = coreml::Load(old_path);
  if (!old_model.ok()) {
    std::cerr << "ringo: error: " << old_model.status().message() << std::endl;
    return 2;
  }
  auto new_model = coreml::Load(new_path);
  if (!new_model.ok()) {
    std::cerr << "ringo: error: " << new_model.status().message() << std::endl;
    return 2;
  }
  coreml::Diff diff = coreml::CompareInterfaces(coreml::Inspect(*old_model, old_path),
                                                coreml::Inspect(*new_model, new_path));
  if (json) {
    std::cout << coreml::DiffToJson(diff) << "\n";
  } else {
    for (const auto& c : diff.changes) {
      std::cout << (c.breaking ? "breaking:   " : "compatible: ") << c.what << "\n";
    }
    if (diff.changes.empty()) std::cout << "no interface changes\n";
    std::cout << "verdict: " << (diff.breaking() ? "breaking" : "compatible") << "\n";
  }
  return diff.breaking() ? 1 : 0;
}

void AddCoreMLCommands(CLI::App& app, Context& ctx) {
  struct CoreMLFlags {
    std::string model_path, other_path;
    bool inspect_json = false, validate = false, diff_json = false, predict_json = false;
    std::vector<std::string> inputs;
    ConvertFlags convert;
  };
  auto f = std::make_shared<CoreMLFlags>();
  auto* inspect = app.add_subcommand("inspect", "Describe a .mlmodel or .mlpackage");
  inspect->add_option("path", f->model_path, "Model file or package")->required();
  inspect->add_flag("--json", f->inspect_json, "Print JSON");
  inspect->add_flag("--validate", f->validate, "Also run the loader's checks; exit 1 when invalid");
  OnRun(inspect, &ctx, [f] { return RunInspect(f->model_path, f->inspect_json, f->validate); });

  auto* diff = app.add_subcommand(
      "diff", "Compare two models' interfaces; exit 0 compatible, 1 breaking, 2 unreadable");
  diff->add_option("old", f->model_path, "The model apps were built against")->required();
  diff->add_option("new", f->other_path, "The candidate model")->required();
  diff->add_flag("--json", f->diff_json, "Print JSON");
  OnRun(diff, &ctx, [f] { return RunDiff(f->model_path, f->other_path, f->diff_json); });

  auto* predict = app.add_subcommand("predict", "Run a Core ML model on the reference evaluator");
  predict->add_option("path", f->model_path, "Model file or package")->required();
  predict->add_option("-i,--input", f->inputs, "NAME=FILE (.npy, .png, .json); repeatable")
      ->required();
  predict->add_flag("--json", f->predict_json, "Print JSON");
  OnRun(predict, &ctx, [f] { return RunPredict(f->model_path, f->inputs, f->predict_json); });

  ConvertFlags& cf = f->convert;
  auto* convert = app.add_subcommand(
      "convert", "Convert ONNX to Core ML (.mlmodel: NeuralNetwork, .mlpackage: ML Program)");
  convert->add_option("input", cf.input, "ONNX model")->required();
  convert->add_option("-o,--output", cf.output, "OUT.mlmodel or OUT.mlpackage");
  convert->add_option("--tolerance", cf.tolerance,
                      "With --precision auto: largest relative error an fp16 op may add")
      ->capture_default_str();
  convert->add_option("--report", cf.report, "With --precision auto: per-op report (JSON)");
  convert->add_option("--compress", cf.compress,
                      "Weights: int8, int8-tensor, palettize1|2|4|6|8 or prune (.mlmodel: the "
                      "8-bit ones)");
  convert->add_option("--sparsity", cf.sparsity, "With --compress prune: fraction zeroed")
      ->capture_default_str();
  convert->add_option("--sweep", cf.sweep,
                      "Variants to compare, e.g. fp16,int8,palettize6,palettize4 (with --eval)");
  convert->add_option("--eval", cf.eval,
                      "With --sweep: DIR of <input>.npy batches (and labels.npy)");
  convert->add_option("--pick", cf.pick,
                      "With --sweep: write the smallest variant meeting e.g. \"accuracy >= 0.97\"");
  convert->add_flag("--json", cf.json, "With --sweep: print JSON");
  convert->add_flag("--check", cf.check,
                    "List the nodes that cannot be converted (op, opset, reason); write nothing");
  convert->add_option("--to", cf.to, "With --check: mlmodel or mlpackage (default)");
  convert->add_option("--precision", cf.precision, "fp32, fp16 or auto")->capture_default_str();
  convert->add_option("--classifier-labels", cf.labels_file, "File with one label per line");
  convert->add_option("--image-input", cf.image_input, "Declare this input as an image");
  convert->add_option("--image-scale", cf.image_scale, "Pixel scale")->capture_default_str();
  convert->add_option("--image-bias", cf.image_bias, "Per-channel bias R,G,B (or one value)");
  convert->add_option("--color-layout", cf.color_layout, "RGB, BGR or GRAYSCALE")
      ->capture_default_str();
  convert->add_option("--rename-input", cf.input_renames, "OLD=NEW (repeatable)");
  convert->add_option("--rename-output", cf.output_renames, "OLD=NEW (repeatable)");
  convert->add_option("--minimum-deployment-target", cf.minimum_deployment_target,
                      "iOS15, macOS12, ...");
  convert->add_option("--metadata", cf.metadata, "KEY=VALUE (repeatable)");
  convert->add_option("--shape", cf.shapes,
                      "NAME=1..8x3x224x224 (ranges) or NAME=1x3x224x224,1x3x160x160 (enumerated): "
                      "flexible input shapes (repeatable)");
  convert->add_option("--updatable", cf.updatable,
                      "LAYER[,LAYER]: innerProduct/convolution layers an update trains (.mlmodel)");
  convert->add_option("--loss", cf.update.loss, "With --updatable: cross-entropy or mse")
      ->capture_default_str();
  convert->add_option("--optimizer", cf.update.optimizer, "With --updatable: sgd or adam")
      ->capture_default_str();
  convert->add_option("--learning-rate", cf.update.learning_rate, "With --updatable")
      ->capture_default_str();
  convert->add_option("--epochs", cf.update.epochs, "With --updatable")->capture_default_str();
  convert->add_option("--batch-size", cf.update.batch_size, "With --updatable: mini-batch size")
      ->capture_default_str();
  convert->add_option("--momentum", cf.update.momentum, "With --updatable --optimizer sgd")
      ->capture_default_str();
  OnRun(convert, &ctx, [f] { return RunConvert(f->convert); });

  auto uf = std::make_shared<UpdateFlags>();
  auto* update = app.add_subcommand(
      "update", "Apply an updatable .mlmodel's on-device update to a labelled set");
  update->add_option("model", uf->model, "Updatable .mlmodel")->required();
  update->add_option("--data", uf->data,
                     "DIR of <input>.npy (samples on the first axis) and <target>.npy or "
                     "labels.npy")
      ->required();
  update->add_option("-o,--out", uf->out, "Where to write the updated model")->required();
  update->add_option("--epochs", uf->epochs, "Override the model's epoch count");
  update->add_flag("--json", uf->json, "Print the losses as JSON");
  OnRun(update, &ctx, [uf] { return RunUpdate(*uf); });
}

}  // namespace ringo::cli
