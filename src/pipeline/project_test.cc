// Tests for MLproject parsing, parameter resolution, command rendering and step planning, each
// parsing files written into a fresh temporary directory.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/pipeline.h"

namespace ringo::pipeline {
namespace {

namespace fs = std::filesystem;

class ProjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ringo-project-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes DIR/MLproject and parses it.
  Result<Project> Load(const std::string& yaml) {
    std::ofstream(dir_ / "MLproject", std::ios::binary) << yaml;
    return LoadProject(dir_);
  }

  // Parses a project that must be valid.
  Project MustLoad(const std::string& yaml) {
    auto p = Load(yaml);
    EXPECT_TRUE(p.ok()) << p.status().ToString() << "\n" << yaml;
    return p.ok() ? *p : Project{};
  }

  fs::path dir_;
};

EntryPoint Entry(const std::string& command, std::vector<Parameter> params = {}) {
  EntryPoint e;
  e.name = "main";
  e.command = command;
  e.parameters = std::move(params);
  return e;
}

Parameter Param(const std::string& name, const std::string& type,
                std::optional<std::string> default_value = std::nullopt) {
  Parameter p;
  p.name = name;
  p.type = type;
  p.default_value = std::move(default_value);
  return p;
}

// ---------------------------------------------------------------- LoadProject

TEST_F(ProjectTest, MissingFileIsNotFound) {
  auto p = LoadProject(dir_);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kNotFound);
}

TEST_F(ProjectTest, ReadsMLprojectYamlToo) {
  std::ofstream(dir_ / "MLproject.yaml") << "name: y\nentry_points:\n  main:\n    command: true\n";
  auto p = LoadProject(dir_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "y");
  EXPECT_TRUE(p->dir.is_absolute());
}

TEST_F(ProjectTest, ParsesParameterTypesInMapAndScalarForm) {
  Project p = MustLoad(R"(name: demo
entry_points:
  main:
    parameters:
      s: string
      f: float
      i: int
      p: path
      u: uri
      s2: str
      i2: integer
      none:
      ms: {type: string, default: hello}
      mf: {type: float, default: 0.1}
      mi: {type: int, default: 3}
      mp: {type: path, default: data/x.csv}
      mu: {type: uri, default: "s3://bucket/key"}
      untyped: {default: 7}
    command: "echo {s}"
)");
  EXPECT_EQ(p.name, "demo");
  ASSERT_EQ(p.entry_points.count("main"), 1u);
  const EntryPoint& e = p.entry_points["main"];
  EXPECT_EQ(e.command, "echo {s}");
  struct Want {
    const char* name;
    const char* type;
    std::optional<std::string> default_value;
  };
  const std::vector<Want> want = {
      {"s", "string", std::nullopt},     {"f", "float", std::nullopt},
      {"i", "int", std::nullopt},        {"p", "path", std::nullopt},
      {"u", "uri", std::nullopt},        {"s2", "string", std::nullopt},
      {"i2", "int", std::nullopt},       {"none", "string", std::nullopt},
      {"ms", "string", "hello"},         {"mf", "float", "0.1"},
      {"mi", "int", "3"},                {"mp", "path", "data/x.csv"},
      {"mu", "uri", "s3://bucket/key"},  {"untyped", "string", "7"},
  };
  ASSERT_EQ(e.parameters.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(e.parameters[i].name, want[i].name) << "declaration order is kept";
    EXPECT_EQ(e.parameters[i].type, want[i].type);
    EXPECT_EQ(e.parameters[i].default_value, want[i].default_value);
  }
}

TEST_F(ProjectTest, MalformedProjectsAreInvalidArgumentNamingTheProblem) {
  struct Case {
    const char* what;
    const char* yaml;
    const char* message;  // a substring of the error
  };
  const std::vector<Case> cases = {
      {"unknown type", "entry_points:\n  main:\n    parameters:\n      x: {type: bool}\n"
                       "    command: echo\n",
       "unknown type 'bool'"},
      {"unknown scalar type", "entry_points:\n  main:\n    parameters:\n      x: number\n"
                              "    command: echo\n",
       "parameter 'x' has unknown type 'number'"},
      {"unknown type has its line", "entry_points:\n  main:\n    parameters:\n      x: {type: bool}\n"
                                    "    command: echo\n",
       "(line 4)"},
      {"list parameter", "entry_points:\n  main:\n    parameters:\n      x: [1, 2]\n"
                         "    command: echo\n",
       "parameter 'x' must be a type or a mapping"},
      {"non-scalar default", "entry_points:\n  main:\n    parameters:\n      x: {default: [1]}\n"
                             "    command: echo\n",
       "default of parameter 'x'"},
      {"entry point without command", "entry_points:\n  main:\n    parameters: {a: string}\n",
       "entry point 'main' has no command"},
      {"entry point not a mapping", "entry_points:\n  main: echo hi\n",
       "entry point 'main' must be a mapping"},
      {"entry_points not a mapping", "entry_points: [a, b]\n", "entry_points must be a mapping"},
      {"parameters not a mapping", "entry_points:\n  main:\n    parameters: [a]\n"
                                   "    command: echo\n",
       "parameters of entry point 'main' must be a mapping"},
      {"command not a string", "entry_points:\n  main:\n    command: [echo, hi]\n",
       "command of entry point 'main' must be a string"},
      {"nothing to run", "name: empty\n", "no entry_points and no steps"},
      {"not a mapping", "- a\n- b\n", "must be a YAML mapping"},
      {"two env kinds", "conda_env: conda.yaml\npython_env: python_env.yaml\n"
                        "entry_points:\n  main:\n    command: echo\n",
       "only one of conda_env, python_env, docker_env"},
      {"docker_env without image", "docker_env:\n  volumes: [a]\n"
                                   "entry_points:\n  main:\n    command: echo\n",
       "docker_env needs an image"},
      {"docker_env as a string", "docker_env: ubuntu\nentry_points:\n  main:\n    command: echo\n",
       "docker_env needs an image"},
      {"docker_env volumes not a list", "docker_env:\n  image: a\n  volumes: /a:/b\n"
                                        "entry_points:\n  main:\n    command: echo\n",
       "docker_env.volumes must be a list"},
      {"docker_env volume without a target", "docker_env:\n  image: a\n  volumes: [/a]\n"
                                             "entry_points:\n  main:\n    command: echo\n",
       "'/a' must be HOST:CONTAINER"},
      {"docker_env environment not a list", "docker_env:\n  image: a\n  environment: {A: b}\n"
                                            "entry_points:\n  main:\n    command: echo\n",
       "docker_env.environment must be a list"},
      {"docker_env environment triple", "docker_env:\n  image: a\n  environment: [[A, b, c]]\n"
                                        "entry_points:\n  main:\n    command: echo\n",
       "NAME or a [NAME, VALUE] pair"},
      {"docker_env environment bad name", "docker_env:\n  image: a\n  environment: [\"A=b\"]\n"
                                          "entry_points:\n  main:\n    command: echo\n",
       "bad variable name 'A=b'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto p = Load(c.yaml);
    ASSERT_FALSE(p.ok()) << c.yaml;
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.message), std::string::npos) << p.status().message();
  }
}

TEST_F(ProjectTest, BadYamlReportsItsLine) {
  struct Case {
    const char* yaml;
    const char* line;
  };
  const std::vector<Case> cases = {
      {"name: x\nentry_points:\n  main:\n    command: echo\n   parameters: {a: 1}\n", "line 5"},
      {"name: x\nentry_points:\n\tmain:\n    command: echo\n", "line 3"},
      // Unclosed at the end of the file: the last line, not one past it.
      {"name: x\nentry_points:\n  main:\n    command: echo\n  bad: [1, 2\n", "line 5"},
      {"name: x\n\n\n\nentry_points: {main: {command: echo}\n", "line 5"},
      {"name: x\nentry_points: {main: {command: echo}", "line 2"},
      {"name: x\n  indented: wrong\n", "line 2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto p = Load(c.yaml);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
    EXPECT_NE(p.status().message().find("bad YAML"), std::string::npos) << p.status().message();
    EXPECT_NE(p.status().message().find(c.line), std::string::npos) << p.status().message();
  }
}

TEST_F(ProjectTest, EnvKinds) {
  struct Case {
    const char* yaml;
    const char* kind;
    const char* image;
  };
  const std::vector<Case> cases = {
      {"", "", ""},
      {"conda_env: conda.yaml\n", "conda_env", ""},
      {"python_env: python_env.yaml\n", "python_env", ""},
      {"docker_env:\n  image: python:3.11-slim\n", "docker_env", "python:3.11-slim"},
      {"docker_env:\n  image: ghcr.io/x/y:1\n  volumes: [\"/a:/b\"]\n", "docker_env",
       "ghcr.io/x/y:1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    Project p = MustLoad(std::string(c.yaml) + "entry_points:\n  main:\n    command: echo\n");
    EXPECT_EQ(p.env_kind, c.kind);
    EXPECT_EQ(p.docker.image, c.image);
  }
}

TEST_F(ProjectTest, DockerEnvVolumesAndEnvironment) {
  Project p = MustLoad(R"(docker_env:
  image: localhost/train:1
  volumes: ["/data:/data:ro", "/cache:/root/.cache"]
  environment: [["MODE", "fast"], "HOME_REGION", ["EMPTY", ""]]
entry_points:
  main:
    command: echo
)");
  EXPECT_EQ(p.docker.image, "localhost/train:1");
  EXPECT_EQ(p.docker.volumes, (std::vector<std::string>{"/data:/data:ro", "/cache:/root/.cache"}));
  ASSERT_EQ(p.docker.environment.size(), 3u);
  EXPECT_EQ(p.docker.environment[0].first, "MODE");
  EXPECT_EQ(p.docker.environment[0].second, "fast");
  EXPECT_EQ(p.docker.environment[1].first, "HOME_REGION");
  EXPECT_FALSE(p.docker.environment[1].second.has_value());
  EXPECT_EQ(p.docker.environment[2].second, "");
}

TEST_F(ProjectTest, ParsesSteps) {
  Project p = MustLoad(R"(name: pipe
entry_points:
  main:
    parameters: {lr: {type: float, default: 0.1}}
steps:
  - name: prep
    project: prep
    parameters: {out: "{outputs.data}", n: 3}
    inputs: [raw.csv]
    outputs: [data]
  - name: train-2
    entry_point: fit
    parameters:
      data: "{steps.prep.outputs.data}"
      lr: "{lr}"
    inputs: steps.prep.outputs.data
    outputs: [model, report]
    needs: [prep]
    cache: False
)");
  ASSERT_EQ(p.steps.size(), 2u);
  const Step& a = p.steps[0];
  EXPECT_EQ(a.name, "prep");
  EXPECT_EQ(a.project, "prep");
  EXPECT_EQ(a.entry_point, "main");
  EXPECT_EQ(a.parameters, (std::map<std::string, std::string>{{"out", "{outputs.data}"},
                                                              {"n", "3"}}));
  EXPECT_EQ(a.inputs, std::vector<std::string>{"raw.csv"});
  EXPECT_EQ(a.outputs, std::vector<std::string>{"data"});
  EXPECT_TRUE(a.needs.empty());
  EXPECT_TRUE(a.cache);
  const Step& b = p.steps[1];
  EXPECT_EQ(b.name, "train-2");
  EXPECT_EQ(b.project, ".");
  EXPECT_EQ(b.entry_point, "fit");
  EXPECT_EQ(b.inputs, std::vector<std::string>{"steps.prep.outputs.data"})
      << "a single string is a one-element list";
  EXPECT_EQ(b.outputs, (std::vector<std::string>{"model", "report"}));
  EXPECT_EQ(b.needs, std::vector<std::string>{"prep"});
  EXPECT_FALSE(b.cache);
  // A steps project needs no command on its main entry point.
  EXPECT_EQ(p.entry_points["main"].command, "");
}

TEST_F(ProjectTest, MalformedStepsAreInvalidArgument) {
  struct Case {
    const char* what;
    const char* steps;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"not a list", "steps: {a: 1}\n", "steps must be a list"},
      {"step not a mapping", "steps:\n  - prep\n", "step 1 must be a mapping"},
      {"no name", "steps:\n  - project: a\n", "step 1 has no name"},
      {"duplicate names", "steps:\n  - name: a\n  - name: b\n  - name: a\n",
       "step 'a' is declared twice"},
      {"name with a space", "steps:\n  - name: my step\n", "step name 'my step' must be an identifier"},
      {"name with a dot", "steps:\n  - name: a.b\n", "must be an identifier"},
      {"name starting with a digit", "steps:\n  - name: 1st\n", "must be an identifier"},
      {"name not a string", "steps:\n  - name: [a]\n", "step name must be a string"},
      {"outputs a mapping", "steps:\n  - name: a\n    outputs: {x: y}\n",
       "outputs of step 'a' must be a list"},
      {"output entry a list", "steps:\n  - name: a\n    outputs: [[x]]\n",
       "outputs of step 'a' entry must be a string"},
      {"output name not an identifier", "steps:\n  - name: a\n    outputs: [data/x]\n",
       "output name 'data/x' of step 'a' must be an identifier"},
      {"inputs a mapping", "steps:\n  - name: a\n    inputs: {x: y}\n",
       "inputs of step 'a' must be a list"},
      {"needs a mapping", "steps:\n  - name: a\n    needs: {x: y}\n",
       "needs of step 'a' must be a list"},
      {"parameters a list", "steps:\n  - name: a\n    parameters: [x]\n",
       "parameters of step 'a' must be a mapping"},
      {"parameter value a list", "steps:\n  - name: a\n    parameters: {x: [1]}\n",
       "parameter 'x' of step 'a' must be a string"},
      {"cache yes", "steps:\n  - name: a\n    cache: yes\n", "cache of step 'a' must be true or false"},
      {"cache number", "steps:\n  - name: a\n    cache: 1\n", "cache of step 'a' must be true or false"},
      {"cache list", "steps:\n  - name: a\n    cache: [true]\n",
       "cache of step 'a' must be true or false"},
      {"unknown executor", "steps:\n  - name: a\n    executor: k8s\n",
       "executor of step 'a' must be local, slurm or ray; got 'k8s'"},
      {"unknown file transfer", "steps:\n  - name: a\n    file_transfer: nfs\n",
       "file_transfer of step 'a' must be shared or artifacts; got 'nfs'"},
      {"resources a list", "steps:\n  - name: a\n    resources: [1]\n",
       "resources of step 'a' must be a mapping"},
      {"unknown resource", "steps:\n  - name: a\n    resources: {disk: 1}\n",
       "unknown resource 'disk' of step 'a'"},
      {"cpus negative", "steps:\n  - name: a\n    resources: {cpus: -1}\n",
       "cpus of step 'a' must be a non-negative number; got '-1'"},
      {"gpus fraction", "steps:\n  - name: a\n    resources: {gpus: 0.5}\n",
       "gpus of step 'a' must be a whole number"},
      {"retries word", "steps:\n  - name: a\n    retries: many\n",
       "retries of step 'a' must be a non-negative number; got 'many'"},
      {"backoff negative", "steps:\n  - name: a\n    retry_backoff: -2\n",
       "retry_backoff of step 'a' must be a non-negative number"},
      {"env a list", "steps:\n  - name: a\n    env: [A]\n", "env of step 'a' must be a mapping"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto p = Load(c.steps);
    ASSERT_FALSE(p.ok()) << c.steps;
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.message), std::string::npos) << p.status().message();
  }
}

TEST_F(ProjectTest, CacheValues) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"true", true}, {"false", false}, {"True", true}, {"FALSE", false}};
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    Project p = MustLoad("steps:\n  - name: a\n    cache: " + text + "\n");
    ASSERT_EQ(p.steps.size(), 1u);
    EXPECT_EQ(p.steps[0].cache, want);
  }
}

TEST_F(ProjectTest, StepExecutionFields) {
  Project p = MustLoad(
      "steps:\n"
      "  - name: train\n"
      "    executor: slurm\n"
      "    file_transfer: artifacts\n"
      "    resources: {cpus: 4, memory: 8G, gpus: 1, time: \"00:30:00\", partition: gpu}\n"
      "    retries: 2\n"
      "    retry_backoff: 0.5\n"
      "    env: {OMP_NUM_THREADS: \"4\", MODE: fast}\n"
      "  - name: plain\n");
  ASSERT_EQ(p.steps.size(), 2u);
  const Step& t = p.steps[0];
  EXPECT_EQ(t.executor, "slurm");
  EXPECT_EQ(t.file_transfer, "artifacts");
  EXPECT_EQ(t.resources.cpus, 4);
  EXPECT_EQ(t.resources.memory, "8G");
  EXPECT_EQ(t.resources.gpus, 1);
  EXPECT_EQ(t.resources.time_limit, "00:30:00");
  EXPECT_EQ(t.resources.partition, "gpu");
  EXPECT_EQ(t.retry.retries, 2);
  EXPECT_DOUBLE_EQ(t.retry.backoff_seconds, 0.5);
  EXPECT_EQ(t.env, (std::map<std::string, std::string>{{"MODE", "fast"}, {"OMP_NUM_THREADS", "4"}}));
  const Step& d = p.steps[1];
  EXPECT_EQ(d.executor, "");
  EXPECT_EQ(d.file_transfer, "");
  EXPECT_EQ(d.resources.cpus, 0);
  EXPECT_EQ(d.retry.retries, 0);
  EXPECT_TRUE(d.env.empty());
}

// ---------------------------------------------------------- ResolveParameters

TEST(ResolveParametersTest, DefaultsFillAndGivenValuesWin) {
  EntryPoint e = Entry("x", {Param("a", "string", "A"), Param("b", "float", "0.5"),
                             Param("c", "int", "3")});
  std::map<std::string, std::string> extra;
  auto v = ResolveParameters(e, {{"b", "1e-3"}}, "/base", &extra);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, (std::map<std::string, std::string>{{"a", "A"}, {"b", "1e-3"}, {"c", "3"}}));
  EXPECT_TRUE(extra.empty());
}

TEST(ResolveParametersTest, MissingRequiredParameterIsNamed) {
  EntryPoint e = Entry("x", {Param("alpha", "float", "0.1"), Param("data_dir", "path")});
  auto v = ResolveParameters(e, {{"alpha", "0.2"}}, "/base", nullptr);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_NE(v.status().message().find("'data_dir'"), std::string::npos) << v.status().message();
  EXPECT_NE(v.status().message().find("-P data_dir="), std::string::npos) << v.status().message();
}

TEST(ResolveParametersTest, ValidatesTypes) {
  struct Case {
    const char* type;
    const char* value;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"float", "0.1", true},     {"float", "-3", true},      {"float", "1e-5", true},
      {"float", "+2.5", true},    {"float", "inf", true},     {"float", "abc", false},
      {"float", "", false},       {"float", "0.1x", false},   {"float", "nan", false},
      {"float", "1,5", false},    {"int", "42", true},        {"int", "-7", true},
      {"int", "+7", true},        {"int", "4.2", false},      {"int", "1e3", false},
      {"int", "", false},         {"int", "seven", false},    {"int", "99999999999999999999", false},
      {"string", "", true},       {"string", "anything goes", true},
      {"uri", "s3://b/k", true},  {"path", "rel/x", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.type) + " '" + c.value + "'");
    EntryPoint e = Entry("x", {Param("p", c.type)});
    auto v = ResolveParameters(e, {{"p", c.value}}, "/base", nullptr);
    EXPECT_EQ(v.ok(), c.ok) << (v.ok() ? "" : v.status().message());
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
      EXPECT_NE(v.status().message().find("parameter 'p'"), std::string::npos);
    }
  }
}

TEST(ResolveParametersTest, BadDefaultIsRejectedToo) {
  EntryPoint e = Entry("x", {Param("n", "int", "many")});
  auto v = ResolveParameters(e, {}, "/base", nullptr);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
}

TEST(ResolveParametersTest, GivenPathsAreMadeAbsolute) {
  EntryPoint e = Entry("x", {Param("p", "path"), Param("d", "path", "data/default.csv")});
  struct Case {
    const char* given;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"data/x.csv", "/work/dir/data/x.csv"},
      {"./x/../y.csv", "/work/dir/y.csv"},
      {"/abs/file", "/abs/file"},
      {"file:///abs/file", "file:///abs/file"},
      {"s3://bucket/key", "s3://bucket/key"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.given);
    auto v = ResolveParameters(e, {{"p", c.given}}, "/work/dir", nullptr);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(v->at("p"), c.want);
    // A default path is relative to the project, where the command runs.
    EXPECT_EQ(v->at("d"), "data/default.csv");
  }
}

TEST(ResolveParametersTest, UndeclaredValuesAreExtra) {
  EntryPoint e = Entry("x", {Param("a", "string", "A")});
  std::map<std::string, std::string> extra = {{"stale", "1"}};
  auto v = ResolveParameters(e, {{"a", "1"}, {"batch_size", "32"}, {"name", "x y"}}, "/", &extra);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, (std::map<std::string, std::string>{{"a", "1"}}));
  EXPECT_EQ(extra, (std::map<std::string, std::string>{{"batch_size", "32"}, {"name", "x y"}}));
}

// -------------------------------------------------------- quoting and rendering

// Runs `printf %s <quoted>` through /bin/sh and returns what it printed.
std::string ThroughShell(const std::string& quoted) {
  std::string cmd = "printf %s " + quoted;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return "<popen failed>";
  std::string out;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

TEST(ShellQuoteTest, QuotesWhatTheShellWouldInterpret) {
  struct Case {
    std::string value;
    std::string quoted;
  };
  const std::vector<Case> cases = {
      {"plain", "plain"},
      {"0.01", "0.01"},
      {"/abs/path-1_2.csv", "/abs/path-1_2.csv"},
      {"key=value,x:y@z+%", "key=value,x:y@z+%"},
      {"", "''"},
      {"two words", "'two words'"},
      {"it's", "'it'\"'\"'s'"},
      {"say \"hi\"", "'say \"hi\"'"},
      {"$HOME", "'$HOME'"},
      {"${x:-y}", "'${x:-y}'"},
      {"`id`", "'`id`'"},
      {"$(id)", "'$(id)'"},
      {"a\nb", "'a\nb'"},
      {"tab\there", "'tab\there'"},
      {"back\\slash", "'back\\slash'"},
      {"*.csv", "'*.csv'"},
      {"a;b|c&d", "'a;b|c&d'"},
      {"~user", "'~user'"},
      {"#comment", "'#comment'"},
      {"-flag", "-flag"},
      {"ünïcödé ✓", "'ünïcödé ✓'"},
      {"'", "''\"'\"''"},
      {"''", "''\"'\"''\"'\"''"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(ShellQuote(c.value), c.quoted);
  }
}

TEST(ShellQuoteTest, ValuesRoundTripThroughTheShellByteForByte) {
  const std::vector<std::string> values = {
      "plain",     "",          "two  spaces", "it's",       "say \"hi\"", "$HOME",
      "${PATH}",   "`echo x`",  "$(echo x)",   "a\nb\n",     "\n",         "tab\t",
      "back\\n",   "*",         "?",           "[a-z]",      "a;b|c&d>e<f", "~",
      "#x",        "!event",    "'",           "\"",         "''\"\"'",    "ünïcödé ✓ 日本",
      "%s %d",     "-n",        " leading",    "trailing ",  "\\",         "{alpha}",
  };
  for (const std::string& v : values) {
    SCOPED_TRACE(v);
    EXPECT_EQ(ThroughShell(ShellQuote(v)), v);
  }
}

TEST(RenderCommandTest, SubstitutesDeclaredParametersQuoted) {
  EntryPoint e = Entry("python train.py --alpha {alpha} --name {name} --data {data}",
                       {Param("alpha", "float"), Param("name", "string"), Param("data", "path")});
  std::string cmd = RenderCommand(
      e, {{"alpha", "0.5"}, {"name", "my run's \"best\" $1"}, {"data", "/d/x y"}}, {});
  EXPECT_EQ(cmd,
            "python train.py --alpha 0.5 --name 'my run'\"'\"'s \"best\" $1' --data '/d/x y'");
}

TEST(RenderCommandTest, Table) {
  struct Case {
    const char* what;
    std::string command;
    std::map<std::string, std::string> values;
    std::map<std::string, std::string> extra;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"no placeholders", "echo hi", {}, {}, "echo hi"},
      {"repeated placeholder", "echo {a} {a}", {{"a", "x y"}}, {}, "echo 'x y' 'x y'"},
      {"adjacent placeholders", "echo {a}{b}", {{"a", "1"}, {"b", "2"}}, {}, "echo 12"},
      {"unknown braces stay", "awk '{print $1}' {a}", {{"a", "f"}}, {}, "awk '{print $1}' f"},
      {"unclosed brace", "echo {a", {{"a", "1"}}, {}, "echo {a"},
      {"brace before placeholder", "echo {{a}", {{"a", "1"}}, {}, "echo {1"},
      {"value is not rendered again", "echo {a} {b}", {{"a", "{b}"}, {"b", "2"}}, {},
       "echo '{b}' 2"},
      {"empty value", "run --x {a}", {{"a", ""}}, {}, "run --x ''"},
      {"extra appended in name order", "train", {}, {{"zeta", "1"}, {"alpha", "a b"}},
       "train --alpha 'a b' --zeta 1"},
      {"extra after placeholders", "train {a}", {{"a", "1"}}, {{"b", "$x"}},
       "train 1 --b '$x'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(RenderCommand(Entry(c.command), c.values, c.extra), c.want);
  }
}

TEST(RenderCommandTest, RenderedValuesReachTheCommandUnchanged) {
  const std::string nasty = "a b 'c' \"d\" $e `f` \\g\nh ü;rm -rf /tmp/nothing";
  EntryPoint e = Entry("printf %s {v}", {Param("v", "string")});
  EXPECT_EQ(ThroughShell(RenderCommand(e, {{"v", nasty}}, {}).substr(10)), nasty);
}

TEST(RenderCommandTest, ExtraParameterNamesCannotInjectCommands) {
  // -P 'x;echo injected=1' must stay one word, not run a second command.
  std::string cmd = RenderCommand(Entry("printf '%s|'"), {}, {{"x;echo injected", "1"}});
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  EXPECT_EQ(out, "--x;echo injected|1|");
}

// ------------------------------------------------------------------- PlanSteps

Step MakeStep(const std::string& name, std::vector<std::string> needs = {},
              std::vector<std::string> outputs = {}, std::vector<std::string> inputs = {},
              std::map<std::string, std::string> parameters = {}) {
  Step s;
  s.name = name;
  s.needs = std::move(needs);
  s.outputs = std::move(outputs);
  s.inputs = std::move(inputs);
  s.parameters = std::move(parameters);
  return s;
}

using Levels = std::vector<std::vector<std::string>>;

TEST(PlanStepsTest, OrdersByDependencies) {
  struct Case {
    const char* what;
    std::vector<Step> steps;
    Levels want;
  };
  const std::vector<Case> cases = {
      {"empty", {}, {}},
      {"chain by needs",
       {MakeStep("a"), MakeStep("b", {"a"}), MakeStep("c", {"b"})},
       {{"a"}, {"b"}, {"c"}}},
      {"declared out of order",
       {MakeStep("c", {"b"}), MakeStep("b", {"a"}), MakeStep("a")},
       {{"a"}, {"b"}, {"c"}}},
      {"independent steps share a level",
       {MakeStep("x"), MakeStep("y"), MakeStep("z")},
       {{"x", "y", "z"}}},
      {"diamond",
       {MakeStep("a"), MakeStep("b", {"a"}), MakeStep("c", {"a"}), MakeStep("d", {"b", "c"})},
       {{"a"}, {"b", "c"}, {"d"}}},
      {"output reference in a parameter is a dependency",
       {MakeStep("a", {}, {"data"}), MakeStep("b", {}, {}, {}, {{"in", "{steps.a.outputs.data}"}})},
       {{"a"}, {"b"}}},
      {"output reference in inputs is a dependency",
       {MakeStep("b", {}, {}, {"steps.a.outputs.data"}), MakeStep("a", {}, {"data"})},
       {{"a"}, {"b"}}},
      {"reference inside a longer value",
       {MakeStep("a", {}, {"m"}), MakeStep("b", {}, {}, {}, {{"f", "{steps.a.outputs.m}/w.pt"}})},
       {{"a"}, {"b"}}},
      {"uneven branches",
       {MakeStep("a"), MakeStep("long1", {"a"}), MakeStep("long2", {"long1"}),
        MakeStep("short", {"a"}), MakeStep("join", {"long2", "short"})},
       {{"a"}, {"long1", "short"}, {"long2"}, {"join"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Project p;
    p.steps = c.steps;
    auto levels = PlanSteps(p);
    ASSERT_TRUE(levels.ok()) << levels.status().ToString();
    EXPECT_EQ(*levels, c.want);
  }
}

TEST(PlanStepsTest, RejectsBadReferencesAndCycles) {
  struct Case {
    const char* what;
    std::vector<Step> steps;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"needs unknown step", {MakeStep("a", {"ghost"})}, "step 'a' needs unknown step 'ghost'"},
      {"unknown step in a parameter",
       {MakeStep("a", {}, {}, {}, {{"x", "{steps.ghost.outputs.o}"}})},
       "step 'a' refers to unknown step 'ghost'"},
      {"unknown step in inputs",
       {MakeStep("a", {}, {}, {"steps.ghost.outputs.o"})},
       "step 'a' refers to unknown step 'ghost'"},
      {"undeclared output",
       {MakeStep("a", {}, {"data"}), MakeStep("b", {}, {}, {}, {{"x", "{steps.a.outputs.model}"}})},
       "output 'model' that step 'a' does not declare"},
      {"self reference",
       {MakeStep("a", {}, {"data"}, {}, {{"x", "{steps.a.outputs.data}"}})},
       "step 'a' refers to its own output"},
      {"needs itself", {MakeStep("a", {"a"})}, "cycle: a"},
      {"two-step cycle", {MakeStep("a", {"b"}), MakeStep("b", {"a"})}, "cycle"},
      {"cycle through outputs",
       {MakeStep("a", {}, {"o"}, {"steps.c.outputs.o"}), MakeStep("b", {}, {"o"}, {"steps.a.outputs.o"}),
        MakeStep("c", {}, {"o"}, {"steps.b.outputs.o"})},
       "cycle"},
      {"cycle behind a good step",
       {MakeStep("ok"), MakeStep("x", {"ok", "y"}), MakeStep("y", {"x"})},
       "cycle: x, y"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Project p;
    p.steps = c.steps;
    auto levels = PlanSteps(p);
    ASSERT_FALSE(levels.ok());
    EXPECT_EQ(levels.status().code(), Code::kInvalidArgument);
    EXPECT_NE(levels.status().message().find(c.message), std::string::npos)
        << levels.status().message();
  }
}

TEST_F(ProjectTest, PlansTheDigitsPipelineInOrder) {
  Project p = MustLoad(R"(
entry_points:
  main:
    parameters: {lr: {type: float, default: 0.01}}
steps:
  - {name: preprocess, project: preprocess, parameters: {out: "{outputs.data}"}, outputs: [data]}
  - name: train
    parameters: {data: "{steps.preprocess.outputs.data}", out: "{outputs.model}"}
    outputs: [model]
  - name: evaluate
    parameters: {model: "{steps.train.outputs.model}", data: "{steps.preprocess.outputs.data}"}
    outputs: [report]
  - {name: convert, parameters: {model: "{steps.train.outputs.model}"}, needs: [evaluate]}
)");
  auto levels = PlanSteps(p);
  ASSERT_TRUE(levels.ok()) << levels.status().ToString();
  EXPECT_EQ(*levels, (Levels{{"preprocess"}, {"train"}, {"evaluate"}, {"convert"}}));
}

}  // namespace
}  // namespace ringo::pipeline
