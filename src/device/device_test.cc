// Tests of the device SDK against an in-memory fake server, with the real OpenSSL crypto backend.
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "device/ringo_device.h"

namespace fs = std::filesystem;

namespace {

std::string Base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (unsigned char c : md) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

// An Ed25519 key pair, as the server's deploy_key.pem.
class Key {
 public:
  Key() : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")) {}
  ~Key() { EVP_PKEY_free(key_); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  std::string PublicBase64() const {
    unsigned char raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(key_, raw, &len);
    return Base64(std::string(reinterpret_cast<char*>(raw), len));
  }

  std::string Sign(const std::string& body) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t len = sizeof sig;
    EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_);
    EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    EVP_MD_CTX_free(ctx);
    return Base64(std::string(reinterpret_cast<char*>(sig), len));
  }

 private:
  EVP_PKEY* key_;
};

// A ustar archive built entry by entry, including the hostile entries the server never makes.
class Tar {
 public:
  Tar& Dir(const std::string& name) { return Add(name + "/", '5', ""); }
  Tar& File(const std::string& name, const std::string& data) { return Add(name, '0', data); }
  Tar& Link(const std::string& name, const std::string& target, char type = '2') {
    return Add(name, type, "", target);
  }
  std::string Finish() const { return out_ + std::string(1024, '\0'); }

 private:
  Tar& Add(const std::string& name, char type, const std::string& data, const std::string& link = "") {
    char h[512] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(data.size()));
    std::snprintf(h + 136, 12, "%011o", 0);
    h[156] = type;
    std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 100));
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    out_.append(h, 512);
    out_ += data;
    out_.append((512 - data.size() % 512) % 512, '\0');
    return *this;
  }
  std::string out_;
};

struct Model {
  std::string name, version, format, blob;
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The device API in memory: manifests (with ETag / If-None-Match), blobs (with Range), telemetry.
class FakeServer {
 public:
  struct Request {
    std::string url;
    std::vector<std::string> headers;
    bool Has(const std::string& h) const {
      return std::find(headers.begin(), headers.end(), h) != headers.end();
    }
  };

  const Key& key() const { return key_; }

  // Publishes a deployment on collection "app", channel "release".
  void Publish(const std::string& id, const std::vector<Model>& models, const Key* signer = nullptr,
               const std::string& collection = "app") {
    std::string body = "{\"collection\":\"" + collection + "\",\"channel\":\"release\",\"deployment_id\":\"" +
                       id + "\",\"models\":[";
    for (size_t i = 0; i < models.size(); ++i) {
      const Model& m = models[i];
      std::string sha = Sha256Hex(m.blob);
      blobs_[sha] = m.blob;
      body += std::string(i ? "," : "") + "{\"name\":\"" + m.name + "\",\"version\":\"" + m.version +
              "\",\"sha256\":\"" + sha + "\",\"size\":" + std::to_string(m.blob.size()) +
              ",\"format\":\"" + m.format + "\",\"url\":\"/api/deploy/v1/blobs/" + sha +
              "\",\"interface_hash\":\"x\"}";
    }
    // Each publication is a channel change: a higher sequence, a fresh expiry.
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    body += "],\"sequence\":" + std::to_string(++sequence_) + ",\"issued_at\":" +
            std::to_string(now) + ",\"expires_at\":" + std::to_string(now + expires_in_ms) + "}";
    PublishRaw(body, (signer ? signer : &key_)->Sign(body),
               next_signer ? next_signer->Sign(body) : "");
  }

  void PublishRaw(const std::string& body, const std::string& signature,
                  const std::string& next_signature = "") {
    manifest_ = body;
    signature_ = signature;
    next_signature_ = next_signature;
    etag_ = "\"" + Sha256Hex(body).substr(0, 32) + "\"";
  }
  const std::string& manifest() const { return manifest_; }
  const std::string& signature() const { return signature_; }

  // Replaces a blob's bytes without touching the manifest.
  void CorruptBlobs(const std::string& replacement) {
    for (auto& [sha, data] : blobs_) data = replacement;
  }

  int Get(const std::string& url, const std::vector<std::string>& headers, ringo_response* out) {
    requests.push_back({url, headers});
    std::string path = url.substr(0, url.find('?'));
    const std::string base = "http://fake";
    path = path.substr(base.size());
    FakeResponse r;
    if (path == "/api/deploy/v1/collections/app/channels/release/manifest") {
      if (manifest_.empty()) {
        r.status = 404;
      } else if (std::find(headers.begin(), headers.end(), "If-None-Match: " + etag_) != headers.end()) {
        r.status = 304;
      } else {
        r.headers = {{"ETag", etag_}};
        if (!signature_.empty()) r.headers.push_back({"X-Ringo-Signature", "ed25519=" + signature_});
        if (!next_signature_.empty()) {
          r.headers.push_back({"X-Ringo-Signature-Next", "ed25519=" + next_signature_});
        }
        r.body = manifest_;
      }
    } else if (redirect_blobs && path.rfind("/api/deploy/v1/blobs/", 0) == 0) {
      // Sent on to the object store, as a server with --blob-redirect does.
      r.status = 302;
      r.headers = {{"Location", base + "/bucket/" + path.substr(21) + "?X-Amz-Signature=s"}};
      r.body = "redirected";
    } else if (path.rfind("/api/deploy/v1/blobs/", 0) == 0 || path.rfind("/bucket/", 0) == 0) {
      auto it = blobs_.find(path.substr(path.rfind('/') + 1));
      if (it == blobs_.end()) {
        r.status = 404;
      } else {
        r.body = it->second;
        for (const std::string& h : headers) {
          if (h.rfind("Range: bytes=", 0) == 0) {
            size_t from = std::stoul(h.substr(13));
            r.status = 206;
            r.body = r.body.substr(std::min(from, r.body.size()));
          }
        }
      }
      if (fail_after >= 0) {
        // The connection drops part-way: deliver a prefix, then fail.
        size_t n = std::min(static_cast<size_t>(fail_after), r.body.size());
        fail_after = -1;
        out->status = r.status;
        out->on_body(out->sink, r.body.data(), n);
        return 1;
      }
    } else {
      r.status = 404;
    }
    out->status = r.status;
    for (const auto& [k, v] : r.headers) out->on_header(out->sink, k.c_str(), v.c_str());
    // Deliver in small pieces, as a socket would.
    for (size_t i = 0; i < r.body.size(); i += 7) {
      if (out->on_body(out->sink, r.body.data() + i, std::min<size_t>(7, r.body.size() - i)) != 0) return 1;
    }
    return 0;
  }

  int Post(const std::string& url, const std::string& body, ringo_response* out) {
    if (post_fails) return 1;
    if (url != "http://fake/api/deploy/v1/telemetry") return 1;
    posted.push_back(body);
    out->status = post_status;
    out->on_body(out->sink, "{}", 2);
    return 0;
  }

  std::vector<Request> requests;
  std::vector<std::string> posted;
  long fail_after = -1;
  bool redirect_blobs = false;
  bool post_fails = false;
  int post_status = 200;
  int64_t expires_in_ms = 3600 * 1000;  // of the manifests Publish makes
  const Key* next_signer = nullptr;     // signs them too, as during a key rotation

 private:
  Key key_;
  int64_t sequence_ = 1000;
  std::string manifest_, signature_, next_signature_, etag_;
  std::map<std::string, std::string> blobs_;
};

int FakeGet(void* ctx, const char* url, const char* const* headers, ringo_response* out) {
  std::vector<std::string> hs;
  for (const char* const* h = headers; *h; ++h) hs.emplace_back(*h);
  return static_cast<FakeServer*>(ctx)->Get(url, hs, out);
}

int FakePost(void* ctx, const char* url, const char* const*, const void* body, size_t len,
             ringo_response* out) {
  return static_cast<FakeServer*>(ctx)->Post(url, std::string(static_cast<const char*>(body), len), out);
}

const ringo_transport kFakeTransport = {FakeGet, FakePost};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringo-device-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ringo_client_destroy(client_);
    fs::remove_all(dir_);
  }

  ringo_client* Open(const std::string& public_key = "", size_t max_events = 0, size_t batch = 0) {
    ringo_client_destroy(client_);
    key_b64_ = public_key.empty() ? server_.key().PublicBase64() : public_key;
    ringo_config c{};
    c.base_url = "http://fake/";
    c.collection = "app";
    c.channel = "release";
    c.device.id = "phone-1";
    c.device.device_class = "iPhone";
    c.device.os = "iOS";
    c.device.os_version = "17.4";
    c.device.app_version = "2.1.0";
    c.storage_dir = dir_.c_str();
    c.public_key = key_b64_.c_str();
    c.token = "device-token";
    c.transport = &kFakeTransport;
    c.transport_ctx = &server_;
    c.crypto = ringo_crypto_openssl();
    c.on_change = [](void* ctx, const char* id) { static_cast<std::vector<std::string>*>(ctx)->push_back(id); };
    c.on_change_ctx = &changes_;
    c.telemetry_max_events = max_events;
    c.telemetry_batch_size = batch;
    char err[256];
    client_ = ringo_client_create(&c, err, sizeof err);
    EXPECT_NE(client_, nullptr) << err;
    return client_;
  }

  // A fresh install: no client, nothing on disk.
  void Forget() {
    ringo_client_destroy(client_);
    client_ = nullptr;
    fs::remove_all(dir_);
  }

  int Check(ringo_update_result* r = nullptr) {
    int rc = ringo_check_for_update(client_, r);
    last_error_ = ringo_last_error(client_);
    return rc;
  }

  std::string Current() {
    char buf[64];
    EXPECT_EQ(ringo_current_deployment(client_, buf, sizeof buf), RINGO_OK);
    return buf;
  }

  std::string PathOf(const std::string& model, int expect = RINGO_OK) {
    char buf[1024] = "";
    EXPECT_EQ(ringo_model_path(client_, model.c_str(), buf, sizeof buf, nullptr, 0), expect)
        << ringo_last_error(client_);
    return buf;
  }

  static Model Mlmodel(const std::string& version, const std::string& data) {
    return {"digits", version, "mlmodel", data};
  }

  static Model Package(const std::string& version, const std::string& tar) {
    return {"digits", version, "mlpackage.tar", tar};
  }

  static std::string GoodPackage(const std::string& weights) {
    return Tar()
        .Dir("Digits.mlpackage")
        .File("Digits.mlpackage/Manifest.json", "{}")
        .Dir("Digits.mlpackage/Data")
        .File("Digits.mlpackage/Data/weight.bin", weights)
        .Finish();
  }

  std::string dir_;
  std::string key_b64_;
  std::string last_error_;
  FakeServer server_;
  ringo_client* client_ = nullptr;
  std::vector<std::string> changes_;
};

TEST_F(DeviceTest, CreateRejectsBadConfig) {
  ringo_config c{};
  char err[128] = "";
  EXPECT_EQ(ringo_client_create(&c, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("required"), std::string::npos);
  EXPECT_EQ(ringo_client_create(nullptr, nullptr, 0), nullptr);
  std::string short_key = Base64("too short");
  c.base_url = "http://fake";
  c.collection = "app";
  c.channel = "release";
  c.storage_dir = dir_.c_str();
  c.public_key = short_key.c_str();
  c.transport = &kFakeTransport;
  c.crypto = ringo_crypto_openssl();
  EXPECT_EQ(ringo_client_create(&c, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("32-byte"), std::string::npos);
}

TEST_F(DeviceTest, BlobRedirectIsFollowedWithoutTheDeviceToken) {
  server_.Publish("dep-1", {Mlmodel("1", "model-one-bytes")});
  server_.redirect_blobs = true;
  Open();
  ringo_update_result r{};
  ASSERT_EQ(Check(&r), RINGO_OK) << last_error_;
  EXPECT_EQ(r.bytes_downloaded, 15);
  EXPECT_EQ(ReadAll(PathOf("digits")), "model-one-bytes");
  const FakeServer::Request& last = server_.requests.back();
  ASSERT_EQ(last.url.rfind("http://fake/bucket/", 0), 0u) << last.url;
  for (const std::string& h : last.headers) EXPECT_NE(h.rfind("Authorization", 0), 0u) << h;
  // Asked of the server itself, the token is sent.
  const FakeServer::Request& asked = server_.requests[server_.requests.size() - 2];
  ASSERT_EQ(asked.url.rfind("http://fake/api/deploy/v1/blobs/", 0), 0u) << asked.url;
  EXPECT_TRUE(asked.Has("Authorization: Bearer device-token"));
}

TEST_F(DeviceTest, ValidSignatureInstallsModel) {
  server_.Publish("dep-1", {Mlmodel("1", "model-one-bytes")});
  Open();
  EXPECT_EQ(PathOf("digits", RINGO_ERR_NOT_FOUND), "");
  ringo_update_result r{};
  ASSERT_EQ(Check(&r), RINGO_OK) << last_error_;
  EXPECT_EQ(r.changed, 1);
  EXPECT_STREQ(r.deployment_id, "dep-1");
  EXPECT_EQ(r.models_downloaded, 1);
  EXPECT_EQ(r.bytes_downloaded, 15);
  std::string path = PathOf("digits");
  EXPECT_EQ(path, dir_ + "/deployments/dep-1/digits.mlmodel");
  EXPECT_EQ(ReadAll(path), "model-one-bytes");
  char version[8];
  char buf[512];
  ASSERT_EQ(ringo_model_path(client_, "digits", buf, sizeof buf, version, sizeof version), RINGO_OK);
  EXPECT_STREQ(version, "1");
  EXPECT_EQ(ringo_model_path(client_, "digits", buf, 4, nullptr, 0), RINGO_ERR_BUFFER);
  EXPECT_EQ(changes_, std::vector<std::string>{"dep-1"});
  // The device told the server who it is.
  EXPECT_NE(server_.requests[0].url.find("device_id=phone-1&device_class=iPhone"), std::string::npos);
  // A new client on the same directory finds the model without the network.
  Open();
  EXPECT_EQ(PathOf("digits"), path);
}

TEST_F(DeviceTest, UnchangedManifestIsA304) {
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  Open();
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  ringo_update_result r{};
  EXPECT_EQ(Check(&r), RINGO_NO_UPDATE);
  EXPECT_EQ(r.changed, 0);
  EXPECT_STREQ(r.deployment_id, "dep-1");
  ASSERT_EQ(server_.requests.size(), 3u);  // manifest, blob, manifest
  EXPECT_TRUE(server_.requests[2].Has(
      "If-None-Match: \"" + Sha256Hex(server_.manifest()).substr(0, 32) + "\""));
}

TEST_F(DeviceTest, NoDeploymentIsNoUpdate) {
  Open();
  EXPECT_EQ(Check(), RINGO_NO_UPDATE);
  EXPECT_EQ(Current(), "");
}

TEST_F(DeviceTest, TamperedOrForeignManifestIsRejectedAndModelKept) {
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  Open();
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  const std::string good = PathOf("digits");

  // A body changed after signing.
  server_.Publish("dep-2", {Mlmodel("2", "m2")});
  std::string body = "{\"collection\":\"app\",\"channel\":\"release\",\"deployment_id\":\"dep-evil\",\"models\":[]}";
  server_.PublishRaw(body, server_.key().Sign(body + " "));
  EXPECT_EQ(Check(), RINGO_ERR_SIGNATURE);
  // Signed by another key.
  Key other;
  server_.Publish("dep-2", {Mlmodel("2", "m2")}, &other);
  EXPECT_EQ(Check(), RINGO_ERR_SIGNATURE);
  EXPECT_NE(last_error_.find("does not verify"), std::string::npos);
  // Unsigned.
  server_.PublishRaw(body, "");
  EXPECT_EQ(Check(), RINGO_ERR_SIGNATURE);
  // Signed but not JSON, or for another collection.
  server_.PublishRaw("{not json", server_.key().Sign("{not json"));
  EXPECT_EQ(Check(), RINGO_ERR_MANIFEST);
  server_.Publish("dep-2", {Mlmodel("2", "m2")}, nullptr, "other-app");
  EXPECT_EQ(Check(), RINGO_ERR_MANIFEST);
  EXPECT_NE(last_error_.find("other-app"), std::string::npos);
  // Signed, but a model name that would escape the deployment directory.
  server_.Publish("dep-2", {{"../../x", "2", "mlmodel", "m2"}});
  EXPECT_EQ(Check(), RINGO_ERR_MANIFEST);

  EXPECT_EQ(Current(), "dep-1");
  EXPECT_EQ(PathOf("digits"), good);
  EXPECT_EQ(ReadAll(good), "m1");
  // The client still verifies with the configured key only: a wrong key never accepts.
  Open(other.PublicBase64());
  server_.Publish("dep-3", {Mlmodel("3", "m3")});
  EXPECT_EQ(Check(), RINGO_ERR_SIGNATURE);
  EXPECT_EQ(Current(), "dep-1");
}

TEST_F(DeviceTest, ReplayedManifestIsRefusedAndSignedRollbackAccepted) {
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  Open();
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  const std::string old_body = server_.manifest(), old_sig = server_.signature();
  server_.Publish("dep-2", {Mlmodel("2", "m2")});
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  // Someone between the device and the server serves the old, validly signed manifest.
  server_.PublishRaw(old_body, old_sig);
  EXPECT_EQ(Check(), RINGO_ERR_MANIFEST);
  EXPECT_NE(last_error_.find("older"), std::string::npos) << last_error_;
  EXPECT_EQ(Current(), "dep-2");
  EXPECT_EQ(ReadAll(PathOf("digits")), "m2");
  // Also after a restart: the newest sequence accepted is kept on disk.
  Open();
  EXPECT_EQ(Check(), RINGO_ERR_MANIFEST);
  EXPECT_EQ(Current(), "dep-2");
  // The server's rollback is a new manifest, with a higher sequence: accepted.
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  EXPECT_EQ(Check(), RINGO_OK) << last_error_;
  EXPECT_EQ(Current(), "dep-1");
  EXPECT_EQ(ReadAll(PathOf("digits")), "m1");
}

TEST_F(DeviceTest, ExpiredManifestIsRefusedAndAFreshOneAskedFor) {
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  Open();
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  server_.expires_in_ms = -1000;
  server_.Publish("dep-2", {Mlmodel("2", "m2")});
  EXPECT_EQ(Check(), RINGO_ERR_MANIFEST);
  EXPECT_NE(last_error_.find("expired"), std::string::npos) << last_error_;
  EXPECT_EQ(Current(), "dep-1");
  // A manifest that expires soon is accepted; once it has expired, the device does not take a
  // 304 for an answer but asks for the whole manifest again.
  server_.expires_in_ms = 300;
  server_.Publish("dep-2", {Mlmodel("2", "m2")});
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  EXPECT_EQ(Check(), RINGO_NO_UPDATE);
  ASSERT_FALSE(server_.requests.empty());
  bool conditional = false;
  for (const auto& h : server_.requests.back().headers) {
    conditional |= h.rfind("If-None-Match", 0) == 0;
  }
  EXPECT_TRUE(conditional);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(Check(), RINGO_ERR_MANIFEST);  // the same manifest, now expired
  conditional = false;
  for (const auto& h : server_.requests.back().headers) {
    conditional |= h.rfind("If-None-Match", 0) == 0;
  }
  EXPECT_FALSE(conditional);
  EXPECT_EQ(Current(), "dep-2");
  // The server re-issues it: same deployment, fresh expiry.
  server_.expires_in_ms = 3600 * 1000;
  server_.Publish("dep-2", {Mlmodel("2", "m2")});
  EXPECT_EQ(Check(), RINGO_NO_UPDATE) << last_error_;
}

TEST_F(DeviceTest, DuringAKeyRotationEitherKeyVerifies) {
  Key next;
  server_.next_signer = &next;
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  // An app built with both keys, one built with the new key only: both verify.
  Open(server_.key().PublicBase64() + "," + next.PublicBase64());
  EXPECT_EQ(Check(), RINGO_OK) << last_error_;
  Forget();
  Open(next.PublicBase64());
  EXPECT_EQ(Check(), RINGO_OK) << last_error_;
  // Rotation finished: the new key alone signs. An app with only the old key cannot verify.
  server_.next_signer = nullptr;
  server_.Publish("dep-2", {Mlmodel("2", "m2")}, &next);
  EXPECT_EQ(Check(), RINGO_OK) << last_error_;
  Forget();
  Open();
  EXPECT_EQ(Check(), RINGO_ERR_SIGNATURE);
  // Malformed key lists are refused when the client is made.
  for (std::string keys : {next.PublicBase64() + ",not-a-key", std::string(","),
                           next.PublicBase64() + "," + Base64("31 bytes, one short of a key!!")}) {
    ringo_config c{};
    c.base_url = "http://fake";
    c.collection = "app";
    c.channel = "release";
    c.storage_dir = dir_.c_str();
    c.public_key = keys.c_str();
    c.transport = &kFakeTransport;
    c.transport_ctx = &server_;
    c.crypto = ringo_crypto_openssl();
    char err[256] = "";
    EXPECT_EQ(ringo_client_create(&c, err, sizeof err), nullptr) << keys;
    EXPECT_NE(std::string(err).find("public_key"), std::string::npos) << err;
  }
}

TEST_F(DeviceTest, BlobMismatchIsRejectedAndModelKept) {
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  Open();
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;

  server_.Publish("dep-2", {Mlmodel("2", "version-two")});
  server_.CorruptBlobs("version-tw0");  // same size, other bytes
  EXPECT_EQ(Check(), RINGO_ERR_INTEGRITY);
  EXPECT_NE(last_error_.find("does not match"), std::string::npos);
  server_.Publish("dep-2", {Mlmodel("2", "version-two")});
  server_.CorruptBlobs("version-two-and-more");  // longer than the manifest says
  EXPECT_EQ(Check(), RINGO_ERR_INTEGRITY);
  server_.CorruptBlobs("short");
  EXPECT_EQ(Check(), RINGO_ERR_INTEGRITY);

  EXPECT_EQ(Current(), "dep-1");
  EXPECT_EQ(ReadAll(PathOf("digits")), "m1");
  EXPECT_FALSE(fs::exists(dir_ + "/deployments/dep-2"));
  // Once the server serves the right bytes, the update goes through.
  server_.Publish("dep-2", {Mlmodel("2", "version-two")});
  EXPECT_EQ(Check(), RINGO_OK) << last_error_;
  EXPECT_EQ(ReadAll(PathOf("digits")), "version-two");
}

TEST_F(DeviceTest, InterruptedDownloadResumesWithRange) {
  std::string blob(10000, 'w');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>('a' + i % 26);
  server_.Publish("dep-1", {Mlmodel("1", blob)});
  Open();
  server_.fail_after = 4000;
  ringo_update_result r{};
  EXPECT_EQ(Check(&r), RINGO_ERR_NETWORK);
  EXPECT_NE(last_error_.find("4000 of 10000"), std::string::npos) << last_error_;
  EXPECT_EQ(Current(), "");
  EXPECT_EQ(fs::file_size(dir_ + "/blobs/" + Sha256Hex(blob) + ".part"), 4000u);

  Open();  // a restart in between changes nothing
  server_.requests.clear();
  ASSERT_EQ(Check(&r), RINGO_OK) << last_error_;
  EXPECT_EQ(r.bytes_downloaded, 6000);
  ASSERT_EQ(server_.requests.size(), 2u);
  EXPECT_TRUE(server_.requests[1].Has("Range: bytes=4000-"));
  EXPECT_EQ(ReadAll(PathOf("digits")), blob);
  EXPECT_FALSE(fs::exists(dir_ + "/blobs/" + Sha256Hex(blob) + ".part"));
}

TEST_F(DeviceTest, PackageIsUnpacked) {
  server_.Publish("dep-1", {Package("1", GoodPackage("weights!"))});
  Open();
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  std::string path = PathOf("digits");
  EXPECT_EQ(path, dir_ + "/deployments/dep-1/digits/Digits.mlpackage");
  EXPECT_EQ(ReadAll(path + "/Data/weight.bin"), "weights!");
  EXPECT_EQ(ReadAll(path + "/Manifest.json"), "{}");
}

struct UnsafeTar {
  const char* what;
  std::string tar;
};

TEST_F(DeviceTest, UnsafeArchivesAreRejected) {
  const UnsafeTar cases[] = {
      {"absolute path", Tar().Dir("Digits.mlpackage").File("/etc/evil", "x").Finish()},
      {"dot-dot", Tar().Dir("Digits.mlpackage").File("Digits.mlpackage/../../evil", "x").Finish()},
      {"symlink", Tar().Dir("Digits.mlpackage").Link("Digits.mlpackage/l", "/etc/passwd").Finish()},
      {"hard link", Tar().Dir("Digits.mlpackage").Link("Digits.mlpackage/l", "/etc/passwd", '1').Finish()},
      {"pax header", Tar().Dir("Digits.mlpackage").Link("Digits.mlpackage/p", "", 'x').Finish()},
      {"two tops", Tar().Dir("Digits.mlpackage").Dir("Other.mlpackage").Finish()},
      {"not a package", Tar().Dir("Digits").File("Digits/a", "x").Finish()},
      {"file before its dir", Tar().File("Digits.mlpackage/Data/w", "x").Finish()},
      {"truncated", GoodPackage("w").substr(0, 1024)},
  };
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  Open();
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  int n = 2;
  for (const UnsafeTar& c : cases) {
    server_.Publish("dep-" + std::to_string(n++), {Package("2", c.tar)});
    EXPECT_EQ(Check(), RINGO_ERR_ARCHIVE) << c.what << ": " << last_error_;
    EXPECT_EQ(Current(), "dep-1") << c.what;
  }
  EXPECT_FALSE(fs::exists("/etc/evil"));
  EXPECT_EQ(ReadAll(PathOf("digits")), "m1");
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_NE(e.path().filename().string().rfind("staging-", 0), 0u) << e.path();
  }
}

TEST_F(DeviceTest, SwapKeepsPreviousAndDeletesOlder) {
  Open();
  for (int i = 1; i <= 3; ++i) {
    server_.Publish("dep-" + std::to_string(i), {Mlmodel(std::to_string(i), "m" + std::to_string(i))});
    ringo_update_result r{};
    ASSERT_EQ(Check(&r), RINGO_OK) << last_error_;
    EXPECT_STREQ(r.previous_deployment_id, i == 1 ? "" : ("dep-" + std::to_string(i - 1)).c_str());
  }
  std::vector<std::string> held;
  for (const auto& e : fs::directory_iterator(dir_ + "/deployments")) held.push_back(e.path().filename());
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<std::string>{"dep-2", "dep-3"}));
  // The server rolls back to dep-2: it is on disk, so nothing is downloaded.
  server_.Publish("dep-2", {Mlmodel("2", "m2")});
  ringo_update_result r{};
  ASSERT_EQ(Check(&r), RINGO_OK) << last_error_;
  EXPECT_EQ(r.models_downloaded, 0);
  EXPECT_EQ(Current(), "dep-2");
  EXPECT_EQ(ReadAll(PathOf("digits")), "m2");
}

TEST_F(DeviceTest, ReportFailureFallsBackAndNeverReinstalls) {
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  Open();
  ASSERT_EQ(Check(), RINGO_OK);
  server_.Publish("dep-2", {Package("2", GoodPackage("w2"))});
  ASSERT_EQ(Check(), RINGO_OK) << last_error_;
  EXPECT_EQ(Current(), "dep-2");
  changes_.clear();

  ASSERT_EQ(ringo_report_failure(client_, "digits", "compile failed: bad op"), RINGO_OK);
  EXPECT_EQ(Current(), "dep-1");
  EXPECT_EQ(ReadAll(PathOf("digits")), "m1");
  EXPECT_EQ(changes_, std::vector<std::string>{"dep-1"});
  EXPECT_FALSE(fs::exists(dir_ + "/deployments/dep-2"));
  EXPECT_EQ(ringo_pending_events(client_), 3u);  // downloaded x2, failed

  // The server still offers dep-2: this device refuses it, also after a restart and even when the
  // manifest is fetched again in full.
  EXPECT_EQ(Check(), RINGO_NO_UPDATE);
  Open();
  EXPECT_EQ(Current(), "dep-1");
  server_.Publish("dep-2", {Package("2", GoodPackage("w2")), {"extra", "1", "mlmodel", "e"}});
  EXPECT_EQ(Check(), RINGO_NO_UPDATE);
  EXPECT_NE(last_error_.find("reported bad"), std::string::npos);
  EXPECT_EQ(Current(), "dep-1");
  // A new deployment is installed as usual.
  server_.Publish("dep-3", {Mlmodel("3", "m3")});
  EXPECT_EQ(Check(), RINGO_OK);
  // With no previous deployment left, a failure leaves none current: the app uses its bundled model.
  ASSERT_EQ(ringo_report_failure(client_, "digits", "load failed"), RINGO_OK);
  EXPECT_EQ(Current(), "dep-1");
  ASSERT_EQ(ringo_report_failure(client_, "digits", "load failed"), RINGO_OK);
  EXPECT_EQ(Current(), "");
  EXPECT_EQ(PathOf("digits", RINGO_ERR_NOT_FOUND), "");
  EXPECT_EQ(ringo_report_failure(client_, "digits", "x"), RINGO_ERR_NOT_FOUND);
}

TEST_F(DeviceTest, TelemetryIsBatchedAndPersisted) {
  server_.Publish("dep-1", {Mlmodel("7", "m1")});
  Open("", 0, 2);
  ASSERT_EQ(Check(), RINGO_OK);  // queues "downloaded"
  ringo_event e{RINGO_EVENT_PREDICTION, "digits", nullptr, 3.5, "ANE", nullptr, 0};
  for (int i = 0; i < 4; ++i) ASSERT_EQ(ringo_record_event(client_, &e), RINGO_OK);
  ringo_event no_version{RINGO_EVENT_LOADED, "unknown-model", nullptr, -1, nullptr, nullptr, 0};
  EXPECT_EQ(ringo_record_event(client_, &no_version), RINGO_ERR_INVALID);
  EXPECT_EQ(ringo_pending_events(client_), 5u);

  // Survives a restart.
  Open("", 0, 2);
  EXPECT_EQ(ringo_pending_events(client_), 5u);
  server_.post_fails = true;
  size_t sent = 0;
  EXPECT_EQ(ringo_flush_telemetry(client_, &sent), RINGO_ERR_NETWORK);
  EXPECT_EQ(sent, 0u);
  EXPECT_EQ(ringo_pending_events(client_), 5u);

  server_.post_fails = false;
  ASSERT_EQ(ringo_flush_telemetry(client_, &sent), RINGO_OK);
  EXPECT_EQ(sent, 5u);
  ASSERT_EQ(server_.posted.size(), 3u);  // 2 + 2 + 1
  EXPECT_NE(server_.posted[0].find("\"event\":\"downloaded\""), std::string::npos) << server_.posted[0];
  EXPECT_NE(server_.posted[1].find("\"latency_ms\":3.5"), std::string::npos);
  EXPECT_NE(server_.posted[1].find("\"version\":\"7\""), std::string::npos);
  EXPECT_NE(server_.posted[1].find("\"device_class\":\"iPhone\""), std::string::npos);
  EXPECT_NE(server_.posted[1].find("\"os\":\"iOS\""), std::string::npos);
  EXPECT_NE(server_.posted[1].find("\"os_version\":\"17.4\""), std::string::npos);
  EXPECT_NE(server_.posted[1].find("\"app_version\":\"2.1.0\""), std::string::npos);
  EXPECT_EQ(ringo_pending_events(client_), 0u);
  Open("", 0, 2);
  EXPECT_EQ(ringo_pending_events(client_), 0u);
}

TEST_F(DeviceTest, TelemetryQueueDropsOldestPastItsBound) {
  Open("", 3, 10);
  for (int i = 0; i < 5; ++i) {
    std::string v = std::to_string(i);
    ringo_event e{RINGO_EVENT_LOADED, "digits", v.c_str(), -1, nullptr, nullptr, 0};
    ASSERT_EQ(ringo_record_event(client_, &e), RINGO_OK);
  }
  EXPECT_EQ(ringo_pending_events(client_), 3u);
  Open("", 3, 10);
  EXPECT_EQ(ringo_pending_events(client_), 3u);
  // A torn last line (a crash mid-append) is skipped.
  { std::ofstream(dir_ + "/telemetry.jsonl", std::ios::app) << "{\"event\":\"loa"; }
  Open("", 3, 10);
  ASSERT_EQ(ringo_flush_telemetry(client_, nullptr), RINGO_OK);
  ASSERT_EQ(server_.posted.size(), 1u);
  EXPECT_EQ(server_.posted[0].find("\"version\":\"0\""), std::string::npos);
  EXPECT_NE(server_.posted[0].find("\"version\":\"2\""), std::string::npos);
  EXPECT_NE(server_.posted[0].find("\"version\":\"4\""), std::string::npos);
  // A batch the server rejects as invalid is dropped rather than retried forever.
  ringo_event e{RINGO_EVENT_LOADED, "digits", "9", -1, nullptr, nullptr, 0};
  ASSERT_EQ(ringo_record_event(client_, &e), RINGO_OK);
  server_.post_status = 400;
  size_t sent = 9;
  EXPECT_EQ(ringo_flush_telemetry(client_, &sent), RINGO_OK);
  EXPECT_EQ(sent, 0u);
  EXPECT_EQ(ringo_pending_events(client_), 0u);
}

TEST_F(DeviceTest, DamagedCurrentDeploymentFallsBackOnOpen) {
  server_.Publish("dep-1", {Mlmodel("1", "m1")});
  Open();
  ASSERT_EQ(Check(), RINGO_OK);
  server_.Publish("dep-2", {Mlmodel("2", "m2")});
  ASSERT_EQ(Check(), RINGO_OK);
  ringo_client_destroy(client_);
  client_ = nullptr;
  fs::remove_all(dir_ + "/deployments/dep-2");
  Open();
  EXPECT_EQ(Current(), "dep-1");
  EXPECT_EQ(ReadAll(PathOf("digits")), "m1");
}

TEST(DeviceStatusTest, NamesEveryCode) {
  EXPECT_STREQ(ringo_status_name(RINGO_ERR_SIGNATURE), "RINGO_ERR_SIGNATURE");
  EXPECT_STREQ(ringo_status_name(RINGO_NO_UPDATE), "RINGO_NO_UPDATE");
  EXPECT_STREQ(ringo_status_name(12345), "RINGO_ERR_UNKNOWN");
}

}  // namespace
