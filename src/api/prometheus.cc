// Prometheus text for the store's writer and the open connections.
#include "api/prometheus.h"

#include "common/prometheus.h"

namespace ringo::api {

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
  AppendPrometheusHistogram(out, "ringo_store_batch_seconds",
                            "Each batch of the writer, from taking it to its completions.",
                            kLatencyBoundsSeconds, s.batch_seconds.counts,
                            s.batch_seconds.sum_seconds);
  AppendPrometheusHistogram(out, "ringo_store_write_seconds",
                            "Each write, from being queued to its completion after the commit.",
                            kLatencyBoundsSeconds, s.write_seconds.counts,
                            s.write_seconds.sum_seconds);
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
