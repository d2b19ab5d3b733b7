// Reference evaluator for NeuralNetwork models (plain, classifier, regressor) with rank-5 blobs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "coreml/evaluate_internal.h"
#include "coreml/evaluate_nn.h"
#include "coreml/kernels.h"
#include "coreml/schema.h"
#include "coreml/spec_walk.h"

namespace ringo::coreml::internal {

namespace {

using google::protobuf::RepeatedPtrField;
using kernels::ShapeString;

// The parts shared by the three NeuralNetwork model kinds.
struct Network {
  const RepeatedPtrField<spec::NeuralNetworkLayer>* layers;
  const RepeatedPtrField<spec::NeuralNetworkPreprocessing>* preprocessing;
  spec::NeuralNetworkMultiArrayShapeMapping array_mapping;
  const spec::NeuralNetworkClassifier* classifier = nullptr;
};

Network NetworkOf(const spec::Model& m) {
  if (m.has_neuralnetworkclassifier()) {
    const auto& n = m.neuralnetworkclassifier();
    return {&n.layers(), &n.preprocessing(), n.arrayinputshapemapping(), &n};
  }
  if (m.has_neuralnetworkregressor()) {
    const auto& n = m.neuralnetworkregressor();
    return {&n.layers(), &n.preprocessing(), n.arrayinputshapemapping()};
  }
  const auto& n = m.neuralnetwork();
  return {&n.layers(), &n.preprocessing(), n.arrayinputshapemapping()};
}

// The device's fp16 path: a layer storing fp16 weights computes in fp16, and a layer without
// weights computes in the precision of what it reads. Such a layer's results are rounded to
// binary16 (overflow gives inf), so fp16 failures show up as they would there.
bool ComputesInHalf(const spec::NeuralNetworkLayer& layer, bool reads_half) {
  bool any = false, half = false;
  ForEachWeight(layer, [&](const char*, const spec::WeightParams& w, int64_t) {
    any = true;
    half = half || !w.float16value().empty();
  });
  return any ? half : reads_half;
}

void RoundToHalf(Tensor* t) {
  for (float& v : t->data) v = HalfToFloat(FloatToHalf(v));
}

// Stores a layer's result, rounded when it computes in fp16, and in `trace` by layer name.
void Keep(const spec::NeuralNetworkLayer& layer, bool reads_half, Tensor out,
          std::map<std::string, Tensor>* blobs, std::set<std::string>* half,
          std::map<std::string, Tensor>* trace) {
  if (ComputesInHalf(layer, reads_half)) {
    RoundToHalf(&out);
    half->insert(layer.output(0));
  }
  if (trace != nullptr) (*trace)[layer.name()] = out;
  (*blobs)[layer.output(0)] = std::move(out);
}

bool Flexible(const spec::FeatureDescription& f) {
  return f.type().multiarraytype().has_shaperange() ||
         f.type().multiarraytype().has_enumeratedshapes();
}

// Applies the scaler or mean image of `feature` to its rank-5 image blob.
Status Preprocess(const Network& net, const spec::FeatureDescription& feature, size_t image_inputs,
                  Tensor* x) {
  for (const spec::NeuralNetworkPreprocessing& pre : *net.preprocessing) {
    // An empty featureName is allowed when the model has one image input.
    if (pre.featurename() != feature.name() && !(pre.featurename().empty() && image_inputs == 1)) {
      continue;
    }
    const int64_t c = x->shape[kC], plane = x->shape[kH] * x->shape[kW];
    if (pre.has_scaler()) {
      const spec::NeuralNetworkImageScaler& s = pre.scaler();
      std::vector<float> bias;
      switch (feature.type().imagetype().colorspace()) {
        case spec::ImageFeatureType::RGB:
          bias = {s.redbias(), s.greenbias(), s.bluebias()};
          break;
        case spec::ImageFeatureType::BGR:
          bias = {s.bluebias(), s.greenbias(), s.redbias()};
          break;
        default:
          bias = {s.graybias()};
      }
      if (static_cast<int64_t>(bias.size()) != c) {
        return InvalidArgument("image input '" + feature.name() + "' has " + std::to_string(c) +
                               " channels, its colour space " + std::to_string(bias.size()));
      }
      for (int64_t ch = 0; ch < c; ++ch) {
        float* p = x->data.data() + ch * plane;
        for (int64_t i = 0; i < plane; ++i) p[i] = s.channelscale() * p[i] + bias[ch];
      }
    } else if (pre.has_meanimage()) {
      const auto& mean = pre.meanimage().meanimage();
      if (mean.size() != x->size()) {
        return InvalidArgument("mean image of '" + feature.name() + "' has " +
                               std::to_string(mean.size()) + " values; the image has " +
                               std::to_string(x->size()));
      }
      for (int64_t i = 0; i < x->size(); ++i) x->data[i] -= mean[i];
    }
  }
  return Status::Ok();
}

// The declared output shape when it fits the blob; else [C, H, W] (the rank-5 blob without its
// unit Seq and Batch axes).
Tensor OutputTensor(Tensor t, const spec::FeatureDescription& feature) {
  std::vector<int64_t> declared;
  if (feature.type().has_multiarraytype()) {
    declared.assign(feature.type().multiarraytype().shape().begin(),
                    feature.type().multiarraytype().shape().end());
  }
  int64_t n = 1;
  for (int64_t d : declared) n *= d;
  if (!declared.empty() && n == t.size()) {
    t.shape = declared;
  } else if (t.shape.size() == 5 && t.shape[0] == 1 && t.shape[1] == 1) {
    t.shape = {t.shape[2], t.shape[3], t.shape[4]};
  }
  return t;
}

}  // namespace

Status RunNeuralNetwork(const Model& model, const std::map<std::string, Value>& inputs,
                        std::map<std::string, Tensor>* blobs_out,
                        std::map<std::string, Tensor>* trace) {
  const spec::Model& m = model.spec();
  const Network net = NetworkOf(m);
  // EXACT_ARRAY_MAPPING: blobs keep the rank the description gives them (images [1, C, H, W]).
  const bool nd = net.array_mapping == spec::EXACT_ARRAY_MAPPING;
  std::map<std::string, Tensor>& blobs = *blobs_out;
  size_t image_inputs = 0;
  for (const auto& f : m.description().input()) image_inputs += f.type().has_imagetype();
  for (const spec::FeatureDescription& f : m.description().input()) {
    auto it = inputs.find(f.name());
    if (it == inputs.end()) continue;
    Tensor x = it->second.tensor;
    if (f.type().has_imagetype()) {
      const auto& image = f.type().imagetype();
      x.shape = {1, 1, x.size() / (image.height() * image.width()), image.height(), image.width()};
      RETURN_IF_ERROR(Preprocess(net, f, image_inputs, &x));
      if (nd) x.shape.erase(x.shape.begin());
    } else if (nd) {
      // Predict has checked the input against its declared shape, up to leading unit axes; a
      // flexible input comes at the rank of its description.
      const auto& declared = f.type().multiarraytype().shape();
      if (!declared.empty() && !Flexible(f)) x.shape.assign(declared.begin(), declared.end());
    } else if (f.type().has_multiarraytype()) {
      const std::vector<int64_t> shape =
          Flexible(f) ? x.shape
                      : std::vector<int64_t>(f.type().multiarraytype().shape().begin(),
                                             f.type().multiarraytype().shape().end());
      if (shape.size() == 1) {
        x.shape = {1, 1, shape[0], 1, 1};
      } else if (shape.size() == 3) {
        x.shape = {1, 1, shape[0], shape[1], shape[2]};
      } else {
        return FailedPrecondition("input '" + f.name() + "' has rank " +
                                  std::to_string(shape.size()) +
                                  "; RANK5 mapping allows rank 1 or 3");
      }
    } else {
      x.shape = {1, 1, 1, 1, 1};
    }
    blobs[f.name()] = std::move(x);
  }

  std::set<std::string> half;  // blobs computed in fp16
  for (const spec::NeuralNetworkLayer& layer : *net.layers) {
    std::vector<const Tensor*> in;
    bool reads_half = false;
    for (const std::string& name : layer.input()) {
      reads_half = reads_half || half.count(name) > 0;
      auto it = blobs.find(name);
      if (it == blobs.end()) {
        return InvalidArgument(LayerName(layer) + " reads blob '" + name +
                               "', which no earlier layer or input produces");
      }
      in.push_back(&it->second);
    }
    if (nd) {
      if (layer.output_size() != 1) {
        return InvalidArgument(LayerName(layer) + " has " + std::to_string(layer.output_size()) +
                               " outputs; the evaluator expects one");
      }
      ASSIGN_OR_RETURN(Tensor out, RunNdLayer(layer, in));
      Keep(layer, reads_half, std::move(out), &blobs, &half, trace);
      continue;
    }
    if (in.empty() || (!IsVariadic(layer) && in.size() != 1) || layer.output_size() != 1) {
      return InvalidArgument(LayerName(layer) + " has " + std::to_string(in.size()) +
                             " inputs and " + std::to_string(layer.output_size()) +
                             " outputs; the evaluator expects one output and one input (several "
                             "for add, multiply, concat)");
    }
    ASSIGN_OR_RETURN(Tensor out, RunLayer(layer, in));
    Keep(layer, reads_half, std::move(out), &blobs, &half, trace);
  }
  return Status::Ok();
}

Result<std::map<std::string, Value>> PredictNeuralNetwork(
    const Model& model, const std::map<std::string, Value>& inputs,
    std::map<std::string, Tensor>* trace) {
  const spec::Model& m = model.spec();
  const Network net = NetworkOf(m);
  std::map<std::string, Tensor> blobs;
  RETURN_IF_ERROR(RunNeuralNetwork(model, inputs, &blobs, trace));
  std::map<std::string, Value> outputs;
  const spec::ModelDescription& d = m.description();
  if (net.classifier != nullptr) {
    const spec::NeuralNetworkClassifier& c = *net.classifier;
    std::vector<std::string> labels;
    if (c.has_stringclasslabels()) {
      labels.assign(c.stringclasslabels().vector().begin(), c.stringclasslabels().vector().end());
    } else {
      for (int64_t l : c.int64classlabels().vector()) labels.push_back(std::to_string(l));
    }
    std::string blob = c.labelprobabilitylayername();
    if (blob.empty()) {
      // Not set: the scores are taken from the last layer's output.
      blob = net.layers->empty() ? std::string() : net.layers->rbegin()->output(0);
    }
    auto it = blobs.find(blob);
    if (it == blobs.end()) {
      return InvalidArgument("classifier scores blob '" + blob + "' is not produced by a layer");
    }
    const Tensor& scores = it->second;
    if (labels.empty() || static_cast<int64_t>(labels.size()) != scores.size()) {
      return InvalidArgument("classifier has " + std::to_string(labels.size()) +
                             " labels but blob '" + blob + "' holds " +
                             std::to_string(scores.size()) + " scores");
    }
    size_t best = static_cast<size_t>(std::max_element(scores.data.begin(), scores.data.end()) -
                                      scores.data.begin());
    Value label;
    if (c.has_int64classlabels()) {
      label.kind = "int64";
      label.int_value = c.int64classlabels().vector(static_cast<int>(best));
    } else {
      label.kind = "string";
      label.string_value = labels[best];
    }
    outputs[d.predictedfeaturename()] = std::move(label);
    if (!d.predictedprobabilitiesname().empty()) {
      Value probs;
      probs.kind = "dictionary";
      for (size_t i = 0; i < labels.size(); ++i) probs.dict[labels[i]] = scores.data[i];
      outputs[d.predictedprobabilitiesname()] = std::move(probs);
    }
  }
  for (const spec::FeatureDescription& f : d.output()) {
    if (outputs.count(f.name())) continue;
    auto it = blobs.find(f.name());
    if (it == blobs.end()) {
      return InvalidArgument("output '" + f.name() + "' is not produced by any layer");
    }
    Value v;
    v.tensor = OutputTensor(it->second, f);
    outputs[f.name()] = std::move(v);
  }
  return outputs;
}

}  // namespace ringo::coreml::internal
