// Tests of the local artifact repository: layout, listing, atomic puts, and path escapes.
#include "artifacts/artifacts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "common/util.h"

namespace ringo::artifacts {
namespace {

namespace fs = std::filesystem;

class ArtifactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ringo-artifacts-" + NewId());
    root_ = dir_ / "root";
    repo_ = std::make_unique<LocalRepository>(root_);
    ASSERT_TRUE(repo_->Init().ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_, root_;
  std::unique_ptr<LocalRepository> repo_;
};

TEST_F(ArtifactsTest, PutCreatesParentsAndListShowsChildren) {
  ASSERT_TRUE(repo_->Put("1/run/artifacts/a.txt", "hello").ok());
  ASSERT_TRUE(repo_->Put("1/run/artifacts/sub/b.json", "{}").ok());
  bool is_file = true;
  auto list = repo_->List("1/run/artifacts", &is_file);
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(is_file);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].path, "1/run/artifacts/a.txt");
  EXPECT_FALSE((*list)[0].is_dir);
  EXPECT_EQ((*list)[0].file_size, 5);
  EXPECT_EQ((*list)[1].path, "1/run/artifacts/sub");
  EXPECT_TRUE((*list)[1].is_dir);
}

TEST_F(ArtifactsTest, ListOfAFileIsEmptyAndSaysSo) {
  ASSERT_TRUE(repo_->Put("x/f.bin", "123").ok());
  bool is_file = false;
  auto list = repo_->List("x/f.bin", &is_file);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(is_file);
  EXPECT_TRUE(list->empty());
}

TEST_F(ArtifactsTest, ListOfMissingPathIsEmpty) {
  auto list = repo_->List("nothing/here");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(ArtifactsTest, PutFileMovesTheUploadIntoPlace) {
  fs::path upload = dir_ / "upload.tmp";
  std::ofstream(upload) << "payload";
  ASSERT_TRUE(repo_->PutFile("e/r/artifacts/model.bin", upload).ok());
  EXPECT_FALSE(fs::exists(upload));
  EXPECT_EQ(Read(root_ / "e/r/artifacts/model.bin"), "payload");
}

TEST_F(ArtifactsTest, PutReplacesExistingContent) {
  ASSERT_TRUE(repo_->Put("a.txt", "one").ok());
  ASSERT_TRUE(repo_->Put("a.txt", "two").ok());
  EXPECT_EQ(Read(root_ / "a.txt"), "two");
}

TEST_F(ArtifactsTest, EscapingPathsAreRejectedAndWriteNothing) {
  const char* bad[] = {"../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "a\\..\\evil.txt",
                       "a/\x01/b"};
  for (const char* p : bad) {
    Status s = repo_->Put(p, "x");
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << p;
  }
  EXPECT_FALSE(fs::exists(dir_ / "evil.txt"));
}

TEST_F(ArtifactsTest, SymlinkLeadingOutsideIsRefused) {
  fs::path outside = dir_ / "outside";
  fs::create_directories(outside);
  std::ofstream(outside / "secret.txt") << "secret";
  fs::create_directory_symlink(outside, root_ / "link");
  EXPECT_EQ(repo_->Resolve("link/secret.txt").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(repo_->Put("link/new.txt", "x").code(), Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(outside / "new.txt"));
  auto list = repo_->List("");
  ASSERT_TRUE(list.ok());
  for (const auto& f : *list) EXPECT_NE(f.path, "link");
}

TEST_F(ArtifactsTest, SymlinkInsideTheRootIsFollowed) {
  ASSERT_TRUE(repo_->Put("real/f.txt", "ok").ok());
  fs::create_directory_symlink(root_ / "real", root_ / "alias");
  auto p = repo_->Resolve("alias/f.txt");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Read(*p), "ok");
}

TEST_F(ArtifactsTest, DeleteRemovesTreesAndReportsMissing) {
  ASSERT_TRUE(repo_->Put("d/a/b.txt", "x").ok());
  ASSERT_TRUE(repo_->Delete("d/a").ok());
  EXPECT_FALSE(fs::exists(root_ / "d/a"));
  EXPECT_EQ(repo_->Delete("d/a").code(), Code::kNotFound);
  EXPECT_EQ(repo_->Delete("").code(), Code::kInvalidArgument);
}

TEST(ContentTypeTest, GuessesByExtension) {
  EXPECT_EQ(GuessContentType("a.json"), "application/json");
  EXPECT_EQ(GuessContentType("IMG.PNG"), "image/png");
  EXPECT_EQ(GuessContentType("notes.txt"), "text/plain");
  EXPECT_EQ(GuessContentType("model.mlmodel"), "application/octet-stream");
  EXPECT_EQ(GuessContentType("noext"), "application/octet-stream");
}

struct UriCase {
  const char* uri;
  const char* file_root;
  const char* expected;  // nullptr: refused
};

TEST(ArtifactUriPathTest, MapsProxyAndLocalRootUrisOntoRepositoryPaths) {
  const UriCase kCases[] = {
      {"mlflow-artifacts:/1/r/artifacts/x", "", "1/r/artifacts/x"},
      {"mlflow-artifacts://host:5000/1/r/artifacts", "", "1/r/artifacts"},
      {"file:///srv/a/1/r/artifacts/m", "file:///srv/a", "1/r/artifacts/m"},
      {"file:///srv/a", "file:///srv/a", ""},
      {"file:///srv/a/1/r/artifacts/m", "", nullptr},         // no local root: not ours
      {"file:///srv/ab/1", "file:///srv/a", nullptr},         // a sibling, not beneath
      {"file:///etc/passwd", "file:///srv/a", nullptr},
      {"file:///srv/a/1/../../b", "file:///srv/a", nullptr},  // escapes the root
      {"s3://bucket/1/r", "file:///srv/a", nullptr},
  };
  for (const UriCase& c : kCases) {
    Result<std::string> rel = ArtifactUriPath(c.uri, c.file_root);
    if (c.expected == nullptr) {
      ASSERT_FALSE(rel.ok()) << c.uri;
      EXPECT_EQ(rel.status().code(), Code::kInvalidArgument) << c.uri;
    } else {
      ASSERT_TRUE(rel.ok()) << c.uri << ": " << rel.status().message();
      EXPECT_EQ(*rel, c.expected) << c.uri;
    }
  }
}

TEST(LocalRepositoryTest, FileUriIsTheAbsoluteRoot) {
  EXPECT_EQ(LocalRepository("/srv/art/").FileUri(), "file:///srv/art");
  EXPECT_EQ(LocalRepository("/srv/x/../art").FileUri(), "file:///srv/art");
}

}  // namespace
}  // namespace ringo::artifacts
