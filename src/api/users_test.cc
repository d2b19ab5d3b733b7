// Tests of users, password hashes, credential checks and permissions over a real store.
#include "api/users.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/util.h"
#include "store/sqlite/test_store.h"

namespace ringo::api {
namespace {

namespace fs = std::filesystem;

class UsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(db_.get(), nullptr) << db_.status().ToString();
    users_ = std::make_unique<Users>(db_.get(), PermissionNamed("READ").value());
  }
  void TearDown() override { users_.reset(); }
  store::TestStore db_{"ringo-users-test-"};
  const fs::path& dir_ = db_.dir();
  std::unique_ptr<Users> users_;
};

TEST(PasswordTest, HashesAreSaltedAndVerify) {
  std::string a = HashPassword("correct horse"), b = HashPassword("correct horse");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("pbkdf2:sha256:600000$", 0), 0u) << a;
  EXPECT_TRUE(VerifyPassword("correct horse", a));
  EXPECT_FALSE(VerifyPassword("correct horsf", a));
  EXPECT_FALSE(VerifyPassword("correct horse", "plain"));
  EXPECT_FALSE(VerifyPassword("x", "pbkdf2:sha256:0$aa$bb"));
  EXPECT_FALSE(VerifyPassword("x", "pbkdf2:sha256:5$"));
}

TEST(PermissionTest, MlflowsFourPermissions) {
  EXPECT_TRUE(PermissionNamed("READ")->can_read);
  EXPECT_FALSE(PermissionNamed("READ")->can_update);
  EXPECT_TRUE(PermissionNamed("EDIT")->can_update);
  EXPECT_FALSE(PermissionNamed("EDIT")->can_delete);
  EXPECT_TRUE(PermissionNamed("MANAGE")->can_manage);
  EXPECT_FALSE(PermissionNamed("NO_PERMISSIONS")->can_read);
  auto bad = PermissionNamed("read");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Valid permissions are"), std::string::npos);
}

TEST_F(UsersTest, UsersAndTheirPermissions) {
  EXPECT_FALSE(users_->Any());
  ASSERT_TRUE(users_->Create("alice", "password-1", false).ok());
  EXPECT_TRUE(users_->Any());
  EXPECT_EQ(users_->Create("alice", "password-2", false).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(users_->Create("", "password-2", false).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(users_->Create("bad\nname", "password-2", false).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(users_->Create("bob", "short", false).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(users_->Get("nobody").status().code(), Code::kNotFound);

  EXPECT_TRUE(users_->Effective(ResourceKind::kExperiment, "1", "alice").can_read);
  EXPECT_FALSE(users_->Effective(ResourceKind::kExperiment, "1", "alice").can_update);
  ASSERT_TRUE(users_->CreatePermission(ResourceKind::kExperiment, "1", "alice", "EDIT").ok());
  EXPECT_EQ(users_->CreatePermission(ResourceKind::kExperiment, "1", "alice", "EDIT").code(),
            Code::kAlreadyExists);
  EXPECT_EQ(users_->CreatePermission(ResourceKind::kExperiment, "1", "nobody", "EDIT").code(),
            Code::kNotFound);
  EXPECT_TRUE(users_->Effective(ResourceKind::kExperiment, "1", "alice").can_update);
  // The same name on the other kind of resource is another resource.
  EXPECT_FALSE(users_->Effective(ResourceKind::kRegisteredModel, "1", "alice").can_update);
  ASSERT_TRUE(
      users_->CreatePermission(ResourceKind::kRegisteredModel, "m", "alice", "MANAGE").ok());
  auto u = users_->Get("alice");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->experiment_permissions.size(), 1u);
  EXPECT_EQ(u->experiment_permissions[0].permission, "EDIT");
  ASSERT_EQ(u->registered_model_permissions.size(), 1u);
  EXPECT_EQ(u->registered_model_permissions[0].resource, "m");
  ASSERT_TRUE(
      users_->UpdatePermission(ResourceKind::kExperiment, "1", "alice", "NO_PERMISSIONS").ok());
  EXPECT_FALSE(users_->Effective(ResourceKind::kExperiment, "1", "alice").can_read);
  EXPECT_EQ(users_->UpdatePermission(ResourceKind::kExperiment, "2", "alice", "EDIT").code(),
            Code::kNotFound);
  ASSERT_TRUE(users_->DeletePermission(ResourceKind::kExperiment, "1", "alice").ok());
  EXPECT_EQ(users_->DeletePermission(ResourceKind::kExperiment, "1", "alice").code(),
            Code::kNotFound);
  // Deleting a user takes its permissions along: a new user of that name starts afresh.
  ASSERT_TRUE(users_->Delete("alice").ok());
  ASSERT_TRUE(users_->Create("alice", "password-3", false).ok());
  EXPECT_TRUE(users_->Get("alice")->registered_model_permissions.empty());
}

TEST_F(UsersTest, CredentialsAreCheckedRememberedAndGuessingSlowed) {
  ASSERT_TRUE(users_->Create("alice", "password-1", true).ok());
  Users::Verified v;
  EXPECT_EQ(users_->Authenticate("alice", "password-1", &v), Users::Outcome::kOk);
  EXPECT_TRUE(v.is_admin);
  EXPECT_EQ(users_->Authenticate("nobody", "password-1", &v), Users::Outcome::kWrong);
  // A changed password ends the remembered one at once.
  ASSERT_TRUE(users_->UpdatePassword("alice", "password-2").ok());
  EXPECT_EQ(users_->Authenticate("alice", "password-1", &v), Users::Outcome::kWrong);
  EXPECT_EQ(users_->Authenticate("alice", "password-2", &v), Users::Outcome::kOk);
  for (int i = 0; i < 4; ++i) users_->Authenticate("alice", "guess", &v);
  EXPECT_EQ(users_->Authenticate("alice", "guess", &v), Users::Outcome::kSlowDown);
  // Remembered credentials still pass; new ones wait.
  EXPECT_EQ(users_->Authenticate("alice", "password-2", &v), Users::Outcome::kOk);
  ASSERT_TRUE(users_->UpdateAdmin("alice", false).ok());
  EXPECT_EQ(users_->Authenticate("alice", "password-2", &v), Users::Outcome::kSlowDown);
}

}  // namespace
}  // namespace ringo::api
