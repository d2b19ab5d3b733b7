// MLflow's model version source rules, case by case.
#include <gtest/gtest.h>

#include "registry/registry.h"

namespace ringo::registry {
namespace {

Result<std::string> RunUri(const std::string& run_id) {
  if (run_id == "local") return std::string("file:///srv/artifacts/1/local/artifacts");
  if (run_id == "proxied") return std::string("mlflow-artifacts:/1/proxied/artifacts");
  return NotFound("Run with id=" + run_id + " not found");
}

struct Case {
  const char* source;
  const char* run_id;
  Code code;
};

TEST(SourceRulesTest, FollowsMlflow) {
  const Case cases[] = {
      {"runs:/0123/model", "", Code::kOk},
      {"models:/name/1", "", Code::kOk},
      {"s3://bucket/path/model", "", Code::kOk},
      {"mlflow-artifacts:/models", "", Code::kOk},
      {"mlflow-artifacts:/models///", "", Code::kOk},
      {"mlflow-artifacts:/models/foo///bar", "", Code::kOk},
      {"mlflow-artifacts://host:9000/models/artifact/..../", "", Code::kOk},
      {"mlflow-artifacts://host:9000/models/../../../", "", Code::kInvalidArgument},
      {"http://host:9000/models/../../../", "", Code::kInvalidArgument},
      {"s3a://b/api/2.0/mlflow-artifacts/artifacts/../../../", "", Code::kInvalidArgument},
      {"mlflow-artifacts://host:9000/models/..%2f..%2fartifacts", "", Code::kInvalidArgument},
      {"mlflow-artifacts://host:9000/models/..%252f..%252fartifacts", "", Code::kInvalidArgument},
      {"mlflow-artifacts://host:9000/models/artifact%00", "", Code::kInvalidArgument},
      {"runs:/0123/./model", "", Code::kInvalidArgument},
      // A '?' (here encoded) would end the path before the segments: they still count.
      {"dbfs:/0123/artifacts/a%3f/../../../", "", Code::kInvalidArgument},
      {"s3://bucket/model?x=../../y", "", Code::kInvalidArgument},
      {"s3://bucket/model?x=..a", "", Code::kOk},
      // Local sources: only inside a local artifact directory of the given run.
      {"/srv/artifacts/1/local/artifacts/model", "local", Code::kOk},
      {"file:///srv/artifacts/1/local/artifacts", "local", Code::kOk},
      {"file:///srv/artifacts/1/local/artifacts/model/..", "local", Code::kOk},
      {"/srv/artifacts/1/local/artifacts/../other", "local", Code::kInvalidArgument},
      {"/srv/artifacts/1/local/artifacts/model", "", Code::kInvalidArgument},
      {"/tmp", "local", Code::kInvalidArgument},
      {"/tmp", "proxied", Code::kInvalidArgument},
      {"/tmp", "unknown", Code::kNotFound},
      {"file://203.0.113.9/path/to/source", "local", Code::kInvalidArgument},
  };
  for (const Case& c : cases) {
    Status s = CheckSourceRules(c.source, c.run_id, RunUri);
    EXPECT_EQ(s.code(), c.code) << c.source << " run " << c.run_id << ": " << s.ToString();
  }
}

TEST(SourceRulesTest, ALoggedModelsFilesAreItsLocalSources) {
  auto model_uri = [](const std::string& id) -> Result<std::string> {
    if (id == "m-1") return std::string("file:///srv/artifacts/1/models/m-1/artifacts");
    return NotFound("Logged model with ID '" + id + "' not found.");
  };
  EXPECT_TRUE(CheckSourceRules("file:///srv/artifacts/1/models/m-1/artifacts", "m-1", model_uri,
                               "model_id")
                  .ok());
  Status outside = CheckSourceRules("/srv/artifacts/1/models/m-2", "m-1", model_uri, "model_id");
  EXPECT_EQ(outside.code(), Code::kInvalidArgument);
  EXPECT_NE(outside.message().find("the model_id request parameter"), std::string::npos);
  EXPECT_EQ(CheckSourceRules("/tmp", "m-9", model_uri, "model_id").code(), Code::kNotFound);
}

TEST(SourceRulesTest, SpeaksMlflowsWords) {
  EXPECT_NE(CheckSourceRules("http://h/../x", "", RunUri).message().find(
                "If supplying a source as an http, https,"),
            std::string::npos);
  EXPECT_NE(CheckSourceRules("/tmp", "", RunUri).message().find(
                "To use a local path as a model version source"),
            std::string::npos);
}

}  // namespace
}  // namespace ringo::registry
