// Tests of the logged-model filter of logged-models/search.
#include "api/logged_models.h"

#include <gtest/gtest.h>

namespace ringo::api {
namespace {

TEST(LoggedModelFilterTest, Table) {
  LoggedModel m;
  m.model_id = "m-1";
  m.name = "digits-clf";
  m.model_type = "sklearn";
  m.status = "LOGGED_MODEL_READY";
  m.source_run_id = "r1";
  m.tags = {{"stage", "dev"}, {"team name", "ios"}};
  m.params = {{"C", "1.0"}};
  struct Case {
    const char* filter;
    bool want;
  };
  const Case cases[] = {
      {"", true},
      {"name = 'digits-clf'", true},
      {"name = \"digits-clf\"", true},
      {"name != 'digits-clf'", false},
      {"name LIKE 'digits%'", true},
      {"name like 'DIGITS%'", false},
      {"name ILIKE 'DIGITS%'", true},
      {"tags.stage = 'dev' AND params.C = '1.0'", true},
      {"tags.stage = 'dev' and params.C = '2.0'", false},
      {"tags.`team name` = 'ios'", true},
      {"tags.missing = 'x'", false},
      {"tags.missing != 'x'", false},
      {"status = 'LOGGED_MODEL_READY'", true},
      {"attributes.model_type = 'sklearn'", true},
      {"source_run_id = 'r1' AND model_id = 'm-1'", true},
  };
  for (const Case& c : cases) {
    auto got = MatchesLoggedModelFilter(m, c.filter);
    ASSERT_TRUE(got.ok()) << c.filter << ": " << got.status().ToString();
    EXPECT_EQ(*got, c.want) << c.filter;
  }
}

TEST(LoggedModelFilterTest, MetricsOfTheModelPerDataset) {
  LoggedModel m;
  m.model_id = "m-1";
  store::Metric val{"acc", 0.9, 1, 1};
  val.dataset_name = "val";
  store::Metric train{"acc", 0.99, 1, 1};
  train.dataset_name = "train";
  m.metrics = {{"r1", val}, {"r1", train}};
  const std::vector<std::pair<std::string, std::string>> only_val = {{"val", ""}};
  EXPECT_TRUE(*MatchesLoggedModelFilter(m, "metrics.acc > 0.95"));
  EXPECT_FALSE(*MatchesLoggedModelFilter(m, "metrics.acc > 0.95", only_val));
  EXPECT_TRUE(*MatchesLoggedModelFilter(m, "metrics.acc >= 0.9", only_val));
  EXPECT_FALSE(*MatchesLoggedModelFilter(m, "metrics.loss < 1"));  // absent: no match
  EXPECT_FALSE(MatchesLoggedModelFilter(m, "metrics.acc = 'x'").ok());
  // Datasets alone: the model needs a metric on one of them.
  EXPECT_TRUE(*MatchesLoggedModelFilter(m, "", only_val));
  EXPECT_FALSE(*MatchesLoggedModelFilter(m, "", {{"test", ""}}));
  EXPECT_FALSE(*MatchesLoggedModelFilter(LoggedModel{}, "", only_val));
}

TEST(LoggedModelFilterTest, RefusesWhatItCannotRead) {
  LoggedModel m;
  for (const char* bad : {"name", "name =", "name = unquoted", "name > 'a'", "name = 'a' OR x = 'b'",
                          "name = 'open", "color = 'red'", "name = 'a' AND"}) {
    auto got = MatchesLoggedModelFilter(m, bad);
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace ringo::api
