// Path and address logic of steps whose files travel through the artifact store.
#include "pipeline/transfer.h"

#include <cctype>
#include <filesystem>

namespace ringo::pipeline {

namespace {

// Characters that continue a path: a root found next to one is part of a longer name.
bool PathChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
         c == '-' || c == '~' || c == '+';
}

}  // namespace

std::string RebasePaths(const std::string& text, const std::string& root,
                        const std::string& as_root, const std::string& as_prefix) {
  std::string out;
  size_t from = 0;
  if (root.empty()) return text;
  for (size_t at = text.find(root); at != std::string::npos; at = text.find(root, at + 1)) {
    size_t end = at + root.size();
    if (at < from || (at > 0 && PathChar(text[at - 1]))) continue;
    if (end < text.size() && text[end] == '/') {
      out.append(text, from, at - from);
      out += as_prefix;
      from = end + 1;
    } else if (end == text.size() || !PathChar(text[end])) {
      out.append(text, from, at - from);
      out += as_root;
      from = end;
    }
  }
  out.append(text, from, std::string::npos);
  return out;
}

bool IsLoopbackUri(const std::string& uri) {
  size_t scheme = uri.find("://");
  std::string host = uri.substr(scheme == std::string::npos ? 0 : scheme + 3);
  host = host.substr(0, host.find('/'));
  if (size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0 ||
         host.ends_with(".localhost");
}

bool IsInsidePath(const std::string& path) {
  std::filesystem::path p(path);
  if (path.empty() || p.is_absolute()) return false;
  for (const auto& part : p) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace ringo::pipeline
