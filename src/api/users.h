// Users, passwords and per-resource permissions as MLflow's basic-auth app has them (private to
// api/): users with a password and an admin flag; on each experiment and registered model a
// user may hold READ, EDIT, MANAGE or NO_PERMISSIONS, else the server's default permission.
// Kept in the store as documents, so replicas sharing a store share them.
#ifndef RINGO_API_USERS_H_
#define RINGO_API_USERS_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace ringo::api {

// What a permission allows, in MLflow's terms.
struct Permission {
  std::string name;  // READ, EDIT, MANAGE, NO_PERMISSIONS
  bool can_read = false, can_update = false, can_delete = false, can_manage = false;
};
// kInvalidArgument naming the valid ones for anything else.
Result<Permission> PermissionNamed(const std::string& name);

// The two kinds of resource permissions are held on.
enum class ResourceKind { kExperiment, kRegisteredModel };

// MLflow's words for a permission that is missing (exists false) or already there, as MLflow
// `mlflow_major` words them: MLflow 3 names a registered model permission's workspace.
std::string PermissionMessage(ResourceKind kind, const std::string& resource,
                              const std::string& username, bool exists, int mlflow_major = 3);

struct ResourcePermission {
  std::string resource;  // experiment id or registered model name
  std::string permission;
};

struct User {
  int64_t id = 0;
  std::string username;
  bool is_admin = false;
  std::vector<ResourcePermission> experiment_permissions{};
  std::vector<ResourcePermission> registered_model_permissions{};
};

// A password hash: PBKDF2-HMAC-SHA256 with a random salt, "pbkdf2:sha256:<iterations>$<salt
// hex>$<hash hex>". Slow on purpose (~0.1 s).
std::string HashPassword(const std::string& password);
bool VerifyPassword(const std::string& password, const std::string& hash);

class Users {
 public:
  Users(store::Store* store, Permission default_permission)
      : store_(store), default_(std::move(default_permission)) {}

  // True once any user exists (then the server requires credentials). Refreshed every few s.
  bool Any();

  // kAlreadyExists for a taken name; kInvalidArgument for an empty name or password, or a name
  // with control characters or over 256 bytes.
  Result<User> Create(const std::string& username, const std::string& password, bool is_admin);
  // With the user's permissions. kNotFound in MLflow's words.
  Result<User> Get(const std::string& username);
  // Every user, by name, without permissions.
  Result<std::vector<User>> List();
  Status UpdatePassword(const std::string& username, const std::string& password);
  Status UpdateAdmin(const std::string& username, bool is_admin);
  // Also drops the user's permissions.
  Status Delete(const std::string& username);

  // The user a username and password name, or nullopt. Verified credentials are remembered for
  // a minute (by an HMAC with a per-process key, never the password), so only a first request
  // pays for the hash; after 5 wrong passwords for a name within 10 s, tries for it wait
  // (kSlowDown) until the 10 s are over.
  struct Verified {
    std::string username;
    bool is_admin = false;
  };
  enum class Outcome { kOk, kWrong, kSlowDown };
  Outcome Authenticate(const std::string& username, const std::string& password,
                       Verified* out);

  // Whether `username` is an admin; nullopt when there is no such user. Remembered for 5 s
  // (forgotten at once when changed through this object), for tokens owned by users.
  std::optional<bool> AdminFlag(const std::string& username);

  // Resource permissions. Create: kAlreadyExists when the user holds one there already.
  Status CreatePermission(ResourceKind kind, const std::string& resource,
                          const std::string& username, const std::string& permission);
  // The same without waiting, for callers on the store's writer thread (a write's completion):
  // `done` gets the outcome. The user is not looked up.
  void CreatePermissionAsync(ResourceKind kind, const std::string& resource,
                             const std::string& username, const std::string& permission,
                             std::function<void(Status)> done);
  Result<ResourcePermission> GetPermission(ResourceKind kind, const std::string& resource,
                                           const std::string& username);
  Status UpdatePermission(ResourceKind kind, const std::string& resource,
                          const std::string& username, const std::string& permission);
  Status DeletePermission(ResourceKind kind, const std::string& resource,
                          const std::string& username);
  // Every user's permission on `resource` moved to `to` (a registered model renamed), or
  // dropped when `to` is empty (deleted), without waiting: for callers on the store's writer
  // thread. `done` gets the first failure, or Ok once all writes are made.
  void MovePermissionsAsync(ResourceKind kind, const std::string& resource,
                            const std::string& to, std::function<void(Status)> done);
  // What `username` may do on a resource: its permission there, else the default.
  Permission Effective(ResourceKind kind, const std::string& resource,
                       const std::string& username);
  const Permission& default_permission() const { return default_; }

 private:
  // Forgets remembered credentials (a password or admin flag changed, a user deleted).
  void Forget();

  store::Store* store_;
  Permission default_;
  std::string cache_key_;  // per-process HMAC key
  std::mutex mu_;
  std::map<std::string, std::pair<Verified, std::chrono::steady_clock::time_point>> verified_;
  // By username: when its window of wrong passwords began, and how many.
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, int>> failed_;
  std::map<std::string, std::pair<std::optional<bool>, std::chrono::steady_clock::time_point>>
      admin_flags_;
  std::atomic<bool> any_{false};
  std::atomic<int64_t> any_checked_ms_{0};
};

}  // namespace ringo::api

#endif  // RINGO_API_USERS_H_
