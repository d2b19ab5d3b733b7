// Request counts and latencies by route, in Prometheus's text format.
#include <cstdio>
#include <iterator>
#include <mutex>

#include "http/http.h"

namespace ringo::http {

void Metrics::Record(std::string_view route, Method method, unsigned status, double seconds) {
  std::lock_guard lock(mu_);
  // Found without building a key: after a route's first answer, no allocation.
  auto key = std::make_tuple(route, MethodName(method), status);
  auto it = counts_.find(key);
  if (it == counts_.end()) {
    it = counts_.emplace(std::make_tuple(std::string(route), std::string(MethodName(method)),
                                         status), 0).first;
  }
  ++it->second;
  size_t b = 0;
  while (b < std::size(kBucketsSeconds) && seconds > kBucketsSeconds[b]) ++b;
  ++buckets_[b];
  sum_seconds_ += seconds;
  ++observations_;
}

std::string Metrics::PrometheusText() const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP ringo_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE ringo_http_requests_total counter\n";
  for (const auto& [key, n] : counts_) {
    const auto& [route, method, status] = key;
    out += "ringo_http_requests_total{route=\"" + route + "\",method=\"" + method + "\",status=\"" +
           std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP ringo_http_request_duration_seconds Time from request read to response queued.\n";
  out += "# TYPE ringo_http_request_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(kBucketsSeconds); ++i) {
    cumulative += buckets_[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBucketsSeconds[i]);
    out += std::string("ringo_http_request_duration_seconds_bucket{le=\"") + le + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[std::size(kBucketsSeconds)];
  out += "ringo_http_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) +
         "\n";
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", sum_seconds_);
  out += std::string("ringo_http_request_duration_seconds_sum ") + sum + "\n";
  out += "ringo_http_request_duration_seconds_count " + std::to_string(observations_) + "\n";
  return out;
}

}  // namespace ringo::http
