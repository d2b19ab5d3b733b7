// The router: exact paths, {param} patterns and prefixes, each with its access level.
#include "http/http.h"

namespace ringo::http {

std::string_view AccessName(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kAnyCaller:
      return "any";
    case Access::kRead:
      return "read";
    case Access::kWrite:
      return "write";
    case Access::kAdmin:
      return "admin";
    case Access::kDevice:
      return "device";
  }
  return "?";
}

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 1;  // paths start with '/'
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::Add(Method method, std::string path, Access access, Handler handler,
                 bool stream_body) {
  if (path.find('{') != std::string::npos) {
    Pattern p{method, path, {}, Route{std::move(handler), access, stream_body}};
    for (std::string_view seg : Segments(path)) p.segments.emplace_back(seg);
    patterns_.push_back(std::move(p));
    return;
  }
  exact_[std::move(path)][method] = Route{std::move(handler), access, stream_body};
}

std::string_view Request::PathParam(std::string_view name) const {
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return {};
}

void Router::AddPrefix(Method method, std::string prefix, Access access, Handler handler,
                       bool stream_body) {
  std::string pattern = prefix + "*";
  prefixes_.push_back(Prefix{method, std::move(prefix), std::move(pattern),
                             Route{std::move(handler), access, stream_body}});
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  for (const auto& [path, methods] : exact_) {
    for (const auto& [method, route] : methods) out.push_back({method, path, route.access});
  }
  for (const Pattern& p : patterns_) out.push_back({p.method, p.path, p.route.access});
  for (const Prefix& p : prefixes_) out.push_back({p.method, p.pattern, p.route.access});
  return out;
}

Router::Match Router::Find(Method method, std::string_view path) const {
  Match m;
  Find(method, path, &m);
  return m;
}

void Router::Find(Method method, std::string_view path, Match* out) const {
  Match& m = *out;
  m.handler = nullptr;
  m.route = {};
  m.suffix.clear();
  m.params.clear();
  m.stream_body = false;
  m.path_known = false;
  // "//x" is "/x": clients that join a base URL ending in '/' with an absolute path send it, and
  // MLflow's server (werkzeug) takes it so.
  while (path.size() > 1 && path[0] == '/' && path[1] == '/') path.remove_prefix(1);
  // Where nothing answers, only a caller who could change something learns so for a change.
  bool reads = method == Method::kGet || method == Method::kHead || method == Method::kOptions;
  m.access = reads ? Access::kAnyCaller : Access::kWrite;
  // HEAD is served by the GET handler; the body is dropped when writing.
  Method lookup = method == Method::kHead ? Method::kGet : method;
  auto it = exact_.find(path);
  if (it != exact_.end()) {
    m.path_known = true;
    auto h = it->second.find(lookup);
    if (h != it->second.end()) {
      m.handler = &h->second.handler;
      m.access = h->second.access;
      m.stream_body = h->second.stream_body;
      m.route = it->first;
      return;
    }
  }
  for (const Pattern& p : patterns_) {
    // Walks the path's segments in place (no allocation: device manifests come this way).
    size_t pos = 1, i = 0;
    bool match = !path.empty() && path.front() == '/';
    for (; match && i < p.segments.size(); ++i) {
      if (pos > path.size()) {
        match = false;
        break;
      }
      size_t next = path.find('/', pos);
      if (next == std::string_view::npos) next = path.size();
      std::string_view seg = path.substr(pos, next - pos);
      match = IsParam(p.segments[i]) ? !seg.empty() : p.segments[i] == seg;
      pos = next + 1;
    }
    if (!match || pos <= path.size()) continue;  // a mismatch, or segments left over
    m.path_known = true;
    if (p.method != lookup) continue;
    m.handler = &p.route.handler;
    m.access = p.route.access;
    m.stream_body = p.route.stream_body;
    m.route = p.path;
    // The segments once more, in place; the names and values are short (no allocation).
    size_t at = 1;
    for (const std::string& want : p.segments) {
      size_t next = std::min(path.find('/', at), path.size());
      if (IsParam(want)) {
        m.params.emplace_back(std::string_view(want).substr(1, want.size() - 2),
                              path.substr(at, next - at));
      }
      at = next + 1;
    }
    return;
  }
  const Prefix* best = nullptr;
  for (const Prefix& p : prefixes_) {
    if (path.substr(0, p.prefix.size()) != p.prefix) continue;
    m.path_known = true;
    if (p.method == lookup && (!best || p.prefix.size() > best->prefix.size())) best = &p;
  }
  if (best) {
    m.handler = &best->route.handler;
    m.access = best->route.access;
    m.route = best->pattern;
    m.suffix.assign(path.substr(best->prefix.size()));
    m.stream_body = best->route.stream_body;
    return;
  }
}

}  // namespace ringo::http
