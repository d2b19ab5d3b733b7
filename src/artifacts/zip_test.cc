// Tests of ZipTree: the archive's layout read back byte by byte, CRCs, limits and refusals.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "artifacts/artifacts.h"
#include "common/util.h"

namespace ringo::artifacts {
namespace {

namespace fs = std::filesystem;

uint32_t Get16(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) | uint32_t(uint8_t(s[at + 1])) << 8;
}
uint32_t Get32(const std::string& s, size_t at) { return Get16(s, at) | Get16(s, at + 2) << 16; }

// What the central directory says of each entry: CRC, size, and its data as the local header
// at its offset leads to.
struct Read {
  uint32_t crc = 0;
  uint32_t size = 0;
  std::string data;
};

std::map<std::string, Read> Unzip(const std::string& zip) {
  std::map<std::string, Read> out;
  size_t end = zip.size() - 22;
  EXPECT_EQ(Get32(zip, end), 0x06054b50u);
  uint32_t count = Get16(zip, end + 10);
  size_t at = Get32(zip, end + 16);
  for (uint32_t i = 0; i < count; i++) {
    EXPECT_EQ(Get32(zip, at), 0x02014b50u);
    uint32_t name_len = Get16(zip, at + 28);
    std::string name = zip.substr(at + 46, name_len);
    Read r{Get32(zip, at + 16), Get32(zip, at + 24), ""};
    size_t local = Get32(zip, at + 42);
    EXPECT_EQ(Get32(zip, local), 0x04034b50u) << name;
    EXPECT_EQ(zip.substr(local + 30, Get16(zip, local + 26)), name);
    r.data = zip.substr(local + 30 + Get16(zip, local + 26) + Get16(zip, local + 28), r.size);
    out[name] = r;
    at += 46 + name_len + Get16(zip, at + 30) + Get16(zip, at + 32);
  }
  return out;
}

class ZipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ringo-zip-" + NewId());
    repo_ = std::make_unique<LocalRepository>(dir_);
    ASSERT_TRUE(repo_->Init().ok());
    ASSERT_TRUE(repo_->Put("1/r/artifacts/m.mlpackage/Manifest.json", "123456789").ok());
    ASSERT_TRUE(repo_->Put("1/r/artifacts/m.mlpackage/Data/weights/weight.bin",
                           std::string(200'000, '\x07')).ok());
    ASSERT_TRUE(repo_->Put("1/r/artifacts/m.mlpackage/empty.txt", "").ok());
    fs::create_directories(dir_ / "1/r/artifacts/m.mlpackage/Data/nothing");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The whole stream, read in awkward pieces.
  static std::string Drain(ZipStream& z) {
    std::string out;
    char buf[1000];
    for (;;) {
      Result<size_t> n = z.Read(std::span<char>(buf, 777));
      EXPECT_TRUE(n.ok()) << n.status().ToString();
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
    return out;
  }

  fs::path dir_;
  std::unique_ptr<LocalRepository> repo_;
};

TEST_F(ZipTest, DirectoryReadsBackWithItsFilesFoldersAndCrcs) {
  auto z = ZipTree(*repo_, "1/r/artifacts/m.mlpackage");
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  std::string zip = Drain(**z);
  EXPECT_EQ(zip.size(), (*z)->size());
  auto entries = Unzip(zip);
  std::vector<std::string> names;
  for (const auto& [name, r] : entries) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "m.mlpackage/", "m.mlpackage/Data/", "m.mlpackage/Data/nothing/",
                       "m.mlpackage/Data/weights/", "m.mlpackage/Data/weights/weight.bin",
                       "m.mlpackage/Manifest.json", "m.mlpackage/empty.txt"}));
  // The CRC-32 check value of "123456789".
  EXPECT_EQ(entries["m.mlpackage/Manifest.json"].crc, 0xCBF43926u);
  EXPECT_EQ(entries["m.mlpackage/Manifest.json"].data, "123456789");
  EXPECT_EQ(entries["m.mlpackage/Data/weights/weight.bin"].data, std::string(200'000, '\x07'));
  EXPECT_EQ(entries["m.mlpackage/empty.txt"].size, 0u);
  EXPECT_EQ(entries["m.mlpackage/empty.txt"].crc, 0u);
}

TEST_F(ZipTest, FileIsOneEntryNamedByItself) {
  auto z = ZipTree(*repo_, "1/r/artifacts/m.mlpackage/Manifest.json");
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  auto entries = Unzip(Drain(**z));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries.begin()->first, "Manifest.json");
}

TEST_F(ZipTest, RefusesMissingTreesTreesOverLimitsAndLinks) {
  EXPECT_EQ(ZipTree(*repo_, "1/r/artifacts/none").status().code(), Code::kNotFound);
  EXPECT_EQ(ZipTree(*repo_, "").status().code(), Code::kInvalidArgument);
  auto few = ZipTree(*repo_, "1/r/artifacts/m.mlpackage", ZipLimits{.max_entries = 3});
  EXPECT_EQ(few.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(few.status().message().find("more than 3 files"), std::string::npos);
  auto small = ZipTree(*repo_, "1/r/artifacts/m.mlpackage", ZipLimits{.max_bytes = 100'000});
  EXPECT_EQ(small.status().code(), Code::kFailedPrecondition);
  fs::create_symlink("/etc", dir_ / "1/r/artifacts/m.mlpackage/Data/etc");
  EXPECT_EQ(ZipTree(*repo_, "1/r/artifacts/m.mlpackage").status().code(),
            Code::kInvalidArgument);
}

TEST_F(ZipTest, FileThatShrinksWhileZippedFailsTheStream) {
  auto z = ZipTree(*repo_, "1/r/artifacts/m.mlpackage");
  ASSERT_TRUE(z.ok());
  std::ofstream(dir_ / "1/r/artifacts/m.mlpackage/Data/weights/weight.bin", std::ios::trunc)
      << "short";
  char buf[4096];
  Status failed = Status::Ok();
  for (int i = 0; i < 1000 && failed.ok(); i++) {
    Result<size_t> n = (*z)->Read(std::span<char>(buf, sizeof buf));
    if (!n.ok()) failed = n.status();
    else if (*n == 0) break;
  }
  EXPECT_EQ(failed.code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace ringo::artifacts
