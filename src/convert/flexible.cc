// Flexible input shapes: `--shape` text, default shapes for the ONNX inputs, Core ML's ranges.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <charconv>

#include "convert/emit.h"
#include "coreml/schema.h"

namespace ringo::convert {

namespace {

namespace spec = coreml::spec;

Result<int64_t> Size(std::string_view text, std::string_view whole) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0 || v > (1 << 30)) {
    return InvalidArgument("shape '" + std::string(whole) + "': '" + std::string(text) +
                           "' is not a positive size");
  }
  return v;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (true) {
    size_t at = text.find(sep, pos);
    parts.push_back(text.substr(pos, at == std::string_view::npos ? at : at - pos));
    if (at == std::string_view::npos) return parts;
    pos = at + 1;
  }
}

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

// Whether axis `k` takes more than one size.
bool Varies(const InputShape& s, size_t k) {
  if (!s.ranges.empty()) return s.ranges[k].first != s.ranges[k].second;
  return std::any_of(s.enumerated.begin(), s.enumerated.end(),
                     [&](const auto& e) { return e[k] != s.enumerated[0][k]; });
}

size_t Rank(const InputShape& s) {
  return s.ranges.empty() ? s.enumerated[0].size() : s.ranges.size();
}

}  // namespace

Result<InputShape> ParseInputShape(std::string_view text) {
  InputShape out;
  if (text.empty()) return InvalidArgument("empty shape");
  const bool enumerated = text.find(',') != std::string_view::npos;
  for (std::string_view one : Split(text, ',')) {
    std::vector<int64_t> shape;
    for (std::string_view axis : Split(one, 'x')) {
      size_t dots = axis.find("..");
      if (dots == std::string_view::npos) {
        ASSIGN_OR_RETURN(int64_t v, Size(axis, text));
        shape.push_back(v);
        out.ranges.push_back({v, v});
        continue;
      }
      if (enumerated) {
        return InvalidArgument("shape '" + std::string(text) +
                               "': enumerated shapes take sizes, not ranges");
      }
      ASSIGN_OR_RETURN(int64_t lo, Size(axis.substr(0, dots), text));
      int64_t hi = -1;
      if (dots + 2 < axis.size()) {
        ASSIGN_OR_RETURN(hi, Size(axis.substr(dots + 2), text));
        if (hi < lo) {
          return InvalidArgument("shape '" + std::string(text) + "': range " +
                                 std::string(axis) + " ends below its start");
        }
      }
      out.ranges.push_back({lo, hi});
    }
    if (enumerated) {
      if (!out.enumerated.empty() && out.enumerated[0].size() != shape.size()) {
        return InvalidArgument("shape '" + std::string(text) +
                               "': enumerated shapes must have one rank");
      }
      out.enumerated.push_back(std::move(shape));
      out.ranges.clear();
    }
  }
  return out;
}

Status SetDefaultShapes(const std::map<std::string, InputShape>& shapes,
                        const std::map<std::string, std::string>& renames,
                        onnx::ModelProto* model, std::map<std::string, InputShape>* by_onnx) {
  for (const auto& [wanted, shape] : shapes) {
    std::string name = wanted;
    for (const auto& [from, to] : renames) {
      if (to == wanted) name = from;
    }
    auto* inputs = model->mutable_graph()->mutable_input();
    auto it = std::find_if(inputs->begin(), inputs->end(),
                           [&](const onnx::ValueInfoProto& v) { return v.name() == name; });
    if (it == inputs->end() || !it->type().tensor_type().has_shape()) {
      return InvalidArgument("--shape names '" + wanted +
                             "', which is not an input of the model with a shape");
    }
    auto* dims = it->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim();
    if (static_cast<size_t>(dims->size()) != Rank(shape)) {
      return InvalidArgument("--shape gives input '" + wanted + "' rank " +
                             std::to_string(Rank(shape)) + "; the model's has rank " +
                             std::to_string(dims->size()));
    }
    InputShape resolved = shape;
    // The default shape: the model's own size on fixed axes, which must be allowed.
    std::vector<int64_t> fixed(Rank(shape), 0);
    for (int k = 0; k < dims->size(); ++k) {
      if ((*dims)[k].has_dim_value() && (*dims)[k].dim_value() > 0) {
        fixed[k] = (*dims)[k].dim_value();
      }
    }
    std::vector<int64_t> chosen;
    if (!shape.ranges.empty()) {
      for (size_t k = 0; k < fixed.size(); ++k) {
        const auto [lo, hi] = shape.ranges[k];
        if (fixed[k] != 0 && (fixed[k] < lo || (hi >= 0 && fixed[k] > hi))) {
          return InvalidArgument("input '" + wanted + "' has size " + std::to_string(fixed[k]) +
                                 " at axis " + std::to_string(k) +
                                 " in the ONNX model, outside the --shape range");
        }
        chosen.push_back(fixed[k] != 0 ? fixed[k] : lo);
      }
    } else {
      auto fits = [&](const std::vector<int64_t>& e) {
        for (size_t k = 0; k < e.size(); ++k) {
          if (fixed[k] != 0 && fixed[k] != e[k]) return false;
        }
        return true;
      };
      auto e = std::find_if(shape.enumerated.begin(), shape.enumerated.end(), fits);
      if (e == shape.enumerated.end()) {
        return InvalidArgument("no --shape of input '" + wanted +
                               "' has the sizes the ONNX model fixes");
      }
      chosen = *e;
      // Core ML takes the first enumerated shape as the default when none is given.
      std::rotate(resolved.enumerated.begin(), resolved.enumerated.begin() +
                  (e - shape.enumerated.begin()), resolved.enumerated.begin() +
                  (e - shape.enumerated.begin()) + 1);
    }
    for (int k = 0; k < dims->size(); ++k) (*dims)[k].set_dim_value(chosen[k]);
    (*by_onnx)[name] = std::move(resolved);
  }
  return Status::Ok();
}

Status DescribeFlexibleShapes(const std::string& name, const InputShape& shape,
                              coreml::Model* model) {
  spec::Model& m = model->spec();
  auto* inputs = m.mutable_description()->mutable_input();
  auto it = std::find_if(inputs->begin(), inputs->end(),
                         [&](const spec::FeatureDescription& f) { return f.name() == name; });
  if (it == inputs->end() || !it->type().has_multiarraytype()) {
    return InvalidArgument("input '" + name + "' is not a MultiArray; only MultiArray inputs " +
                           "take flexible shapes");
  }
  spec::ArrayFeatureType* a = it->mutable_type()->mutable_multiarraytype();
  const size_t rank = Rank(shape), declared = static_cast<size_t>(a->shape_size());
  // A rank-5 NeuralNetwork input drops the ONNX batch axis: those axes must stay 1.
  const size_t skip = rank > declared ? rank - declared : 0;
  for (size_t k = 0; k < skip; ++k) {
    if (Varies(shape, k) || (shape.ranges.empty() ? shape.enumerated[0][k]
                                                  : shape.ranges[k].first) != 1) {
      return InvalidArgument("input '" + name + "' of this NeuralNetwork takes one example " +
                             "(rank-5 layers): axis " + std::to_string(k) + " cannot vary; " +
                             "write a .mlpackage for a flexible batch");
    }
  }
  if (!shape.ranges.empty()) {
    auto* r = a->mutable_shaperange();
    for (size_t k = skip; k < rank; ++k) {
      auto* s = r->add_sizeranges();
      s->set_lowerbound(static_cast<uint64_t>(shape.ranges[k].first));
      s->set_upperbound(shape.ranges[k].second);
    }
  } else {
    auto* e = a->mutable_enumeratedshapes();
    for (const auto& one : shape.enumerated) {
      auto* s = e->add_shapes();
      for (size_t k = skip; k < rank; ++k) s->add_shape(one[k]);
    }
  }
  if (!m.has_mlprogram()) return Status::Ok();
  // The program's own input type: the axes that vary have no constant size.
  auto& fn = (*m.mutable_mlprogram()->mutable_functions())["main"];
  for (auto& in : *fn.mutable_inputs()) {
    if (in.name() != name || !in.type().has_tensortype()) continue;
    auto* dims = in.mutable_type()->mutable_tensortype()->mutable_dimensions();
    const size_t offset = static_cast<size_t>(dims->size()) >= rank ? dims->size() - rank : 0;
    for (size_t k = 0; k < rank && offset + k < static_cast<size_t>(dims->size()); ++k) {
      if (Varies(shape, k)) (*dims)[static_cast<int>(offset + k)].mutable_unknown();
    }
  }
  return Status::Ok();
}

namespace {

std::vector<std::vector<int64_t>> ProbeShapes(const InputShape& shape) {
  if (!shape.enumerated.empty()) return shape.enumerated;
  std::vector<int64_t> lo, hi;
  for (const auto& [a, b] : shape.ranges) {
    lo.push_back(a);
    // No upper bound: twice the lower bound stands for "larger".
    hi.push_back(b >= 0 ? b : 2 * a);
  }
  return {lo, hi};
}

std::string ShapeSpecText(const InputShape& shape) {
  if (!shape.enumerated.empty()) {
    std::string out;
    for (const auto& e : shape.enumerated) out += (out.empty() ? "" : ",") + ShapeText(e);
    return out;
  }
  std::string out;
  for (const auto& [lo, hi] : shape.ranges) {
    out += (out.empty() ? "" : "x") + std::to_string(lo);
    if (hi != lo) out += ".." + (hi >= 0 ? std::to_string(hi) : std::string());
  }
  return out;
}

}  // namespace

Status CheckFlexibleShapes(const std::map<std::string, InputShape>& shapes,
                           const coreml::Model& model) {
  // Zeros of every input's declared shape; then each flexible input at each probe shape.
  std::map<std::string, coreml::Value> inputs;
  for (const auto& f : model.spec().description().input()) {
    coreml::Value v;
    if (f.type().has_imagetype()) {
      const auto& image = f.type().imagetype();
      const int64_t c = image.colorspace() == spec::ImageFeatureType::GRAYSCALE ? 1 : 3;
      v.tensor.shape = {c, image.height(), image.width()};
    } else {
      const auto& s = f.type().multiarraytype().shape();
      v.tensor.shape.assign(s.begin(), s.end());
    }
    v.tensor.data.assign(static_cast<size_t>(v.tensor.size()), 0.0f);
    inputs[f.name()] = std::move(v);
  }
  for (const auto& [name, shape] : shapes) {
    const coreml::Value fixed = inputs[name];
    for (const std::vector<int64_t>& probe : ProbeShapes(shape)) {
      coreml::Value& v = inputs[name];
      v.tensor.shape = probe;
      v.tensor.data.assign(static_cast<size_t>(v.tensor.size()), 0.0f);
      auto r = coreml::Predict(model, inputs);
      if (!r.ok()) {
        return InvalidArgument("input '" + name + "' cannot take the shape " + ShapeText(probe) +
                               " of --shape " + ShapeSpecText(shape) +
                               ": the converted graph fixes its size (" + r.status().message() +
                               ")");
      }
    }
    inputs[name] = fixed;
  }
  return Status::Ok();
}

}  // namespace ringo::convert
