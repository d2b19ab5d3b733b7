// Tests of the audit log over a real store: what is recorded, coalescing, listing and filters.
#include "api/audit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/util.h"
#include "store/sqlite/test_store.h"

namespace ringo::api {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using http::Access;
using http::Method;

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(db_.get(), nullptr) << db_.status().ToString();
    log_ = std::make_unique<AuditLog>(db_.get(), 60'000);
  }
  void TearDown() override { log_.reset(); }

  static http::Request Req(Method m, std::string path, std::string body, std::string who) {
    http::Request r;
    r.method = m;
    r.path = std::move(path);
    r.body = std::move(body);
    r.principal = std::move(who);
    r.peer = "192.0.2.7";
    return r;
  }
  // `route` must outlive the match, as a router's patterns do: the tests pass literals.
  static http::Router::Match Route(std::string_view route, Access access) {
    http::Router::Match m;
    m.route = route;
    m.access = access;
    return m;
  }
  json List(AuditLog::Query q = {}) {
    log_->Flush(true);
    auto r = log_->List(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? json::parse(*r)["entries"] : json::array();
  }

  store::TestStore db_{"ringo-audit-test-"};
  const fs::path& dir_ = db_.dir();
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditTest, ChangesAreRecordedReadsAreNot) {
  EXPECT_TRUE(AuditLog::Recorded(Method::kPost, Access::kWrite));
  EXPECT_TRUE(AuditLog::Recorded(Method::kDelete, Access::kAdmin));
  EXPECT_TRUE(AuditLog::Recorded(Method::kPost, Access::kPublic));  // signing in
  EXPECT_TRUE(AuditLog::Recorded(Method::kPost, Access::kDevice));  // telemetry
  EXPECT_FALSE(AuditLog::Recorded(Method::kGet, Access::kAdmin));
  EXPECT_FALSE(AuditLog::Recorded(Method::kHead, Access::kRead));
  EXPECT_FALSE(AuditLog::Recorded(Method::kPost, Access::kRead));  // runs/search
}

TEST_F(AuditTest, TargetNamesWhatARequestIsAbout) {
  auto r = Req(Method::kPost, "/p", R"({"run_id": "abc", "key":"loss","value":1.5,"step": 3})", "");
  EXPECT_EQ(AuditLog::Target(r), "run_id=abc key=loss");
  r = Req(Method::kPost, "/p", R"({"name":"digits","version":"3","stage":"Production"})", "");
  EXPECT_EQ(AuditLog::Target(r), "name=digits version=3");
  r = Req(Method::kDelete, "/p", "", "");
  r.query = "collection=app&channel=release&x=1";
  EXPECT_EQ(AuditLog::Target(r), "collection=app channel=release");
  r = Req(Method::kPost, "/p", "name=not-json", "");
  EXPECT_EQ(AuditLog::Target(r), "");
  r = Req(Method::kPost, "/p", R"({"name":"a\"b", "experiment_id": 12})", "");
  EXPECT_EQ(AuditLog::Target(r), "experiment_id=12 name=a\\\"b");
  r = Req(Method::kPost, "/p", R"({"name":)", "");  // cut short: nothing, no crash
  EXPECT_EQ(AuditLog::Target(r), "");
  r = Req(Method::kPost, "/p", R"({"name":"a\\"})", "");  // an escaped backslash ends the string
  EXPECT_EQ(AuditLog::Target(r), "name=a\\\\");
  r = Req(Method::kPost, "/p", R"({"name":"ab)", "");  // a value cut short: what there is
  EXPECT_EQ(AuditLog::Target(r), "name=ab");
}

TEST_F(AuditTest, TargetReadsMemberNamesNotValues) {
  // A key's name appearing as a value, or in a value, is not the member.
  auto r = Req(Method::kPost, "/p", R"({"name":"key", "note":"\"run_id\": 7", "key" : "loss"})",
               "");
  EXPECT_EQ(AuditLog::Target(r), "name=key key=loss");
  r = Req(Method::kPost, "/p", R"({"key":"first","key":"second"})", "");  // the first one counts
  EXPECT_EQ(AuditLog::Target(r), "key=first");
  r = Req(Method::kPost, "/p", "{\"run_id\":\"" + std::string(300, 'r') + "\"}", "");
  EXPECT_EQ(AuditLog::Target(r), "run_id=" + std::string(200, 'r'));  // values are cut
  r = Req(Method::kPost, "/p", R"({"name":"body"})", "");
  r.query = "name=query";  // the query wins over the body
  EXPECT_EQ(AuditLog::Target(r), "name=query");
}

TEST_F(AuditTest, IdenticalChangesAreCountedNewestFirstAndFiltered) {
  auto metric = Route("/api/2.0/mlflow/runs/log-metric", Access::kWrite);
  for (int i = 0; i < 500; ++i) {
    log_->Observe(Req(Method::kPost, "/api/2.0/mlflow/runs/log-metric",
                      R"({"run_id":"r1","key":"loss","value":1})", "token:ci"),
                  metric, 200);
  }
  log_->Observe(Req(Method::kPost, "/api/2.0/mlflow/runs/log-metric",
                    R"({"run_id":"r1","key":"loss","value":"x"})", "token:ci"),
                metric, 400);
  log_->Observe(Req(Method::kGet, "/api/2.0/mlflow/runs/get", "", "token:ci"),
                Route("/api/2.0/mlflow/runs/get", Access::kRead), 200);
  log_->Observe(Req(Method::kPost, "/nope", "", ""), Route("", Access::kWrite), 404);
  log_->Flush(true);
  log_->Observe(Req(Method::kPost, "/api/ringo/v1/channels/rollback",
                    R"({"collection":"app","channel":"release"})", "token:alice"),
                Route("/api/ringo/v1/channels/rollback", Access::kAdmin), 200);
  json all = List();
  // Three kinds of change; the background flush may have cut the first into two entries.
  ASSERT_GE(all.size(), 3u) << all.dump(2);
  ASSERT_LE(all.size(), 4u) << all.dump(2);
  EXPECT_EQ(all[0]["actor"], "token:alice");  // newest first
  EXPECT_EQ(all[0]["target"], "collection=app channel=release");
  EXPECT_EQ(all[0]["origin"], "192.0.2.7");
  int ok_count = 0, bad_count = 0;
  for (const json& e : all) {
    if (e["status"] == 200 && e["actor"] == "token:ci") ok_count += e["count"].get<int>();
    if (e["status"] == 400) bad_count += e["count"].get<int>();
  }
  EXPECT_EQ(ok_count, 500);
  EXPECT_EQ(bad_count, 1);
  EXPECT_EQ(List({.actor = "token:alice"}).size(), 1u);
  EXPECT_EQ(List({.route = "log-metric"}).size(), all.size() - 1);
  EXPECT_EQ(List({.limit = 1}).size(), 1u);
  EXPECT_EQ(List({.since = 1, .until = 2}).size(), 0u);
  EXPECT_FALSE(log_->List({.since = 5, .until = 4}).ok());
  EXPECT_FALSE(log_->List({.since = 1, .until = NowMillis()}).ok());  // more than a year
  EXPECT_FALSE(log_->List({.limit = 0}).ok());
}

TEST_F(AuditTest, BytesThatAreNotUtf8AreReplaced) {
  log_->Observe(Req(Method::kPost, "/api/2.0/mlflow/runs/\xff", "{\"name\":\"\xfe\"}", ""),
                Route("/api/2.0/mlflow/runs/*", Access::kWrite), 404);
  json all = List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["path"], "/api/2.0/mlflow/runs/\xef\xbf\xbd");
  EXPECT_EQ(all[0]["target"], "name=\xef\xbf\xbd");
}

// The periodic flush may have taken the buffer and not yet committed it when a caller flushes
// and waits: the caller must still find every change observed before its call.
TEST_F(AuditTest, AWaitingFlushWaitsForTheFlushUnderWay) {
  log_ = std::make_unique<AuditLog>(db_.get(), 1);
  size_t observed = 0;
  for (int round = 0; round < 20; ++round) {
    // Enough entries that committing them takes a while, and time for the flusher to take them.
    for (int i = 0; i < 500; ++i, ++observed) {
      std::string path = "/api/2.0/mlflow/runs/" + std::to_string(observed);
      log_->Observe(Req(Method::kPost, path, "{}", ""),
                    Route("/api/2.0/mlflow/runs/*", Access::kWrite), 200);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(1500));
    AuditLog::Query q;
    q.limit = 10000;
    ASSERT_EQ(List(q).size(), observed) << "round " << round;
  }
}

TEST_F(AuditTest, WhatIsBufferedSurvivesAStop) {
  log_->Observe(Req(Method::kPost, "/api/ringo/v1/tokens", "{}", ""),
                Route("/api/ringo/v1/tokens", Access::kAdmin), 200);
  log_->Stop();
  AuditLog again(db_.get());
  auto r = again.List({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(*r)["entries"].size(), 1u);
}

}  // namespace
}  // namespace ringo::api
