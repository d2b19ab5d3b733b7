// Walks the whole route table: handlers, unique paths, both MLflow prefixes, and what each token
// scope may reach through the real guard.
#include "api/routes.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "api/auth.h"
#include "common/util.h"
#include "store/sqlite/sqlite_store.h"

namespace ringo::api {
namespace {

namespace fs = std::filesystem;
using http::Access;
using http::Method;

constexpr Attached kEverything{.deploy = true, .schedules = true, .releases = true};

bool ChangesState(Method m) { return m != Method::kGet && m != Method::kHead; }

bool Contains(std::string_view path, std::string_view part) {
  return path.find(part) != std::string_view::npos;
}

// The access policy, written independently of the table: a row that disagrees is wrong.
Access ExpectedAccess(const Route& r) {
  std::string_view p = r.path;
  static const std::set<std::string_view> kPublic = {"/", "/index.html", "/assets/*",
                                                     "/favicon.svg", "/health",
                                                     "/api/ringo/v1/session"};
  if (kPublic.count(p)) return Access::kPublic;
  // Any token may learn the version and the key manifests are signed with.
  if (p == "/version" || p == "/api/deploy/v1/keys") return Access::kAnyCaller;
  if (p.starts_with("/api/deploy/v1/")) return Access::kDevice;
  // Webhook URLs and secrets, tokens, who did what, and what apps promise are management.
  if (Contains(p, "webhook") || Contains(p, "/tokens") || Contains(p, "/audit") ||
      (Contains(p, "/apps/contracts") && ChangesState(r.method))) {
    return Access::kAdmin;
  }
  // Making, listing, promoting and deleting users is admin's (MLflow's auth app); a user may
  // change its own password, and permissions are checked against the resource by their
  // handlers.
  if (p == "users/create" || p == "users/update-admin" || p == "users/delete" ||
      p == "users/list") {
    return Access::kAdmin;
  }
  if (!ChangesState(r.method)) return Access::kRead;
  // ringo's own changes start pipelines, move devices or set policies.
  if (p.starts_with("/api/ringo/v1/")) return Access::kAdmin;
  // MLflow's clients POST searches; they stay reads. So is GraphQL: every field of MLflow's
  // schema, its "mutations" included, is a get or a search.
  static const std::set<std::string_view> kPostedReads = {
      "/graphql",
      "experiments/search",        "runs/search",
      "experiments/search-datasets", "registered-models/search",
      "model-versions/search",     "registered-models/get-latest-versions",
      "logged-models/search"};
  if (kPostedReads.count(p)) return Access::kRead;
  return Access::kWrite;
}

// What a caller with `scope` ("" for none) may reach, as auth.h documents the scopes.
bool MayReach(std::string_view scope, Access access) {
  switch (access) {
    case Access::kPublic:
      return true;
    case Access::kAnyCaller:
      return !scope.empty();
    case Access::kRead:
      return scope == "read" || scope == "write" || scope == "admin";
    case Access::kWrite:
      return scope == "write" || scope == "admin";
    case Access::kAdmin:
      return scope == "admin";
    case Access::kDevice:
      return scope == "device" || scope == "admin";
  }
  return false;
}

TEST(RouteTableTest, EveryRowHasAHandlerAndAPath) {
  for (const Route& r : RouteTable(kEverything)) {
    EXPECT_FALSE(r.handler.empty()) << r.path;
    EXPECT_FALSE(r.path.empty());
  }
}

TEST(RouteTableTest, MlflowEndpointsUnderBothPrefixesAreWrittenOnce) {
  std::set<std::pair<Method, std::string_view>> rows;
  for (const Route& r : RouteTable(kEverything)) rows.emplace(r.method, r.path);
  const std::string_view prefixes[] = {"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"};
  for (const Route& r : RouteTable(kEverything)) {
    for (int i = 0; i < 2; ++i) {
      if (!r.path.starts_with(prefixes[i])) continue;
      std::string other =
          std::string(prefixes[1 - i]) + std::string(r.path.substr(prefixes[i].size()));
      EXPECT_FALSE(rows.count({r.method, other}))
          << r.path << ": an endpoint under both MLflow prefixes is one row without a prefix";
    }
  }
}

TEST(RouteTableTest, NoMethodAndPathTwice) {
  std::set<std::pair<Method, std::string>> seen;
  for (const Route& r : RouteTable(kEverything)) {
    for (const std::string& path : RouterPaths(r.path)) {
      EXPECT_TRUE(seen.emplace(r.method, path).second)
          << http::MethodName(r.method) << " " << path << " is in the table twice";
    }
  }
}

TEST(RouteTableTest, MlflowRoutesServeBothPrefixes) {
  http::Router router;
  Services services;
  Install(router, &services, RouteTable(kEverything));
  std::map<std::pair<Method, std::string>, Access> installed;
  for (const auto& info : router.Routes()) installed[{info.method, info.pattern}] = info.access;
  size_t mlflow = 0;
  for (const Route& r : RouteTable(kEverything)) {
    if (r.path.starts_with('/')) continue;
    ++mlflow;
    for (const char* prefix : {"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"}) {
      auto it = installed.find({r.method, prefix + std::string(r.path)});
      ASSERT_NE(it, installed.end()) << prefix << r.path;
      EXPECT_EQ(it->second, r.access) << prefix << r.path;
    }
  }
  EXPECT_GT(mlflow, 20u);
  EXPECT_EQ(installed.size(), [] {
    size_t n = 0;
    for (const Route& r : RouteTable(kEverything)) n += RouterPaths(r.path).size();
    return n;
  }());
}

TEST(RouteTableTest, EachRowStatesTheAccessThePolicyGives) {
  for (const Route& r : RouteTable(kEverything)) {
    EXPECT_EQ(http::AccessName(r.access), http::AccessName(ExpectedAccess(r)))
        << http::MethodName(r.method) << " " << r.path;
  }
}

// Every route against a request with no token and with a token of each scope, through the
// guard the server installs.
class RouteGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ringo-routes-" + NewId());
    fs::create_directories(dir_);
    auto opened = store::OpenSqliteStore({.path = (dir_ / "ringo.db").string()});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    auth_ = std::make_unique<Auth>(store_.get());
    for (const char* scope : {"read", "write", "admin", "device"}) {
      auto token = auth_->Create(scope, std::string(scope) + "-test");
      ASSERT_TRUE(token.ok()) << token.status().ToString();
      tokens_[scope] = *token;
    }
    tokens_[""] = "";
  }
  void TearDown() override {
    auth_.reset();
    if (store_) store_->Shutdown();
    fs::remove_all(dir_);
  }

  // Whether the guard lets a caller with `scope` through to `path` guarded by `access`.
  bool Passes(const std::string& scope, Method method, const std::string& path, Access access) {
    http::Request req;
    req.method = method;
    req.path = path;
    req.target = path;
    if (!tokens_[scope].empty()) {
      req.headers.emplace_back("authorization", "Bearer " + tokens_[scope]);
    }
    return !auth_->Check(req, access).has_value();
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Auth> auth_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(RouteGuardTest, EveryScopeReachesExactlyWhatThePolicyAllows) {
  http::Router router;
  Services services;
  Install(router, &services, RouteTable(kEverything));
  for (const Route& r : RouteTable(kEverything)) {
    Access expected = ExpectedAccess(r);
    for (std::string path : RouterPaths(r.path)) {
      if (path.ends_with('*')) path.back() = 'x';
      http::Router::Match m = router.Find(r.method, path);
      ASSERT_NE(m.handler, nullptr) << path;
      for (const auto& [scope, token] : tokens_) {
        EXPECT_EQ(Passes(scope, r.method, path, m.access), MayReach(scope, expected))
            << (scope.empty() ? "no" : scope) << " token, " << http::MethodName(r.method) << " "
            << path;
      }
    }
  }
}

TEST_F(RouteGuardTest, ManagementNeedsAnAdminToken) {
  for (const Route& r : RouteTable(kEverything)) {
    bool management = Contains(r.path, "webhook") || Contains(r.path, "/tokens") ||
                      (Contains(r.path, "/apps/contracts") && ChangesState(r.method));
    if (!management) continue;
    for (const char* scope : {"", "read", "write", "device"}) {
      EXPECT_FALSE(Passes(scope, r.method, RouterPaths(r.path)[0], r.access))
          << scope << " " << r.path;
    }
    EXPECT_TRUE(Passes("admin", r.method, RouterPaths(r.path)[0], r.access)) << r.path;
  }
}

TEST_F(RouteGuardTest, DeviceRoutesNeedADeviceToken) {
  size_t device = 0;
  for (const Route& r : RouteTable(kEverything)) {
    if (r.access != Access::kDevice) continue;
    ++device;
    std::string path = RouterPaths(r.path)[0];
    for (const char* scope : {"", "read", "write"}) {
      EXPECT_FALSE(Passes(scope, r.method, path, r.access)) << scope << " " << r.path;
    }
    EXPECT_TRUE(Passes("device", r.method, path, r.access)) << r.path;
  }
  EXPECT_EQ(device, 3u);  // manifests, blobs, telemetry
}

TEST_F(RouteGuardTest, MlflowChangesNeedAWriteToken) {
  for (const Route& r : RouteTable(kEverything)) {
    if (r.path.starts_with('/') || !ChangesState(r.method) || ExpectedAccess(r) == Access::kRead) {
      continue;
    }
    EXPECT_FALSE(Passes("read", r.method, RouterPaths(r.path)[0], r.access)) << r.path;
    EXPECT_FALSE(Passes("device", r.method, RouterPaths(r.path)[0], r.access)) << r.path;
  }
}

}  // namespace
}  // namespace ringo::api
