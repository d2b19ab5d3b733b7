// Tests of the Prometheus text: every sample has its TYPE line and the values are the inputs.
#include "api/prometheus.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ringo::api {
namespace {

TEST(PrometheusTest, StoreFiguresWithTypeLines) {
  store::StoreStats s;
  s.write_queue_depth = 3;
  s.commits = 10;
  s.writes_committed = 42;
  s.writes_failed = 1;
  std::string text = StoreMetricsText(s);
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
      EXPECT_NE(typed.find(family + ";"), std::string::npos) << line;
    }
  }
  EXPECT_NE(OpenConnectionsText(7, 2).find("ringo_http_open_connections 7\n"), std::string::npos);
  EXPECT_NE(OpenConnectionsText(7, 2).find("ringo_http_io_threads 2\n"), std::string::npos);
}

}  // namespace
}  // namespace ringo::api
