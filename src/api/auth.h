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

#include "http/http.h"
#include "store/store.h"

namespace ringo::api {

// Once any token exists, every request but /health and the UI's static files needs
// `Authorization: Bearer <token>` (MLflow clients send MLFLOW_TRACKING_TOKEN that way): none or
// an unknown one is 401 UNAUTHENTICATED, a scope that does not cover the request 403
// PERMISSION_DENIED. Scopes: admin (everything), write (everything but token and delivery
// management), read (GET/HEAD and searches), device (the device API only). Tokens are stored
// hashed (sha256) in the store; the set is cached and refreshed every few seconds so replicas
// sharing a store agree. Thread-safe.
class Auth {
 public:
  explicit Auth(store::Store* store) : store_(store) {}

  // The router guard.
  std::optional<http::Response> Check(const http::Request& req);

  // Creates a token and returns it (shown once). kInvalidArgument for an unknown scope.
  Result<std::string> Create(const std::string& scope, const std::string& name);
  // Forgets the cache (after a token is created here).
  void Invalidate() { loaded_at_ = {}; }

 private:
  void Refresh();

  store::Store* store_;
  std::shared_mutex mu_;
  std::map<std::string, std::string> scopes_;  // sha256(token) -> scope
  std::atomic<bool> enabled_{false};
  std::chrono::steady_clock::time_point loaded_at_{};
  std::mutex refresh_mu_;
};

}  // namespace ringo::api

#endif  // RINGO_API_AUTH_H_
