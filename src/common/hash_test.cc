// Tests for the hashes of bytes, files and directory trees.
#include "common/hash.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/util.h"

namespace ringo {
namespace {

namespace fs = std::filesystem;

// SHA-256("abc"), from FIPS 180-2 appendix B.1.
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

class HashPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ringo-hash-test-" + NewId());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Write(const fs::path& rel, const std::string& content) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel, std::ios::binary) << content;
  }
  fs::path dir_;
};

TEST(Sha256Test, KnownVector) { EXPECT_EQ(Sha256Hex("abc"), kAbc); }

TEST_F(HashPathTest, FileHashIsTheFilesSha256) {
  Write("a.mlmodel", "abc");
  auto h = HashPath(dir_ / "a.mlmodel");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(*h, kAbc);
}

TEST_F(HashPathTest, TreeHashDependsOnNamesAndContentNotLocation) {
  Write("one/pkg/Manifest.json", "{}");
  Write("one/pkg/Data/weights.bin", "abc");
  Write("two/pkg/Manifest.json", "{}");
  Write("two/pkg/Data/weights.bin", "abc");
  auto a = HashPath(dir_ / "one" / "pkg");
  auto b = HashPath(dir_ / "two" / "pkg");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, kAbc);
  Write("two/pkg/Data/weights.bin", "abd");
  auto c = HashPath(dir_ / "two" / "pkg");
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);
}

TEST_F(HashPathTest, SkippedNamesAreLeftOut) {
  Write("p/code.py", "print(1)");
  auto before = HashPath(dir_ / "p", {".ringo"});
  Write("p/.ringo/outputs/x", "anything");
  auto after = HashPath(dir_ / "p", {".ringo"});
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(*before, *after);
}

TEST_F(HashPathTest, MissingPathIsNotFound) {
  auto h = HashPath(dir_ / "nope");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace ringo
