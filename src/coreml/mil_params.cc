// How an ML Program op reads its parameters: bindings, scalars, lists, strings, typed results.
#include <cmath>

#include "coreml/evaluate_mil.h"

namespace ringo::coreml::internal {

std::vector<MilValue> OpRunner::One(MilValue v) {
  std::vector<MilValue> out;
  out.push_back(std::move(v));
  return out;
}

Result<const MilValue*> OpRunner::Resolve(const mil::Argument::Binding& b,
                                          const std::string& param) {
  if (b.has_value()) {
    ASSIGN_OR_RETURN(MilValue v,
                     Decode(b.value(), weights_, what_ + " parameter '" + param + "'"));
    inline_.push_back(std::move(v));
    return &inline_.back();
  }
  auto it = env_.find(b.name());
  if (it == env_.end()) {
    return InvalidArgument(what_ + " reads '" + b.name() + "', which is not defined before it");
  }
  return &it->second;
}

Result<const MilValue*> OpRunner::Optional(const std::string& param) {
  auto it = op_.inputs().find(param);
  if (it == op_.inputs().end() || it->second.arguments().empty()) {
    return static_cast<const MilValue*>(nullptr);
  }
  return Resolve(it->second.arguments(0), param);
}

Result<const MilValue*> OpRunner::Required(const std::string& param) {
  ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
  if (v == nullptr) return InvalidArgument(what_ + " lacks parameter '" + param + "'");
  return v;
}

Result<float> OpRunner::Scalar(const std::string& param, std::optional<float> fallback) {
  ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
  if (v == nullptr) {
    if (fallback) return *fallback;
    return InvalidArgument(what_ + " lacks parameter '" + param + "'");
  }
  if (v->t.data.size() != 1) {
    return InvalidArgument(what_ + ": parameter '" + param + "' must be a scalar");
  }
  return v->t.data[0];
}

Result<std::vector<int64_t>> OpRunner::Ints(const std::string& param,
                                            std::optional<std::vector<int64_t>> fallback) {
  ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
  if (v == nullptr) {
    if (fallback) return *fallback;
    return InvalidArgument(what_ + " lacks parameter '" + param + "'");
  }
  if (!v->ints.empty() || v->t.data.empty()) return v->ints;
  std::vector<int64_t> out;
  for (float f : v->t.data) out.push_back(static_cast<int64_t>(std::lround(f)));
  return out;
}

Result<bool> OpRunner::Bool(const std::string& param, bool fallback) {
  ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
  if (v == nullptr) return fallback;
  if (v->t.data.size() != 1) {
    return InvalidArgument(what_ + ": parameter '" + param + "' must be a scalar");
  }
  return v->t.data[0] != 0;
}

Result<std::string> OpRunner::String(const std::string& param, const std::string& fallback) {
  ASSIGN_OR_RETURN(const MilValue* v, Optional(param));
  if (v == nullptr) return fallback;
  if (v->strings.size() != 1) {
    return InvalidArgument(what_ + ": parameter '" + param + "' must be a string");
  }
  return v->strings[0];
}

MilValue OpRunner::Float(Tensor t) const {
  MilValue v;
  v.t = std::move(t);
  if (op_.outputs_size() > 0 && op_.outputs(0).type().has_tensortype()) {
    v.type = op_.outputs(0).type().tensortype().datatype();
  }
  if (v.type == mil::FLOAT16) {
    for (float& f : v.t.data) f = RoundToHalf(f);
  }
  return v;
}

}  // namespace ringo::coreml::internal
