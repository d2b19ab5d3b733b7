// Tests of the manifest signing keys over a real store: sharing, rotation, refreshing, refusal.
#include "deploy/signer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/util.h"
#include "store/sqlite/test_store.h"

namespace ringo::deploy {
namespace {

namespace fs = std::filesystem;

class SignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(db_.get(), nullptr) << db_.status().ToString();
  }
  std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void PastTheRefreshInterval() {
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }

  store::TestStore db_{"ringo-signer-test-"};
  const fs::path& dir_ = db_.dir();
};

TEST_F(SignerTest, ServersSharingAStoreSignAlikeThroughARotation) {
  Signer a(db_.get(), dir_ / "a.pem"), b(db_.get(), dir_ / "b.pem");
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  EXPECT_EQ(Read(dir_ / "a.pem"), Read(dir_ / "b.pem"));
  const std::string old_key = a.Keys().current;
  EXPECT_EQ(b.Keys().current, old_key);
  EXPECT_EQ(a.Sign("body").current, b.Sign("body").current);  // Ed25519 is deterministic
  EXPECT_TRUE(a.Sign("body").next.empty());

  ASSERT_TRUE(a.Rotate(false).ok());
  EXPECT_EQ(a.Rotate(false).code(), Code::kFailedPrecondition);
  const std::string next_key = a.Keys().next;
  ASSERT_FALSE(next_key.empty());
  EXPECT_FALSE(b.Refresh());  // looked less than a second ago
  PastTheRefreshInterval();
  EXPECT_TRUE(b.Refresh());
  EXPECT_EQ(b.Keys().next, next_key);
  EXPECT_EQ(b.Sign("body").next, a.Sign("body").next);
  EXPECT_EQ(b.Sign("body").current, a.Sign("body").current);

  const std::string stale = Read(dir_ / "b.pem");
  ASSERT_TRUE(a.Rotate(true).ok());
  EXPECT_EQ(a.Rotate(true).code(), Code::kFailedPrecondition);
  EXPECT_EQ(a.Keys().current, next_key);
  EXPECT_TRUE(a.Keys().next.empty());
  PastTheRefreshInterval();
  EXPECT_TRUE(b.Refresh());
  EXPECT_EQ(b.Keys().current, next_key);
  EXPECT_EQ(Read(dir_ / "b.pem"), Read(dir_ / "a.pem"));

  // A server restarting with the retired key's file takes the store's key and replaces the file.
  { std::ofstream(dir_ / "c.pem", std::ios::binary) << stale; }
  Signer c(db_.get(), dir_ / "c.pem");
  ASSERT_TRUE(c.Load().ok());
  EXPECT_EQ(c.Keys().current, next_key);
  EXPECT_EQ(Read(dir_ / "c.pem"), Read(dir_ / "a.pem"));
}

TEST_F(SignerTest, AKeyFileTheStoreNeverHeldIsRefused) {
  Signer a(db_.get(), dir_ / "a.pem");
  ASSERT_TRUE(a.Load().ok());
  // Another store's key, put where this server keeps its copy.
  store::SqliteOptions options;
  options.path = (dir_ / "other.db").string();
  auto other_store = store::OpenSqliteStore(options);
  ASSERT_TRUE(other_store.ok());
  Signer other(other_store->get(), dir_ / "foreign.pem");
  ASSERT_TRUE(other.Load().ok());
  (*other_store)->Shutdown();
  Signer b(db_.get(), dir_ / "foreign.pem");
  Status s = b.Load();
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("differs"), std::string::npos) << s.message();
  // Not a key at all.
  { std::ofstream(dir_ / "junk.pem") << "not a key"; }
  Signer junk(db_.get(), dir_ / "junk.pem");
  EXPECT_FALSE(junk.Load().ok());
}

}  // namespace
}  // namespace ringo::deploy
