// Request rate limits of the device API (private to api/): token buckets per device and per
// token, so one runaway app (a polling loop, a telemetry flood) cannot starve the fleet.
#ifndef RINGO_API_RATE_LIMIT_H_
#define RINGO_API_RATE_LIMIT_H_

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "api/api.h"
#include "http/http.h"

namespace ringo::api {

// Token buckets by key. Thread-safe; idle full buckets are forgotten, so memory follows the
// number of keys active within a burst's refill time.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(RateLimit limit) : limit_(limit) {}

  bool enabled() const { return limit_.per_second > 0; }
  // Takes one request from `key`'s bucket: nullopt when allowed, else the whole seconds to wait
  // before one will be (at least 1).
  std::optional<int64_t> Take(std::string_view key, Clock::time_point now = Clock::now());
  // Buckets held (for tests).
  size_t Size();

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  // Transparent: a request's key is looked up without a copy.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using Buckets = std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>>;
  struct Shard {
    std::mutex mu;
    Buckets buckets;
    // Nodes of swept buckets, reused for new keys: a fleet's devices come and go from the
    // table all the time, and each would otherwise be a malloc and a free.
    std::vector<Buckets::node_type> spare;
    size_t sweep_at = 1024;
  };
  void Sweep(Shard& shard, Clock::time_point now);

  RateLimit limit_;
  std::array<Shard, 16> shards_;
};

// The device API's limits, applied by the router's guard after the token check: per device
// (the `device_id` query parameter or the X-Ringo-Device-Id header the device SDK sends) and
// per token. A refusal is 429 REQUEST_LIMIT_EXCEEDED with Retry-After.
class DeviceRateLimits {
 public:
  DeviceRateLimits(RateLimit per_device, RateLimit per_token)
      : devices_(per_device), tokens_(per_token) {}
  std::optional<http::Response> Check(const http::Request& req);

 private:
  RateLimiter devices_, tokens_;
};

}  // namespace ringo::api

#endif  // RINGO_API_RATE_LIMIT_H_
