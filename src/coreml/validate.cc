// Validate: the checks the Core ML loader makes, as a list of problems naming the part.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "coreml/blob.h"
#include "coreml/coreml.h"
#include "coreml/schema.h"
#include "coreml/spec_walk.h"

namespace ringo::coreml {

using internal::ElementCount;
using internal::ForEachWeight;
using internal::Layers;
using internal::LayerType;
using internal::UpdateParams;
using internal::MainBlock;
using internal::Preprocessing;
using internal::WeightCount;

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

// Shape ranges and enumerated shapes (spec 3): of the default shape's rank, bounds in order,
// the default shape among the allowed ones.
void ValidateFlexibleShape(const std::string& name, const spec::ArrayFeatureType& a,
                           Problems* p) {
  if (!a.has_shaperange() && !a.has_enumeratedshapes()) return;
  p->Need(3, "flexible shape of input '" + name + "'");
  const std::vector<int64_t> shape(a.shape().begin(), a.shape().end());
  bool allowed = false;
  if (a.has_shaperange()) {
    const auto& ranges = a.shaperange().sizeranges();
    allowed = ranges.size() == static_cast<int>(shape.size());
    for (int k = 0; allowed && k < ranges.size(); ++k) {
      const auto& r = ranges[k];
      if (r.upperbound() >= 0 && r.upperbound() < static_cast<int64_t>(r.lowerbound())) {
        p->Add("input '" + name + "' has a shape range ending below its start");
      }
      allowed = shape[k] >= static_cast<int64_t>(r.lowerbound()) &&
                (r.upperbound() < 0 || shape[k] <= r.upperbound());
    }
  } else {
    for (const auto& e : a.enumeratedshapes().shapes()) {
      allowed = allowed || std::vector<int64_t>(e.shape().begin(), e.shape().end()) == shape;
    }
  }
  if (!allowed) p->Add("input '" + name + "' has a default shape its flexible shapes exclude");
}

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
    if (t.has_multiarraytype()) ValidateFlexibleShape(in.name(), t.multiarraytype(), p);
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
  const bool has_array_input =
      std::any_of(m.description().input().begin(), m.description().input().end(),
                  [](const spec::FeatureDescription& f) { return f.type().has_multiarraytype(); });
  std::set<std::string> blobs(input_names.begin(), input_names.end());
  int index = 0;
  for (const auto& l : *Layers(m)) {
    std::string where =
        "layer " + std::to_string(index++) + " '" + l.name() + "' (" + LayerType(l) + ")";
    if (l.layer_case() == spec::NeuralNetworkLayer::LAYER_NOT_SET) {
      p->Add(where + " has no type ringo knows");
    }
    // The rank-N layers (field numbers from 600 on) came with spec 4, and a network holding
    // them reads MultiArray inputs with EXACT_ARRAY_MAPPING.
    if (l.layer_case() >= 600) {
      p->Need(4, where);
      if (array_mapping == spec::RANK5_ARRAY_MAPPING && has_array_input) {
        p->Add(where + " is a rank-N layer in a network with RANK5_ARRAY_MAPPING");
      }
    }
    if (l.has_slicestatic() && l.slicestatic().squeezemasks_size() > 0) {
      p->Need(5, where + " squeezeMasks");
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

// An updatable network (spec 4): updatable layers of a trainable type with float32 weights
// marked updatable, one loss layer reading a blob of the network (cross-entropy: a softmax's
// output) and its target among the training inputs, an optimizer, epochs.
void ValidateUpdate(const spec::Model& m, Problems* p) {
  const auto* layers = Layers(m);
  auto updatable = [](const spec::NeuralNetworkLayer& l) { return l.isupdatable(); };
  const bool any_layer =
      layers != nullptr && std::any_of(layers->begin(), layers->end(), updatable);
  if (!m.isupdatable()) {
    if (any_layer) p->Add("layers are marked updatable but the model is not (isUpdatable)");
    return;
  }
  p->Need(4, "an updatable model");
  if (layers == nullptr) {
    p->Add("only NeuralNetwork models can be updatable");
    return;
  }
  if (!any_layer) p->Add("the model is updatable but none of its layers is");
  std::map<std::string, const spec::NeuralNetworkLayer*> producer;
  for (const auto& l : *layers) {
    for (const auto& out : l.output()) producer[out] = &l;
    if (!l.isupdatable()) continue;
    if (!l.has_innerproduct() && !l.has_convolution()) {
      p->Add("updatable layer '" + l.name() + "' is " + LayerType(l) +
             "; only innerProduct and convolution layers are updatable");
      continue;
    }
    const auto& w = l.has_innerproduct() ? l.innerproduct().weights() : l.convolution().weights();
    if (!w.isupdatable() || w.floatvalue_size() == 0) {
      p->Add("updatable layer '" + l.name() + "' needs float32 weights marked updatable");
    }
  }
  const spec::NetworkUpdateParameters& u = *UpdateParams(m);
  std::set<std::string> training;
  for (const auto& f : m.description().traininginput()) training.insert(f.name());
  if (training.empty()) p->Add("an updatable model needs training inputs");
  if (u.losslayers_size() != 1) {
    p->Add("an updatable model needs one loss layer; it has " +
           std::to_string(u.losslayers_size()));
  }
  for (const auto& loss : u.losslayers()) {
    const bool cce = loss.has_categoricalcrossentropylosslayer();
    if (!cce && !loss.has_meansquarederrorlosslayer()) {
      p->Add("loss layer '" + loss.name() + "' has no loss type");
      continue;
    }
    const std::string& input = cce ? loss.categoricalcrossentropylosslayer().input()
                                   : loss.meansquarederrorlosslayer().input();
    const std::string& target = cce ? loss.categoricalcrossentropylosslayer().target()
                                    : loss.meansquarederrorlosslayer().target();
    auto it = producer.find(input);
    if (it == producer.end()) {
      p->Add("loss layer '" + loss.name() + "' reads '" + input + "', which no layer produces");
    } else if (cce && !it->second->has_softmax()) {
      p->Add("cross-entropy loss layer '" + loss.name() + "' reads '" + input +
             "', which is not a softmax's output");
    }
    if (!training.count(target)) {
      p->Add("loss target '" + target + "' is not a training input");
    }
  }
  const auto& o = u.optimizer();
  if (!o.has_sgdoptimizer() && !o.has_adamoptimizer()) {
    p->Add("an updatable model needs an optimizer (sgd or adam)");
  }
  const double lr = o.has_sgdoptimizer() ? o.sgdoptimizer().learningrate().defaultvalue()
                                         : o.adamoptimizer().learningrate().defaultvalue();
  const int64_t batch = o.has_sgdoptimizer() ? o.sgdoptimizer().minibatchsize().defaultvalue()
                                             : o.adamoptimizer().minibatchsize().defaultvalue();
  if (!(lr > 0)) p->Add("the optimizer's learning rate must be positive");
  if (batch < 1) p->Add("the optimizer's mini-batch size must be at least 1");
  if (u.epochs().defaultvalue() < 1) p->Add("an updatable model needs at least one epoch");
}

std::vector<std::string> Validate(const Model& model) {
  const spec::Model& m = model.spec();
  Problems p;
  p.spec_version = m.specificationversion();
  std::set<std::string> input_names, output_names;
  ValidateInterface(m, &input_names, &output_names, &p);
  if (Layers(m)) ValidateNeuralNetwork(m, input_names, &p);
  if (m.has_mlprogram()) ValidateProgram(model, input_names, output_names, &p);
  ValidateUpdate(m, &p);
  return p.list;
}

}  // namespace ringo::coreml
