// Mixed precision by measurement: fp16 everywhere the reference evaluator shows it is safe.
#include "convert/precision.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <google/protobuf/descriptor.h>

#include "common/json_writer.h"
#include "common/paths.h"
#include "coreml/schema.h"

namespace ringo::convert {

namespace {

constexpr int kSamples = 4;

// Inputs from the description: floats ~ N(0, 1), images uniform 0..255, integers 0.
std::vector<std::map<std::string, coreml::Value>> SampleInputs(const coreml::Model& model) {
  std::vector<std::map<std::string, coreml::Value>> samples(kSamples);
  std::mt19937 gen(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> pixel(0.0f, 255.0f);
  for (const auto& f : model.spec().description().input()) {
    std::vector<int64_t> shape;
    bool image = f.type().has_imagetype();
    if (image) {
      const auto& im = f.type().imagetype();
      int64_t c = im.colorspace() == coreml::spec::ImageFeatureType::GRAYSCALE ? 1 : 3;
      shape = {c, static_cast<int64_t>(im.height()), static_cast<int64_t>(im.width())};
    } else {
      shape.assign(f.type().multiarraytype().shape().begin(),
                   f.type().multiarraytype().shape().end());
    }
    bool integer = f.type().multiarraytype().datatype() == coreml::spec::ArrayFeatureType::INT32;
    for (auto& sample : samples) {
      coreml::Value v;
      v.tensor.shape = shape;
      v.tensor.data.resize(static_cast<size_t>(v.tensor.size()));
      for (float& x : v.tensor.data) x = integer ? 0.0f : image ? pixel(gen) : normal(gen);
      sample[f.name()] = std::move(v);
    }
  }
  return samples;
}

// max |a - b| / max |ref|; infinite when a is not finite where ref is.
double Error(const coreml::Tensor& a, const coreml::Tensor& ref) {
  if (a.data.size() != ref.data.size()) return INFINITY;
  double diff = 0, peak = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    if (!std::isfinite(ref.data[i])) continue;
    if (!std::isfinite(a.data[i])) return INFINITY;
    diff = std::max(diff, std::fabs(double(a.data[i]) - ref.data[i]));
    peak = std::max(peak, std::fabs(double(ref.data[i])));
  }
  return diff / std::max(peak, 1e-6);
}

struct Run {
  std::vector<std::map<std::string, coreml::Tensor>> traces;
  std::vector<std::map<std::string, coreml::Value>> outputs;
};

Result<Run> Evaluate(const coreml::Model& m,
                     const std::vector<std::map<std::string, coreml::Value>>& samples) {
  Run r;
  for (const auto& s : samples) {
    std::map<std::string, coreml::Tensor> trace;
    ASSIGN_OR_RETURN(auto out, coreml::PredictTraced(m, s, &trace));
    r.traces.push_back(std::move(trace));
    r.outputs.push_back(std::move(out));
  }
  return r;
}

// Whether `msg` holds a WeightParams with fp16 values (at any depth: the layers keep weights in
// differently named fields).
bool HasHalfWeights(const google::protobuf::Message& msg) {
  if (const auto* w = dynamic_cast<const coreml::spec::WeightParams*>(&msg)) {
    return !w->float16value().empty();
  }
  const auto* r = msg.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(msg, f); ++i) {
        if (HasHalfWeights(r->GetRepeatedMessage(msg, f, i))) return true;
      }
    } else if (HasHalfWeights(r->GetMessage(msg, f))) {
      return true;
    }
  }
  return false;
}

const google::protobuf::RepeatedPtrField<coreml::spec::NeuralNetworkLayer>& NnLayers(
    const coreml::spec::Model& m) {
  return m.has_neuralnetworkclassifier() ? m.neuralnetworkclassifier().layers()
         : m.has_neuralnetworkregressor() ? m.neuralnetworkregressor().layers()
                                          : m.neuralnetwork().layers();
}

// A NeuralNetwork layer whose fp16 result fails is fixed by keeping fp32 weights where its fp16
// comes from: itself when it stores fp16 weights, else the nearest layers upstream that do (a
// weightless layer computes in the precision of what it reads).
std::set<std::string> HalfSources(const coreml::spec::Model& m, const std::string& layer) {
  std::map<std::string, const coreml::spec::NeuralNetworkLayer*> producer, by_name;
  for (const auto& l : NnLayers(m)) {
    by_name[l.name()] = &l;
    for (const auto& out : l.output()) producer[out] = &l;
  }
  std::set<std::string> sources, seen;
  std::vector<const coreml::spec::NeuralNetworkLayer*> todo = {by_name.at(layer)};
  while (!todo.empty()) {
    const auto* l = todo.back();
    todo.pop_back();
    if (!seen.insert(l->name()).second) continue;
    if (HasHalfWeights(*l)) {
      sources.insert(l->name());
      continue;
    }
    for (const auto& in : l->input()) {
      if (auto it = producer.find(in); it != producer.end()) todo.push_back(it->second);
    }
  }
  return sources;
}

// The ops of the main block (an ML Program's) or the layers (a NeuralNetwork's) in order, by name.
std::vector<std::string> OpOrder(const coreml::Model& m) {
  std::vector<std::string> names;
  if (!m.spec().has_mlprogram()) {
    for (const auto& l : NnLayers(m.spec())) names.push_back(l.name());
    return names;
  }
  const auto& fn = m.spec().mlprogram().functions().at("main");
  for (const auto& op : fn.block_specializations().at(fn.opset()).operations()) {
    auto it = op.attributes().find("name");
    if (op.type() == "const" || it == op.attributes().end()) continue;
    names.push_back(it->second.immediatevalue().tensor().strings().values(0));
  }
  return names;
}

// For each op of an ML Program's main block (or layer of a NeuralNetwork), by name, the ops
// whose results it reads.
std::map<std::string, std::vector<std::string>> OpProducers(const coreml::Model& m) {
  std::map<std::string, std::vector<std::string>> producers;
  std::map<std::string, std::string> op_of_value;
  if (!m.spec().has_mlprogram()) {
    for (const auto& l : NnLayers(m.spec())) {
      std::vector<std::string>& from = producers[l.name()];
      for (const auto& in : l.input()) {
        if (auto p = op_of_value.find(in); p != op_of_value.end()) from.push_back(p->second);
      }
      for (const auto& out : l.output()) op_of_value[out] = l.name();
    }
    return producers;
  }
  const auto& fn = m.spec().mlprogram().functions().at("main");
  for (const auto& op : fn.block_specializations().at(fn.opset()).operations()) {
    auto it = op.attributes().find("name");
    if (op.type() == "const" || it == op.attributes().end()) continue;
    const std::string& name = it->second.immediatevalue().tensor().strings().values(0);
    std::vector<std::string>& from = producers[name];
    for (const auto& [arg, binding] : op.inputs()) {
      for (const auto& b : binding.arguments()) {
        if (auto p = op_of_value.find(b.name()); p != op_of_value.end()) from.push_back(p->second);
      }
    }
    for (const auto& out : op.outputs()) op_of_value[out.name()] = name;
  }
  return producers;
}

// Worst error of op `name` over the samples (0 when an op is missing from a trace).
double OpError(const Run& run, const Run& ref, const std::string& name) {
  double worst = 0;
  for (size_t s = 0; s < run.traces.size(); ++s) {
    auto a = run.traces[s].find(name), b = ref.traces[s].find(name);
    if (a == run.traces[s].end() || b == ref.traces[s].end()) continue;
    worst = std::max(worst, Error(a->second, b->second));
  }
  return worst;
}

double OutputError(const Run& run, const Run& ref) {
  double worst = 0;
  for (size_t s = 0; s < run.outputs.size(); ++s) {
    for (const auto& [name, v] : ref.outputs[s]) {
      if (v.kind != "tensor") continue;
      worst = std::max(worst, Error(run.outputs[s].at(name).tensor, v.tensor));
    }
  }
  return worst;
}

double Peak(const Run& ref, const std::string& name) {
  double peak = 0;
  for (const auto& t : ref.traces) {
    auto it = t.find(name);
    if (it == t.end()) continue;
    for (float v : it->second.data) peak = std::max(peak, double(std::fabs(v)));
  }
  return peak;
}

// The ops to keep in fp32 next (for a NeuralNetwork: the failing layers whose fp16 sources are
// to keep fp32 weights), in program order. The first op whose fp16 result fails is always one.
// So is every later failing op that nothing already chosen or failing can change: none of its
// upstream ops fails, and (a NeuralNetwork's fix changes weights upstream of the failing layer)
// none is downstream of a layer chosen to keep fp32 weights. What it reads then stays as it is,
// so rounds of one op each would take it too, at the cost of a conversion and an evaluation of
// the whole model per op.
std::vector<std::string> FailingOps(const Run& run, const Run& ref,
                                    const std::vector<std::string>& order, const Options& o,
                                    Format format, const coreml::Model& m) {
  const auto producers = OpProducers(m);
  std::map<std::string, std::vector<std::string>> consumers;
  for (const auto& [op, from] : producers) {
    for (const std::string& p : from) consumers[p].push_back(op);
  }
  std::set<std::string> tainted;  // failing, changed, or downstream of either
  auto taint_downstream = [&](const std::string& start) {
    std::vector<std::string> todo = {start};
    while (!todo.empty()) {
      std::string op = todo.back();
      todo.pop_back();
      if (!tainted.insert(op).second) continue;
      if (auto c = consumers.find(op); c != consumers.end()) {
        todo.insert(todo.end(), c->second.begin(), c->second.end());
      }
    }
  };
  std::vector<std::string> chosen;
  for (const std::string& name : order) {
    bool upstream = false;
    if (auto p = producers.find(name); p != producers.end()) {
      for (const std::string& from : p->second) upstream |= tainted.count(from) > 0;
    }
    bool traced = ref.traces.empty() || ref.traces[0].count(name);  // not a cast of fp16 only
    bool fails = traced && !o.float32_ops.count(name) && OpError(run, ref, name) > o.tolerance;
    if (fails && !upstream && !tainted.count(name)) {
      chosen.push_back(name);
      if (format != Format::kMLProgram) {
        for (const std::string& source : HalfSources(m.spec(), name)) taint_downstream(source);
      }
    }
    if (fails || upstream) taint_downstream(name);
  }
  return chosen;
}

}  // namespace

Result<coreml::Model> ConvertAuto(
    const std::function<Result<coreml::Model>(const Options&)>& convert, Format format,
    const Options& options) {
  Options o = options;
  o.precision = Precision::kFloat32;
  ASSIGN_OR_RETURN(coreml::Model reference, convert(o));
  const auto samples = SampleInputs(reference);
  ASSIGN_OR_RETURN(Run ref, Evaluate(reference, samples));
  o.precision = Precision::kFloat16;
  o.float32_ops.clear();
  std::map<std::string, double> first_error;  // each op's error with everything in fp16
  std::map<std::string, std::string> reason;
  for (int rounds = 1;; ++rounds) {
    ASSIGN_OR_RETURN(coreml::Model m, convert(o));
    ASSIGN_OR_RETURN(Run run, Evaluate(m, samples));
    const std::vector<std::string> order = OpOrder(m);
    if (first_error.empty()) {
      for (const std::string& name : order) first_error[name] = OpError(run, ref, name);
    }
    std::vector<std::string> failing = FailingOps(run, ref, order, o, format, m);
    if (failing.empty()) {
      double out_err = OutputError(run, ref);
      std::string summary = "auto: " + std::to_string(o.float32_ops.size()) + " of " +
                            std::to_string(order.size()) +
                            (format == Format::kMLProgram ? " ops in fp32"
                                                          : " layers with fp32 weights");
      const char* sep = ": ";
      for (const std::string& name : o.float32_ops) {
        summary += sep + name;
        sep = ", ";
      }
      (*m.spec().mutable_description()->mutable_metadata()->mutable_userdefined())
          ["com.ringo.precision"] = summary;
      if (!options.report_path.empty()) {
        std::string json;
        JsonWriter w(&json);
        w.BeginObject();
        w.Key("tolerance").Double(o.tolerance);
        w.Key("samples").Int(kSamples);
        w.Key("rounds").Int(rounds);  // conversions and evaluations in fp16 it took
        w.Key("max_output_error").Double(out_err);
        w.Key("ops").BeginArray();
        for (const std::string& name : order) {
          if (!first_error.count(name)) continue;
          w.BeginObject();
          w.Key("op").String(name);
          w.Key("precision").String(o.float32_ops.count(name) ? "fp32" : "fp16");
          w.Key("max_abs_fp32").Double(Peak(ref, name));
          w.Key("fp16_error").Double(first_error[name]);
          if (reason.count(name)) w.Key("reason").String(reason[name]);
          w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        RETURN_IF_ERROR(WriteFileAtomic(options.report_path, json + "\n"));
      }
      return m;
    }
    for (const std::string& name : failing) {
      double err = OpError(run, ref, name);
      reason[name] = std::isinf(err) ? (Peak(ref, name) > 65504.0 ? "overflows fp16"
                                                                 : "not finite in fp16")
                                     : "diverges beyond the tolerance";
    }
    if (format == Format::kMLProgram) {
      o.float32_ops.insert(failing.begin(), failing.end());
      continue;
    }
    // A NeuralNetwork has no per-layer precision: the layers feeding fp16 into a failing one
    // keep float32 weights. None left to change: fp16 cannot be made to fit.
    for (const std::string& worst : failing) {
      const size_t before = o.float32_ops.size();
      for (const std::string& source : HalfSources(m.spec(), worst)) {
        o.float32_ops.insert(source);
        if (source != worst) reason[source] = "feeds '" + worst + "', which " + reason[worst];
      }
      if (o.float32_ops.size() == before) {
        return InvalidArgument("--precision auto: layer '" + worst + "' " + reason[worst] +
                               " with no fp16 weights left to keep in fp32; use --precision fp32");
      }
    }
  }
}

}  // namespace ringo::convert
