// Tests of the path and address logic of steps whose files travel through the artifact store.
#include "pipeline/transfer.h"

#include <gtest/gtest.h>

namespace ringo::pipeline {
namespace {

TEST(RebasePathsTest, MovesPathsInsideTheRootOnly) {
  struct Case {
    std::string text, want;
  } cases[] = {
      {"/p/proj", "/s/x"},
      {"/p/proj/.ringo/outputs/a/data", "/s/x/.ringo/outputs/a/data"},
      {"python t.py --out '/p/proj/o' --in /p/proj/i", "python t.py --out '/s/x/o' --in /s/x/i"},
      {"/p/proj-old/o", "/p/proj-old/o"},
      {"/p/projects/o", "/p/projects/o"},
      {"/x/p/proj/o", "/x/p/proj/o"},
      {"a=/p/proj:/p/proj/b", "a=/s/x:/s/x/b"},
      {"no paths here", "no paths here"},
      {"", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(RebasePaths(c.text, "/p/proj", "/s/x", "/s/x/"), c.want);
  }
}

TEST(RebasePathsTest, SpellsPathsRelativeToTheRoot) {
  EXPECT_EQ(RebasePaths("cd /p/proj && ls /p/proj/a/b", "/p/proj", ".", ""), "cd . && ls a/b");
}

TEST(IsLoopbackUriTest, NamesTheAddressesOtherMachinesCannotReach) {
  struct Case {
    std::string uri;
    bool loopback;
  } cases[] = {
      {"http://127.0.0.1:5000", true},
      {"http://127.1.2.3/prefix", true},
      {"http://localhost:8080", true},
      {"https://LOCALHOST", true},
      {"http://[::1]:5000/", true},
      {"http://user:pw@127.0.0.1:5000", true},
      {"http://ringo.internal:5000", false},
      {"http://10.0.0.7:5000", false},
      {"http://[fe80::1]:5000", false},
      {"http://127example.com", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.uri);
    EXPECT_EQ(IsLoopbackUri(c.uri), c.loopback);
  }
}

TEST(IsInsidePathTest, RefusesPathsThatLeaveTheDirectory) {
  EXPECT_TRUE(IsInsidePath("a"));
  EXPECT_TRUE(IsInsidePath(".ringo/outputs/s/data"));
  EXPECT_TRUE(IsInsidePath("."));
  EXPECT_FALSE(IsInsidePath(""));
  EXPECT_FALSE(IsInsidePath("/etc"));
  EXPECT_FALSE(IsInsidePath("../x"));
  EXPECT_FALSE(IsInsidePath("a/../../x"));
}

}  // namespace
}  // namespace ringo::pipeline
