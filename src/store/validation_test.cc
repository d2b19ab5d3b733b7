// Tests for MLflow's key, value and batch-size rules.
#include "store/validation.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/status.h"
#include "store/store.h"

namespace ringo::store {
namespace {

TEST(ValidateKeyTest, Table) {
  struct Case {
    std::string key;
    bool ok;
  };
  const Case cases[] = {
      {"a", true},
      {"acc", true},
      {"A_1", true},
      {"train/loss", true},
      {"a/b/c", true},
      {"mlflow.runName", true},
      {"f1-score", true},
      {"with space", true},
      {" leading space", true},
      {"...a", true},
      {"a..b", true},
      {"\xc3\xa9t\xc3\xa9", true},
      {std::string(250, 'k'), true},
      {std::string(251, 'k'), false},
      {"", false},
      {"a$b", false},
      {"a:b", false},
      {"a\\b", false},
      {"a\tb", false},
      {"a\nb", false},
      {std::string("a\0b", 3), false},
      {"a,b", false},
      {"a=b", false},
      {"a'b", false},
      {"a\"b", false},
      {"a`b", false},
      {"a%b", false},
      {"a*b", false},
      {".", false},
      {"..", false},
      {"../a", false},
      {"a/..", false},
      {"a/../b", false},
      {"./a", false},
      {"a/./b", false},
      {"/a", false},
      {"/", false},
      {"a/", false},
      {"a//b", false},
  };
  for (const Case& c : cases) {
    Status s = ValidateKey("metric", c.key);
    if (c.ok) {
      EXPECT_TRUE(s.ok()) << "'" << c.key << "': " << s.ToString();
    } else {
      EXPECT_EQ(s.code(), Code::kInvalidArgument)
          << "'" << c.key << "' (" << c.key.size() << " bytes)";
    }
  }
}

TEST(ValidateKeyTest, MessageNamesTheKind) {
  Status s = ValidateKey("param", "bad$key");
  ASSERT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("param"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("bad$key"), std::string::npos) << s.message();
}

TEST(ValidateParamTest, ValueLengthLimitIs6000) {
  EXPECT_TRUE(ValidateParam(Param{"p", std::string(6000, 'v')}).ok());
  EXPECT_TRUE(ValidateParam(Param{"p", ""}).ok());
  EXPECT_EQ(ValidateParam(Param{"p", std::string(6001, 'v')}).code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateParam(Param{"bad key!", "v"}).code(), Code::kInvalidArgument);
}

TEST(ValidateTagTest, ValueLengthLimitIs8000) {
  EXPECT_TRUE(ValidateTag(Tag{"t", std::string(8000, 'v')}).ok());
  EXPECT_TRUE(ValidateTag(Tag{"t", ""}).ok());
  EXPECT_EQ(ValidateTag(Tag{"t", std::string(8001, 'v')}).code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateTag(Tag{"/t", "v"}).code(), Code::kInvalidArgument);
}

Batch MakeBatch(size_t metrics, size_t params, size_t tags) {
  Batch b;
  for (size_t i = 0; i < metrics; ++i) b.metrics.push_back(Metric{"m", double(i), 0, int64_t(i)});
  for (size_t i = 0; i < params; ++i) b.params.push_back(Param{"p" + std::to_string(i), "v"});
  for (size_t i = 0; i < tags; ++i) b.tags.push_back(Tag{"t" + std::to_string(i), "v"});
  return b;
}

TEST(ValidateBatchTest, SizeLimits) {
  struct Case {
    size_t metrics, params, tags;
    bool ok;
  };
  const Case cases[] = {
      {0, 0, 0, true},      {1000, 0, 0, true},   {1001, 0, 0, false}, {0, 100, 0, true},
      {0, 101, 0, false},   {0, 0, 100, true},    {0, 0, 101, false},  {800, 100, 100, true},
      {900, 100, 1, false}, {901, 100, 0, false}, {1000, 1, 0, false},
  };
  for (const Case& c : cases) {
    Status s = ValidateBatch(MakeBatch(c.metrics, c.params, c.tags));
    if (c.ok) {
      EXPECT_TRUE(s.ok()) << c.metrics << "/" << c.params << "/" << c.tags << ": " << s.ToString();
    } else {
      EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.metrics << "/" << c.params << "/" << c.tags;
    }
  }
}

TEST(ValidateBatchTest, ChecksEveryKeyAndValue) {
  Batch bad_metric = MakeBatch(2, 0, 0);
  bad_metric.metrics[1].key = "bad/";
  EXPECT_EQ(ValidateBatch(bad_metric).code(), Code::kInvalidArgument);

  Batch bad_param = MakeBatch(0, 2, 0);
  bad_param.params[1].value = std::string(6001, 'x');
  EXPECT_EQ(ValidateBatch(bad_param).code(), Code::kInvalidArgument);

  Batch bad_tag = MakeBatch(0, 0, 2);
  bad_tag.tags[0].key = "..";
  EXPECT_EQ(ValidateBatch(bad_tag).code(), Code::kInvalidArgument);
}

TEST(ValidateBatchTest, DuplicateParamKeyWithDifferentValuesFails) {
  Batch b;
  b.params = {{"lr", "0.1"}, {"other", "x"}, {"lr", "0.2"}};
  EXPECT_EQ(ValidateBatch(b).code(), Code::kInvalidArgument);
}

TEST(ValidateBatchTest, DuplicateParamKeyWithSameValueIsAccepted) {
  Batch b;
  b.params = {{"lr", "0.1"}, {"lr", "0.1"}};
  EXPECT_TRUE(ValidateBatch(b).ok());
}

TEST(ValidateBatchTest, DuplicateMetricAndTagKeysAreAccepted) {
  Batch b;
  b.metrics = {{"m", 1, 10, 0}, {"m", 2, 10, 0}};
  b.tags = {{"t", "a"}, {"t", "b"}};
  EXPECT_TRUE(ValidateBatch(b).ok());
}

TEST(IsRunStatusTest, Table) {
  struct Case {
    std::string_view status;
    bool want;
  };
  const Case cases[] = {
      {"RUNNING", true}, {"SCHEDULED", true},  {"FINISHED", true},  {"FAILED", true},
      {"KILLED", true},  {"running", false},   {"Finished", false}, {"", false},
      {"DONE", false},   {"FINISHED ", false}, {" KILLED", false},
  };
  for (const Case& c : cases) EXPECT_EQ(IsRunStatus(c.status), c.want) << "'" << c.status << "'";
}

}  // namespace
}  // namespace ringo::store
