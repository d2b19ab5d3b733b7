// Bearer tokens with scopes guarding the HTTP API.
#include "api/auth.h"

#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::api {

namespace {

constexpr const char* kTokenKind = "token";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Delivery and token management: what only admin tokens may change.
bool IsAdminWrite(const http::Request& req) {
  if (req.method == http::Method::kGet || req.method == http::Method::kHead) return false;
  return StartsWith(req.path, "/api/ringo/v1/tokens") ||
         StartsWith(req.path, "/api/ringo/v1/collections") ||
         StartsWith(req.path, "/api/ringo/v1/deployments") ||
         StartsWith(req.path, "/api/ringo/v1/channels");
}

// Reads that travel as POST in MLflow's protocol.
bool IsReadPost(std::string_view path) {
  return path.ends_with("/search") || path.ends_with("/search-datasets") ||
         path.ends_with("/get-latest-versions");
}

http::Response Error(unsigned status, const char* code, const std::string& message) {
  return http::JsonError(status, code, message);
}

}  // namespace

void Auth::Refresh() {
  auto now = std::chrono::steady_clock::now();
  if (now - loaded_at_ < std::chrono::seconds(5)) return;
  std::lock_guard lock(refresh_mu_);
  if (now - loaded_at_ < std::chrono::seconds(5)) return;
  auto docs = store_->ListDocuments(kTokenKind, "");
  if (!docs.ok()) return;  // keep the last known set
  std::map<std::string, std::string> scopes;
  for (const auto& d : *docs) {
    auto j = nlohmann::json::parse(d.value, nullptr, false);
    if (j.is_object()) scopes[d.key] = j.value("scope", "");
  }
  {
    std::unique_lock w(mu_);
    scopes_ = std::move(scopes);
    enabled_.store(!scopes_.empty());
  }
  loaded_at_ = now;
}

std::optional<http::Response> Auth::Check(const http::Request& req) {
  const std::string& p = req.path;
  if (p == "/health" || p == "/" || p == "/index.html" || StartsWith(p, "/assets/") ||
      p == "/favicon.svg") {
    return std::nullopt;
  }
  Refresh();
  if (!enabled_.load()) return std::nullopt;
  std::string_view header = req.Header("authorization");
  std::string token;
  if (header.size() > 7 && ToLower(header.substr(0, 7)) == "bearer ")
    token = std::string(header.substr(7));
  if (token.empty()) {
    // The web UI keeps its token in a same-site cookie, which browsers also send for images and
    // downloads (they cannot carry an Authorization header).
    std::string_view cookies = req.Header("cookie");
    size_t at = cookies.find("ringo_token=");
    while (at != std::string_view::npos && at > 0 && cookies[at - 1] != ' ' &&
           cookies[at - 1] != ';') {
      at = cookies.find("ringo_token=", at + 1);
    }
    if (at != std::string_view::npos) {
      std::string_view v = cookies.substr(at + 12);
      v = v.substr(0, v.find(';'));
      auto decoded = PercentDecode(v, false);
      if (decoded) token = *decoded;
    }
  }
  if (token.empty()) {
    return Error(401, "UNAUTHENTICATED",
                 "this server requires a token: send 'Authorization: Bearer <token>' "
                 "(MLflow clients: set MLFLOW_TRACKING_TOKEN)");
  }
  std::string scope;
  {
    std::shared_lock r(mu_);
    auto it = scopes_.find(Sha256Hex(token));
    if (it == scopes_.end()) return Error(401, "UNAUTHENTICATED", "unknown or revoked token");
    scope = it->second;
  }
  bool device_api = StartsWith(p, "/api/deploy/v1/");
  bool read_only = req.method == http::Method::kGet || req.method == http::Method::kHead ||
                   (req.method == http::Method::kPost && IsReadPost(p));
  bool allowed = false;
  if (scope == "admin") {
    allowed = true;
  } else if (scope == "write") {
    allowed = !IsAdminWrite(req) && !StartsWith(p, "/api/ringo/v1/tokens");
  } else if (scope == "read") {
    allowed = read_only && !StartsWith(p, "/api/ringo/v1/tokens");
  } else if (scope == "device") {
    allowed = device_api;
  }
  if (!allowed) {
    return Error(
        403, "PERMISSION_DENIED",
        "a " + scope + " token may not " + std::string(http::MethodName(req.method)) + " " + p);
  }
  return std::nullopt;
}

Result<std::string> Auth::Create(const std::string& scope, const std::string& name) {
  if (scope != "admin" && scope != "write" && scope != "read" && scope != "device") {
    return InvalidArgument("unknown token scope '" + scope +
                           "': expected admin, write, read or device");
  }
  std::string token = "rg_" + NewId() + NewId().substr(0, 16);
  nlohmann::json doc = {{"scope", scope}, {"name", name}, {"created", NowMillis()}};
  RETURN_IF_ERROR(store::Wait([&](store::Done done) {
    store_->PutDocument(kTokenKind, Sha256Hex(token), doc.dump(), 0, "",
                        [done](Result<int64_t> r) { done(r.ok() ? Status::Ok() : r.status()); });
  }));
  Invalidate();
  return token;
}

}  // namespace ringo::api
