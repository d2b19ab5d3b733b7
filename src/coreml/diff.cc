// Interface diff of two Core ML models, with a compatible/breaking verdict per change.
#include <nlohmann/json.hpp>

#include "coreml/coreml.h"

namespace ringo::coreml {

namespace {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string TypeText(const Feature& f) {
  if (f.type == "MultiArray") return "MultiArray " + f.data_type + " " + ShapeText(f.shape);
  if (f.type == "Image") {
    return "Image " + f.color_space + " " + std::to_string(f.image_width) + "x" +
           std::to_string(f.image_height);
  }
  if (f.type == "Dictionary") return "Dictionary<" + f.key_type + ">";
  return f.type;
}

const Feature* Find(const std::vector<Feature>& fs, const std::string& name) {
  for (const Feature& f : fs) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// An app was built against the old interface. It breaks when something it feeds or reads
// changes or disappears, or when the model needs a newer OS; additions it never asks for, and
// metadata, do not break it.
void CompareFeatures(const char* kind, bool inputs, const std::vector<Feature>& old_fs,
                     const std::vector<Feature>& new_fs, std::vector<Change>* out) {
  for (const Feature& o : old_fs) {
    const Feature* n = Find(new_fs, o.name);
    std::string name = std::string(kind) + " '" + o.name + "'";
    if (!n) {
      // An app no longer providing an input the model dropped is fine only for optional ones.
      out->push_back({name + " removed", !(inputs && o.optional)});
      continue;
    }
    if (o.type != n->type || o.data_type != n->data_type || o.key_type != n->key_type) {
      out->push_back({name + " retyped: " + TypeText(o) + " -> " + TypeText(*n), true});
    } else if (o.shape != n->shape) {
      out->push_back(
          {name + " reshaped: " + ShapeText(o.shape) + " -> " + ShapeText(n->shape), true});
    } else if (o.image_width != n->image_width || o.image_height != n->image_height ||
               o.color_space != n->color_space) {
      out->push_back(
          {name + " image constraint changed: " + TypeText(o) + " -> " + TypeText(*n), true});
    }
    if (inputs && o.optional && !n->optional)
      out->push_back({name + " is no longer optional", true});
    if (o.description != n->description) out->push_back({name + " description changed", false});
  }
  for (const Feature& n : new_fs) {
    if (Find(old_fs, n.name)) continue;
    std::string name = std::string(kind) + " '" + n.name + "'";
    if (inputs) {
      out->push_back({name + " added" + (n.optional ? " (optional)" : ""), !n.optional});
    } else {
      out->push_back({name + " added", false});
    }
  }
}

}  // namespace

bool Diff::breaking() const {
  for (const Change& c : changes) {
    if (c.breaking) return true;
  }
  return false;
}

Diff CompareInterfaces(const Info& o, const Info& n) {
  Diff d;
  CompareFeatures("input", true, o.inputs, n.inputs, &d.changes);
  CompareFeatures("output", false, o.outputs, n.outputs, &d.changes);
  if (o.predicted_feature != n.predicted_feature) {
    d.changes.push_back(
        {"predicted feature '" + o.predicted_feature + "' -> '" + n.predicted_feature + "'", true});
  }
  if (o.predicted_probabilities != n.predicted_probabilities) {
    d.changes.push_back({"predicted probabilities '" + o.predicted_probabilities + "' -> '" +
                             n.predicted_probabilities + "'",
                         true});
  }
  if (o.class_labels != n.class_labels) {
    std::string what = "class labels changed (" + std::to_string(o.class_labels.size()) + " -> " +
                       std::to_string(n.class_labels.size()) + ")";
    for (size_t i = 0; i < std::min(o.class_labels.size(), n.class_labels.size()); ++i) {
      if (o.class_labels[i] != n.class_labels[i]) {
        what += ", first difference at " + std::to_string(i) + ": '" + o.class_labels[i] +
                "' -> '" + n.class_labels[i] + "'";
        break;
      }
    }
    d.changes.push_back({what, true});
  }
  if (o.spec_version != n.spec_version) {
    bool newer = n.spec_version > o.spec_version;
    d.changes.push_back({"specification version " + std::to_string(o.spec_version) + " -> " +
                             std::to_string(n.spec_version) + " (oldest iOS " + o.min_ios + " -> " +
                             n.min_ios + ")",
                         newer});
  }
  if (o.model_type != n.model_type) {
    d.changes.push_back({"model type " + o.model_type + " -> " + n.model_type, false});
  }
  for (const auto& [k, v] : n.metadata) {
    auto it = o.metadata.find(k);
    if (it == o.metadata.end()) {
      d.changes.push_back({"metadata '" + k + "' added", false});
    } else if (it->second != v) {
      d.changes.push_back({"metadata '" + k + "' changed", false});
    }
  }
  for (const auto& [k, v] : o.metadata) {
    if (!n.metadata.count(k)) d.changes.push_back({"metadata '" + k + "' removed", false});
  }
  return d;
}

std::string DiffToJson(const Diff& diff) {
  nlohmann::json changes = nlohmann::json::array();
  for (const Change& c : diff.changes)
    changes.push_back({{"change", c.what}, {"breaking", c.breaking}});
  nlohmann::json j = {{"verdict", diff.breaking() ? "breaking" : "compatible"},
                      {"changes", changes}};
  return j.dump(2);
}

}  // namespace ringo::coreml
