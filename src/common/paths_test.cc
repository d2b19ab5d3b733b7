// Tests for safe relative paths and atomic file writes.
#include "common/paths.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ringo {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ringo-paths-test-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> ListNames(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

TEST(CleanRelativePathTest, Table) {
  struct Case {
    std::string_view input;
    std::optional<std::string> want;  // nullopt: kInvalidArgument
  };
  const Case cases[] = {
      {"", ""},
      {"a", "a"},
      {"a/b/c.txt", "a/b/c.txt"},
      {"a//b/./c", "a/b/c"},
      {"a/b/", "a/b"},
      {"./a", "a"},
      {".", ""},
      {"./", ""},
      {"a/.", "a"},
      {"...", "..."},
      {"..a/b..", "..a/b.."},
      {"dir name/file name", "dir name/file name"},
      {"\xc3\xa9t\xc3\xa9/x", "\xc3\xa9t\xc3\xa9/x"},
      {"ab:c", "ab:c"},
      {"..", std::nullopt},
      {"../a", std::nullopt},
      {"a/..", std::nullopt},
      {"a/../b", std::nullopt},
      {"a/./../b", std::nullopt},
      {"/", std::nullopt},
      {"/a", std::nullopt},
      {"/etc/passwd", std::nullopt},
      {"a\\b", std::nullopt},
      {"..\\a", std::nullopt},
      {"C:/x", std::nullopt},
      {"c:", std::nullopt},
      {"a\nb", std::nullopt},
      {"a\tb", std::nullopt},
      {"\x01", std::nullopt},
      {"a\x1f", std::nullopt},
      {std::string_view("a\0b", 3), std::nullopt},
      {"u\xff\xfe.txt", std::nullopt},       // not UTF-8 at all
      {"\xc3", std::nullopt},                // truncated sequence
      {"\xc0\xaf", std::nullopt},            // overlong '/'
      {"\xed\xa0\x80", std::nullopt},        // a surrogate
      {"\xf0\x9f\x8d\x8e.txt", "\xf0\x9f\x8d\x8e.txt"},  // 4-byte sequence
  };
  for (const Case& c : cases) {
    Result<std::string> got = CleanRelativePath(c.input);
    if (c.want) {
      ASSERT_TRUE(got.ok()) << "'" << c.input << "': " << got.status().ToString();
      EXPECT_EQ(*got, *c.want) << "'" << c.input << "'";
    } else {
      ASSERT_FALSE(got.ok()) << "'" << c.input << "' gave '" << *got << "'";
      EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << "'" << c.input << "'";
    }
  }
}

TEST(ResolveUnderTest, JoinsNormalPathUnderRoot) {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::create_directories(root / "a");
  fs::path canonical_root = fs::canonical(root);

  Result<fs::path> existing = ResolveUnder(root, "a");
  ASSERT_TRUE(existing.ok()) << existing.status().ToString();
  EXPECT_EQ(*existing, canonical_root / "a");

  Result<fs::path> missing = ResolveUnder(root, "a//b/./c.txt");
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_EQ(*missing, canonical_root / "a/b/c.txt");

  Result<fs::path> empty = ResolveUnder(root, "");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(*empty, canonical_root);
}

TEST(ResolveUnderTest, RejectsUncleanPaths) {
  TempDir tmp;
  for (std::string_view bad : {"..", "a/../../x", "/etc", "a\\b"}) {
    Result<fs::path> got = ResolveUnder(tmp.path(), bad);
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ResolveUnderTest, RejectsSymlinkLeadingOutsideRoot) {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::path outside = tmp.path() / "outside";
  fs::create_directories(root);
  fs::create_directories(outside);
  std::ofstream(outside / "secret") << "x";
  fs::create_directory_symlink(outside, root / "abs_link");
  fs::create_directory_symlink("../outside", root / "rel_link");

  for (std::string_view rel :
       {"abs_link", "abs_link/secret", "abs_link/new/file", "rel_link", "rel_link/secret"}) {
    Result<fs::path> got = ResolveUnder(root, rel);
    ASSERT_FALSE(got.ok()) << rel << " -> " << got->string();
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << rel;
  }
}

TEST(ResolveUnderTest, RejectsDanglingSymlinkLeadingOutsideRoot) {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::path outside = tmp.path() / "outside";
  fs::create_directories(root);
  fs::create_directories(outside);
  // Opening "link" for writing would create outside/new_file.
  fs::create_symlink(outside / "new_file", root / "link");
  fs::create_symlink(outside / "new_dir", root / "dir_link");

  for (std::string_view rel : {"link", "dir_link/file"}) {
    Result<fs::path> got = ResolveUnder(root, rel);
    ASSERT_FALSE(got.ok()) << rel << " -> " << got->string();
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << rel;
  }
  EXPECT_FALSE(fs::exists(outside / "new_file"));
}

TEST(ResolveUnderTest, RejectsSymlinkToSiblingSharingRootPrefix) {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::path sibling = tmp.path() / "root2";
  fs::create_directories(root);
  fs::create_directories(sibling);
  fs::create_directory_symlink(sibling, root / "link");

  Result<fs::path> got = ResolveUnder(root, "link/file");
  ASSERT_FALSE(got.ok()) << got->string();
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
}

TEST(ResolveUnderTest, AcceptsSymlinkStayingInsideRoot) {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::create_directories(root / "real");
  fs::create_directory_symlink(root / "real", root / "abs_inner");
  fs::create_directory_symlink("real", root / "rel_inner");

  for (std::string_view rel : {"abs_inner", "abs_inner/x.txt", "rel_inner/x.txt"}) {
    Result<fs::path> got = ResolveUnder(root, rel);
    ASSERT_TRUE(got.ok()) << rel << ": " << got.status().ToString();
    EXPECT_EQ(*got, fs::canonical(root) / rel);
  }
}

TEST(ResolveUnderTest, AcceptsRootThatIsItselfASymlink) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "real_root");
  fs::create_directory_symlink(tmp.path() / "real_root", tmp.path() / "root_link");

  Result<fs::path> got = ResolveUnder(tmp.path() / "root_link", "a/b");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, fs::canonical(tmp.path() / "real_root") / "a/b");
}

TEST(WriteFileAtomicTest, CreatesParentDirectories) {
  TempDir tmp;
  fs::path file = tmp.path() / "a" / "b" / "c.txt";
  ASSERT_TRUE(WriteFileAtomic(file, "hello").ok());
  EXPECT_EQ(ReadAll(file), "hello");
}

TEST(WriteFileAtomicTest, ReplacesContentAndLeavesNoTempFiles) {
  TempDir tmp;
  fs::path file = tmp.path() / "f.bin";
  ASSERT_TRUE(WriteFileAtomic(file, "a much longer first version").ok());
  const std::string second("short\0binary", 12);
  ASSERT_TRUE(WriteFileAtomic(file, second).ok());
  EXPECT_EQ(ReadAll(file), second);
  ASSERT_TRUE(WriteFileAtomic(tmp.path() / "empty", "").ok());
  EXPECT_EQ(fs::file_size(tmp.path() / "empty"), 0u);

  std::vector<std::string> names = ListNames(tmp.path());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"empty", "f.bin"}));
}

TEST(WriteFileAtomicTest, FailsWhenParentIsAFile) {
  TempDir tmp;
  ASSERT_TRUE(WriteFileAtomic(tmp.path() / "file", "x").ok());
  Status s = WriteFileAtomic(tmp.path() / "file" / "child", "y");
  EXPECT_EQ(s.code(), Code::kInternal) << s.ToString();
  EXPECT_EQ(ReadAll(tmp.path() / "file"), "x");
}

TEST(WriteFileAtomicTest, FailsOverADirectoryWithoutLeavingTempFiles) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "dir" / "inner");
  Status s = WriteFileAtomic(tmp.path() / "dir", "y");
  EXPECT_EQ(s.code(), Code::kInternal) << s.ToString();
  EXPECT_EQ(ListNames(tmp.path()), std::vector<std::string>{"dir"});
  EXPECT_TRUE(fs::is_directory(tmp.path() / "dir" / "inner"));
}

}  // namespace
}  // namespace ringo
