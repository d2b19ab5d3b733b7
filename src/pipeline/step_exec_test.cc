// Tests of the specs `ringo step exec` takes and the command line the runner writes for it.
#include <gtest/gtest.h>

#include "pipeline/pipeline.h"

namespace ringo::pipeline {
namespace {

TEST(ParseStepInputTest, SplitsRunArtifactPathAndPath) {
  auto f = ParseStepInput("3f2a:outputs/data=.ringo/outputs/prep/data");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->run_id, "3f2a");
  EXPECT_EQ(f->artifact_path, "outputs/data");
  EXPECT_EQ(f->path, ".ringo/outputs/prep/data");
}

TEST(ParseStepInputTest, RefusesMalformedSpecs) {
  struct Case {
    std::string spec, message;
  } cases[] = {
      {"outputs/data=.ringo/x", "must be RUN_ID:ARTIFACT_PATH=PATH"},
      {":outputs/data=x", "must be RUN_ID:ARTIFACT_PATH=PATH"},
      {"r:=x", "must be RUN_ID:ARTIFACT_PATH=PATH"},
      {"r:outputs/data=", "must be RUN_ID:ARTIFACT_PATH=PATH"},
      {"r:outputs/data", "must be RUN_ID:ARTIFACT_PATH=PATH"},
      {"r:outputs/data=/etc", "'/etc' must be a relative path inside the project"},
      {"r:outputs/data=../x", "'../x' must be a relative path inside the project"},
      {"r:../../x=a", "'../../x' must be a relative path inside the project"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.spec);
    auto f = ParseStepInput(c.spec);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.message), std::string::npos) << f.status().message();
  }
}

TEST(ParseStepOutputTest, SplitsNameAndPath) {
  auto f = ParseStepOutput("model=.ringo/outputs/train/model");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->name, "model");
  EXPECT_EQ(f->path, ".ringo/outputs/train/model");
}

TEST(ParseStepOutputTest, RefusesMalformedSpecs) {
  for (const std::string spec : {"model", "=x", "model=", "a/b=x", "..=x", "m=/abs", "m=a/../.."}) {
    SCOPED_TRACE(spec);
    auto f = ParseStepOutput(spec);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument);
  }
}

TEST(StepExecCommandTest, QuotesEveryArgument) {
  StepExec e;
  e.tracking_uri = "http://ringo:5000";
  e.run_id = "r1";
  e.code = "p1:ringo/code";
  e.root = "/home/a b/proj";
  e.dir = "train";
  e.inputs.push_back({"", "r0", "outputs/data", ".ringo/outputs/prep/data"});
  e.outputs.push_back({"model", "", "", ".ringo/outputs/train/model"});
  e.command = "python train.py --out '/home/a b/proj/.ringo/outputs/train/model'";
  EXPECT_EQ(StepExecCommand("/opt/ringo/bin/ringo", e),
            "/opt/ringo/bin/ringo step exec --tracking-uri http://ringo:5000 --run-id r1 "
            "--code p1:ringo/code --root '/home/a b/proj' --dir train "
            "--input r0:outputs/data=.ringo/outputs/prep/data "
            "--output model=.ringo/outputs/train/model -- "
            "'python train.py --out '\"'\"'/home/a b/proj/.ringo/outputs/train/model'\"'\"''");
}

TEST(ExecStepTest, RefusesARelativeRootBeforeContactingAnyServer) {
  StepExec e;
  e.tracking_uri = "http://127.0.0.1:1";
  e.run_id = "r1";
  e.root = "proj";
  auto code = ExecStep(e);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), Code::kInvalidArgument);
  EXPECT_NE(code.status().message().find("--root"), std::string::npos);
}

}  // namespace
}  // namespace ringo::pipeline
