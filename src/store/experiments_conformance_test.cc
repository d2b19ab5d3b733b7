// Store conformance on every engine: experiments and their search.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "store/store_conformance.h"

namespace ringo::store {
namespace {

// ---------------------------------------------------------------------------------------------
// Experiments

using ExperimentStoreTest = StoreTest;

TEST_P(ExperimentStoreTest, DefaultExperimentExists) {
  Result<Experiment> by_id = store_->GetExperiment("0");
  ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
  EXPECT_EQ(by_id->experiment_id, "0");
  EXPECT_EQ(by_id->name, "Default");
  EXPECT_EQ(by_id->lifecycle_stage, "active");
  EXPECT_EQ(by_id->artifact_location, "mlflow-artifacts:/0");

  Result<Experiment> by_name = store_->GetExperimentByName("Default");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(by_name->experiment_id, "0");
}

// MLflow's --default-artifact-root: the Default experiment and every one created without a
// location keep their artifacts under the store's root; a location given is kept as given.
TEST_P(ExperimentStoreTest, ExperimentsWithoutALocationGoUnderTheArtifactRoot) {
  OpenFresh("file:///srv/it's artifacts");
  Result<Experiment> first = store_->GetExperiment("0");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->artifact_location, "file:///srv/it's artifacts/0");
  Result<std::string> id = CreateExperiment("local");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(store_->GetExperiment(*id)->artifact_location, "file:///srv/it's artifacts/" + *id);
  Result<std::string> placed = CreateExperiment("placed", {}, "s3://bucket/x");
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  EXPECT_EQ(store_->GetExperiment(*placed)->artifact_location, "s3://bucket/x");
}

TEST_P(ExperimentStoreTest, CreateThenGetByIdAndName) {
  Result<std::string> id = CreateExperiment("exp-a", {{"team", "vision"}, {"owner", "ana"}});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "1");

  Result<Experiment> e = store_->GetExperiment(*id);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->name, "exp-a");
  EXPECT_EQ(e->lifecycle_stage, "active");
  EXPECT_EQ(e->artifact_location, "mlflow-artifacts:/1");
  EXPECT_GT(e->creation_time, 0);
  EXPECT_EQ(FindTag(e->tags, "team"), "vision");
  EXPECT_EQ(FindTag(e->tags, "owner"), "ana");

  Result<Experiment> by_name = store_->GetExperimentByName("exp-a");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(by_name->experiment_id, "1");

  EXPECT_EQ(CreateExperiment("exp-b").value(), "2");
}

TEST_P(ExperimentStoreTest, CreateKeepsGivenArtifactLocation) {
  Result<std::string> id = CreateExperiment("exp", {}, "file:///data/exp");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(store_->GetExperiment(*id)->artifact_location, "file:///data/exp");
}

TEST_P(ExperimentStoreTest, CreateRejectsEmptyNameAndBadTags) {
  EXPECT_EQ(CreateExperiment("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CreateExperiment("x", {{"bad key!", "v"}}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetExperimentByName("x").status().code(), Code::kNotFound);
}

TEST_P(ExperimentStoreTest, UnknownExperimentIsNotFound) {
  EXPECT_EQ(store_->GetExperiment("42").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExperimentByName("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExperiment("abc").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetExperiment("-1").status().code(), Code::kInvalidArgument);
}

TEST_P(ExperimentStoreTest, DuplicateNameIsAlreadyExistsEvenWhenDeleted) {
  std::string id = MustCreateExperiment("dup");
  EXPECT_EQ(CreateExperiment("dup").status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(DeleteExperiment(id).ok());
  EXPECT_EQ(CreateExperiment("dup").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(CreateExperiment("Default").status().code(), Code::kAlreadyExists);
}

TEST_P(ExperimentStoreTest, Rename) {
  std::string id = MustCreateExperiment("old");
  MustCreateExperiment("taken");
  ASSERT_TRUE(RenameExperiment(id, "new").ok());
  EXPECT_EQ(store_->GetExperiment(id)->name, "new");
  EXPECT_EQ(store_->GetExperimentByName("old").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExperimentByName("new")->experiment_id, id);

  EXPECT_TRUE(RenameExperiment(id, "new").ok());  // to its own name
  EXPECT_EQ(RenameExperiment(id, "taken").code(), Code::kAlreadyExists);
  EXPECT_EQ(RenameExperiment(id, "").code(), Code::kInvalidArgument);
  EXPECT_EQ(RenameExperiment("99", "x").code(), Code::kNotFound);
  EXPECT_EQ(store_->GetExperiment(id)->name, "new");
}

TEST_P(ExperimentStoreTest, RenameOfDeletedExperimentIsInvalidState) {
  std::string id = MustCreateExperiment("gone");
  ASSERT_TRUE(DeleteExperiment(id).ok());
  EXPECT_EQ(RenameExperiment(id, "back").code(), Code::kFailedPrecondition);
  EXPECT_EQ(store_->GetExperiment(id)->name, "gone");
}

TEST_P(ExperimentStoreTest, DeleteAndRestoreCascadeToRuns) {
  std::string id = MustCreateExperiment("exp");
  store::Run run = MustCreateRun(id);

  ASSERT_TRUE(DeleteExperiment(id).ok());
  EXPECT_EQ(store_->GetExperiment(id)->lifecycle_stage, "deleted");
  EXPECT_EQ(store_->GetRun(run.info.run_id)->info.lifecycle_stage, "deleted");
  EXPECT_EQ(SetTag(run.info.run_id, "t", "v").code(), Code::kInvalidArgument);

  ASSERT_TRUE(RestoreExperiment(id).ok());
  EXPECT_EQ(store_->GetExperiment(id)->lifecycle_stage, "active");
  EXPECT_EQ(store_->GetRun(run.info.run_id)->info.lifecycle_stage, "active");
  EXPECT_TRUE(SetTag(run.info.run_id, "t", "v").ok());
}

TEST_P(ExperimentStoreTest, DeleteFailures) {
  EXPECT_EQ(DeleteExperiment("0").code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetExperiment("0")->lifecycle_stage, "active");
  EXPECT_EQ(DeleteExperiment("77").code(), Code::kNotFound);
  EXPECT_EQ(RestoreExperiment("77").code(), Code::kNotFound);
  EXPECT_EQ(DeleteExperiment("x").code(), Code::kInvalidArgument);
}

TEST_P(ExperimentStoreTest, SetAndDeleteTags) {
  std::string id = MustCreateExperiment("exp");
  auto set = [&](const std::string& exp, const std::string& k, const std::string& v) {
    return Wait([&](Done done) { store_->SetExperimentTag(exp, Tag{k, v}, std::move(done)); });
  };
  auto del = [&](const std::string& exp, const std::string& k) {
    return Wait([&](Done done) { store_->DeleteExperimentTag(exp, k, std::move(done)); });
  };
  ASSERT_TRUE(set(id, "a", "1").ok());
  ASSERT_TRUE(set(id, "b", "2").ok());
  ASSERT_TRUE(set(id, "a", "3").ok());
  std::vector<Tag> tags = store_->GetExperiment(id)->tags;
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(FindTag(tags, "a"), "3");
  EXPECT_EQ(FindTag(tags, "b"), "2");

  ASSERT_TRUE(del(id, "a").ok());
  tags = store_->GetExperiment(id)->tags;
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].key, "b");

  EXPECT_EQ(del(id, "a").code(), Code::kNotFound);
  EXPECT_EQ(set(id, "bad key!", "v").code(), Code::kInvalidArgument);
  EXPECT_EQ(set(id, "k", std::string(8001, 'v')).code(), Code::kInvalidArgument);
  EXPECT_EQ(set("99", "k", "v").code(), Code::kNotFound);

  ASSERT_TRUE(DeleteExperiment(id).ok());
  EXPECT_EQ(set(id, "c", "v").code(), Code::kInvalidArgument);
  EXPECT_EQ(del(id, "b").code(), Code::kInvalidArgument);
  EXPECT_EQ(FindTag(store_->GetExperiment(id)->tags, "c"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Experiment search

using ExperimentSearchTest = StoreTest;

std::vector<std::string> ExperimentNames(const Result<ExperimentPage>& page) {
  std::vector<std::string> names;
  if (page.ok()) {
    for (const Experiment& e : page->experiments) names.push_back(e.name);
  }
  return names;
}

// Millisecond times are beyond what a double prints without an exponent.
TEST_P(ExperimentSearchTest, FiltersOnTimesAsNumbers) {
  MustCreateExperiment("recent");
  Result<ExperimentPage> page = store_->SearchExperiments(
      ExperimentSearch{"creation_time > 1.5e12 AND creation_time < 1e15", ViewType::kActiveOnly,
                       1000, {}, ""});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->experiments.size(), 2u);  // "Default" and "recent"
  page = store_->SearchExperiments(
      ExperimentSearch{"creation_time < 1000.5", ViewType::kActiveOnly, 1000, {}, ""});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->experiments.empty());
}

TEST_P(ExperimentSearchTest, FiltersByNameAndTags) {
  MustCreateExperiment("vision-a", {{"team", "cv"}});
  MustCreateExperiment("vision-b", {{"team", "CV"}});
  MustCreateExperiment("nlp", {{"team", "text"}});

  auto names = [&](const std::string& filter) {
    ExperimentSearch s;
    s.filter = filter;
    s.order_by = {"name ASC"};
    Result<ExperimentPage> page = store_->SearchExperiments(s);
    EXPECT_TRUE(page.ok()) << filter << ": " << page.status().ToString();
    return ExperimentNames(page);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(""), (V{"Default", "nlp", "vision-a", "vision-b"}));
  EXPECT_EQ(names("name = 'nlp'"), (V{"nlp"}));
  EXPECT_EQ(names("name != 'nlp'"), (V{"Default", "vision-a", "vision-b"}));
  EXPECT_EQ(names("name LIKE 'vision-%'"), (V{"vision-a", "vision-b"}));
  EXPECT_EQ(names("name LIKE 'VISION%'"), (V{}));
  EXPECT_EQ(names("name ILIKE 'VISION%'"), (V{"vision-a", "vision-b"}));
  EXPECT_EQ(names("tags.team = 'cv'"), (V{"vision-a"}));
  EXPECT_EQ(names("tags.team ILIKE 'cv'"), (V{"vision-a", "vision-b"}));
  EXPECT_EQ(names("tags.team LIKE 'c%' AND name LIKE '%a'"), (V{"vision-a"}));
  EXPECT_EQ(names("creation_time > 0 AND name = 'nlp'"), (V{"nlp"}));
  EXPECT_EQ(names("tags.missing = 'x'"), (V{}));
}

TEST_P(ExperimentSearchTest, OrdersByRequestedKeys) {
  MustCreateExperiment("b");
  MustCreateExperiment("c");
  MustCreateExperiment("a");
  auto names = [&](std::vector<std::string> order_by) {
    ExperimentSearch s;
    s.order_by = std::move(order_by);
    return ExperimentNames(store_->SearchExperiments(s));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names({"name"}), (V{"Default", "a", "b", "c"}));
  EXPECT_EQ(names({"name DESC"}), (V{"c", "b", "a", "Default"}));
  EXPECT_EQ(names({"experiment_id DESC"}), (V{"a", "c", "b", "Default"}));
  EXPECT_EQ(names({"experiment_id ASC"}), (V{"Default", "b", "c", "a"}));
}

TEST_P(ExperimentSearchTest, PagesCoverEveryExperimentOnce) {
  for (int i = 0; i < 6; ++i) MustCreateExperiment("e" + std::to_string(i));
  ExperimentSearch s;
  s.max_results = 3;
  s.order_by = {"name ASC"};
  std::vector<std::string> seen;
  int pages = 0;
  do {
    Result<ExperimentPage> page = store_->SearchExperiments(s);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->experiments.size(), 3u);
    for (const Experiment& e : page->experiments) seen.push_back(e.name);
    s.page_token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!s.page_token.empty());
  EXPECT_EQ(pages, 3);  // 7 experiments: 3 + 3 + 1
  EXPECT_EQ(seen, (std::vector<std::string>{"Default", "e0", "e1", "e2", "e3", "e4", "e5"}));
}

TEST_P(ExperimentSearchTest, ExactMultipleOfPageSizeEndsWithoutToken) {
  MustCreateExperiment("x");
  ExperimentSearch s;
  s.max_results = 2;
  Result<ExperimentPage> page = store_->SearchExperiments(s);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->experiments.size(), 2u);
  EXPECT_TRUE(page->next_page_token.empty());
}

TEST_P(ExperimentSearchTest, ViewTypes) {
  std::string gone = MustCreateExperiment("gone");
  MustCreateExperiment("kept");
  ASSERT_TRUE(DeleteExperiment(gone).ok());
  auto names = [&](ViewType view) {
    ExperimentSearch s;
    s.view = view;
    s.order_by = {"name"};
    return ExperimentNames(store_->SearchExperiments(s));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(ViewType::kActiveOnly), (V{"Default", "kept"}));
  EXPECT_EQ(names(ViewType::kDeletedOnly), (V{"gone"}));
  EXPECT_EQ(names(ViewType::kAll), (V{"Default", "gone", "kept"}));
}

TEST_P(ExperimentSearchTest, RejectsBadArguments) {
  ExperimentSearch s;
  s.filter = "name === 'x'";
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s = {};
  s.filter = "metrics.acc > 1";
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s = {};
  s.order_by = {"nonsense"};
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s = {};
  s.max_results = 0;
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s.max_results = 50001;
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
  s = {};
  s.page_token = "not a token";
  EXPECT_EQ(store_->SearchExperiments(s).status().code(), Code::kInvalidArgument);
}

RINGO_ON_EVERY_ENGINE(ExperimentStoreTest);
RINGO_ON_EVERY_ENGINE(ExperimentSearchTest);

}  // namespace
}  // namespace ringo::store
