// `ringo convert --sweep`: every precision/compression variant of a model evaluated on the
// user's data against the fp32 model, and the smallest one that meets a condition kept.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/coreml_commands.h"
#include "common/json_writer.h"
#include "convert/convert.h"
#include "coreml/coreml.h"

namespace ringo::cli {

namespace {

namespace fs = std::filesystem;
using Sample = std::map<std::string, coreml::Value>;

struct Variant {
  std::string name;
  fs::path path;
  int64_t size = 0;
  double accuracy = 0, max_error = 0;
};

// DIR/<input>.npy holds every sample of that input along a leading axis; DIR/labels.npy, when
// present, one class index per sample.
Status LoadEvalSet(const coreml::Model& model, const fs::path& dir, std::vector<Sample>* samples,
                   std::vector<int64_t>* labels) {
  coreml::Info info = coreml::Inspect(model);
  int64_t n = -1;
  for (const coreml::Feature& f : info.inputs) {
    ASSIGN_OR_RETURN(coreml::Value all, coreml::LoadInputFile(f, dir / (f.name + ".npy")));
    const auto& shape = all.tensor.shape;
    if (shape.empty() || (n >= 0 && shape[0] != n)) {
      return InvalidArgument("'" + (dir / (f.name + ".npy")).string() +
                             "' needs a leading sample axis of the same length as the others");
    }
    n = shape[0];
    samples->resize(static_cast<size_t>(n));
    const size_t per = n > 0 ? all.tensor.data.size() / static_cast<size_t>(n) : 0;
    for (int64_t k = 0; k < n; ++k) {
      coreml::Value v;
      v.tensor.shape.assign(shape.begin() + 1, shape.end());
      auto from = all.tensor.data.begin() + static_cast<int64_t>(k * per);
      v.tensor.data.assign(from, from + static_cast<int64_t>(per));
      (*samples)[k][f.name] = std::move(v);
    }
  }
  std::error_code ec;
  if (fs::exists(dir / "labels.npy", ec)) {
    coreml::Feature any;
    ASSIGN_OR_RETURN(coreml::Value l, coreml::LoadInputFile(any, dir / "labels.npy"));
    if (static_cast<int64_t>(l.tensor.data.size()) != n) {
      return InvalidArgument("labels.npy must hold one label per sample");
    }
    for (float v : l.tensor.data) labels->push_back(static_cast<int64_t>(v));
  }
  if (n <= 0) return InvalidArgument("the evaluation set in '" + dir.string() + "' is empty");
  return Status::Ok();
}

// The first tensor output of each sample.
Result<std::vector<std::vector<float>>> Outputs(const coreml::Model& m,
                                                const std::vector<Sample>& samples) {
  std::vector<std::vector<float>> out;
  const std::string first = coreml::Inspect(m).outputs.at(0).name;
  for (const Sample& s : samples) {
    ASSIGN_OR_RETURN(auto values, coreml::Predict(m, s));
    out.push_back(values.at(first).tensor.data);
  }
  return out;
}

int64_t Argmax(const std::vector<float>& v) {
  return std::max_element(v.begin(), v.end()) - v.begin();
}

// "accuracy >= 0.97", "max_error <= 0.02" or "size <= 1000000".
Result<std::function<bool(const Variant&)>> ParsePick(const std::string& text) {
  std::istringstream in(text);
  std::string metric, op;
  double bound;
  if (!(in >> metric >> op >> bound) || (op != ">=" && op != "<=")) {
    return InvalidArgument("--pick needs METRIC >= VALUE or METRIC <= VALUE; got '" + text + "'");
  }
  if (metric != "accuracy" && metric != "max_error" && metric != "size") {
    return InvalidArgument("--pick metric must be accuracy, max_error or size");
  }
  return std::function<bool(const Variant&)>([=](const Variant& v) {
    double x = metric == "accuracy" ? v.accuracy : metric == "size" ? v.size : v.max_error;
    return op == ">=" ? x >= bound : x <= bound;
  });
}

void Print(const std::vector<Variant>& variants, int64_t fp32_size, bool json) {
  if (json) {
    std::string out;
    JsonWriter w(&out);
    w.BeginArray();
    for (const Variant& v : variants) {
      w.BeginObject().Field("variant", v.name).Field("size", v.size);
      w.Field("accuracy", v.accuracy).Field("max_error", v.max_error).EndObject();
    }
    w.EndArray();
    std::cout << out << "\n";
    return;
  }
  std::printf("%-14s %12s %7s %9s %10s\n", "variant", "bytes", "size", "accuracy", "max_error");
  for (const Variant& v : variants) {
    std::printf("%-14s %12lld %6.3fx %9.4f %10.3g\n", v.name.c_str(),
                static_cast<long long>(v.size), double(v.size) / double(fp32_size), v.accuracy,
                v.max_error);
  }
}

}  // namespace

int RunSweep(const ConvertFlags& flags) {
  auto fail = [](const Status& s) {
    std::cerr << "ringo: error: " << s.message() << std::endl;
    return 1;
  };
  convert::Options base;
  if (Status s = BuildOptions(flags, &base); !s.ok()) return fail(s);
  if (flags.eval.empty()) return fail(InvalidArgument("--sweep needs --eval DIR"));
  std::function<bool(const Variant&)> pick;
  if (!flags.pick.empty()) {
    auto p = ParsePick(flags.pick);
    if (!p.ok()) return fail(p.status());
    if (flags.output.empty() || fs::path(flags.output).extension() != ".mlpackage") {
      return fail(InvalidArgument("--pick needs --output OUT.mlpackage"));
    }
    pick = *p;
  }
  // Variants are written beside the output (or in the temporary directory) and all but the
  // picked one removed.
  fs::path where = flags.output.empty() ? fs::temp_directory_path()
                                        : fs::absolute(flags.output).parent_path();
  fs::path dir = where / (".ringo-sweep-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::vector<std::string> names = {"fp32"};
  std::stringstream list(flags.sweep);
  for (std::string v; std::getline(list, v, ',');) {
    if (!v.empty() && v != "fp32") names.push_back(v);
  }
  std::vector<Variant> variants;
  std::vector<Sample> samples;
  std::vector<int64_t> labels;
  std::vector<std::vector<float>> reference;
  Status s = Status::Ok();
  for (const std::string& name : names) {
    convert::Options o = base;
    o.precision = name == "fp16"   ? convert::Precision::kFloat16
                  : name == "auto" ? convert::Precision::kAuto
                                   : convert::Precision::kFloat32;
    o.compress = name == "fp32" || name == "fp16" || name == "auto" ? "" : name;
    Variant v{name, dir / (name + ".mlpackage")};
    s = convert::ConvertFile(flags.input, v.path, o);
    if (!s.ok()) break;
    auto model = coreml::Load(v.path);
    if (!model.ok()) {
      s = model.status();
      break;
    }
    v.size = coreml::Inspect(*model, v.path).file_size;
    if (samples.empty()) s = LoadEvalSet(*model, flags.eval, &samples, &labels);
    if (!s.ok()) break;
    auto outs = Outputs(*model, samples);
    if (!outs.ok()) {
      s = outs.status();
      break;
    }
    if (reference.empty()) reference = *outs;
    int64_t right = 0;
    for (size_t k = 0; k < outs->size(); ++k) {
      const auto& y = (*outs)[k];
      const auto& r = reference[k];
      int64_t want = labels.empty() ? Argmax(r) : labels[k];
      right += Argmax(y) == want;
      double diff = 0, peak = 0;
      for (size_t i = 0; i < y.size() && i < r.size(); ++i) {
        diff = std::max(diff, std::isfinite(y[i]) ? std::fabs(double(y[i]) - r[i]) : INFINITY);
        peak = std::max(peak, std::fabs(double(r[i])));
      }
      v.max_error = std::max(v.max_error, diff / std::max(peak, 1e-12));
    }
    v.accuracy = double(right) / double(outs->size());
    variants.push_back(v);
  }
  const Variant* chosen = nullptr;
  if (s.ok() && pick) {
    for (const Variant& v : variants) {
      if (pick(v) && (!chosen || v.size < chosen->size)) chosen = &v;
    }
    if (!chosen) s = InvalidArgument("no variant meets '" + flags.pick + "'; nothing written");
  }
  if (s.ok() && chosen) {
    fs::remove_all(flags.output, ec);
    fs::rename(chosen->path, flags.output, ec);
    if (ec) s = InvalidArgument("cannot write '" + flags.output + "': " + ec.message());
  }
  fs::remove_all(dir, ec);
  if (!s.ok()) return fail(s);
  Print(variants, variants.front().size, flags.json);
  if (chosen && !flags.json) std::cout << "wrote " << flags.output << " (" << chosen->name << ")\n";
  return 0;
}

}  // namespace ringo::cli
