// Users, password hashes, credential checks and resource permissions over store documents.
#include "api/users.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/util.h"

namespace ringo::api {

namespace {

using nlohmann::json;

constexpr const char* kUserKind = "user";
constexpr const char* kPermissionKind = "user_permission";
constexpr int kIterations = 600000;
constexpr auto kRemember = std::chrono::seconds(60);
// Password guessing: after this many wrong passwords for one name within the window, further
// tries for it wait for the window to end (each costs a slow hash on an I/O thread).
constexpr int kFailuresAllowed = 5;
constexpr auto kFailureWindow = std::chrono::seconds(10);

std::string Hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string Pbkdf2Hex(const std::string& password, const std::string& salt, int iterations) {
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), sizeof out, out);
  return Hex(out, sizeof out);
}

char KindLetter(ResourceKind kind) { return kind == ResourceKind::kExperiment ? 'e' : 'm'; }

std::string PermissionKey(ResourceKind kind, const std::string& resource,
                          const std::string& username) {
  return username + "\n" + KindLetter(kind) + "\n" + resource;
}

Status CheckName(const std::string& username) {
  if (username.empty()) return InvalidArgument("Missing value for required parameter 'username'");
  if (username.size() > 256) return InvalidArgument("username is longer than 256 bytes");
  for (unsigned char c : username) {
    if (c < 0x20 || c == 0x7f) return InvalidArgument("username has a control character");
  }
  return Status::Ok();
}

Status CheckPassword(const std::string& password) {
  if (password.empty()) return InvalidArgument("Missing value for required parameter 'password'");
  if (password.size() < 8) return InvalidArgument("password must be at least 8 characters long");
  return Status::Ok();
}

std::string NotFoundMessage(ResourceKind kind, const std::string& resource,
                            const std::string& username) {
  return PermissionMessage(kind, resource, username, /*exists=*/false);
}

Result<int64_t> Put(store::Store* store, const char* kind, const std::string& key,
                    const json& value, int64_t expected) {
  return store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
    store->PutDocument(kind, key, value.dump(), expected, "", std::move(done));
  });
}

Status DeleteDoc(store::Store* store, const char* kind, const std::string& key) {
  return store::Wait(
      [&](store::Done done) { store->DeleteDocument(kind, key, -1, std::move(done)); });
}

}  // namespace

Result<Permission> PermissionNamed(const std::string& name) {
  if (name == "READ") return Permission{name, true, false, false, false};
  if (name == "EDIT") return Permission{name, true, true, false, false};
  if (name == "MANAGE") return Permission{name, true, true, true, true};
  if (name == "NO_PERMISSIONS") return Permission{name, false, false, false, false};
  return InvalidArgument("Invalid permission '" + name +
                         "'. Valid permissions are: ('READ', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')");
}

std::string HashPassword(const std::string& password) {
  std::string salt = NewSecret(16);
  return "pbkdf2:sha256:" + std::to_string(kIterations) + "$" + salt + "$" +
         Pbkdf2Hex(password, salt, kIterations);
}

bool VerifyPassword(const std::string& password, const std::string& hash) {
  const std::string prefix = "pbkdf2:sha256:";
  if (hash.rfind(prefix, 0) != 0) return false;
  size_t d1 = hash.find('$'), d2 = hash.find('$', d1 + 1);
  if (d1 == std::string::npos || d2 == std::string::npos) return false;
  int iterations = std::atoi(hash.substr(prefix.size(), d1 - prefix.size()).c_str());
  if (iterations < 1) return false;
  std::string expected = hash.substr(d2 + 1);
  std::string got = Pbkdf2Hex(password, hash.substr(d1 + 1, d2 - d1 - 1), iterations);
  return got.size() == expected.size() &&
         CRYPTO_memcmp(got.data(), expected.data(), got.size()) == 0;
}

bool Users::Any() {
  // Every request asks: one look at the store every few seconds (users made on another
  // replica show then; made here, at once).
  int64_t now = NowMillis();
  int64_t last = any_checked_ms_.load();
  if (now - last > 5000 && any_checked_ms_.compare_exchange_strong(last, now)) {
    auto docs = store_->ListDocuments(kUserKind, "");
    if (docs.ok()) any_ = !docs->empty();
  }
  return any_.load();
}

Result<User> Users::Create(const std::string& username, const std::string& password,
                           bool is_admin) {
  RETURN_IF_ERROR(CheckName(username));
  RETURN_IF_ERROR(CheckPassword(password));
  ASSIGN_OR_RETURN(auto docs, store_->ListDocuments(kUserKind, ""));
  int64_t id = 1;
  for (const auto& d : docs) {
    json j = json::parse(d.value, nullptr, false);
    if (j.is_object()) id = std::max(id, j.value("id", int64_t{0}) + 1);
  }
  json doc = {{"id", id}, {"username", username}, {"password_hash", HashPassword(password)},
              {"is_admin", is_admin}, {"created", NowMillis()}};
  auto put = Put(store_, kUserKind, username, doc, 0);
  if (!put.ok() && put.status().code() == Code::kFailedPrecondition) {
    return AlreadyExists("User (username=" + username + ") already exists.");
  }
  RETURN_IF_ERROR(put.status());
  any_ = true;
  return User{id, username, is_admin};
}

Result<User> Users::Get(const std::string& username) {
  RETURN_IF_ERROR(CheckName(username));
  auto doc = store_->GetDocument(kUserKind, username);
  if (!doc.ok() && doc.status().code() == Code::kNotFound) {
    return NotFound("User with username=" + username + " not found");
  }
  RETURN_IF_ERROR(doc.status());
  json j = json::parse(doc->value, nullptr, false);
  if (!j.is_object()) return Internal("user '" + username + "' is stored malformed");
  User u{j.value("id", int64_t{0}), username, j.value("is_admin", false)};
  ASSIGN_OR_RETURN(auto perms, store_->ListDocuments(kPermissionKind, username + "\n"));
  for (const auto& p : perms) {
    std::string rest = p.key.substr(username.size() + 1);
    if (rest.size() < 2 || rest[1] != '\n') continue;
    json v = json::parse(p.value, nullptr, false);
    ResourcePermission rp{rest.substr(2), v.is_object() ? v.value("permission", "") : ""};
    (rest[0] == 'e' ? u.experiment_permissions : u.registered_model_permissions).push_back(rp);
  }
  return u;
}

std::string PermissionMessage(ResourceKind kind, const std::string& resource,
                              const std::string& username, bool exists, int mlflow_major) {
  if (kind == ResourceKind::kExperiment) {
    return exists ? "Experiment permission (experiment_id=" + resource + ", username=" +
                        username + ") already exists."
                  : "Experiment permission with experiment_id=" + resource + " and username=" +
                        username + " not found";
  }
  if (mlflow_major == 2) {
    return exists ? "Registered model permission (name=" + resource + ", username=" + username +
                        ") already exists."
                  : "Registered model permission with name=" + resource + " and username=" +
                        username + " not found";
  }
  return "Registered model permission with workspace=default, name=" + resource +
         " and username=" + username + (exists ? " already exists." : " not found");
}

Result<std::vector<User>> Users::List() {
  ASSIGN_OR_RETURN(auto docs, store_->ListDocuments(kUserKind, ""));
  std::vector<User> out;
  for (const auto& d : docs) {
    json j = json::parse(d.value, nullptr, false);
    if (!j.is_object()) continue;
    out.push_back(User{j.value("id", int64_t{0}), d.key, j.value("is_admin", false)});
  }
  return out;
}

// Rewrites a user's document through `change`, checking it is not changed meanwhile.
static Status ChangeUser(store::Store* store, const std::string& username,
                         const std::function<void(json&)>& change) {
  auto doc = store->GetDocument(kUserKind, username);
  if (!doc.ok() && doc.status().code() == Code::kNotFound) {
    return NotFound("User with username=" + username + " not found");
  }
  RETURN_IF_ERROR(doc.status());
  json j = json::parse(doc->value, nullptr, false);
  if (!j.is_object()) return Internal("user '" + username + "' is stored malformed");
  change(j);
  return Put(store, kUserKind, username, j, doc->revision).status();
}

Status Users::UpdatePassword(const std::string& username, const std::string& password) {
  RETURN_IF_ERROR(CheckPassword(password));
  std::string hash = HashPassword(password);
  RETURN_IF_ERROR(ChangeUser(store_, username, [&](json& j) { j["password_hash"] = hash; }));
  Forget();
  return Status::Ok();
}

Status Users::UpdateAdmin(const std::string& username, bool is_admin) {
  RETURN_IF_ERROR(ChangeUser(store_, username, [&](json& j) { j["is_admin"] = is_admin; }));
  Forget();
  return Status::Ok();
}

Status Users::Delete(const std::string& username) {
  RETURN_IF_ERROR(Get(username).status());
  ASSIGN_OR_RETURN(auto perms, store_->ListDocuments(kPermissionKind, username + "\n"));
  for (const auto& p : perms) RETURN_IF_ERROR(DeleteDoc(store_, kPermissionKind, p.key));
  RETURN_IF_ERROR(DeleteDoc(store_, kUserKind, username));
  Forget();
  any_checked_ms_ = 0;
  return Status::Ok();
}

void Users::Forget() {
  std::lock_guard lock(mu_);
  verified_.clear();
  admin_flags_.clear();
}

std::optional<bool> Users::AdminFlag(const std::string& username) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    auto hit = admin_flags_.find(username);
    if (hit != admin_flags_.end() && now - hit->second.second < std::chrono::seconds(5)) {
      return hit->second.first;
    }
  }
  auto doc = store_->GetDocument(kUserKind, username);
  if (!doc.ok() && doc.status().code() != Code::kNotFound) return std::nullopt;
  std::optional<bool> flag;
  if (doc.ok()) {
    json j = json::parse(doc->value, nullptr, false);
    flag = j.is_object() && j.value("is_admin", false);
  }
  std::lock_guard lock(mu_);
  if (admin_flags_.size() > 100000) admin_flags_.clear();
  admin_flags_[username] = {flag, now};
  return flag;
}

Users::Outcome Users::Authenticate(const std::string& username, const std::string& password,
                                   Verified* out) {
  auto now = std::chrono::steady_clock::now();
  std::string key;
  {
    std::lock_guard lock(mu_);
    if (cache_key_.empty()) cache_key_ = NewSecret(32);
    unsigned char mac[32];
    unsigned int len = sizeof mac;
    std::string msg = username + '\0' + password;
    HMAC(EVP_sha256(), cache_key_.data(), static_cast<int>(cache_key_.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
    key = Hex(mac, len);
    auto hit = verified_.find(key);
    if (hit != verified_.end() && now - hit->second.second < kRemember) {
      *out = hit->second.first;
      return Outcome::kOk;
    }
    auto failed = failed_.find(username);
    if (failed != failed_.end() && now - failed->second.first < kFailureWindow &&
        failed->second.second >= kFailuresAllowed) {
      return Outcome::kSlowDown;
    }
  }
  auto doc = store_->GetDocument(kUserKind, username);
  json j = doc.ok() ? json::parse(doc->value, nullptr, false) : json();
  bool ok = j.is_object() && VerifyPassword(password, j.value("password_hash", ""));
  std::lock_guard lock(mu_);
  if (!ok) {
    if (failed_.size() > 100000) failed_.clear();
    auto& [since, count] = failed_[username];
    if (now - since >= kFailureWindow) {
      since = now;
      count = 0;
    }
    ++count;
    return Outcome::kWrong;
  }
  *out = Verified{username, j.value("is_admin", false)};
  if (verified_.size() > 100000) verified_.clear();
  verified_[key] = {*out, now};
  return Outcome::kOk;
}

Status Users::CreatePermission(ResourceKind kind, const std::string& resource,
                               const std::string& username, const std::string& permission) {
  RETURN_IF_ERROR(PermissionNamed(permission).status());
  RETURN_IF_ERROR(Get(username).status());
  auto put = Put(store_, kPermissionKind, PermissionKey(kind, resource, username),
                 json{{"permission", permission}}, 0);
  if (!put.ok() && put.status().code() == Code::kFailedPrecondition) {
    return AlreadyExists(PermissionMessage(kind, resource, username, /*exists=*/true));
  }
  return put.status();
}

void Users::CreatePermissionAsync(ResourceKind kind, const std::string& resource,
                                  const std::string& username, const std::string& permission,
                                  std::function<void(Status)> done) {
  store_->PutDocument(kPermissionKind, PermissionKey(kind, resource, username),
                      json{{"permission", permission}}.dump(), 0, "",
                      [done = std::move(done)](Result<int64_t> r) { done(r.status()); });
}

Result<ResourcePermission> Users::GetPermission(ResourceKind kind, const std::string& resource,
                                                const std::string& username) {
  auto doc = store_->GetDocument(kPermissionKind, PermissionKey(kind, resource, username));
  if (!doc.ok() && doc.status().code() == Code::kNotFound) {
    return NotFound(NotFoundMessage(kind, resource, username));
  }
  RETURN_IF_ERROR(doc.status());
  json v = json::parse(doc->value, nullptr, false);
  return ResourcePermission{resource, v.is_object() ? v.value("permission", "") : ""};
}

Status Users::UpdatePermission(ResourceKind kind, const std::string& resource,
                               const std::string& username, const std::string& permission) {
  RETURN_IF_ERROR(PermissionNamed(permission).status());
  std::string key = PermissionKey(kind, resource, username);
  auto doc = store_->GetDocument(kPermissionKind, key);
  if (!doc.ok() && doc.status().code() == Code::kNotFound) {
    return NotFound(NotFoundMessage(kind, resource, username));
  }
  RETURN_IF_ERROR(doc.status());
  return Put(store_, kPermissionKind, key, json{{"permission", permission}}, doc->revision)
      .status();
}

Status Users::DeletePermission(ResourceKind kind, const std::string& resource,
                               const std::string& username) {
  Status s = DeleteDoc(store_, kPermissionKind, PermissionKey(kind, resource, username));
  if (s.code() == Code::kNotFound) return NotFound(NotFoundMessage(kind, resource, username));
  return s;
}

void Users::MovePermissionsAsync(ResourceKind kind, const std::string& resource,
                                 const std::string& to, std::function<void(Status)> done) {
  auto all = store_->ListDocuments(kPermissionKind, "");
  if (!all.ok()) return done(all.status());
  std::string tail = std::string("\n") + KindLetter(kind) + "\n" + resource;
  std::vector<store::Document> held;
  for (auto& d : *all) {
    if (d.key.size() > tail.size() && d.key.ends_with(tail)) held.push_back(std::move(d));
  }
  // One count per write; the last one to finish answers.
  struct Pending {
    std::mutex mu;
    size_t left = 0;
    Status first = Status::Ok();
    std::function<void(Status)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = held.size() * (to.empty() ? 1 : 2);
  pending->done = std::move(done);
  if (pending->left == 0) return pending->done(Status::Ok());
  auto finish = [pending](Status s) {
    bool last;
    {
      std::lock_guard lock(pending->mu);
      if (!s.ok() && pending->first.ok()) pending->first = s;
      last = --pending->left == 0;
    }
    if (last) pending->done(pending->first);
  };
  for (const auto& d : held) {
    if (!to.empty()) {
      std::string username = d.key.substr(0, d.key.size() - tail.size());
      store_->PutDocument(kPermissionKind, PermissionKey(kind, to, username), d.value, -1, "",
                          [finish](Result<int64_t> r) { finish(r.status()); });
    }
    store_->DeleteDocument(kPermissionKind, d.key, -1, finish);
  }
}

Permission Users::Effective(ResourceKind kind, const std::string& resource,
                            const std::string& username) {
  auto p = GetPermission(kind, resource, username);
  if (p.ok()) {
    auto named = PermissionNamed(p->permission);
    if (named.ok()) return *named;
  }
  return default_;
}

}  // namespace ringo::api
