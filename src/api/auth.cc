// Bearer tokens with scopes guarding the HTTP API.
#include "api/auth.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "api/users.h"
#include "common/hash.h"
#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::api {

namespace {

constexpr const char* kTokenKind = "token";

http::Response Error(unsigned status, const char* code, const std::string& message) {
  return http::JsonError(status, code, message);
}

// Asks for basic credentials (browsers then show their password dialog), except on the web
// UI's own requests (X-Requested-With), which show the page's sign-in form instead.
void AddChallenge(const http::Request& req, http::Response& r) {
  if (!req.Header("x-requested-with").empty()) return;
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"mlflow\"");
}

// What each scope may reach. Admin reaches everything; the device scope only the device API.
bool ScopeCovers(std::string_view scope, http::Access access) {
  using http::Access;
  if (access == Access::kPublic || access == Access::kAnyCaller) return true;
  if (scope == "admin") return true;
  // A user (basic auth, not admin) reaches what a write token does, further limited by the
  // permissions on each experiment and registered model (permissions.cc).
  if (scope == "write" || scope == "user") {
    return access == Access::kRead || access == Access::kWrite;
  }
  if (scope == "read") return access == Access::kRead;
  if (scope == "device") return access == Access::kDevice;
  return false;
}


// The hex SHA-256 a presented token is stored under. A fleet's devices share a token, so each
// thread keeps the last token it hashed (compared in constant time: it may be another caller's)
// with its digest; hashing allocates OpenSSL's digest context every time.
std::string_view TokenDigest(std::string_view token) {
  thread_local std::string last, digest;
  if (!digest.empty() && last.size() == token.size() &&
      CRYPTO_memcmp(last.data(), token.data(), token.size()) == 0) {
    return digest;
  }
  digest = Sha256Hex(token);
  last.assign(token);
  return digest;
}

bool ChangesState(http::Method m) {
  return m != http::Method::kGet && m != http::Method::kHead && m != http::Method::kOptions;
}

}  // namespace

std::string CookieToken(std::string_view cookies) {
  size_t at = cookies.find("ringo_token=");
  while (at != std::string_view::npos && at > 0 && cookies[at - 1] != ' ' &&
         cookies[at - 1] != ';') {
    at = cookies.find("ringo_token=", at + 1);
  }
  if (at == std::string_view::npos) return "";
  std::string_view v = cookies.substr(at + 12);
  v = v.substr(0, v.find(';'));
  auto decoded = PercentDecode(v, false);
  return decoded ? *decoded : "";
}

std::optional<http::Response> CheckSameOrigin(const http::Request& req) {
  // Browsers send cookies with requests other sites' pages make, but never let those pages
  // choose the Origin header or send application/json without a CORS preflight, which this
  // server never grants. Both together keep other pages (another port on localhost included:
  // cookies ignore ports) from acting with a user's cookie.
  std::string_view type = req.Header("content-type");
  if (ToLower(type.substr(0, 16)) != "application/json") {
    return Error(403, "PERMISSION_DENIED",
                 "a request authenticated by cookie that changes state must be "
                 "Content-Type: application/json");
  }
  std::string_view origin = req.Header("origin");
  std::string_view host = req.Header("host");
  if (origin.empty() || host.empty() ||
      (origin != "http://" + std::string(host) && origin != "https://" + std::string(host))) {
    return Error(403, "PERMISSION_DENIED",
                 "cross-origin request refused: a request authenticated by cookie that changes "
                 "state must come from this server's own pages (Origin '" +
                     std::string(origin) + "')");
  }
  return std::nullopt;
}

void Auth::Refresh() {
  auto now = std::chrono::steady_clock::now();
  if (now - loaded_at_ < std::chrono::seconds(5)) return;
  std::lock_guard lock(refresh_mu_);
  if (now - loaded_at_ < std::chrono::seconds(5)) return;
  auto docs = store_->ListDocuments(kTokenKind, "");
  if (!docs.ok()) return;  // keep the last known set
  std::map<std::string, Identity, std::less<>> tokens;
  int64_t now_ms = NowMillis();
  for (const auto& d : *docs) {
    auto j = nlohmann::json::parse(d.value, nullptr, false);
    if (!j.is_object()) continue;
    if (j.value("revoked", false)) continue;
    int64_t expires = j.value("expires", int64_t{0});
    if (expires > 0 && expires <= now_ms) continue;
    std::string name = j.value("name", "");
    // Unnamed tokens are told apart by the start of their hash, which reveals nothing.
    if (name.empty()) name = d.key.substr(0, 12);
    tokens[d.key] = Identity{j.value("scope", ""), "token:" + name, expires, j.value("owner", "")};
  }
  {
    std::unique_lock w(mu_);
    tokens_ = std::move(tokens);
    // Revoking or outliving every token must not open the server: once tokens exist, they
    // are required.
    enabled_.store(!docs->empty());
  }
  loaded_at_ = now;
}

std::optional<Auth::Identity> Auth::Lookup(const std::string& token) {
  Refresh();
  std::shared_lock r(mu_);
  auto it = tokens_.find(TokenDigest(token));
  if (it == tokens_.end()) return std::nullopt;
  // Checked on every use: a token stops at its expiry, not at the next refresh.
  if (it->second.expires > 0 && it->second.expires <= NowMillis()) return std::nullopt;
  return it->second;
}

bool Auth::Enabled() {
  Refresh();
  return enabled_.load() || (users_ && users_->Any());
}

std::optional<http::Response> Auth::CheckBasic(http::Request& req, http::Access access,
                                               std::string_view credentials) {
  auto unauthenticated = [&req](const std::string& why) {
    // MLflow's clients and tests recognise a refusal by the words its server starts with.
    http::Response r = Error(401, "UNAUTHENTICATED", "You are not authenticated: " + why);
    AddChallenge(req, r);
    return r;
  };
  auto decoded = Base64Decode(credentials);
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (!users_ || colon == std::string::npos) {
    return unauthenticated("malformed basic credentials, or this server has no users");
  }
  std::string name = decoded->substr(0, colon);
  Users::Verified v;
  switch (users_->Authenticate(name, decoded->substr(colon + 1), &v)) {
    case Users::Outcome::kOk: break;
    case Users::Outcome::kSlowDown: {
      http::Response r = unauthenticated("too many wrong passwords for '" + name +
                                         "'; retry in 10 seconds");
      r.headers.emplace_back("Retry-After", "10");
      return r;
    }
    case Users::Outcome::kWrong: return unauthenticated("wrong username or password");
  }
  std::string scope = v.is_admin ? "admin" : "user";
  if (!ScopeCovers(scope, access)) {
    return Error(403, "PERMISSION_DENIED",
                 "Permission denied: user '" + name + "' may not " +
                     std::string(http::MethodName(req.method)) +
                     " " + req.path + " (it needs " + std::string(http::AccessName(access)) +
                     " access, which only admins have)");
  }
  req.principal = "user:" + name;
  req.scope = scope;
  return std::nullopt;
}

std::optional<http::Response> Auth::Check(http::Request& req, http::Access access) {
  if (access == http::Access::kPublic) return std::nullopt;
  if (!Enabled()) return std::nullopt;
  std::string_view header = req.Header("authorization");
  if (header.size() > 6 && ToLower(header.substr(0, 6)) == "basic ") {
    return CheckBasic(req, access, header.substr(6));
  }
  std::string_view token;
  std::string cookie;
  bool from_cookie = false;
  if (header.size() > 7 && ToLower(header.substr(0, 7)) == "bearer ") token = header.substr(7);
  if (token.empty()) {
    // The web UI's token travels in an HttpOnly same-site cookie, which browsers also send for
    // images and downloads (they cannot carry an Authorization header).
    cookie = CookieToken(req.Header("cookie"));
    token = cookie;
    from_cookie = !token.empty();
  }
  if (token.empty()) {
    http::Response r = Error(401, "UNAUTHENTICATED",
                             "You are not authenticated. Send a user's name and password "
                             "(MLflow clients: MLFLOW_TRACKING_USERNAME and "
                             "MLFLOW_TRACKING_PASSWORD) or a token ('Authorization: Bearer "
                             "<token>'; MLflow clients: MLFLOW_TRACKING_TOKEN)");
    if (users_ && users_->Any()) AddChallenge(req, r);
    return r;
  }
  Refresh();
  std::optional<Identity> owned;  // copied only for a user's token, checked without the lock
  {
    // The identity is read in place: copying it cost each request its strings.
    std::shared_lock r(mu_);
    auto it = tokens_.find(TokenDigest(token));
    // Checked on every use: a token stops at its expiry, not at the next refresh.
    if (it == tokens_.end() || (it->second.expires > 0 && it->second.expires <= NowMillis())) {
      return Error(401, "UNAUTHENTICATED",
                   "You are not authenticated: unknown, revoked or expired token");
    }
    const Identity& id = it->second;
    if (!ScopeCovers(id.scope, access)) {
      return Error(403, "PERMISSION_DENIED",
                   "Permission denied: a " + id.scope + " token may not " +
                       std::string(http::MethodName(req.method)) + " " + req.path +
                       " (it needs " + std::string(http::AccessName(access)) + " access)");
    }
    if (from_cookie && ChangesState(req.method)) {
      if (auto refused = CheckSameOrigin(req)) return refused;
    }
    req.principal.assign(id.principal);
    req.scope.assign(id.scope);
    if (!id.owner.empty()) owned = id;
  }
  if (owned) return ActAsOwner(req, access, *owned);
  return std::nullopt;
}

std::optional<http::Response> Auth::ActAsOwner(http::Request& req, http::Access access,
                                               const Identity& id) {
  std::optional<bool> admin = users_ ? users_->AdminFlag(id.owner) : std::nullopt;
  if (!admin) {
    return Error(401, "UNAUTHENTICATED",
                 "You are not authenticated: the token's user '" + id.owner +
                     "' no longer exists");
  }
  // A user without admin rights gets that user's permissions on each experiment and model
  // and never more than a user may reach, whatever the token's scope (checked already, it
  // still bounds what the token may do).
  if (!*admin && !ScopeCovers("user", access)) {
    return Error(403, "PERMISSION_DENIED",
                 "Permission denied: a token of user '" + id.owner + "' may not " +
                     std::string(http::MethodName(req.method)) + " " + req.path +
                     " (it needs " + std::string(http::AccessName(access)) +
                     " access, which only admins have)");
  }
  req.principal = "user:" + id.owner;
  if (!*admin) req.scope = "user";
  return std::nullopt;
}

Result<std::string> Auth::Create(const std::string& scope, const std::string& name,
                                 int64_t expires, const std::string& owner) {
  if (expires != 0 && expires <= NowMillis()) {
    return InvalidArgument("the token's expiry is in the past");
  }
  if (scope != "admin" && scope != "write" && scope != "read" && scope != "device") {
    return InvalidArgument("unknown token scope '" + scope +
                           "': expected admin, write, read or device");
  }
  // Tokens are secrets: from the kernel's CSPRNG, never from the id generator, whose state
  // can be rebuilt from the run ids anyone with a read token sees.
  std::string token = "rg_" + NewSecret(24);
  nlohmann::json doc = {{"scope", scope}, {"name", name}, {"created", NowMillis()}};
  if (expires != 0) doc["expires"] = expires;
  if (!owner.empty()) doc["owner"] = owner;
  RETURN_IF_ERROR(store::Wait([&](store::Done done) {
    store_->PutDocument(kTokenKind, Sha256Hex(token), doc.dump(), 0, "",
                        [done](Result<int64_t> r) { done(r.ok() ? Status::Ok() : r.status()); });
  }));
  Invalidate();
  return token;
}

Status Auth::Bootstrap(const std::string& secret) {
  if (secret.size() < 16) {
    return InvalidArgument("RINGO_ADMIN_TOKEN must be at least 16 characters long");
  }
  if (Enabled()) return Status::Ok();
  nlohmann::json doc = {{"scope", "admin"}, {"name", "bootstrap"}, {"created", NowMillis()}};
  RETURN_IF_ERROR(store::Wait([&](store::Done done) {
    store_->PutDocument(kTokenKind, Sha256Hex(secret), doc.dump(), 0, "",
                        [done](Result<int64_t> r) { done(r.ok() ? Status::Ok() : r.status()); });
  }));
  Invalidate();
  return Status::Ok();
}

bool Auth::FirstTokenAllowedFrom(const http::Request& req) {
  if (!req.Header("x-forwarded-for").empty() || !req.Header("forwarded").empty()) return false;
  const std::string& p = req.peer;
  return p.rfind("127.", 0) == 0 || p == "::1" || p.rfind("::ffff:127.", 0) == 0;
}

Result<std::vector<Auth::TokenInfo>> Auth::List() {
  ASSIGN_OR_RETURN(auto docs, store_->ListDocuments(kTokenKind, ""));
  std::vector<TokenInfo> out;
  for (const auto& d : docs) {
    auto j = nlohmann::json::parse(d.value, nullptr, false);
    if (!j.is_object()) continue;
    out.push_back({d.key.substr(0, 12), j.value("name", ""), j.value("scope", ""),
                   j.value("created", int64_t{0}), j.value("expires", int64_t{0}),
                   j.value("revoked", false), j.value("owner", "")});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TokenInfo& a, const TokenInfo& b) { return a.created < b.created; });
  return out;
}

Status Auth::Revoke(const std::string& id) {
  if (id.size() < 8) return InvalidArgument("token id '" + id + "' is too short");
  ASSIGN_OR_RETURN(auto docs, store_->ListDocuments(kTokenKind, id));
  if (docs.empty()) return NotFound("no token with id '" + id + "'");
  if (docs.size() > 1) return InvalidArgument("token id '" + id + "' names more than one token");
  auto j = nlohmann::json::parse(docs[0].value, nullptr, false);
  if (!j.is_object()) return Internal("token '" + id + "' is stored damaged");
  j["revoked"] = true;
  j["revoked_time"] = NowMillis();
  RETURN_IF_ERROR(store::Wait([&](store::Done done) {
    store_->PutDocument(kTokenKind, docs[0].key, j.dump(), docs[0].revision, "",
                        [done](Result<int64_t> r) { done(r.ok() ? Status::Ok() : r.status()); });
  }));
  Invalidate();
  return Status::Ok();
}

}  // namespace ringo::api
