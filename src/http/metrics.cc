// Request counts and latencies by route, in Prometheus's text format.
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
  AppendPrometheusHistogram(out, "ringo_http_request_duration_seconds",
                            "Time from request read to response queued.", kBucketsSeconds,
                            buckets_, sum_seconds_);
  return out;
}

}  // namespace ringo::http
