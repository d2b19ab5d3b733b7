// Tests of PackModel: the archive is deterministic, streamed, and its digests agree with the
// registry's.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/hash.h"
#include "common/util.h"
#include "registry/registry.h"

namespace ringo::registry {
namespace {

namespace fs = std::filesystem;

class PackModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ringo-pack-" + NewId());
    fs::create_directories(root_ / "m.mlpackage" / "Data" / "weights");
    Write("m.mlpackage/Manifest.json", "{\"a\": 1}");
    Write("m.mlpackage/Data/model.mlmodel", std::string(1000, 'x'));
    Write("m.mlpackage/Data/weights/weight.bin", std::string(200000, '\x01'));
    Write("m.mlmodel", "spec bytes");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& bytes) {
    std::ofstream(root_ / rel, std::ios::binary) << bytes;
  }
  Result<Packed> Pack(const std::string& rel, std::string* bytes, size_t* chunks = nullptr) {
    return PackModel(root_ / rel, [&](std::string_view b) {
      bytes->append(b);
      if (chunks) ++*chunks;
      return Status::Ok();
    });
  }
  fs::path root_;
};

TEST_F(PackModelTest, FileShipsAsItIs) {
  std::string bytes;
  Result<Packed> p = Pack("m.mlmodel", &bytes);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(bytes, "spec bytes");
  EXPECT_EQ(p->format, "mlmodel");
  EXPECT_EQ(p->sha256, Sha256Hex(bytes));
  EXPECT_EQ(p->content_digest, *HashPath(root_ / "m.mlmodel"));
  EXPECT_EQ(p->size, 10);
}

TEST_F(PackModelTest, PackageIsADeterministicStreamedArchive) {
  std::string a, b;
  size_t chunks = 0;
  Result<Packed> p = Pack("m.mlpackage", &a, &chunks);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE(Pack("m.mlpackage", &b).ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(p->format, "mlpackage.tar");
  EXPECT_EQ(p->sha256, Sha256Hex(a));
  EXPECT_EQ(p->size, static_cast<int64_t>(a.size()));
  EXPECT_EQ(a.size() % 512, 0u);
  EXPECT_GT(chunks, 4u);  // the 200 kB file came in pieces
  // The same tree hash the registry records for a package.
  EXPECT_EQ(p->content_digest, *HashPath(root_ / "m.mlpackage"));
  EXPECT_EQ(a.substr(0, 13), std::string("m.mlpackage/\0", 13));
  EXPECT_NE(a.find("m.mlpackage/Data/weights/weight.bin"), std::string::npos);
}

TEST_F(PackModelTest, ChangedContentChangesBothDigests) {
  std::string a, b;
  Result<Packed> before = Pack("m.mlpackage", &a);
  Write("m.mlpackage/Manifest.json", "{\"a\": 2}");
  Result<Packed> after = Pack("m.mlpackage", &b);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_NE(before->sha256, after->sha256);
  EXPECT_NE(before->content_digest, after->content_digest);
}

TEST_F(PackModelTest, RefusesLinksAndStopsOnSinkErrors) {
  fs::create_symlink("/etc/passwd", root_ / "m.mlpackage" / "Data" / "link");
  std::string bytes;
  Result<Packed> p = Pack("m.mlpackage", &bytes);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
  EXPECT_NE(p.status().message().find("symbolic link"), std::string::npos);
  EXPECT_TRUE(bytes.empty());
  fs::create_symlink(root_ / "m.mlmodel", root_ / "l.mlmodel");
  EXPECT_FALSE(Pack("l.mlmodel", &bytes).ok());

  int calls = 0;
  Result<Packed> full = PackModel(root_ / "m.mlmodel", [&](std::string_view) {
    ++calls;
    return Internal("disk full");
  });
  EXPECT_EQ(full.status().message(), "disk full");
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace ringo::registry
