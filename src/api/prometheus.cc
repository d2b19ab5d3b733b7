// Prometheus text for the store's writer and the open connections.
#include "api/prometheus.h"

#include <cstdio>
#include <iterator>

namespace ringo::api {

namespace {

void AppendHistogram(std::string& out, const std::string& name, const std::string& help,
                     const store::LatencyHistogram& h) {
  out += "# HELP " + name + " " + help + "\n";
  out += "# TYPE " + name + " histogram\n";
  int64_t cumulative = 0;
  char bound[32];
  for (size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    if (i < std::size(store::LatencyHistogram::kBounds)) {
      std::snprintf(bound, sizeof bound, "%g", store::LatencyHistogram::kBounds[i]);
    } else {
      std::snprintf(bound, sizeof bound, "+Inf");
    }
    out += name + "_bucket{le=\"" + bound + "\"} " + std::to_string(cumulative) + "\n";
  }
  std::snprintf(bound, sizeof bound, "%.6f", h.sum_seconds);
  out += name + "_sum " + bound + "\n";
  out += name + "_count " + std::to_string(cumulative) + "\n";
}

}  // namespace

std::string StoreMetricsText(const store::StoreStats& s) {
  std::string out;
  out += "# HELP ringo_store_write_queue_depth Writes waiting for the writer thread.\n";
  out += "# TYPE ringo_store_write_queue_depth gauge\n";
  out += "ringo_store_write_queue_depth " + std::to_string(s.write_queue_depth) + "\n";
  out += "# HELP ringo_store_commits_total Transactions committed by the writer.\n";
  out += "# TYPE ringo_store_commits_total counter\n";
  out += "ringo_store_commits_total " + std::to_string(s.commits) + "\n";
  out += "# HELP ringo_store_writes_total Writes by outcome.\n";
  out += "# TYPE ringo_store_writes_total counter\n";
  out += "ringo_store_writes_total{result=\"committed\"} " + std::to_string(s.writes_committed) +
         "\n";
  out += "ringo_store_writes_total{result=\"failed\"} " + std::to_string(s.writes_failed) + "\n";
  AppendHistogram(out, "ringo_store_batch_seconds",
                  "Each batch of the writer, from taking it to its completions.", s.batch_seconds);
  AppendHistogram(out, "ringo_store_write_seconds",
                  "Each write, from being queued to its completion after the commit.",
                  s.write_seconds);
  if (s.wal_bytes >= 0) {
    out += "# HELP ringo_store_wal_bytes Size of the SQLite write-ahead log.\n";
    out += "# TYPE ringo_store_wal_bytes gauge\n";
    out += "ringo_store_wal_bytes " + std::to_string(s.wal_bytes) + "\n";
  }
  return out;
}

std::string OpenConnectionsText(int64_t open, int threads) {
  return "# HELP ringo_http_open_connections Connections open now.\n"
         "# TYPE ringo_http_open_connections gauge\n"
         "ringo_http_open_connections " +
         std::to_string(open) +
         "\n"
         "# HELP ringo_http_io_threads I/O threads serving (chosen from the usable CPUs).\n"
         "# TYPE ringo_http_io_threads gauge\n"
         "ringo_http_io_threads " +
         std::to_string(threads) + "\n";
}

}  // namespace ringo::api
