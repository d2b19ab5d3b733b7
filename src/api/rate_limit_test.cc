// Tests of the device API's rate limits: parsing, buckets over a fake clock, keys, forgetting.
#include "api/rate_limit.h"

#include <gtest/gtest.h>

namespace ringo::api {
namespace {

using std::chrono::milliseconds;
using Clock = RateLimiter::Clock;

TEST(RateLimitTest, ParsesRateAndBurst) {
  auto l = ParseRateLimit("20:100");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->per_second, 20);
  EXPECT_EQ(l->burst, 100);
  l = ParseRateLimit("0.5");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->burst, 2.5);  // five seconds of the rate
  l = ParseRateLimit("0.1");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->burst, 1);
  ASSERT_TRUE(ParseRateLimit("0").ok());
  EXPECT_FALSE(RateLimiter(*ParseRateLimit("0")).enabled());
  for (const char* bad : {"", "x", "-1", "5:", "5:0.5", "5:x", "inf", "nan", "1e999", "5:-2"}) {
    auto r = ParseRateLimit(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("rate limit"), std::string::npos) << bad;
    }
  }
}

TEST(RateLimitTest, BurstThenTheSustainedRate) {
  RateLimiter limiter({.per_second = 2, .burst = 4});
  Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(limiter.Take("d1", t0)) << i;
  auto wait = limiter.Take("d1", t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 1);
  // Another key has its own bucket.
  EXPECT_FALSE(limiter.Take("d2", t0));
  // Half a second refills one request at 2/s.
  EXPECT_FALSE(limiter.Take("d1", t0 + milliseconds(500)));
  EXPECT_TRUE(limiter.Take("d1", t0 + milliseconds(500)));
  // A long pause refills to the burst, not beyond.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(limiter.Take("d1", t0 + milliseconds(60000))) << i;
  EXPECT_TRUE(limiter.Take("d1", t0 + milliseconds(60000)));
}

TEST(RateLimitTest, SlowRatesWaitWholeSeconds) {
  RateLimiter limiter({.per_second = 0.1, .burst = 1});
  Clock::time_point t0 = Clock::now();
  EXPECT_FALSE(limiter.Take("d", t0));
  auto wait = limiter.Take("d", t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 10);
}

TEST(RateLimitTest, IdleBucketsAreForgotten) {
  RateLimiter limiter({.per_second = 10, .burst = 10});
  Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 20000; ++i) limiter.Take("device-" + std::to_string(i), t0);
  size_t busy = limiter.Size();
  EXPECT_GE(busy, 20000u);
  // A second later every one of them has refilled; new devices sweep them away.
  Clock::time_point t1 = t0 + milliseconds(2000);
  for (int i = 0; i < 20000; ++i) limiter.Take("later-" + std::to_string(i), t1);
  EXPECT_LT(limiter.Size(), busy + 20000 / 2);
}

http::Request DeviceRequest(std::string query, std::string principal) {
  http::Request r;
  r.query = std::move(query);
  r.principal = std::move(principal);
  return r;
}

TEST(RateLimitTest, DeviceLimitsKeyByDeviceAndByToken) {
  DeviceRateLimits limits({.per_second = 1, .burst = 2}, {.per_second = 1, .burst = 5});
  EXPECT_FALSE(limits.Check(DeviceRequest("collection=x&device_id=a", "")));
  EXPECT_FALSE(limits.Check(DeviceRequest("device_id=a&wait=30", "")));
  auto refused = limits.Check(DeviceRequest("device_id=a", ""));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429u);
  EXPECT_NE(refused->body.find("REQUEST_LIMIT_EXCEEDED"), std::string::npos);
  bool retry_after = false;
  for (const auto& [k, v] : refused->headers) retry_after |= k == "Retry-After" && v == "1";
  EXPECT_TRUE(retry_after);
  // `xdevice_id` is another parameter; without a device id only the token's limit applies.
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(limits.Check(DeviceRequest("xdevice_id=a", "token:app")));
  }
  refused = limits.Check(DeviceRequest("device_id=b", "token:app"));
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->body.find("token"), std::string::npos);
  EXPECT_FALSE(limits.Check(DeviceRequest("", "token:other")));
}

}  // namespace
}  // namespace ringo::api
