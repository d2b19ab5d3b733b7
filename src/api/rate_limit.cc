// Token buckets for the device API's rate limits.
#include "api/rate_limit.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

namespace ringo::api {

namespace {

Result<double> ParseRate(std::string_view text, std::string_view what) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < 0) {
    return InvalidArgument("bad rate limit " + std::string(what) + " '" + std::string(text) +
                           "': expected a number of requests per second >= 0");
  }
  return v;
}

// The raw value of query parameter `name` (not decoded: it only keys a bucket).
std::string_view QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

http::Response TooMany(std::string_view who, int64_t retry_after) {
  http::Response r = http::JsonError(
      429, "REQUEST_LIMIT_EXCEEDED",
      "too many requests from this " + std::string(who) + "; retry after " +
          std::to_string(retry_after) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return r;
}

}  // namespace

Result<RateLimit> ParseRateLimit(std::string_view text) {
  size_t colon = text.find(':');
  RateLimit out;
  ASSIGN_OR_RETURN(out.per_second, ParseRate(text.substr(0, colon), "rate"));
  if (colon != std::string_view::npos) {
    ASSIGN_OR_RETURN(out.burst, ParseRate(text.substr(colon + 1), "burst"));
    if (out.per_second > 0 && out.burst < 1) {
      return InvalidArgument("bad rate limit '" + std::string(text) + "': the burst must be >= 1");
    }
  } else {
    out.burst = std::max(1.0, out.per_second * 5);
  }
  return out;
}

std::optional<int64_t> RateLimiter::Take(std::string_view key, Clock::time_point now) {
  if (!enabled()) return std::nullopt;
  Shard& shard = shards_[std::hash<std::string_view>()(key) % shards_.size()];
  std::lock_guard lock(shard.mu);
  auto it = shard.buckets.find(key);
  bool fresh = it == shard.buckets.end();
  if (fresh && !shard.spare.empty()) {
    Buckets::node_type node = std::move(shard.spare.back());
    shard.spare.pop_back();
    node.key().assign(key);
    node.mapped() = Bucket{};
    it = shard.buckets.insert(std::move(node)).position;
  } else if (fresh) {
    it = shard.buckets.emplace(std::string(key), Bucket{}).first;
  }
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = limit_.burst;
  } else {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(limit_.burst, b.tokens + std::max(0.0, elapsed) * limit_.per_second);
  }
  b.updated = now;
  if (fresh && shard.buckets.size() >= shard.sweep_at) Sweep(shard, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::nullopt;
  }
  double wait = (1 - b.tokens) / limit_.per_second;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait)));
}

// Drops buckets that have refilled completely: they hold nothing a new bucket would not.
void RateLimiter::Sweep(Shard& shard, Clock::time_point now) {
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
    bool full = it->second.tokens + elapsed * limit_.per_second >= limit_.burst;
    if (!full || elapsed <= 0) {
      ++it;
      continue;
    }
    auto next = std::next(it);
    Buckets::node_type node = shard.buckets.extract(it);
    if (shard.spare.size() < 1024) shard.spare.push_back(std::move(node));
    it = next;
  }
  shard.sweep_at = std::max<size_t>(1024, shard.buckets.size() * 2);
}

size_t RateLimiter::Size() {
  size_t n = 0;
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

std::optional<http::Response> DeviceRateLimits::Check(const http::Request& req) {
  std::string_view device = req.Header("x-ringo-device-id");
  if (device.empty()) device = QueryValue(req.query, "device_id");
  if (!device.empty()) {
    if (auto wait = devices_.Take(device.substr(0, 256))) return TooMany("device", *wait);
  }
  if (!req.principal.empty()) {
    if (auto wait = tokens_.Take(req.principal)) return TooMany("token", *wait);
  }
  return std::nullopt;
}

}  // namespace ringo::api
