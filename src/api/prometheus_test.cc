// Tests of the Prometheus text: every sample has its TYPE line and the values are the inputs.
#include "api/prometheus.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string_view>

namespace ringo::api {
namespace {

TEST(PrometheusTest, StoreFiguresWithTypeLines) {
  store::StoreStats s;
  s.write_queue_depth = 3;
  s.commits = 10;
  s.writes_committed = 42;
  s.writes_failed = 1;
  s.write_seconds.counts[0] = 5;  // <= 0.5 ms
  s.write_seconds.counts[2] = 2;  // <= 2.5 ms
  s.write_seconds.counts.back() = 1;
  s.write_seconds.sum_seconds = 3.25;
  s.wal_bytes = 4096;
  std::string text = StoreMetricsText(s);
  // Buckets are cumulative and end at +Inf with the count.
  EXPECT_NE(text.find("ringo_store_write_seconds_bucket{le=\"0.0005\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_write_seconds_bucket{le=\"0.001\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_write_seconds_bucket{le=\"0.0025\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_write_seconds_bucket{le=\"2.5\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_write_seconds_bucket{le=\"+Inf\"} 8\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_write_seconds_count 8\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_write_seconds_sum 3.250000\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_batch_seconds_count 0\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_wal_bytes 4096\n"), std::string::npos);
  s.wal_bytes = -1;
  EXPECT_EQ(StoreMetricsText(s).find("ringo_store_wal_bytes"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_write_queue_depth 3\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_commits_total 10\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_writes_total{result=\"committed\"} 42\n"), std::string::npos);
  EXPECT_NE(text.find("ringo_store_writes_total{result=\"failed\"} 1\n"), std::string::npos);
  // Each metric family is typed before its first sample.
  std::istringstream lines(text + OpenConnectionsText(7, 2));
  std::string line, typed;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      typed += line.substr(7, line.find(' ', 7) - 7) + ";";
    } else if (line[0] != '#') {
      std::string family = line.substr(0, line.find_first_of("{ "));
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string_view f(family), x(suffix);
        if (f.size() > x.size() && f.substr(f.size() - x.size()) == x) {
          family.resize(f.size() - x.size());
        }
      }
      EXPECT_NE(typed.find(family + ";"), std::string::npos) << line;
    }
  }
  EXPECT_NE(OpenConnectionsText(7, 2).find("ringo_http_open_connections 7\n"), std::string::npos);
  EXPECT_NE(OpenConnectionsText(7, 2).find("ringo_http_io_threads 2\n"), std::string::npos);
}

}  // namespace
}  // namespace ringo::api
