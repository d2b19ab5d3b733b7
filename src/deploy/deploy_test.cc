// Tests of targeting (version comparison, version ranges, rule parsing and matching) and of
// the telemetry schema.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "deploy/deploy.h"

namespace ringo::deploy {
namespace {

TEST(CompareVersionsTest, ComparesComponentsAsNumbers) {
  struct Case {
    const char* a;
    const char* b;
    int want;
  } cases[] = {
      {"1", "1", 0},          {"1", "1.0", 0},      {"1.0.0", "1", 0},   {"2.10", "2.9", 1},
      {"2.9", "2.10", -1},    {"17.4.1", "17.4", 1}, {"0.1", "0.01", 0}, {"10", "9.99", 1},
      {"1.2.3", "1.2.4", -1},
  };
  for (const Case& c : cases) {
    auto got = CompareVersions(c.a, c.b);
    ASSERT_TRUE(got.has_value()) << c.a << " vs " << c.b;
    EXPECT_EQ(*got, c.want) << c.a << " vs " << c.b;
  }
}

TEST(CompareVersionsTest, RejectsNonNumericVersions) {
  for (const char* bad : {"", "1.", ".1", "1..2", "1.a", "beta", "1.0-rc1", "-1", "1 .2"}) {
    EXPECT_FALSE(CompareVersions(bad, "1").has_value()) << bad;
  }
}

TEST(ParseVersionRangeTest, ParsesConstraints) {
  struct Case {
    const char* text;
    const char* canonical;
    std::vector<const char*> inside;
    std::vector<const char*> outside;
  } cases[] = {
      {">=2.0,<3.0", ">=2.0,<3.0", {"2", "2.0", "2.9.9"}, {"1.9", "3", "3.0.0", "x"}},
      {"> 1.0 , <= 1.5", ">1.0,<=1.5", {"1.0.1", "1.5"}, {"1.0", "1.5.1"}},
      {"2.1", "==2.1", {"2.1", "2.1.0"}, {"2.1.1", "2"}},
      {"==2.1", "==2.1", {"2.1"}, {"2.2"}},
      {">=1,>=2,<5,<4", ">=2,<4", {"2", "3.9"}, {"1.5", "4"}},
      {"*", "*", {"0", "99.1", "", "garbage"}, {}},
      {"", "*", {"1"}, {}},
      {"<17", "<17", {"16.7", "0"}, {"17", "18", ""}},
  };
  for (const Case& c : cases) {
    auto r = ParseVersionRange(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().message();
    EXPECT_EQ(r->ToString(), c.canonical) << c.text;
    for (const char* v : c.inside) EXPECT_TRUE(r->Contains(v)) << c.text << " should hold " << v;
    for (const char* v : c.outside) EXPECT_FALSE(r->Contains(v)) << c.text << " excludes " << v;
    auto again = ParseVersionRange(r->ToString());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->ToString(), r->ToString());
  }
}

TEST(ParseVersionRangeTest, RejectsBadRanges) {
  for (const char* bad : {">=", "~>2.0", ">=2.0,<", ">=a", ">=3,<2", ">2,<2", "=>1", ">=1;<2"}) {
    auto r = ParseVersionRange(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    }
  }
}

TEST(VersionRangeTest, Overlaps) {
  auto range = [](const char* t) { return ParseVersionRange(t).value(); };
  EXPECT_TRUE(range(">=2.0,<3.0").Overlaps(range(">=2.5")));
  EXPECT_TRUE(range(">=2.0,<3.0").Overlaps(range("*")));
  EXPECT_TRUE(range("<=2").Overlaps(range(">=2")));
  EXPECT_FALSE(range("<2").Overlaps(range(">=2")));
  EXPECT_FALSE(range(">=2.0,<3.0").Overlaps(range(">=3.0")));
  EXPECT_FALSE(range("==1.5").Overlaps(range(">1.5")));
  EXPECT_TRUE(range("==1.5").Overlaps(range(">=1,<2")));
}

TEST(ParseRulesTest, ParsesEveryCondition) {
  auto rules = ParseRules(R"({"rules": [
      {"name": "testers", "deployment_id": "dep-a", "device_ids": ["t1", "t2"]},
      {"deployment_id": "dep-b", "device_class": "iPad", "os": ["iOS", "iPadOS"],
       "os_version": {"min": "17.0", "max": "17.9"}, "app_version": ">=2.0,<3.0",
       "region": ["US", "CA"], "language": "en"}]})");
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[0].name, "testers");
  EXPECT_EQ((*rules)[0].device_ids, (std::vector<std::string>{"t1", "t2"}));
  const Rule& b = (*rules)[1];
  EXPECT_EQ(b.device_classes, std::vector<std::string>{"iPad"});
  EXPECT_EQ(b.os_version.ToString(), ">=17.0,<=17.9");
  EXPECT_EQ(b.app_version.ToString(), ">=2.0,<3.0");
  // The canonical JSON reads back to the same rules.
  auto again = ParseRules(RulesToJson(*rules));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(RulesToJson(*again), RulesToJson(*rules));
}

TEST(ParseRulesTest, RejectsBadRules) {
  const char* cases[] = {
      "{",
      R"({"x": 1})",
      R"([{"device_ids": ["a"]}])",
      R"([{"deployment_id": "d", "device_class": []}])",
      R"([{"deployment_id": "d", "device_class": [1]}])",
      R"([{"deployment_id": "d", "os_version": ">=x"}])",
      R"([{"deployment_id": "d", "app_version": {"min": "1", "upto": "2"}}])",
      R"([{"deployment_id": "d", "regoin": "US"}])",
      R"([1])",
  };
  for (const char* c : cases) {
    auto r = ParseRules(c);
    EXPECT_FALSE(r.ok()) << c;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c;
    }
  }
  auto typo = ParseRules(R"([{"deployment_id": "d", "regoin": "US"}])");
  EXPECT_NE(typo.status().message().find("regoin"), std::string::npos);
}

TEST(MatchRuleTest, FirstMatchingRuleWins) {
  auto rules = ParseRules(R"([
      {"deployment_id": "testers", "device_ids": ["tester-1"]},
      {"deployment_id": "old-apps", "app_version": "<2.0"},
      {"deployment_id": "ios17-us", "os": "ios", "os_version": ">=17,<18", "region": ["us"]},
      {"deployment_id": "ipads", "device_class": ["iPad"], "language": ["de", "fr"]}])")
                   .value();
  struct Case {
    DeviceQuery device;
    const char* want;  // nullptr: no rule
  } cases[] = {
      {{"tester-1", "iPhone", "iOS", "16.0", "1.0", "US", "en"}, "testers"},
      {{"phone-2", "iPhone", "iOS", "17.2", "1.9.9", "US", "en"}, "old-apps"},
      {{"phone-3", "iPhone", "iOS", "17.2", "2.0", "US", "en"}, "ios17-us"},
      {{"phone-4", "iPhone", "iOS", "18.0", "2.0", "US", "en"}, nullptr},
      {{"phone-5", "iPhone", "iOS", "17.2", "2.0", "DE", "en"}, nullptr},
      {{"ipad-1", "iPad", "iPadOS", "17.2", "2.1", "DE", "de"}, "ipads"},
      {{"ipad-2", "ipad", "iPadOS", "17.2", "2.1", "DE", "de"}, nullptr},  // classes are exact
      {{"ipad-3", "iPad", "iPadOS", "17.2", "2.1", "DE", ""}, nullptr},    // language unknown
      {{"phone-6", "iPhone", "iOS", "", "", "US", "en"}, nullptr},  // no versions reported
  };
  for (const Case& c : cases) {
    int i = MatchRule(rules, c.device);
    if (c.want == nullptr) {
      EXPECT_EQ(i, -1) << c.device.device_id;
    } else {
      ASSERT_GE(i, 0) << c.device.device_id;
      EXPECT_EQ(rules[static_cast<size_t>(i)].deployment_id, c.want) << c.device.device_id;
    }
  }
  EXPECT_EQ(MatchRule({}, cases[0].device), -1);
}

TEST(ParseTelemetryTest, KeepsKnownFieldsAndDropsTheRest) {
  auto got = ParseTelemetry(
      R"([{"event":"prediction","model":"m","version":"2","latency_ms":3.5,"time":17,)"
      R"("device_class":"iPhone15,2","os_version":"18.1","secret":{"a":[1]},"x":1}])");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].model, "m");
  EXPECT_EQ((*got)[0].version, "2");
  auto j = nlohmann::json::parse((*got)[0].json);
  EXPECT_EQ(j.size(), 7u) << j.dump();
  EXPECT_FALSE(j.contains("secret"));
  EXPECT_EQ(j["time"], 17);
  auto wrapped = ParseTelemetry(R"({"events":[{"event":"loaded","model":"m","version":"1"}]})");
  ASSERT_TRUE(wrapped.ok());
  EXPECT_TRUE(nlohmann::json::parse((*wrapped)[0].json).contains("time"));
}

TEST(ParseTelemetryTest, RefusesWhatTheSchemaDoesNot) {
  const std::string ok = R"("event":"failed","model":"m","version":"1")";
  const std::string cases[] = {
      "",
      "{",
      "{}",
      "[1]",
      "[{}]",
      std::string(100000, '[') + std::string(100000, ']'),
      "[{" + ok + R"(,"x":[[[[[[[[[[1]]]]]]]]]]}])",
      R"([{"event":"exploded","model":"m","version":"1"}])",
      R"([{"event":"failed","model":"","version":"1"}])",
      R"([{"event":"failed","model":5,"version":"1"}])",
      "[{" + ok + R"(,"latency_ms":-1}])",
      "[{" + ok + R"(,"latency_ms":1e400}])",
      "[{" + ok + R"(,"latency_ms":"7"}])",
      "[{" + ok + R"(,"time":1.5}])",
      "[{" + ok + R"(,"time":123456789012345678901234567890}])",
      "[{" + ok + R"(,"error":")" + std::string(2000, 'e') + R"("}])",
      "[{" + ok + R"(,"device_class":["a"]}])",
  };
  for (const std::string& c : cases) {
    auto got = ParseTelemetry(c);
    ASSERT_FALSE(got.ok()) << c.substr(0, 120);
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << c.substr(0, 120);
  }
  std::string many = "[";
  for (int i = 0; i < 1001; ++i) many += (i ? ",{" : "{") + ok + "}";
  EXPECT_FALSE(ParseTelemetry(many + "]").ok());
}

}  // namespace
}  // namespace ringo::deploy
