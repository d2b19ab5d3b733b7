// MLflow's validation rules for keys, values and batch sizes.
#include "store/validation.h"

#include <cmath>

namespace ringo::store {

Status ValidateKey(const std::string& kind, const std::string& key) {
  if (key.size() > kMaxKeyLength) {
    return InvalidArgument(kind + " name '" + key.substr(0, 40) + "...' is " +
                           std::to_string(key.size()) + " characters long; the limit is " +
                           std::to_string(kMaxKeyLength));
  }
  // MLflow accepts word characters, '/', '.', '-' and space; bytes >= 0x80 are allowed so that
  // non-ASCII letters (Unicode word characters) pass as they do there.
  for (unsigned char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '/' || c == '.' || c == '-' || c == ' ' || c >= 0x80;
    if (!ok) {
      return InvalidArgument("invalid " + kind + " name '" + key +
                             "': names may only contain alphanumerics, underscores (_), dashes "
                             "(-), periods (.), spaces ( ), and slashes (/)");
    }
  }
  // The key is also a file path in some artifact layouts: it must be its own normal form.
  bool bad_path = key.empty() || key.front() == '/' || key.back() == '/';
  size_t pos = 0;
  while (!bad_path && pos <= key.size()) {
    size_t next = key.find('/', pos);
    if (next == std::string::npos) next = key.size();
    std::string_view seg(key.data() + pos, next - pos);
    if (seg.empty() || seg == "." || seg == "..") bad_path = true;
    pos = next + 1;
  }
  if (bad_path) {
    return InvalidArgument("invalid " + kind + " name '" + key +
                           "': it must be a non-empty normalised relative path (no leading or "
                           "trailing '/', no '.', '..' or empty segments)");
  }
  return Status::Ok();
}

Status ValidateParam(const Param& p) {
  RETURN_IF_ERROR(ValidateKey("param", p.key));
  if (p.value.size() > kMaxParamValueLength) {
    return InvalidArgument("param '" + p.key + "' has a value of " +
                           std::to_string(p.value.size()) + " characters; the limit is " +
                           std::to_string(kMaxParamValueLength));
  }
  return Status::Ok();
}

Status ValidateTag(const Tag& t) {
  RETURN_IF_ERROR(ValidateKey("tag", t.key));
  if (t.value.size() > kMaxTagValueLength) {
    return InvalidArgument("tag '" + t.key + "' has a value of " + std::to_string(t.value.size()) +
                           " characters; the limit is " + std::to_string(kMaxTagValueLength));
  }
  return Status::Ok();
}

Status ValidateBatch(const Batch& b) {
  if (b.metrics.size() > kMaxMetricsPerBatch) {
    return InvalidArgument("a batch may hold at most " + std::to_string(kMaxMetricsPerBatch) +
                           " metrics; got " + std::to_string(b.metrics.size()));
  }
  if (b.params.size() > kMaxParamsPerBatch) {
    return InvalidArgument("a batch may hold at most " + std::to_string(kMaxParamsPerBatch) +
                           " params; got " + std::to_string(b.params.size()));
  }
  if (b.tags.size() > kMaxTagsPerBatch) {
    return InvalidArgument("a batch may hold at most " + std::to_string(kMaxTagsPerBatch) +
                           " tags; got " + std::to_string(b.tags.size()));
  }
  size_t total = b.metrics.size() + b.params.size() + b.tags.size();
  if (total > kMaxEntitiesPerBatch) {
    return InvalidArgument("a batch may hold at most " + std::to_string(kMaxEntitiesPerBatch) +
                           " metrics, params and tags in all; got " + std::to_string(total));
  }
  for (const Metric& m : b.metrics) RETURN_IF_ERROR(ValidateKey("metric", m.key));
  for (const Param& p : b.params) RETURN_IF_ERROR(ValidateParam(p));
  for (const Tag& t : b.tags) RETURN_IF_ERROR(ValidateTag(t));
  // Two values for one param key in one batch would make the result depend on order.
  for (size_t i = 0; i < b.params.size(); ++i) {
    for (size_t j = i + 1; j < b.params.size(); ++j) {
      if (b.params[i].key == b.params[j].key && b.params[i].value != b.params[j].value) {
        return InvalidArgument("param '" + b.params[i].key +
                               "' appears twice in the batch with different values");
      }
    }
  }
  return Status::Ok();
}

bool IsRunStatus(std::string_view s) {
  return s == "RUNNING" || s == "SCHEDULED" || s == "FINISHED" || s == "FAILED" || s == "KILLED";
}

}  // namespace ringo::store
