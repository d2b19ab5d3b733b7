// Tests of the delivery service over a real store: telemetry aggregates and promote's errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "artifacts/artifacts.h"
#include "common/util.h"
#include "deploy/deploy.h"
#include "store/sqlite/test_store.h"
#include "store/store.h"

namespace ringo::deploy {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(db_.get(), nullptr) << db_.status().ToString();
    repo_ = std::make_unique<artifacts::LocalRepository>(dir_ / "artifacts");
    ASSERT_TRUE(repo_->Init().ok());
    auto svc = Service::Open(db_.get(), repo_.get(), dir_ / "deploy");
    ASSERT_TRUE(svc.ok()) << svc.status().ToString();
    svc_ = std::move(svc).value();
  }
  void TearDown() override {
    svc_.reset();
    repo_.reset();
  }

  // Posts `n` predictions of digits v1 from `device`, at times t0, t0+1s, ...
  void Predictions(int n, const std::string& device, int64_t t0) {
    for (int done = 0; done < n; done += 1000) {
      json batch = json::array();
      for (int i = done; i < std::min(n, done + 1000); ++i) {
        batch.push_back({{"event", "prediction"},
                         {"model", "digits"},
                         {"version", "1"},
                         {"device_class", device},
                         {"latency_ms", 1 + i % 10},
                         {"time", t0 + i * 1000}});
      }
      ASSERT_TRUE(svc_->RecordTelemetry(batch.dump()).ok());
    }
  }
  void Failure(const std::string& error, int64_t time) {
    json e = {{"event", "failed"}, {"model", "digits"},  {"version", "1"},
              {"device_class", "iPhone15,2"}, {"error", error}, {"time", time}};
    ASSERT_TRUE(svc_->RecordTelemetry(json::array({e}).dump()).ok());
  }
  json Summary(const std::string& device = "") {
    auto s = svc_->TelemetrySummary("digits", "1", device, 40);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? json::parse(*s) : json();
  }

  store::TestStore db_{"ringo-deploy-test-"};
  const fs::path& dir_ = db_.dir();
  std::unique_ptr<artifacts::Repository> repo_;
  std::unique_ptr<Service> svc_;
};

TEST_F(ServiceTest, TelemetrySummaryCountsEveryEventPastTenThousand) {
  const int64_t t0 = 1'700'000'000'000;
  Predictions(12'000, "iPhone15,2", t0);
  Predictions(3'478, "iPad13,4", t0);
  // Posted after all of them: must be counted and shown.
  Failure("compile: out of memory", t0 + 20'000'000);
  json s = Summary();
  EXPECT_EQ(s["total"], 15'479);
  EXPECT_EQ(s["device_classes"], json::array({"iPad13,4", "iPhone15,2"}));
  ASSERT_EQ(s["devices"].size(), 2u);
  EXPECT_EQ(s["devices"][1]["device_class"], "iPhone15,2");
  EXPECT_EQ(s["devices"][1]["counts"]["prediction"], 12'000);
  EXPECT_EQ(s["devices"][1]["counts"]["failed"], 1);
  EXPECT_EQ(s["devices"][0]["counts"]["prediction"], 3'478);
  EXPECT_EQ(s["devices"][1]["p50_latency_ms"], 6);
  ASSERT_EQ(s["latest_failures"].size(), 1u);
  EXPECT_EQ(s["latest_failures"][0]["error"], "compile: out of memory");
  EXPECT_EQ(s["last_time"], t0 + 20'000'000);
  // The buckets hold every event too.
  int64_t in_buckets = 0;
  for (const auto& [kind, counts] : s["buckets"]["counts"].items()) {
    for (const auto& c : counts) in_buckets += c.get<int64_t>();
  }
  EXPECT_EQ(in_buckets, 15'479);
  EXPECT_LE(s["buckets"]["start"].size(), 40u);
}

TEST_F(ServiceTest, TelemetrySummaryFiltersByDeviceClass) {
  Predictions(10, "iPhone15,2", 1'000);
  Predictions(5, "iPad13,4", 1'000);
  json s = Summary("iPad13,4");
  EXPECT_EQ(s["total"], 5);
  ASSERT_EQ(s["devices"].size(), 1u);
  EXPECT_EQ(s["devices"][0]["device_class"], "iPad13,4");
  EXPECT_EQ(s["device_classes"].size(), 2u) << "the chips list every device class";
}

TEST_F(ServiceTest, LatestFailuresAreOrderedByEventTimeNewestFirst) {
  // Arrival order differs from event order: a device reports an old failure late.
  Failure("second", 2'000);
  Failure("third", 3'000);
  Failure("first, reported last", 1'000);
  for (int i = 0; i < 25; ++i) Failure("old " + std::to_string(i), 100 + i);
  json s = Summary();
  ASSERT_EQ(s["latest_failures"].size(), 20u);
  EXPECT_EQ(s["latest_failures"][0]["error"], "third");
  EXPECT_EQ(s["latest_failures"][1]["error"], "second");
  EXPECT_EQ(s["latest_failures"][2]["error"], "first, reported last");
  EXPECT_EQ(s["latest_failures"][3]["error"], "old 24");
  EXPECT_EQ(s["devices"][0]["counts"]["failed"], 28);
}

TEST_F(ServiceTest, TelemetrySummaryOfNoEventsIsEmpty) {
  json s = Summary();
  EXPECT_EQ(s["total"], 0);
  EXPECT_TRUE(s["devices"].empty());
  EXPECT_TRUE(s["latest_failures"].empty());
  EXPECT_EQ(svc_->TelemetrySummary("digits", "1", "", 0).status().code(), Code::kInvalidArgument);
}

TEST_F(ServiceTest, TelemetrySummaryCountsOnlyTheTimeRange) {
  Predictions(10, "iPhone15,2", 0);  // at 0 s .. 9 s
  Failure("late", 20'000);
  auto s = svc_->TelemetrySummary("digits", "1", "", 40, 5'000, 20'000);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  json j = json::parse(*s);
  EXPECT_EQ(j["total"], 6) << "5 s .. 9 s and the failure";
  EXPECT_EQ(j["first_time"], 5'000);
  EXPECT_EQ(j["devices"][0]["counts"]["prediction"], 5);
  j = json::parse(*svc_->TelemetrySummary("digits", "1", "", 40, 30'000, 40'000));
  EXPECT_EQ(j["total"], 0);
  EXPECT_EQ(j["device_classes"], json::array({"iPhone15,2"})) << "listed whatever the range";
  EXPECT_TRUE(j["failure_rate"].is_null());
  EXPECT_EQ(svc_->TelemetrySummary("digits", "1", "", 40, 2, 1).status().code(),
            Code::kInvalidArgument);
}

TEST_F(ServiceTest, TelemetrySummaryBreaksDownByOsAndAppVersionWithFailureRates) {
  json batch = json::array();
  auto event = [&](const char* kind, const char* os, const char* app, bool error) {
    json e = {{"event", kind}, {"model", "digits"}, {"version", "1"}, {"time", 1'000}};
    if (*os) e["os_version"] = os;
    if (*app) e["app_version"] = app;
    if (error) e["error"] = "bad input";
    batch.push_back(e);
  };
  for (int i = 0; i < 3; ++i) event("prediction", "17.4", "2.0", false);
  event("prediction", "17.4", "2.0", true);
  event("failed", "18.0", "2.1", false);
  event("loaded", "18.0", "2.1", false);
  event("downloaded", "", "", false);
  ASSERT_TRUE(svc_->RecordTelemetry(batch.dump()).ok());
  json s = Summary();
  EXPECT_DOUBLE_EQ(s["failure_rate"].get<double>(), 2.0 / 6.0);
  ASSERT_EQ(s["os_versions"].size(), 3u);
  EXPECT_EQ(s["os_versions"][0]["os_version"], "17.4");
  EXPECT_EQ(s["os_versions"][0]["counts"]["prediction"], 4);
  EXPECT_DOUBLE_EQ(s["os_versions"][0]["failure_rate"].get<double>(), 0.25);
  EXPECT_EQ(s["os_versions"][1]["os_version"], "18.0");
  EXPECT_DOUBLE_EQ(s["os_versions"][1]["failure_rate"].get<double>(), 0.5);
  EXPECT_EQ(s["os_versions"][2]["os_version"], "unknown");
  EXPECT_TRUE(s["os_versions"][2]["failure_rate"].is_null()) << "a download is no attempt";
  ASSERT_EQ(s["app_versions"].size(), 3u);
  EXPECT_EQ(s["app_versions"][1]["app_version"], "2.1");
  EXPECT_EQ(s["app_versions"][1]["counts"]["failed"], 1);
  EXPECT_DOUBLE_EQ(s["devices"][0]["failure_rate"].get<double>(), 2.0 / 6.0);
}

TEST_F(ServiceTest, TelemetryPagesThroughEveryEvent) {
  Predictions(2'500, "iPhone15,2", 0);
  int64_t after = 0;
  size_t seen = 0;
  for (;;) {
    auto page = svc_->Telemetry("digits", "1", after, 1000);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    seen += page->size();
    after = page->back().seq;
  }
  EXPECT_EQ(seen, 2'500u);
}

TEST_F(ServiceTest, PromoteToAnUnknownCollectionNamesTheCollection) {
  auto r = svc_->Promote("no-such-app", "release", "dep-0123", 100, "", "test", false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("collection 'no-such-app'"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace ringo::deploy
