// The manifest signing keys: loading, sharing through the store, rotating, signing.
#include "deploy/signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "common/util.h"

namespace ringo::deploy {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kKind = "signing_key";
constexpr const char* kKey = "manifest";

struct PKeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PKey = std::unique_ptr<EVP_PKEY, PKeyFree>;

Result<PKey> ReadKey(const std::string& pem, const std::string& what) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  PKey key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!key) return Internal(what + " is not a PEM private key");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) {
    return Internal(what + " is not an Ed25519 key");
  }
  return key;
}

std::string PublicOf(EVP_PKEY* key) {
  unsigned char raw[32];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) return "";
  return Base64Encode(std::string_view(reinterpret_cast<char*>(raw), len));
}

Result<std::string> NewKeyPem() {
  EVP_PKEY* fresh = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &fresh) <= 0) {
    EVP_PKEY_CTX_free(ctx);
    return Internal("cannot generate an Ed25519 key");
  }
  EVP_PKEY_CTX_free(ctx);
  PKey owned(fresh);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, fresh, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

std::string SignWith(EVP_PKEY* key, std::string_view body) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[64];
  size_t len = sizeof sig;
  std::string out;
  if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(body.data()),
                     body.size()) == 1) {
    out = Base64Encode(std::string_view(reinterpret_cast<char*>(sig), len));
  }
  EVP_MD_CTX_free(ctx);
  return out;
}

Result<int64_t> Put(store::Store* store, const json& value, int64_t expected) {
  return store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
    store->PutDocument(kKind, kKey, value.dump(), expected, "", std::move(done));
  });
}

}  // namespace

struct Signer::KeySet {
  PKey current, next;
  std::string current_pem;
  PublicKeys public_keys;
  std::vector<std::string> retired;  // public keys of keys rotated out
};

std::shared_ptr<const Signer::KeySet> Signer::Current() const {
  std::lock_guard lock(mu_);
  return keys_;
}

Signer::Signer(store::Store* store, fs::path file) : store_(store), file_(std::move(file)) {}
Signer::~Signer() = default;

Status Signer::WriteFileCopy(const std::string& pem) const {
  RETURN_IF_ERROR(WriteFileAtomic(file_, pem));
  std::error_code ec;
  fs::permissions(file_, fs::perms::owner_read | fs::perms::owner_write, ec);
  return Status::Ok();
}

// Takes the stored document as the keys to sign with; the file copy follows it.
Status Signer::Adopt(const std::string& value, int64_t revision) {
  json j = json::parse(value, nullptr, false);
  if (!j.is_object() || !j.contains("pem") || !j["pem"].is_string()) {
    return Internal("the store's signing key document is malformed");
  }
  auto set = std::make_shared<KeySet>();
  set->current_pem = j["pem"].get<std::string>();
  ASSIGN_OR_RETURN(set->current, ReadKey(set->current_pem, "the store's signing key"));
  set->public_keys.current = PublicOf(set->current.get());
  if (j.contains("next_pem") && j["next_pem"].is_string()) {
    ASSIGN_OR_RETURN(set->next, ReadKey(j["next_pem"].get<std::string>(),
                                        "the store's next signing key"));
    set->public_keys.next = PublicOf(set->next.get());
  }
  set->retired = j.value("retired", std::vector<std::string>{});
  std::lock_guard lock(mu_);
  keys_ = std::move(set);
  revision_ = revision;
  return Status::Ok();
}

Status Signer::Load() {
  std::error_code ec;
  std::string file_pem;
  if (fs::exists(file_, ec)) {
    std::ifstream in(file_, std::ios::binary);
    file_pem.assign(std::istreambuf_iterator<char>(in), {});
    if (file_pem.empty()) return Internal("cannot read the signing key '" + file_.string() + "'");
  }
  auto doc = store_->GetDocument(kKind, kKey);
  if (!doc.ok() && doc.status().code() != Code::kNotFound) return doc.status();
  if (!doc.ok()) {
    std::string pem = file_pem;
    if (pem.empty()) {
      ASSIGN_OR_RETURN(pem, NewKeyPem());
    }
    RETURN_IF_ERROR(ReadKey(pem, "the signing key '" + file_.string() + "'").status());
    auto put = Put(store_, json{{"pem", pem}}, 0);
    if (!put.ok() && !(put.status().code() == Code::kFailedPrecondition && file_pem.empty())) {
      return put.status();
    }
    // On a refused put another server stored its key first: use that one.
    doc = store_->GetDocument(kKind, kKey);
    if (!doc.ok()) return doc.status();
  }
  RETURN_IF_ERROR(Adopt(doc->value, doc->revision));
  auto keys = Current();
  if (!file_pem.empty() && file_pem != keys->current_pem) {
    auto file_key = ReadKey(file_pem, "the signing key '" + file_.string() + "'");
    bool retired = file_key.ok() && std::find(keys->retired.begin(), keys->retired.end(),
                                              PublicOf(file_key->get())) != keys->retired.end();
    if (!retired) {
      return FailedPrecondition(
          "the signing key '" + file_.string() + "' differs from the one the store holds (kept "
          "by another server sharing it); remove the file to use the store's key");
    }
  }
  if (file_pem != keys->current_pem) RETURN_IF_ERROR(WriteFileCopy(keys->current_pem));
  last_look_ms_ = NowMillis();
  return Status::Ok();
}

bool Signer::Refresh() {
  int64_t now = NowMillis();
  int64_t last = last_look_ms_.load();
  if (now - last < 1000 || !last_look_ms_.compare_exchange_strong(last, now)) return false;
  auto doc = store_->GetDocument(kKind, kKey);
  if (!doc.ok()) return false;
  {
    std::lock_guard lock(mu_);
    if (doc->revision == revision_) return false;
  }
  if (!Adopt(doc->value, doc->revision).ok()) return false;
  (void)WriteFileCopy(Current()->current_pem);  // a stale copy is replaced at the next start
  return true;
}

Status Signer::Rotate(bool finish) {
  auto doc = store_->GetDocument(kKind, kKey);
  if (!doc.ok()) return doc.status();
  json j = json::parse(doc->value, nullptr, false);
  if (!j.is_object()) return Internal("the store's signing key document is malformed");
  bool rotating = j.contains("next_pem");
  if (!finish && rotating) {
    return FailedPrecondition("a key rotation is already under way: finish it with "
                              "`ringo deploy keys rotate --finish`");
  }
  if (finish && !rotating) {
    return FailedPrecondition("no key rotation is under way: start one with "
                              "`ringo deploy keys rotate`");
  }
  if (!finish) {
    ASSIGN_OR_RETURN(std::string pem, NewKeyPem());
    j["next_pem"] = pem;
  } else {
    ASSIGN_OR_RETURN(PKey old, ReadKey(j.value("pem", ""), "the store's signing key"));
    auto retired = j.value("retired", std::vector<std::string>{});
    retired.push_back(PublicOf(old.get()));
    j = json{{"pem", j["next_pem"]}, {"retired", retired}};
  }
  // A concurrent rotation by another server fails here rather than lose a key.
  ASSIGN_OR_RETURN(int64_t revision, Put(store_, j, doc->revision));
  RETURN_IF_ERROR(Adopt(j.dump(), revision));
  return WriteFileCopy(Current()->current_pem);
}

Signer::Signatures Signer::Sign(std::string_view body) const {
  auto keys = Current();
  Signatures out;
  out.current = SignWith(keys->current.get(), body);
  if (keys->next) out.next = SignWith(keys->next.get(), body);
  return out;
}

Signer::PublicKeys Signer::Keys() const {
  std::lock_guard lock(mu_);
  return keys_->public_keys;
}

}  // namespace ringo::deploy
