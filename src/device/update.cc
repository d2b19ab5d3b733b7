// Checking for an update: the signed manifest, resumable verified downloads, atomic install.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "device/client_impl.h"
#include "device/untar.h"

namespace ringo::device {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

Error Client::FetchBlob(const ModelEntry& m, ringo_update_result* result) {
  std::string final_path = Path("blobs/" + m.sha256);
  std::string part = final_path + ".part";
  std::error_code ec;
  if (fs::exists(final_path, ec)) {
    std::string hex;
    int64_t size = 0;
    Error e = Sha256File(crypto, crypto_ctx, final_path, &hex, &size);
    if (e.ok() && hex == m.sha256 && size == m.size) return {};
    fs::remove(final_path, ec);  // damaged on disk: fetch again
  }
  int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Err(RINGO_ERR_IO, "cannot open '" + part + "': " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  int64_t offset = st.st_size;
  if (offset > m.size) {
    if (::ftruncate(fd, 0) != 0) offset = -1;
    offset = offset < 0 ? -1 : 0;
  }
  if (offset < 0 || ::lseek(fd, offset, SEEK_SET) != offset) {
    ::close(fd);
    return Err(RINGO_ERR_IO, "cannot prepare '" + part + "'");
  }
  if (offset < m.size) {
    ringo_response resp{};
    BlobSink sink;
    sink.resp = &resp;
    sink.fd = fd;
    sink.offset = offset;
    sink.expected = m.size;
    resp.sink = &sink;
    resp.on_header = BlobHeader;
    resp.on_body = BlobBody;
    std::vector<std::string> extra;
    if (offset > 0) extra.push_back("Range: bytes=" + std::to_string(offset) + "-");
    // The server may send the device to the object store for the bytes (a few hops at most).
    std::string url = AbsoluteUrl(m.url);
    int rc = Get(url, Headers(extra), &resp);
    for (int hop = 0; rc == 0 && hop < 3 && IsRedirect(resp.status) && !sink.location.empty();
         ++hop) {
      url = sink.location;
      sink.location.clear();
      sink.error_body.clear();
      resp.status = 0;
      rc = Get(url, Headers(extra, false), &resp);
    }
    result->bytes_downloaded += sink.received;
    if (sink.received > 0) result->models_downloaded += 1;
    ::fsync(fd);
    ::close(fd);
    if (sink.overflow) {
      fs::remove(part, ec);
      return Err(RINGO_ERR_INTEGRITY, "blob of model '" + m.name + "' is larger than " +
                                          std::to_string(m.size) + " bytes");
    }
    if (sink.io_error) return Err(RINGO_ERR_IO, "cannot write '" + part + "'");
    if (rc != 0) {
      return Err(RINGO_ERR_NETWORK, "download of model '" + m.name + "' interrupted after " +
                                        std::to_string(sink.offset) + " of " +
                                        std::to_string(m.size) + " bytes (kept for resume)");
    }
    if (resp.status == 416) fs::remove(part, ec);
    if (resp.status != 200 && resp.status != 206) {
      return Err(RINGO_ERR_NETWORK, "blob of model '" + m.name + "': HTTP " +
                                        std::to_string(resp.status) + " " + sink.error_body.substr(0, 200));
    }
  } else {
    ::close(fd);
  }
  std::string hex;
  int64_t size = 0;
  Error e = Sha256File(crypto, crypto_ctx, part, &hex, &size);
  if (!e.ok()) return e;
  if (size != m.size || hex != m.sha256) {
    fs::remove(part, ec);
    return Err(RINGO_ERR_INTEGRITY,
               "blob of model '" + m.name + "' does not match the manifest (size " +
                   std::to_string(size) + " vs " + std::to_string(m.size) + ", sha256 " + hex + ")");
  }
  if (std::rename(part.c_str(), final_path.c_str()) != 0) {
    return Err(RINGO_ERR_IO, "cannot rename '" + part + "': " + std::strerror(errno));
  }
  return {};
}

Error Client::Stage(const Manifest& m) {
  std::string staging = Path("staging-" + m.deployment_id);
  std::error_code ec;
  fs::remove_all(staging, ec);
  if (!fs::create_directories(staging, ec)) {
    return Err(RINGO_ERR_IO, "cannot create '" + staging + "': " + ec.message());
  }
  json models = json::array();
  for (const ModelEntry& e : m.models) {
    std::string blob = Path("blobs/" + e.sha256);
    std::string rel;
    if (e.format == "mlmodel") {
      rel = e.name + ".mlmodel";
      // A hard link costs no space and survives the blob cache being cleaned.
      if (::link(blob.c_str(), (staging + "/" + rel).c_str()) != 0) {
        fs::copy_file(blob, staging + "/" + rel, ec);
        if (ec) return Err(RINGO_ERR_IO, "cannot copy model '" + e.name + "': " + ec.message());
      }
    } else {
      std::string into = staging + "/" + e.name;
      if (!fs::create_directory(into, ec)) return Err(RINGO_ERR_IO, "cannot create '" + into + "'");
      std::string top;
      std::string why = ringo::device::ExtractTar(blob, into, &top);
      if (!why.empty()) {
        fs::remove_all(staging, ec);
        return Err(RINGO_ERR_ARCHIVE, "package of model '" + e.name + "': " + why);
      }
      if (top.size() <= 10 || top.compare(top.size() - 10, 10, ".mlpackage") != 0) {
        fs::remove_all(staging, ec);
        return Err(RINGO_ERR_ARCHIVE,
                   "package of model '" + e.name + "' holds '" + top + "', not an .mlpackage");
      }
      rel = e.name + "/" + top;
    }
    models.push_back({{"name", e.name},
                      {"version", e.version},
                      {"sha256", e.sha256},
                      {"format", e.format},
                      {"path", rel}});
  }
  json meta = {{"deployment_id", m.deployment_id}, {"models", models}};
  Error w = WriteFileAtomic(staging + "/ringo.json", meta.dump());
  if (!w.ok()) return w;
  if (!FsyncTree(staging)) return Err(RINGO_ERR_IO, "cannot sync '" + staging + "'");
  std::string target = DeploymentDir(m.deployment_id);
  fs::remove_all(target, ec);
  if (std::rename(staging.c_str(), target.c_str()) != 0) {
    return Err(RINGO_ERR_IO, "cannot publish deployment '" + m.deployment_id +
                                 "': " + std::strerror(errno));
  }
  FsyncPath(Path("deployments"), true);
  return {};
}

// The signature covers the exact bytes received: checked before anything is parsed. The
// current key's signature, or during a rotation the next key's, may verify with any key the
// app was built with.
Error Client::VerifySignature(const Collected& c) const {
  bool any = false;
  for (const char* header : {"x-ringo-signature", "x-ringo-signature-next"}) {
    auto it = c.headers.find(header);
    if (it == c.headers.end()) continue;
    std::string sig;
    if (it->second.rfind("ed25519=", 0) != 0 || !Base64Decode(it->second.substr(8), &sig) ||
        sig.size() != 64) {
      continue;
    }
    any = true;
    for (const std::string& key : public_keys) {
      if (crypto->verify_ed25519(crypto_ctx, reinterpret_cast<const uint8_t*>(key.data()),
                                 c.body.data(), c.body.size(),
                                 reinterpret_cast<const uint8_t*>(sig.data())) == 1) {
        return {};
      }
    }
  }
  if (!any) return Err(RINGO_ERR_SIGNATURE, "manifest has no Ed25519 signature");
  return Err(RINGO_ERR_SIGNATURE, "manifest signature does not verify with the configured key");
}

Error Client::CheckForUpdate(ringo_update_result* result, std::string* notify, bool* no_update) {
  State s;
  {
    std::lock_guard<std::mutex> l(mu);
    s = state;
  }
  std::string url = base_url + "/api/deploy/v1/collections/" + UrlEncode(collection) +
                    "/channels/" + UrlEncode(channel) + "/manifest";
  char sep = '?';
  for (const auto& [k, v] : device) {
    url += sep + k + "=" + UrlEncode(v);
    sep = '&';
  }
  std::vector<std::string> extra = {"Accept: application/json"};
  const std::string channel_key = collection + "/" + channel;
  const int64_t now_ms = NowMs();
  // Past the accepted manifest's expiry a 304 would prove nothing: ask for a fresh one.
  bool fresh = s.manifest_channel == channel_key && s.manifest_expires_at > now_ms;
  if (!s.etag.empty() && fresh) extra.push_back("If-None-Match: " + s.etag);
  Collected c;
  ringo_response resp{};
  resp.sink = &c;
  resp.on_header = CollectHeader;
  resp.on_body = CollectBody;
  if (Get(url, Headers(extra), &resp) != 0) {
    return Err(RINGO_ERR_NETWORK, c.too_big ? "manifest larger than 16 MiB" : "manifest request failed");
  }
  if (resp.status == 304 || resp.status == 404) {
    *no_update = true;
    return Err(RINGO_OK, resp.status == 304 ? "manifest unchanged"
                                            : "the channel has no deployment for this device");
  }
  if (resp.status != 200) {
    return Err(RINGO_ERR_NETWORK, "manifest: HTTP " + std::to_string(resp.status) + " " +
                                      c.body.substr(0, 200));
  }
  Error e = VerifySignature(c);
  if (!e.ok()) return e;
  Manifest m;
  e = ParseManifest(c.body, collection, channel, &m);
  if (!e.ok()) return e;
  e = CheckFresh(m, s, channel_key, now_ms);
  if (!e.ok()) return e;
  State next = s;
  next.etag = c.headers["etag"];
  next.manifest_channel = channel_key;
  next.manifest_sequence = m.sequence;
  next.manifest_expires_at = m.expires_at;
  if (m.deployment_id == s.current ||
      std::find(s.bad.begin(), s.bad.end(), m.deployment_id) != s.bad.end()) {
    *no_update = true;
    // Remember the ETag so the next check is a cheap 304.
    e = SaveState(next);
    if (!e.ok()) return e;
    std::lock_guard<std::mutex> l(mu);
    state = next;
    return Err(RINGO_OK, m.deployment_id == s.current
                             ? "already on deployment " + m.deployment_id
                             : "deployment " + m.deployment_id + " was reported bad on this device");
  }
  std::map<std::string, InstalledModel> held;
  // The server rolled back to the deployment kept for fallback: it is already on disk.
  if (!(m.deployment_id == s.previous && LoadDeployment(s.previous, &held))) {
    std::error_code ec;
    fs::create_directories(Path("blobs"), ec);
    std::vector<std::string> fetched;
    for (const ModelEntry& me : m.models) {
      int before = result->models_downloaded;
      e = FetchBlob(me, result);
      if (!e.ok()) return e;
      if (result->models_downloaded > before) fetched.push_back(me.name);
    }
    e = Stage(m);
    if (!e.ok()) return e;
    std::lock_guard<std::mutex> l(mu);
    for (const ModelEntry& me : m.models) {
      if (std::find(fetched.begin(), fetched.end(), me.name) != fetched.end()) {
        Error q = QueueEventLocked(
            EventLine(RINGO_EVENT_DOWNLOADED, me.name, me.version, -1, "", ""));
        (void)q;  // telemetry must never fail an install
      }
    }
  }
  next.previous = s.current.empty() ? s.previous : s.current;
  next.current = m.deployment_id;
  e = Switch(next, notify);
  if (!e.ok()) return e;
  result->changed = 1;
  return {};
}

Error Client::ReportFailure(const std::string& model, const std::string& error,
                            std::string* notify) {
  State s;
  std::string version;
  {
    std::lock_guard<std::mutex> l(mu);
    s = state;
    auto it = models.find(model);
    if (it != models.end()) version = it->second.version;
  }
  if (s.current.empty()) return Err(RINGO_ERR_NOT_FOUND, "no deployment is installed");
  State next = s;
  next.bad.push_back(s.current);
  if (next.bad.size() > kMaxBadDeployments) next.bad.erase(next.bad.begin());
  std::map<std::string, InstalledModel> ms;
  next.current = LoadDeployment(s.previous, &ms) ? s.previous : "";
  next.previous.clear();
  Error e = Switch(next, notify);
  if (!e.ok()) return e;
  std::lock_guard<std::mutex> l(mu);
  return QueueEventLocked(EventLine(RINGO_EVENT_FAILED, model, version.empty() ? "unknown" : version,
                                    -1, "", error.empty() ? "failed on device" : error));
}

}  // namespace ringo::device
