// Store conformance on every engine: the model registry (models, versions, stages, aliases, tags).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "store/store_conformance.h"

namespace ringo::store {
namespace {

class RegistryStoreTest : public StoreTest {
 protected:
  Result<RegisteredModel> CreateModel(const std::string& name, std::vector<Tag> tags = {}) {
    return WaitFor<RegisteredModel>([&](DoneWith<RegisteredModel> done) {
      store_->CreateRegisteredModel(name, "about " + name, tags, std::move(done));
    });
  }
  Result<ModelVersion> CreateVersion(const std::string& name, const std::string& source) {
    ModelVersion v;
    v.name = name;
    v.source = source;
    v.run_id = "r1";
    v.sha256 = "abc";
    v.size = 42;
    v.tags = {{"t", "1"}};
    return WaitFor<ModelVersion>(
        [&](DoneWith<ModelVersion> done) { store_->CreateModelVersion(v, std::move(done)); });
  }
  Result<ModelVersion> Transition(const std::string& name, int64_t version,
                                  const std::string& stage, bool archive) {
    return WaitFor<ModelVersion>([&](DoneWith<ModelVersion> done) {
      store_->TransitionModelVersionStage(name, version, stage, archive, std::move(done));
    });
  }
  Status SetAlias(const std::string& name, const std::string& alias, int64_t version) {
    return Wait([&](Done done) {
      store_->SetRegisteredModelAlias(name, alias, version, std::move(done));
    });
  }
  Status DeleteAlias(const std::string& name, const std::string& alias) {
    return Wait(
        [&](Done done) { store_->DeleteRegisteredModelAlias(name, alias, std::move(done)); });
  }
  Status DeleteModel(const std::string& name) {
    return Wait([&](Done done) { store_->DeleteRegisteredModel(name, std::move(done)); });
  }
};

TEST_P(RegistryStoreTest, CreateGetAndDuplicate) {
  Result<RegisteredModel> m = CreateModel("clf", {{"team", "vision"}});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->name, "clf");
  EXPECT_EQ(m->description, "about clf");
  EXPECT_EQ(FindTag(m->tags, "team"), "vision");
  EXPECT_GT(m->creation_time, 0);
  EXPECT_EQ(CreateModel("clf").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(CreateModel("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetRegisteredModel("nope").status().code(), Code::kNotFound);
  Result<RegisteredModel> got = store_->GetRegisteredModel("clf");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->creation_time, m->creation_time);
}

TEST_P(RegistryStoreTest, VersionsAreNumberedAndKeepWhatWasGiven) {
  ASSERT_TRUE(CreateModel("clf").ok());
  Result<ModelVersion> v1 = CreateVersion("clf", "runs:/r1/model");
  Result<ModelVersion> v2 = CreateVersion("clf", "runs:/r2/model");
  ASSERT_TRUE(v1.ok() && v2.ok()) << v1.status().ToString() << v2.status().ToString();
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v2->version, 2);
  Result<ModelVersion> got = store_->GetModelVersion("clf", 1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->source, "runs:/r1/model");
  EXPECT_EQ(got->sha256, "abc");
  EXPECT_EQ(got->size, 42);
  EXPECT_EQ(got->current_stage, "None");
  EXPECT_EQ(FindTag(got->tags, "t"), "1");
  EXPECT_EQ(CreateVersion("nope", "x").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetModelVersion("clf", 9).status().code(), Code::kNotFound);
}

TEST_P(RegistryStoreTest, TransitionArchivesExistingAndLatestVersionsPerStage) {
  ASSERT_TRUE(CreateModel("clf").ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(CreateVersion("clf", "s").ok());
  ASSERT_TRUE(Transition("clf", 1, "production", false).ok());
  Result<ModelVersion> v2 = Transition("clf", 2, "Production", true);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->current_stage, "Production");
  EXPECT_EQ(store_->GetModelVersion("clf", 1)->current_stage, "Archived");
  EXPECT_EQ(Transition("clf", 3, "Shipped", false).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Transition("clf", 7, "Staging", false).status().code(), Code::kNotFound);
  Result<RegisteredModel> m = store_->GetRegisteredModel("clf");
  ASSERT_TRUE(m.ok());
  std::vector<std::pair<std::string, int64_t>> latest;
  for (const ModelVersion& v : m->latest_versions) latest.emplace_back(v.current_stage, v.version);
  EXPECT_EQ(latest.size(), 3u);
  EXPECT_NE(std::find(latest.begin(), latest.end(), std::make_pair(std::string("None"), 3L)),
            latest.end());
}

TEST_P(RegistryStoreTest, Aliases) {
  ASSERT_TRUE(CreateModel("clf").ok());
  ASSERT_TRUE(CreateVersion("clf", "s").ok());
  ASSERT_TRUE(CreateVersion("clf", "s").ok());
  ASSERT_TRUE(SetAlias("clf", "champion", 1).ok());
  ASSERT_TRUE(SetAlias("clf", "champion", 2).ok());  // moves
  Result<ModelVersion> v = store_->GetModelVersionByAlias("clf", "champion");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->version, 2);
  EXPECT_EQ(v->aliases, std::vector<std::string>{"champion"});
  EXPECT_EQ(SetAlias("clf", "latest", 1).code(), Code::kInvalidArgument);
  EXPECT_EQ(SetAlias("clf", "x", 5).code(), Code::kNotFound);
  ASSERT_TRUE(DeleteAlias("clf", "champion").ok());
  EXPECT_EQ(DeleteAlias("clf", "champion").code(), Code::kNotFound);
  EXPECT_EQ(store_->GetModelVersionByAlias("clf", "champion").status().code(), Code::kNotFound);
}

TEST_P(RegistryStoreTest, RenameMovesVersionsAndDeleteRemovesAll) {
  ASSERT_TRUE(CreateModel("old").ok());
  ASSERT_TRUE(CreateModel("taken").ok());
  ASSERT_TRUE(CreateVersion("old", "s").ok());
  auto rename = [&](const std::string& from, const std::string& to) {
    return WaitFor<RegisteredModel>([&](DoneWith<RegisteredModel> done) {
      store_->RenameRegisteredModel(from, to, std::move(done));
    });
  };
  EXPECT_EQ(rename("old", "taken").status().code(), Code::kAlreadyExists);
  Result<RegisteredModel> renamed = rename("old", "new");
  ASSERT_TRUE(renamed.ok()) << renamed.status().ToString();
  EXPECT_EQ(renamed->name, "new");
  EXPECT_EQ(store_->GetRegisteredModel("old").status().code(), Code::kNotFound);
  EXPECT_TRUE(store_->GetModelVersion("new", 1).ok());
  ASSERT_TRUE(DeleteModel("new").ok());
  EXPECT_EQ(DeleteModel("new").code(), Code::kNotFound);
  EXPECT_EQ(store_->GetModelVersion("new", 1).status().code(), Code::kNotFound);
}

TEST_P(RegistryStoreTest, TagsOnModelsAndVersions) {
  ASSERT_TRUE(CreateModel("clf").ok());
  ASSERT_TRUE(CreateVersion("clf", "s").ok());
  auto set_model = [&](Tag t) {
    return Wait([&](Done done) { store_->SetRegisteredModelTag("clf", t, std::move(done)); });
  };
  auto del_model = [&](const std::string& k) {
    return Wait([&](Done done) { store_->DeleteRegisteredModelTag("clf", k, std::move(done)); });
  };
  auto set_version = [&](Tag t) {
    return Wait([&](Done done) { store_->SetModelVersionTag("clf", 1, t, std::move(done)); });
  };
  auto del_version = [&](const std::string& k) {
    return Wait([&](Done done) { store_->DeleteModelVersionTag("clf", 1, k, std::move(done)); });
  };
  ASSERT_TRUE(set_model({"a", "1"}).ok());
  ASSERT_TRUE(set_model({"a", "2"}).ok());
  EXPECT_EQ(FindTag(store_->GetRegisteredModel("clf")->tags, "a"), "2");
  ASSERT_TRUE(del_model("a").ok());
  EXPECT_EQ(del_model("a").code(), Code::kNotFound);
  ASSERT_TRUE(set_version({"b", "x"}).ok());
  EXPECT_EQ(FindTag(store_->GetModelVersion("clf", 1)->tags, "b"), "x");
  ASSERT_TRUE(del_version("b").ok());
  EXPECT_EQ(del_version("b").code(), Code::kNotFound);
  EXPECT_EQ(Wait([&](Done done) {
              store_->SetModelVersionTag("clf", 5, {"k", "v"}, std::move(done));
            }).code(),
            Code::kNotFound);
}

TEST_P(RegistryStoreTest, SearchFiltersOrdersAndPages) {
  for (const char* name : {"b-clf", "a-clf", "c-det"}) ASSERT_TRUE(CreateModel(name).ok());
  RegistrySearch s;
  s.filter = "name LIKE '%clf'";
  Result<RegisteredModelPage> page = store_->SearchRegisteredModels(s);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->models.size(), 2u);
  EXPECT_EQ(page->models[0].name, "a-clf");
  RegistrySearch paged;
  paged.max_results = 2;
  page = store_->SearchRegisteredModels(paged);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->models.size(), 2u);
  ASSERT_FALSE(page->next_page_token.empty());
  paged.page_token = page->next_page_token;
  page = store_->SearchRegisteredModels(paged);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->models.size(), 1u);
  EXPECT_EQ(page->models[0].name, "c-det");
  ASSERT_TRUE(CreateVersion("a-clf", "s").ok());
  RegistrySearch versions;
  versions.filter = "name = 'a-clf'";
  Result<ModelVersionPage> vp = store_->SearchModelVersions(versions);
  ASSERT_TRUE(vp.ok()) << vp.status().ToString();
  ASSERT_EQ(vp->versions.size(), 1u);
  EXPECT_EQ(vp->versions[0].version, 1);
}

RINGO_ON_EVERY_ENGINE(RegistryStoreTest);

}  // namespace
}  // namespace ringo::store
