// MLflow's rules for model version sources: local paths only inside the run's artifacts, no
// relative path segments anywhere else.
#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/util.h"
#include "registry/registry.h"

namespace ringo::registry {

namespace {

struct Uri {
  std::string scheme;  // lowercase; empty for a plain path
  std::string host;
  std::string path;
};

bool IsSchemeChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

// Splits as Python's urllib.parse.urlparse does for the parts the rules read.
Uri ParseUri(std::string_view s) {
  Uri u;
  size_t colon = s.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(s[0]))) {
    bool ok = true;
    for (size_t i = 0; i < colon; ++i) ok = ok && IsSchemeChar(s[i]);
    if (ok) {
      u.scheme = ToLower(std::string(s.substr(0, colon)));
      s.remove_prefix(colon + 1);
    }
  }
  if (s.substr(0, 2) == "//") {
    s.remove_prefix(2);
    size_t end = s.find_first_of("/?#");
    std::string_view netloc = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view() : s.substr(end);
    size_t at = netloc.rfind('@');
    if (at != std::string_view::npos) netloc.remove_prefix(at + 1);
    u.host = ToLower(std::string(netloc.substr(0, netloc.rfind(':') == std::string_view::npos
                                                         ? netloc.size()
                                                         : netloc.rfind(':'))));
  }
  u.path = std::string(s.substr(0, s.find_first_of("?#")));
  return u;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's unquote_plus: %XX decoded where well-formed, '+' as a space.
std::string UnquotePlus(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool IsLocal(const Uri& u) {
  if (u.scheme.empty()) return true;
  return u.scheme == "file";
}

bool RemoteHost(const std::string& host) {
  return !host.empty() && host != "." && host.rfind("localhost", 0) != 0 &&
         host.rfind("127.0.0.1", 0) != 0;
}

std::string NotAbsolute(const std::string& source) {
  return "Invalid model version source: '" + source +
         "'. If supplying a source as an http, https, local file path, ftp, objectstore, or "
         "mlflow-artifacts uri, an absolute path must be provided without relative path "
         "references present. Please provide an absolute path.";
}

Status CheckNoRelativeSegments(const std::string& source) {
  std::string decoded = source;
  for (int i = 0; i < 16; ++i) {
    std::string next = UnquotePlus(decoded);
    if (next == decoded) break;
    decoded = std::move(next);
  }
  // A ".." anywhere in the decoded source counts, in its query or fragment too (a "%3f"
  // decodes to the '?' that would otherwise hide the segments after it from the path).
  for (size_t start = 0; start <= decoded.size();) {
    size_t end = decoded.find('/', start);
    if (end == std::string::npos) end = decoded.size();
    if (std::string_view(decoded).substr(start, end - start) == "..") {
      return InvalidArgument(NotAbsolute(source));
    }
    start = end + 1;
  }
  std::string path = ParseUri(decoded).path;
  if (path.find('\0') != std::string::npos) return InvalidArgument(NotAbsolute(source));
  if (path.empty()) return Status::Ok();
  if (path[0] != '/') return InvalidArgument(NotAbsolute(source));
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view seg(path.data() + start, end - start);
    if (seg == "." || seg == "..") return InvalidArgument(NotAbsolute(source));
    start = end + 1;
  }
  return Status::Ok();
}

// A local path or file URI as a normalized absolute path; empty when it is not local.
std::filesystem::path LocalPath(const std::string& uri) {
  Uri u = ParseUri(uri);
  if (!IsLocal(u) || RemoteHost(u.host)) return {};
  std::filesystem::path p(u.scheme.empty() ? uri : UnquotePlus(u.path));
  std::error_code ec;
  return std::filesystem::absolute(p, ec).lexically_normal();
}

}  // namespace

Status CheckSourceRules(const std::string& source, const std::string& run_id,
                        const std::function<Result<std::string>(const std::string&)>&
                            run_artifact_uri,
                        std::string_view owner) {
  Uri u = ParseUri(source);
  if (!IsLocal(u)) return CheckNoRelativeSegments(source);
  if (u.scheme == "file" && RemoteHost(u.host)) {
    return InvalidArgument(source + " is not a valid remote uri. A file: source must name a "
                           "path on this machine.");
  }
  if (!run_id.empty()) {
    ASSIGN_OR_RETURN(std::string artifact_uri, run_artifact_uri(run_id));
    std::filesystem::path root = LocalPath(artifact_uri);
    std::filesystem::path path = LocalPath(source);
    if (!root.empty() && !path.empty()) {
      auto rel = path.lexically_relative(root);
      if (!rel.empty() && *rel.begin() != "..") return Status::Ok();
    }
  }
  const std::string by(owner);
  return InvalidArgument(
      "Invalid model version source: '" + source + "'. To use a local path as a model version "
      "source, the " + by + " request parameter has to be specified and the local path has to "
      "be contained within the artifact directory of the run specified by the " + by + ".");
}

}  // namespace ringo::registry
