// `ringo inspect` and `ringo diff`: Core ML files on the command line.
#include "cli/coreml_commands.h"

#include <iostream>

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
    std::cout << "\n  parameters: " << info.parameter_count << " (" << info.weight_precision
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

}  // namespace ringo::cli
