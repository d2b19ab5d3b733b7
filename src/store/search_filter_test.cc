// Tests for the search filter and order_by parsers.
#include "store/search_filter.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ringo::store {
namespace {

std::string EntityName(Entity entity) {
  switch (entity) {
    case Entity::kAttribute:
      return "attr";
    case Entity::kMetric:
      return "metric";
    case Entity::kParam:
      return "param";
    case Entity::kTag:
      return "tag";
    case Entity::kDataset:
      return "dataset";
  }
  return "?";
}

std::string ComparatorName(Comparator op) {
  switch (op) {
    case Comparator::kEq:
      return "=";
    case Comparator::kNe:
      return "!=";
    case Comparator::kLt:
      return "<";
    case Comparator::kLe:
      return "<=";
    case Comparator::kGt:
      return ">";
    case Comparator::kGe:
      return ">=";
    case Comparator::kLike:
      return "LIKE";
    case Comparator::kILike:
      return "ILIKE";
    case Comparator::kIn:
      return "IN";
    case Comparator::kNotIn:
      return "NOT IN";
  }
  return "?";
}

// Renders a clause as one string so a mismatch shows every field at once.
std::string Render(const Clause& c) {
  std::string out = EntityName(c.entity) + "[" + c.key + "] " + ComparatorName(c.op) + " ";
  if (c.numeric) {
    out += "num:" + std::to_string(c.number_value);
  } else if (c.op == Comparator::kIn || c.op == Comparator::kNotIn) {
    out += "(";
    for (const std::string& v : c.values) out += "<" + v + ">";
    out += ")";
  } else {
    out += "<" + c.string_value + ">";
  }
  return out;
}

std::vector<std::string> Render(const std::vector<Clause>& clauses) {
  std::vector<std::string> out;
  for (const Clause& c : clauses) out.push_back(Render(c));
  return out;
}

Clause Num(Entity entity, std::string key, Comparator op, double value) {
  Clause c;
  c.entity = entity;
  c.key = std::move(key);
  c.op = op;
  c.numeric = true;
  c.number_value = value;
  return c;
}

Clause Str(Entity entity, std::string key, Comparator op, std::string value) {
  Clause c;
  c.entity = entity;
  c.key = std::move(key);
  c.op = op;
  c.string_value = std::move(value);
  return c;
}

Clause List(Entity entity, std::string key, Comparator op, std::vector<std::string> values) {
  Clause c;
  c.entity = entity;
  c.key = std::move(key);
  c.op = op;
  c.values = std::move(values);
  return c;
}

using E = Entity;
using C = Comparator;

struct FilterCase {
  std::string filter;
  std::vector<Clause> want;
};

struct ErrorCase {
  std::string input;
  // Text the message must contain: the offending token as it is quoted in
  // the message, or "end of input".
  std::string token;
};

struct OrderCase {
  std::string order_by;
  Entity entity;
  std::string key;
  bool ascending;
};

void ExpectFilterError(const Result<std::vector<Clause>>& got, const ErrorCase& tc) {
  ASSERT_FALSE(got.ok()) << "parsed: "
                         << ::testing::PrintToString(got.ok() ? Render(got.value())
                                                              : std::vector<std::string>{});
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
  const std::string& msg = got.status().message();
  EXPECT_EQ(msg.rfind("invalid filter '" + tc.input + "': ", 0), 0u) << msg;
  EXPECT_NE(msg.find(tc.token), std::string::npos)
      << "message does not name " << tc.token << ": " << msg;
}

void ExpectOrderByError(const Result<OrderKey>& got, const ErrorCase& tc) {
  ASSERT_FALSE(got.ok()) << "parsed key: " << got->key;
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
  const std::string& msg = got.status().message();
  EXPECT_EQ(msg.rfind("invalid order_by clause '" + tc.input + "': ", 0), 0u) << msg;
  EXPECT_NE(msg.find(tc.token), std::string::npos)
      << "message does not name " << tc.token << ": " << msg;
}

const std::vector<FilterCase>& RunFilterCases() {
  static const auto* cases = new std::vector<FilterCase>{
      // Empty input means "no filter".
      {"", {}},
      {"  \t\n ", {}},
      // Metrics: each numeric comparator and number format.
      {"metrics.acc > 0.9", {Num(E::kMetric, "acc", C::kGt, 0.9)}},
      {"metric.loss <= 1e-3", {Num(E::kMetric, "loss", C::kLe, 0.001)}},
      {"metrics.loss >= -2.5", {Num(E::kMetric, "loss", C::kGe, -2.5)}},
      {"metrics.step = 10", {Num(E::kMetric, "step", C::kEq, 10)}},
      {"metrics.x != -1E+2", {Num(E::kMetric, "x", C::kNe, -100)}},
      {"metrics.x < .5", {Num(E::kMetric, "x", C::kLt, 0.5)}},
      {"metrics.x<+3", {Num(E::kMetric, "x", C::kLt, 3)}},
      // Quoted keys.
      {"metrics.`f1-score` > 0.5", {Num(E::kMetric, "f1-score", C::kGt, 0.5)}},
      {"metrics.\"f1 score\" < 1", {Num(E::kMetric, "f1 score", C::kLt, 1)}},
      {"metrics.`a``b` = 1", {Num(E::kMetric, "a`b", C::kEq, 1)}},
      // Params: each string comparator, both quote styles, every alias.
      {"params.lr = '0.01'", {Str(E::kParam, "lr", C::kEq, "0.01")}},
      {"param.opt != \"adam\"", {Str(E::kParam, "opt", C::kNe, "adam")}},
      {"parameters.model LIKE '%bert%'", {Str(E::kParam, "model", C::kLike, "%bert%")}},
      {"parameter.model ILIKE 'Bert%'", {Str(E::kParam, "model", C::kILike, "Bert%")}},
      // Tags: dotted unquoted keys and quoted keys.
      {"tags.mlflow.parentRunId = 'abc'", {Str(E::kTag, "mlflow.parentRunId", C::kEq, "abc")}},
      {"tag.`my tag` = 'x'", {Str(E::kTag, "my tag", C::kEq, "x")}},
      {"tags.\"mlflow.runName\" = 'r'", {Str(E::kTag, "mlflow.runName", C::kEq, "r")}},
      // String literal escapes.
      {"tags.t = 'it''s'", {Str(E::kTag, "t", C::kEq, "it's")}},
      {"tags.t = 'it\\'s'", {Str(E::kTag, "t", C::kEq, "it's")}},
      {"tags.t = \"say \"\"hi\"\"\"", {Str(E::kTag, "t", C::kEq, "say \"hi\"")}},
      {"tags.t = ''", {Str(E::kTag, "t", C::kEq, "")}},
      {"tags.t LIKE '%a\\_b%'", {Str(E::kTag, "t", C::kLike, "%a\\_b%")}},
      // String attributes, every prefix alias and none.
      {"attributes.status = 'FINISHED'", {Str(E::kAttribute, "status", C::kEq, "FINISHED")}},
      {"attribute.user_id != 'bob'", {Str(E::kAttribute, "user_id", C::kNe, "bob")}},
      {"attr.artifact_uri LIKE 's3://%'", {Str(E::kAttribute, "artifact_uri", C::kLike, "s3://%")}},
      {"run.lifecycle_stage = 'active'", {Str(E::kAttribute, "lifecycle_stage", C::kEq, "active")}},
      {"status = 'RUNNING'", {Str(E::kAttribute, "status", C::kEq, "RUNNING")}},
      {"run_id = 'abc'", {Str(E::kAttribute, "run_id", C::kEq, "abc")}},
      // The run name's spellings.
      {"run_name = 'x'", {Str(E::kAttribute, "run_name", C::kEq, "x")}},
      {"\"run name\" = 'x'", {Str(E::kAttribute, "run_name", C::kEq, "x")}},
      {"`run name` ILIKE 'x%'", {Str(E::kAttribute, "run_name", C::kILike, "x%")}},
      {"attributes.`run name` != 'y'", {Str(E::kAttribute, "run_name", C::kNe, "y")}},
      // IN lists on run_id.
      {"run_id IN ('a', 'b')", {List(E::kAttribute, "run_id", C::kIn, {"a", "b"})}},
      {"attributes.run_id NOT IN ('a')", {List(E::kAttribute, "run_id", C::kNotIn, {"a"})}},
      {"run_id not in (\"a\",'b''c')", {List(E::kAttribute, "run_id", C::kNotIn, {"a", "b'c"})}},
      // Numeric attributes; created/Created stand for start_time.
      {"start_time > 1700000000000", {Num(E::kAttribute, "start_time", C::kGt, 1700000000000)}},
      {"end_time <= 5", {Num(E::kAttribute, "end_time", C::kLe, 5)}},
      {"created >= 1", {Num(E::kAttribute, "start_time", C::kGe, 1)}},
      {"Created < 2", {Num(E::kAttribute, "start_time", C::kLt, 2)}},
      {"attributes.created != 3", {Num(E::kAttribute, "start_time", C::kNe, 3)}},
      // Datasets.
      {"datasets.name = 'ds'", {Str(E::kDataset, "name", C::kEq, "ds")}},
      {"dataset.digest IN ('d1','d2')", {List(E::kDataset, "digest", C::kIn, {"d1", "d2"})}},
      {"datasets.context NOT IN ('train')", {List(E::kDataset, "context", C::kNotIn, {"train"})}},
      {"datasets.name LIKE 'ds%'", {Str(E::kDataset, "name", C::kLike, "ds%")}},
      // Several clauses, keyword case, and spacing.
      {"metrics.acc > 0.9 AND params.lr = '0.1' AND tags.t != 'x'",
       {Num(E::kMetric, "acc", C::kGt, 0.9), Str(E::kParam, "lr", C::kEq, "0.1"),
        Str(E::kTag, "t", C::kNe, "x")}},
      {"metrics.a > 1 and params.b like 'x' AnD tags.c iLiKe 'y'",
       {Num(E::kMetric, "a", C::kGt, 1), Str(E::kParam, "b", C::kLike, "x"),
        Str(E::kTag, "c", C::kILike, "y")}},
      {"metrics.acc>=0.9 AND params.lr='0.1'",
       {Num(E::kMetric, "acc", C::kGe, 0.9), Str(E::kParam, "lr", C::kEq, "0.1")}},
  };
  return *cases;
}

TEST(ParseRunFilterTest, Accepts) {
  for (const FilterCase& tc : RunFilterCases()) {
    SCOPED_TRACE(tc.filter);
    Result<std::vector<Clause>> got = ParseRunFilter(tc.filter);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(Render(got.value()), Render(tc.want));
  }
}

TEST(ParseRunFilterTest, KeepsNumberExactly) {
  Result<std::vector<Clause>> got = ParseRunFilter("metrics.x = -1.25e-7");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_TRUE(got->front().numeric);
  EXPECT_DOUBLE_EQ(got->front().number_value, -1.25e-7);
}

TEST(ParseRunFilterTest, Rejects) {
  const std::vector<ErrorCase> cases = {
      // Only AND joins clauses; no grouping or negation.
      {"metrics.a > 1 OR metrics.b > 2", "'OR'"},
      {"metrics.a > 1 or metrics.b > 2", "'or'"},
      {"(metrics.a > 1)", "'('"},
      {"metrics.a > 1 AND (params.b = 'x')", "'('"},
      {"NOT metrics.a > 1", "'NOT'"},
      // Unknown entities and keys.
      {"foo.bar = 'x'", "'foo'"},
      {"mlflow.runName = 'x'", "'mlflow'"},
      {"Metrics.a > 1", "'Metrics'"},
      {"foo = 'x'", "'foo'"},
      {"attributes.experiment_id = '1'", "'experiment_id'"},
      {"datasets.foo = 'x'", "'foo'"},
      // Comparator not valid for the key's type.
      {"metrics.a LIKE '%'", "'LIKE'"},
      {"metrics.a IN ('1')", "'IN'"},
      {"params.p > '1'", "'>'"},
      {"tags.t IN ('a')", "'IN'"},
      {"status NOT IN ('a')", "'NOT IN'"},
      {"start_time LIKE '1'", "'LIKE'"},
      // Value not valid for the key's type.
      {"metrics.a = 'x'", "'x'"},
      {"metrics.a = \"1\"", "\"1\""},
      {"metrics.a = abc", "'abc'"},
      {"metrics.a = 1abc", "'1abc'"},
      {"metrics.a > 1.2.3", "'1.2.3'"},
      {"metrics.a > 1e999", "'1e999'"},
      {"params.p = 1", "'1'"},
      {"params.p = abc", "'abc'"},
      {"tags.t = `x`", "`x`"},
      {"start_time = '1'", "'1'"},
      // Broken literals and identifiers.
      {"tags.t = 'abc", "'abc"},
      {"tags.t = \"abc", "\"abc"},
      {"metrics.f1-score > 1", "'-'"},
      {"metrics. `x` > 1", "'metrics.'"},
      {"metrics.'x' > 1", "'metrics.'"},
      {"metrics.`` > 1", "'metrics.``'"},
      {"'status' = 'x'", "'status'"},
      {"metrics.a ! 1", "'!'"},
      {"tags.t = 'a'; DROP", "';'"},
      // Missing pieces and leftovers.
      {"metrics.a > 1 AND", "end of input"},
      {"metrics.a > 1 AND AND params.b = '1'", "'AND'"},
      {"metrics.a > 1 params.b = '1'", "'params.b'"},
      {"metrics.a > 1 2", "'2'"},
      {"metrics.a >", "end of input"},
      {"metrics.a", "end of input"},
      {"metrics.a 1", "'1'"},
      {"metrics.a >> 1", "'>'"},
      {"AND metrics.a > 1", "'AND'"},
      // IN list shape.
      {"run_id IN ()", "')'"},
      {"run_id IN ('a',)", "')'"},
      {"run_id IN ('a' 'b')", "'b'"},
      {"run_id IN 'a'", "'a'"},
      {"run_id IN ('a'", "end of input"},
      {"run_id NOT 'a'", "'a'"},
  };
  for (const ErrorCase& tc : cases) {
    SCOPED_TRACE(tc.input);
    ExpectFilterError(ParseRunFilter(tc.input), tc);
  }
}

TEST(ParseRunFilterTest, EmptyInListSaysSo) {
  Result<std::vector<Clause>> got = ParseRunFilter("run_id IN ()");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("empty IN list"), std::string::npos)
      << got.status().message();
}

TEST(ParseRunFilterTest, UnknownAttributeMessage) {
  Result<std::vector<Clause>> got = ParseRunFilter("foo = 'x'");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("invalid attribute key 'foo'"), std::string::npos)
      << got.status().message();
}

TEST(ParseRunOrderByTest, Accepts) {
  const std::vector<OrderCase> cases = {
      {"metrics.acc", E::kMetric, "acc", true},
      {"metrics.acc DESC", E::kMetric, "acc", false},
      {"metrics.acc desc", E::kMetric, "acc", false},
      {"metric.`f1-score` DeSc", E::kMetric, "f1-score", false},
      {"params.lr ASC", E::kParam, "lr", true},
      {"param.lr asc", E::kParam, "lr", true},
      {"tags.`a b` asc", E::kTag, "a b", true},
      {"tags.mlflow.runName DESC", E::kTag, "mlflow.runName", false},
      {"start_time", E::kAttribute, "start_time", true},
      {"attributes.start_time DESC", E::kAttribute, "start_time", false},
      {"end_time", E::kAttribute, "end_time", true},
      {"created", E::kAttribute, "start_time", true},
      {"Created DESC", E::kAttribute, "start_time", false},
      {"attr.created", E::kAttribute, "start_time", true},
      {"run_name", E::kAttribute, "run_name", true},
      {"`run name`", E::kAttribute, "run_name", true},
      {"\"run name\" DESC", E::kAttribute, "run_name", false},
      {"attribute.status", E::kAttribute, "status", true},
      {"run_id", E::kAttribute, "run_id", true},
      {"user_id", E::kAttribute, "user_id", true},
      {"artifact_uri", E::kAttribute, "artifact_uri", true},
      {"  metrics.acc   DESC  ", E::kMetric, "acc", false},
  };
  for (const OrderCase& tc : cases) {
    SCOPED_TRACE(tc.order_by);
    Result<OrderKey> got = ParseRunOrderBy(tc.order_by);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->entity, tc.entity);
    EXPECT_EQ(got->key, tc.key);
    EXPECT_EQ(got->ascending, tc.ascending);
  }
}

TEST(ParseRunOrderByTest, Rejects) {
  const std::vector<ErrorCase> cases = {
      {"", "end of input"},
      {"   ", "end of input"},
      {"metrics.acc DESC extra", "'extra'"},
      {"metrics.acc DESC ASC", "'ASC'"},
      {"metrics.acc UP", "'UP'"},
      {"metrics.acc, params.lr", "','"},
      {"datasets.name", "'datasets.name'"},
      {"foo", "'foo'"},
      {"lifecycle_stage", "'lifecycle_stage'"},
      {"bogus.x", "'bogus'"},
      {"tags.`x", "`x"},
  };
  for (const ErrorCase& tc : cases) {
    SCOPED_TRACE(tc.input);
    ExpectOrderByError(ParseRunOrderBy(tc.input), tc);
  }
}

TEST(ParseExperimentFilterTest, Accepts) {
  const std::vector<FilterCase> cases = {
      {"", {}},
      {"name = 'exp'", {Str(E::kAttribute, "name", C::kEq, "exp")}},
      {"attributes.name LIKE 'e%'", {Str(E::kAttribute, "name", C::kLike, "e%")}},
      {"attribute.name ILIKE 'E%'", {Str(E::kAttribute, "name", C::kILike, "E%")}},
      {"attr.name != \"x\"", {Str(E::kAttribute, "name", C::kNe, "x")}},
      {"creation_time > 100", {Num(E::kAttribute, "creation_time", C::kGt, 100)}},
      {"last_update_time <= 5", {Num(E::kAttribute, "last_update_time", C::kLe, 5)}},
      {"tags.team = 'ml'", {Str(E::kTag, "team", C::kEq, "ml")}},
      {"tag.`a b` LIKE '%'", {Str(E::kTag, "a b", C::kLike, "%")}},
      {"name like 'x%' and tags.t != 'y'",
       {Str(E::kAttribute, "name", C::kLike, "x%"), Str(E::kTag, "t", C::kNe, "y")}},
  };
  for (const FilterCase& tc : cases) {
    SCOPED_TRACE(tc.filter);
    Result<std::vector<Clause>> got = ParseExperimentFilter(tc.filter);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(Render(got.value()), Render(tc.want));
  }
}

TEST(ParseExperimentFilterTest, Rejects) {
  const std::vector<ErrorCase> cases = {
      {"metrics.a > 1", "'metrics'"},
      {"params.a = 'x'", "'params'"},
      {"datasets.name = 'x'", "'datasets'"},
      {"run.name = 'x'", "'run'"},
      {"experiment_id = '1'", "'experiment_id'"},
      {"status = 'x'", "'status'"},
      {"name > 'a'", "'>'"},
      {"creation_time = 'x'", "'x'"},
      {"creation_time LIKE '1%'", "'LIKE'"},
      {"name = 'a' OR name = 'b'", "'OR'"},
      {"tags.t IN ('a')", "'IN'"},
      {"name = 'a' AND", "end of input"},
  };
  for (const ErrorCase& tc : cases) {
    SCOPED_TRACE(tc.input);
    ExpectFilterError(ParseExperimentFilter(tc.input), tc);
  }
}

TEST(ParseExperimentOrderByTest, Accepts) {
  const std::vector<OrderCase> cases = {
      {"name", E::kAttribute, "name", true},
      {"name DESC", E::kAttribute, "name", false},
      {"experiment_id asc", E::kAttribute, "experiment_id", true},
      {"creation_time", E::kAttribute, "creation_time", true},
      {"attributes.last_update_time DESC", E::kAttribute, "last_update_time", false},
      {"attr.creation_time", E::kAttribute, "creation_time", true},
  };
  for (const OrderCase& tc : cases) {
    SCOPED_TRACE(tc.order_by);
    Result<OrderKey> got = ParseExperimentOrderBy(tc.order_by);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->entity, tc.entity);
    EXPECT_EQ(got->key, tc.key);
    EXPECT_EQ(got->ascending, tc.ascending);
  }
}

TEST(ParseExperimentOrderByTest, Rejects) {
  const std::vector<ErrorCase> cases = {
      {"tags.t", "'tags.t'"},         {"metrics.a", "'metrics'"}, {"foo", "'foo'"},
      {"start_time", "'start_time'"}, {"name DESC x", "'x'"},     {"", "end of input"},
  };
  for (const ErrorCase& tc : cases) {
    SCOPED_TRACE(tc.input);
    ExpectOrderByError(ParseExperimentOrderBy(tc.input), tc);
  }
}

// The registry and logged-model languages share the grammar; what each may name differs.
TEST(RegistryFilterTest, AcceptsWhatEachSearchNames) {
  for (const char* f : {"name = 'a'", "name IN ('a', 'b')", "tags.`k x` = 'v'", "name ILIKE 'A%'"}) {
    SCOPED_TRACE(f);
    EXPECT_TRUE(ParseRegisteredModelFilter(f).ok());
  }
  for (const char* f : {"version_number >= 2", "version_number = '3'", "run_id IN ('r1')",
                        "source_path LIKE 's3://%' AND tags.t = 'x'"}) {
    SCOPED_TRACE(f);
    EXPECT_TRUE(ParseModelVersionFilter(f).ok());
  }
  for (const char* f : {"params.C = '1'", "model_type = 'sklearn'", "creation_time > 5"}) {
    SCOPED_TRACE(f);
    EXPECT_TRUE(ParseLoggedModelFilter(f).ok());
  }
}

TEST(RegistryFilterTest, RefusesWhatEachSearchLacks) {
  for (const char* f : {"version_number = 1", "metrics.a > 1", "params.p = 'x'", "run_id = 'r'",
                        "name > 'a'"}) {
    SCOPED_TRACE(f);
    Result<std::vector<Clause>> got = ParseRegisteredModelFilter(f);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
  }
  for (const char* f : {"version_number LIKE '1'", "version_number = 'x'", "bogus = 'x'",
                        "datasets.name = 'd'", "run.name = 'x'"}) {
    SCOPED_TRACE(f);
    EXPECT_FALSE(ParseModelVersionFilter(f).ok());
  }
  for (const char* f : {"metrics.acc LIKE 'x'", "datasets.name = 'd'", "name > 'a'", "color = 'red'",
                        "name = unquoted"}) {
    SCOPED_TRACE(f);
    EXPECT_FALSE(ParseLoggedModelFilter(f).ok());
  }
  EXPECT_FALSE(ParseRegisteredModelOrderBy("tags.t").ok());
  EXPECT_FALSE(ParseModelVersionOrderBy("run_id").ok());
  Result<OrderKey> k = ParseModelVersionOrderBy("timestamp DESC");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->key, "last_updated_timestamp");
  EXPECT_FALSE(k->ascending);
}

TEST(ClauseMatchesTest, Table) {
  struct Case {
    const char* filter;
    std::optional<std::string> value;
    bool want;
  };
  const Case cases[] = {
      {"name = 'a'", "a", true},           {"name = 'a'", "b", false},
      {"name != 'a'", std::nullopt, false}, {"name LIKE 'a%'", "abc", true},
      {"name LIKE 'A%'", "abc", false},    {"name ILIKE 'A%'", "abc", true},
      {"name IN ('x', 'y')", "y", true},   {"name NOT IN ('x', 'y')", "y", false},
      {"version_number >= 2", "2", true},  {"version_number < 2", "10", false},
      {"version_number = 2", "two", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.filter);
    Result<std::vector<Clause>> clauses = ParseModelVersionFilter(c.filter);
    ASSERT_TRUE(clauses.ok()) << clauses.status().ToString();
    EXPECT_EQ(ClauseMatches(clauses->front(), c.value), c.want);
  }
}

}  // namespace
}  // namespace ringo::store
