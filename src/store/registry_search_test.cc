// Tests of the in-memory registry search every engine uses.
#include "store/registry_search.h"

#include <gtest/gtest.h>

namespace ringo::store {
namespace {

std::vector<ModelVersion> Versions() {
  std::vector<ModelVersion> out;
  for (const char* name : {"b", "a"}) {
    for (int64_t v = 1; v <= 3; ++v) {
      ModelVersion mv;
      mv.name = name;
      mv.version = v;
      mv.run_id = "r" + std::to_string(v);
      mv.creation_time = 100 - v;
      if (v == 2) mv.tags.push_back(Tag{"t", "x"});
      out.push_back(mv);
    }
  }
  return out;
}

std::vector<std::string> Keys(const ModelVersionPage& p) {
  std::vector<std::string> out;
  for (const ModelVersion& v : p.versions) out.push_back(v.name + std::to_string(v.version));
  return out;
}

Result<ModelVersionPage> Search(const std::string& filter, std::vector<std::string> order = {},
                                int64_t max = 100, const std::string& token = "") {
  RegistrySearch s;
  s.filter = filter;
  s.order_by = std::move(order);
  s.max_results = max;
  s.page_token = token;
  return SearchModelVersionsIn(s, [] { return Result<std::vector<ModelVersion>>(Versions()); });
}

TEST(RegistrySearchTest, FiltersAndOrders) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Keys(*Search("")), (V{"a3", "a2", "a1", "b3", "b2", "b1"}));
  EXPECT_EQ(Keys(*Search("name = 'a' AND version_number > 1")), (V{"a3", "a2"}));
  EXPECT_EQ(Keys(*Search("tags.t = 'x'")), (V{"a2", "b2"}));
  // Ties of the requested order fall to MLflow's: name, then the newest version.
  EXPECT_EQ(Keys(*Search("run_id IN ('r1', 'r3')", {"creation_timestamp"})),
            (V{"a3", "b3", "a1", "b1"}));
}

TEST(RegistrySearchTest, DefaultOrderIsNewestChangeFirst) {
  RegistrySearch s;
  s.max_results = 100;
  auto got = SearchModelVersionsIn(s, [] {
    std::vector<ModelVersion> all = Versions();
    for (size_t i = 0; i < all.size(); ++i) all[i].last_updated_time = int64_t(i % 2);
    return Result<std::vector<ModelVersion>>(all);
  });
  ASSERT_TRUE(got.ok());
  // b2, a1 and a3 changed last (time 1); each group by name, then newest version.
  EXPECT_EQ(Keys(*got), (std::vector<std::string>{"a3", "a1", "b2", "a2", "b3", "b1"}));
}

TEST(RegistrySearchTest, PagesCoverEveryVersionOnce) {
  std::vector<std::string> seen;
  std::string token;
  do {
    Result<ModelVersionPage> p = Search("", {}, 4, token);
    ASSERT_TRUE(p.ok());
    for (const std::string& k : Keys(*p)) seen.push_back(k);
    token = p->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(seen.size(), 6u);
}

TEST(RegistrySearchTest, BadInputFailsBeforeLoading) {
  bool loaded = false;
  RegistrySearch s;
  s.filter = "bogus = 'x'";
  auto got = SearchModelVersionsIn(s, [&] {
    loaded = true;
    return Result<std::vector<ModelVersion>>(Versions());
  });
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(loaded);
  EXPECT_FALSE(Search("", {}, 0).ok());
  EXPECT_FALSE(Search("", {}, 10, "not-a-token").ok());
}

}  // namespace
}  // namespace ringo::store
