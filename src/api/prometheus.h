// Prometheus text exposition of the server's own gauges and counters (private to api/).
#ifndef RINGO_API_PROMETHEUS_H_
#define RINGO_API_PROMETHEUS_H_

#include <cstdint>
#include <string>

#include "store/store.h"

namespace ringo::api {

// The store's writer figures: ringo_store_write_queue_depth (gauge), ringo_store_commits_total
// and ringo_store_writes_total{result="committed"|"failed"} (counters), the histograms
// ringo_store_batch_seconds and ringo_store_write_seconds, and ringo_store_wal_bytes where the
// engine has a write-ahead log; with HELP and TYPE lines.
std::string StoreMetricsText(const store::StoreStats& stats);

// ringo_http_open_connections and ringo_http_io_threads (gauges).
std::string OpenConnectionsText(int64_t open, int threads);

}  // namespace ringo::api

#endif  // RINGO_API_PROMETHEUS_H_
