// Bearer tokens with scopes (admin, write, read, device) guarding the HTTP API (private to api/).
#ifndef RINGO_API_AUTH_H_
#define RINGO_API_AUTH_H_

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "http/http.h"
#include "store/store.h"

namespace ringo::api {

// Refuses (403) a state-changing request authenticated by the UI's cookie unless it is
// `Content-Type: application/json` and its Origin is this server (the Host it was sent to).
std::optional<http::Response> CheckSameOrigin(const http::Request& req);
// The token of the UI's `ringo_token` cookie in a Cookie header, or empty.
std::string CookieToken(std::string_view cookies);

// Once any token exists, every route but the public ones (health, the UI's static files, the
// UI's sign-in) needs `Authorization: Bearer <token>` (MLflow clients send
// MLFLOW_TRACKING_TOKEN that way) or the UI's `ringo_token` cookie: none or an unknown one is
// 401 UNAUTHENTICATED, a scope that does not cover the route's stated access 403
// PERMISSION_DENIED. Scopes: admin (every access), write (read and write), read (read), device
// (device). Cookie-authenticated requests that change state must also pass CheckSameOrigin.
// Tokens are stored hashed (sha256) in the store; the set is cached and refreshed every few
// seconds so replicas sharing a store agree. Thread-safe.
class Auth {
 public:
  explicit Auth(store::Store* store) : store_(store) {}
  // Users (MLflow's basic auth): `Authorization: Basic` is checked against them, and once one
  // exists the server requires credentials. Call before serving.
  void AttachUsers(class Users* users) { users_ = users; }

  // Who a token is: its scope and the name recorded as the actor of what it does.
  struct Identity {
    std::string scope;
    std::string principal;  // "token:<name>"
    int64_t expires = 0;     // ms since the epoch; 0: never
    std::string owner;       // the user it acts for; "" for a token of no user
  };

  // The router guard: nullopt to let the request through (Request::principal set when a token
  // was checked), else the refusal to send.
  std::optional<http::Response> Check(http::Request& req, http::Access access);

  // The identity of a token; nullopt when unknown, revoked or expired.
  std::optional<Identity> Lookup(const std::string& token);
  // True once any token exists (the server then requires them).
  bool Enabled();

  // Creates a token and returns it (shown once). `expires` (ms since the epoch, 0: never) ends
  // it. A token owned by a user acts as that user: within its scope, with the user's
  // permissions when the user is not an admin, and not at all once the user is deleted.
  // kInvalidArgument for an unknown scope or an expiry in the past.
  Result<std::string> Create(const std::string& scope, const std::string& name,
                             int64_t expires = 0, const std::string& owner = "");
  // The bootstrap of a server without tokens: an admin token named "bootstrap" whose secret is
  // `secret` (at least 16 characters). Does nothing when any token exists already.
  // kInvalidArgument for a short secret.
  Status Bootstrap(const std::string& secret);
  // Whether an anonymous request may create this server's first token: only from the server's
  // own machine (a loopback peer, not relayed by a proxy), so whoever reaches a fresh server
  // over the network cannot lock its owner out.
  static bool FirstTokenAllowedFrom(const http::Request& req);

  // A token as listed: never the secret, only the start of its hash as its id.
  struct TokenInfo {
    std::string id;  // first 12 hex digits of sha256(token)
    std::string name;
    std::string scope;
    int64_t created = 0;
    int64_t expires = 0;  // 0: never
    bool revoked = false;
    std::string owner;
  };
  // Every token ever created, revoked and expired ones included, oldest first.
  Result<std::vector<TokenInfo>> List();
  // Revokes the token whose id (as List gives it) is `id`: from now on it gets 401 (other
  // replicas within the refresh interval). kNotFound for an unknown id, kInvalidArgument for an
  // id that names more than one token.
  Status Revoke(const std::string& id);
  // Forgets the cache (after a token is created here).
  void Invalidate() { loaded_at_ = {}; }

 private:
  void Refresh();
  std::optional<http::Response> CheckBasic(http::Request& req, http::Access access,
                                           std::string_view credentials);
  // Sets who a token owned by a user acts as; the refusal when that user is gone.
  std::optional<http::Response> ActAsOwner(http::Request& req, http::Access access,
                                           const Identity& id);

  store::Store* store_;
  class Users* users_ = nullptr;
  std::shared_mutex mu_;
  // sha256(token) -> identity; transparent, so a digest is looked up where it lies
  std::map<std::string, Identity, std::less<>> tokens_;
  std::atomic<bool> enabled_{false};
  std::chrono::steady_clock::time_point loaded_at_{};
  std::mutex refresh_mu_;
};

}  // namespace ringo::api

#endif  // RINGO_API_AUTH_H_
