// The device SDK's client: signed manifest checks, resumable verified downloads, atomic install,
// fallback, and the persisted telemetry queue. Transport and crypto come from the app.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <memory>
#include <new>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "device/ringo_device.h"
#include "device/untar.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxBadDeployments = 32;
constexpr size_t kMaxErrorBody = 4096;

// A failure inside the client: a code from ringo_status and a message naming the thing.
struct Error {
  int code = RINGO_OK;
  std::string message;
  bool ok() const { return code == RINGO_OK; }
};

Error Err(int code, std::string message) { return Error{code, std::move(message)}; }

std::string Str(const char* s) { return s ? s : ""; }

bool Base64Decode(const std::string& in, std::string* out) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return false;
    size_t v = kAlphabet.find(c);
    if (v == std::string::npos) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return pad <= 2;
}

std::string Hex(const uint8_t* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(kDigits[p[i] >> 4]);
    s.push_back(kDigits[p[i] & 15]);
  }
  return s;
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Names from the (signed) manifest become file names; keep them to a portable, inert alphabet.
bool SafeName(const std::string& s) {
  if (s.empty() || s.size() > 200 || s[0] == '.') return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// ---- files ----

bool FsyncPath(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), {});
  return !in.bad();
}

// The ccache AtomicFile shape: write beside the target, fsync, rename over it, fsync the directory,
// so a crash leaves either the old or the new content, never a mix.
Error WriteFileAtomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Err(RINGO_ERR_IO, "cannot write '" + tmp + "': " + std::strerror(errno));
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      ::close(fd);
      return Err(RINGO_ERR_IO, "cannot write '" + tmp + "': " + std::strerror(e));
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Err(RINGO_ERR_IO, "cannot sync '" + tmp + "': " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Err(RINGO_ERR_IO, "cannot rename '" + tmp + "': " + std::strerror(errno));
  }
  FsyncPath(fs::path(path).parent_path().string(), true);
  return {};
}

// fsyncs every file and directory under `root` (the staged deployment) before it is published.
bool FsyncTree(const std::string& root) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!FsyncPath(it->path().string(), it->is_directory())) return false;
  }
  return !ec && FsyncPath(root, true);
}

Error Sha256File(const ringo_crypto* crypto, void* ctx, const std::string& path, std::string* hex,
                 int64_t* size) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Err(RINGO_ERR_IO, "cannot read '" + path + "': " + std::strerror(errno));
  void* st = crypto->sha256_begin(ctx);
  if (!st) {
    std::fclose(f);
    return Err(RINGO_ERR_INTERNAL, "sha256_begin failed");
  }
  std::vector<char> buf(1 << 16);
  int64_t total = 0;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    crypto->sha256_update(ctx, st, buf.data(), n);
    total += static_cast<int64_t>(n);
  }
  bool read_error = std::ferror(f);
  std::fclose(f);
  uint8_t digest[32];
  if (crypto->sha256_end(ctx, st, digest) != 0) return Err(RINGO_ERR_INTERNAL, "sha256_end failed");
  if (read_error) return Err(RINGO_ERR_IO, "cannot read '" + path + "'");
  *hex = Hex(digest, 32);
  *size = total;
  return {};
}

// ---- manifest ----

struct ModelEntry {
  std::string name, version, sha256, format, url;
  int64_t size = 0;
};

struct Manifest {
  std::string deployment_id;
  std::vector<ModelEntry> models;
};

Error ParseManifest(const std::string& body, const std::string& collection,
                    const std::string& channel, Manifest* out) {
  json j = json::parse(body, nullptr, false);
  auto bad = [](const std::string& why) { return Err(RINGO_ERR_MANIFEST, "manifest: " + why); };
  if (!j.is_object()) return bad("not a JSON object");
  auto str = [&](const json& o, const char* k, std::string* v) {
    auto it = o.find(k);
    if (it == o.end() || !it->is_string()) return false;
    *v = it->get<std::string>();
    return true;
  };
  std::string c, ch;
  if (!str(j, "collection", &c) || !str(j, "channel", &ch) ||
      !str(j, "deployment_id", &out->deployment_id)) {
    return bad("missing collection, channel or deployment_id");
  }
  if (c != collection || ch != channel) {
    return bad("is for " + c + "/" + ch + ", not " + collection + "/" + channel);
  }
  if (!SafeName(out->deployment_id) || out->deployment_id.size() >= 64) {
    return bad("bad deployment id '" + out->deployment_id + "'");
  }
  auto models = j.find("models");
  if (models == j.end() || !models->is_array()) return bad("'models' is not an array");
  for (const json& m : *models) {
    ModelEntry e;
    if (!m.is_object() || !str(m, "name", &e.name) || !str(m, "version", &e.version) ||
        !str(m, "sha256", &e.sha256) || !str(m, "format", &e.format) || !str(m, "url", &e.url)) {
      return bad("a model lacks name, version, sha256, format or url");
    }
    auto size = m.find("size");
    if (size == m.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
      return bad("model '" + e.name + "' has no valid size");
    }
    e.size = size->get<int64_t>();
    if (!SafeName(e.name)) return bad("unsafe model name '" + e.name + "'");
    if (!IsSha256Hex(e.sha256)) return bad("model '" + e.name + "' has a bad sha256");
    if (e.format != "mlmodel" && e.format != "mlpackage.tar") {
      return bad("model '" + e.name + "' has unknown format '" + e.format + "'");
    }
    if (e.url.empty() || (e.url[0] != '/' && e.url.rfind("http://", 0) != 0 &&
                          e.url.rfind("https://", 0) != 0)) {
      return bad("model '" + e.name + "' has a bad url");
    }
    for (const ModelEntry& o : out->models) {
      if (o.name == e.name) return bad("model '" + e.name + "' listed twice");
    }
    out->models.push_back(std::move(e));
  }
  return {};
}

// ---- transport plumbing ----

struct Collected {
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  size_t body_limit = 1 << 24;
  bool too_big = false;
};

int CollectHeader(void* sink, const char* name, const char* value) {
  auto* c = static_cast<Collected*>(sink);
  std::string n = Str(name);
  for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  c->headers[n] = Str(value);
  return 0;
}

int CollectBody(void* sink, const void* data, size_t len) {
  auto* c = static_cast<Collected*>(sink);
  if (c->body.size() + len > c->body_limit) {
    c->too_big = true;
    return 1;
  }
  c->body.append(static_cast<const char*>(data), len);
  return 0;
}

// Streams a blob body into the .part file; decides on the first byte whether the server resumed
// (206: append) or restarted (200: truncate), and never writes past the expected size.
struct BlobSink {
  ringo_response* resp = nullptr;
  int fd = -1;
  int64_t offset = 0;  // bytes in the file
  int64_t expected = 0;
  int64_t received = 0;
  bool started = false;
  bool overflow = false;
  bool io_error = false;
  std::string error_body;
};

int BlobHeader(void*, const char*, const char*) { return 0; }

int BlobBody(void* sink, const void* data, size_t len) {
  auto* s = static_cast<BlobSink*>(sink);
  int status = s->resp->status;
  if (status != 200 && status != 206) {
    if (s->error_body.size() < kMaxErrorBody) s->error_body.append(static_cast<const char*>(data), len);
    return 0;
  }
  if (!s->started) {
    s->started = true;
    if (status == 200 && s->offset != 0) {
      if (::ftruncate(s->fd, 0) != 0 || ::lseek(s->fd, 0, SEEK_SET) != 0) {
        s->io_error = true;
        return 1;
      }
      s->offset = 0;
    }
  }
  if (s->offset + static_cast<int64_t>(len) > s->expected) {
    s->overflow = true;
    return 1;
  }
  const char* p = static_cast<const char*>(data);
  size_t left = len;
  while (left > 0) {
    ssize_t w = ::write(s->fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      s->io_error = true;
      return 1;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  s->offset += static_cast<int64_t>(len);
  s->received += static_cast<int64_t>(len);
  return 0;
}

struct InstalledModel {
  std::string version, sha256, path;  // path: absolute
};

struct State {
  std::string current, previous, etag;
  std::vector<std::string> bad;
};

struct Event {
  uint64_t seq;
  std::string line;
};

}  // namespace

struct ringo_client {
  // Configuration (immutable after create).
  std::string base_url, token, collection, channel, dir;
  std::vector<std::pair<std::string, std::string>> device;  // query parameters
  std::string device_class;
  std::string public_key;  // 32 raw bytes
  const ringo_transport* transport = nullptr;
  void* transport_ctx = nullptr;
  const ringo_crypto* crypto = nullptr;
  void* crypto_ctx = nullptr;
  ringo_change_fn on_change = nullptr;
  void* on_change_ctx = nullptr;
  size_t max_events = 1000;
  size_t batch_size = 100;

  std::mutex update_mu;  // one check / failure report / flush at a time
  mutable std::mutex mu; // everything below
  State state;
  std::map<std::string, InstalledModel> models;  // of state.current
  std::deque<Event> events;
  uint64_t next_seq = 1;
  std::string last_error;

  std::string Path(const std::string& rel) const { return dir + "/" + rel; }
  std::string DeploymentDir(const std::string& id) const { return dir + "/deployments/" + id; }

  int Fail(const Error& e) {
    std::lock_guard<std::mutex> l(mu);
    last_error = e.message;
    return e.code;
  }

  std::vector<std::string> Headers(std::vector<std::string> extra) const {
    if (!token.empty()) extra.push_back("Authorization: Bearer " + token);
    extra.push_back("User-Agent: ringo-device/0.1");
    return extra;
  }

  int Get(const std::string& url, const std::vector<std::string>& headers, ringo_response* r) const {
    std::vector<const char*> h;
    for (const auto& s : headers) h.push_back(s.c_str());
    h.push_back(nullptr);
    return transport->get(transport_ctx, url.c_str(), h.data(), r);
  }

  std::string AbsoluteUrl(const std::string& url) const {
    return url[0] == '/' ? base_url + url : url;
  }

  // ---- persistent state ----

  Error SaveState(const State& s) {
    json j = {{"deployment_id", s.current},
              {"previous_deployment_id", s.previous},
              {"etag", s.etag},
              {"bad", s.bad}};
    return WriteFileAtomic(Path("current"), j.dump() + "\n");
  }

  static State LoadStateFile(const std::string& path) {
    State s;
    std::string text;
    if (!ReadFile(path, &text)) return s;
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return s;
    s.current = j.value("deployment_id", "");
    s.previous = j.value("previous_deployment_id", "");
    s.etag = j.value("etag", "");
    if (j.contains("bad") && j["bad"].is_array()) {
      for (const auto& b : j["bad"]) {
        if (b.is_string()) s.bad.push_back(b.get<std::string>());
      }
    }
    return s;
  }

  // Reads deployments/<id>/ringo.json; false when the deployment is missing or damaged.
  bool LoadDeployment(const std::string& id, std::map<std::string, InstalledModel>* out) const {
    if (id.empty() || !SafeName(id)) return false;
    std::string text;
    std::string d = DeploymentDir(id);
    if (!ReadFile(d + "/ringo.json", &text)) return false;
    json j = json::parse(text, nullptr, false);
    if (!j.is_object() || j.value("deployment_id", "") != id || !j.contains("models") ||
        !j["models"].is_array()) {
      return false;
    }
    out->clear();
    for (const auto& m : j["models"]) {
      if (!m.is_object()) return false;
      std::string name = m.value("name", ""), rel = m.value("path", "");
      if (!SafeName(name) || rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos) {
        return false;
      }
      std::error_code ec;
      if (!fs::exists(d + "/" + rel, ec)) return false;
      (*out)[name] = {m.value("version", ""), m.value("sha256", ""), d + "/" + rel};
    }
    return true;
  }

  // ---- telemetry ----

  std::string EventLine(ringo_event_kind kind, const std::string& model, const std::string& version,
                        double latency_ms, const std::string& compute_unit,
                        const std::string& error, int correct = -1) const {
    static const char* kNames[] = {"downloaded", "compiled", "loaded",
                                   "failed",     "prediction", "feedback"};
    json e = {{"event", kNames[kind]}, {"model", model}, {"version", version}};
    if (correct >= 0) e["correct"] = correct == 1;
    if (!device_class.empty()) e["device_class"] = device_class;
    if (latency_ms >= 0) e["latency_ms"] = latency_ms;
    if (!compute_unit.empty()) e["compute_unit"] = compute_unit;
    if (!error.empty()) e["error"] = error;
    return e.dump();
  }

  Error RewriteEventsLocked() {
    std::string data;
    for (const Event& e : events) data += e.line + "\n";
    return WriteFileAtomic(Path("telemetry.jsonl"), data);
  }

  // Caller holds mu.
  Error QueueEventLocked(std::string line) {
    events.push_back({next_seq++, line});
    if (events.size() > max_events) {
      while (events.size() > max_events) events.pop_front();
      return RewriteEventsLocked();
    }
    // Appending keeps recording cheap; a torn last line is skipped on load.
    int fd = ::open(Path("telemetry.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Err(RINGO_ERR_IO, "cannot open telemetry queue: " + std::string(std::strerror(errno)));
    line += "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) return Err(RINGO_ERR_IO, "cannot append to telemetry queue");
    return {};
  }

  void LoadEvents() {
    std::string text;
    if (!ReadFile(Path("telemetry.jsonl"), &text)) return;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) break;  // torn tail
      std::string line = text.substr(start, end - start);
      start = end + 1;
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("event")) events.push_back({next_seq++, line});
    }
    while (events.size() > max_events) events.pop_front();
  }

  // ---- update ----

  Error FetchBlob(const ModelEntry& m, ringo_update_result* result) {
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
      int rc = Get(AbsoluteUrl(m.url), Headers(extra), &resp);
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

  // Builds staging-<id>/ from verified blobs and publishes it as deployments/<id>/.
  Error Stage(const Manifest& m) {
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

  // Deletes deployments other than current/previous, leftover staging dirs, and blobs no kept
  // deployment needs; partial downloads only when `partial` (they are what a restart resumes).
  // Failures here cost space, never correctness.
  void CollectGarbage(const State& s, bool partial) {
    std::error_code ec;
    std::set<std::string> keep_blobs;
    for (const std::string& id : {s.current, s.previous}) {
      std::map<std::string, InstalledModel> ms;
      if (LoadDeployment(id, &ms)) {
        for (const auto& [name, m] : ms) keep_blobs.insert(m.sha256);
      }
    }
    for (const auto& entry : fs::directory_iterator(Path("deployments"), ec)) {
      std::string name = entry.path().filename().string();
      if (name != s.current && name != s.previous) fs::remove_all(entry.path(), ec);
    }
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().filename().string().rfind("staging-", 0) == 0) fs::remove_all(entry.path(), ec);
    }
    for (const auto& entry : fs::directory_iterator(Path("blobs"), ec)) {
      std::string name = entry.path().filename().string();
      bool part = name.size() > 5 && name.compare(name.size() - 5, 5, ".part") == 0;
      if (part ? partial : !keep_blobs.count(name)) fs::remove(entry.path(), ec);
    }
  }

  // Moves the pointer: persist first, then publish in memory.
  Error Switch(const State& next, std::string* notify) {
    std::map<std::string, InstalledModel> ms;
    if (!next.current.empty() && !LoadDeployment(next.current, &ms)) {
      return Err(RINGO_ERR_IO, "deployment '" + next.current + "' is not intact on disk");
    }
    Error e = SaveState(next);
    if (!e.ok()) return e;
    {
      std::lock_guard<std::mutex> l(mu);
      if (state.current != next.current) *notify = next.current;
      state = next;
      models = std::move(ms);
    }
    CollectGarbage(next, true);
    return {};
  }

  Error CheckForUpdate(ringo_update_result* result, std::string* notify, bool* no_update) {
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
    if (!s.etag.empty()) extra.push_back("If-None-Match: " + s.etag);
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
    // The signature covers the exact bytes received: verify before parsing anything.
    std::string sig_header = c.headers["x-ringo-signature"];
    std::string sig;
    if (sig_header.rfind("ed25519=", 0) != 0 || !Base64Decode(sig_header.substr(8), &sig) ||
        sig.size() != 64) {
      return Err(RINGO_ERR_SIGNATURE, "manifest has no Ed25519 signature");
    }
    if (crypto->verify_ed25519(crypto_ctx, reinterpret_cast<const uint8_t*>(public_key.data()),
                               c.body.data(), c.body.size(),
                               reinterpret_cast<const uint8_t*>(sig.data())) != 1) {
      return Err(RINGO_ERR_SIGNATURE, "manifest signature does not verify with the configured key");
    }
    Manifest m;
    Error e = ParseManifest(c.body, collection, channel, &m);
    if (!e.ok()) return e;
    State next = s;
    next.etag = c.headers["etag"];
    if (m.deployment_id == s.current ||
        std::find(s.bad.begin(), s.bad.end(), m.deployment_id) != s.bad.end()) {
      *no_update = true;
      // Remember the ETag so the next check is a cheap 304.
      e = SaveState(next);
      if (!e.ok()) return e;
      std::lock_guard<std::mutex> l(mu);
      state.etag = next.etag;
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

  Error ReportFailure(const std::string& model, const std::string& error, std::string* notify) {
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

  Error Flush(size_t* sent) {
    for (;;) {
      std::vector<Event> batch;
      {
        std::lock_guard<std::mutex> l(mu);
        for (size_t i = 0; i < events.size() && i < batch_size; ++i) batch.push_back(events[i]);
      }
      if (batch.empty()) return {};
      std::string body = "[";
      for (size_t i = 0; i < batch.size(); ++i) body += (i ? "," : "") + batch[i].line;
      body += "]";
      Collected c;
      ringo_response resp{};
      resp.sink = &c;
      resp.on_header = CollectHeader;
      resp.on_body = CollectBody;
      std::vector<std::string> hs = Headers({"Content-Type: application/json"});
      std::vector<const char*> h;
      for (const auto& x : hs) h.push_back(x.c_str());
      h.push_back(nullptr);
      std::string url = base_url + "/api/deploy/v1/telemetry";
      if (transport->post(transport_ctx, url.c_str(), h.data(), body.data(), body.size(), &resp) != 0) {
        return Err(RINGO_ERR_NETWORK, "telemetry post failed");
      }
      bool drop = resp.status >= 400 && resp.status < 500 && resp.status != 408 && resp.status != 429;
      if (resp.status != 200 && !drop) {
        return Err(RINGO_ERR_NETWORK, "telemetry: HTTP " + std::to_string(resp.status));
      }
      Error e;
      {
        std::lock_guard<std::mutex> l(mu);
        uint64_t last = batch.back().seq;
        while (!events.empty() && events.front().seq <= last) events.pop_front();
        e = RewriteEventsLocked();
      }
      if (!e.ok()) return e;
      if (!drop && sent) *sent += batch.size();
    }
  }
};

namespace {

thread_local std::string t_error_copy;

void CopyId(char (&out)[64], const std::string& s) {
  std::snprintf(out, sizeof out, "%s", s.c_str());
}

int CopyOut(const std::string& s, char* buf, size_t len) {
  if (!buf || len == 0) return RINGO_ERR_INVALID;
  if (s.size() + 1 > len) return RINGO_ERR_BUFFER;
  std::memcpy(buf, s.c_str(), s.size() + 1);
  return RINGO_OK;
}

// One safety net per entry point: nothing thrown inside crosses the C boundary.
template <typename F>
int Guard(ringo_client* client, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    if (client) return client->Fail(Err(RINGO_ERR_INTERNAL, "out of memory"));
  } catch (const std::exception& e) {
    if (client) return client->Fail(Err(RINGO_ERR_INTERNAL, std::string("internal error: ") + e.what()));
  }
  return RINGO_ERR_INTERNAL;
}

}  // namespace

extern "C" {

const char* ringo_status_name(int status) {
  switch (status) {
    case RINGO_OK: return "RINGO_OK";
    case RINGO_NO_UPDATE: return "RINGO_NO_UPDATE";
    case RINGO_ERR_INVALID: return "RINGO_ERR_INVALID";
    case RINGO_ERR_NETWORK: return "RINGO_ERR_NETWORK";
    case RINGO_ERR_SIGNATURE: return "RINGO_ERR_SIGNATURE";
    case RINGO_ERR_MANIFEST: return "RINGO_ERR_MANIFEST";
    case RINGO_ERR_INTEGRITY: return "RINGO_ERR_INTEGRITY";
    case RINGO_ERR_ARCHIVE: return "RINGO_ERR_ARCHIVE";
    case RINGO_ERR_IO: return "RINGO_ERR_IO";
    case RINGO_ERR_NOT_FOUND: return "RINGO_ERR_NOT_FOUND";
    case RINGO_ERR_BUFFER: return "RINGO_ERR_BUFFER";
    case RINGO_ERR_INTERNAL: return "RINGO_ERR_INTERNAL";
    default: return "RINGO_ERR_UNKNOWN";
  }
}

ringo_client* ringo_client_create(const ringo_config* config, char* error, size_t error_len) {
  auto fail = [&](const std::string& msg) -> ringo_client* {
    if (error && error_len) std::snprintf(error, error_len, "%s", msg.c_str());
    return nullptr;
  };
  try {
    if (!config) return fail("config is NULL");
    const ringo_config& c = *config;
    if (!c.base_url || !*c.base_url || !c.collection || !*c.collection || !c.channel ||
        !*c.channel || !c.storage_dir || !*c.storage_dir || !c.public_key) {
      return fail("base_url, collection, channel, storage_dir and public_key are required");
    }
    if (!c.transport || !c.transport->get || !c.transport->post) return fail("transport is incomplete");
    if (!c.crypto || !c.crypto->verify_ed25519 || !c.crypto->sha256_begin ||
        !c.crypto->sha256_update || !c.crypto->sha256_end) {
      return fail("crypto backend is incomplete");
    }
    auto client = std::make_unique<ringo_client>();
    if (!Base64Decode(c.public_key, &client->public_key) || client->public_key.size() != 32) {
      return fail("public_key is not base64 of a 32-byte Ed25519 key");
    }
    client->base_url = c.base_url;
    while (!client->base_url.empty() && client->base_url.back() == '/') client->base_url.pop_back();
    client->token = Str(c.token);
    client->collection = c.collection;
    client->channel = c.channel;
    client->dir = c.storage_dir;
    const std::pair<const char*, const char*> attrs[] = {
        {"device_id", c.device.id},         {"device_class", c.device.device_class},
        {"os", c.device.os},                {"os_version", c.device.os_version},
        {"app_version", c.device.app_version}, {"region", c.device.region},
        {"language", c.device.language}};
    for (const auto& [k, v] : attrs) {
      if (v && *v) client->device.emplace_back(k, v);
    }
    client->device_class = Str(c.device.device_class);
    client->transport = c.transport;
    client->transport_ctx = c.transport_ctx;
    client->crypto = c.crypto;
    client->crypto_ctx = c.crypto_ctx;
    client->on_change = c.on_change;
    client->on_change_ctx = c.on_change_ctx;
    if (c.telemetry_max_events) client->max_events = c.telemetry_max_events;
    if (c.telemetry_batch_size) client->batch_size = c.telemetry_batch_size;

    std::error_code ec;
    fs::create_directories(client->Path("deployments"), ec);
    fs::create_directories(client->Path("blobs"), ec);
    if (ec) return fail("cannot create storage in '" + client->dir + "': " + ec.message());
    client->state = ringo_client::LoadStateFile(client->Path("current"));
    // A pointer at a damaged deployment falls back rather than failing: the app still starts.
    if (!client->LoadDeployment(client->state.current, &client->models)) {
      client->models.clear();
      client->state.current.clear();
      if (client->LoadDeployment(client->state.previous, &client->models)) {
        client->state.current = client->state.previous;
        client->state.previous.clear();
      }
    }
    client->CollectGarbage(client->state, false);
    client->LoadEvents();
    return client.release();
  } catch (const std::exception& e) {
    return fail(std::string("cannot create client: ") + e.what());
  }
}

void ringo_client_destroy(ringo_client* client) { delete client; }

const char* ringo_last_error(const ringo_client* client) {
  if (!client) return "client is NULL";
  std::lock_guard<std::mutex> l(client->mu);
  t_error_copy = client->last_error;
  return t_error_copy.c_str();
}

int ringo_check_for_update(ringo_client* client, ringo_update_result* result) {
  if (!client) return RINGO_ERR_INVALID;
  std::string notify;
  bool changed = false;
  int rc = Guard(client, [&] {
    ringo_update_result local{};
    ringo_update_result* r = result ? result : &local;
    *r = ringo_update_result{};
    bool no_update = false;
    Error e;
    {
      std::lock_guard<std::mutex> l(client->update_mu);
      notify = "\x01";  // sentinel: no change unless Switch sets it
      e = client->CheckForUpdate(r, &notify, &no_update);
    }
    {
      std::lock_guard<std::mutex> l(client->mu);
      CopyId(r->deployment_id, client->state.current);
      CopyId(r->previous_deployment_id, client->state.previous);
    }
    changed = notify != "\x01";
    if (!e.ok()) return client->Fail(e);
    if (no_update) {
      client->Fail(e);  // keeps the reason readable through ringo_last_error
      return static_cast<int>(RINGO_NO_UPDATE);
    }
    return static_cast<int>(RINGO_OK);
  });
  if (changed && client->on_change) client->on_change(client->on_change_ctx, notify.c_str());
  return rc;
}

int ringo_current_deployment(ringo_client* client, char* buf, size_t len) {
  if (!client) return RINGO_ERR_INVALID;
  std::lock_guard<std::mutex> l(client->mu);
  return CopyOut(client->state.current, buf, len);
}

int ringo_model_path(ringo_client* client, const char* model_name, char* buf, size_t len,
                     char* version, size_t version_len) {
  if (!client) return RINGO_ERR_INVALID;
  return Guard(client, [&]() -> int {
    if (!model_name || !buf) return client->Fail(Err(RINGO_ERR_INVALID, "model name or buffer is NULL"));
    InstalledModel m;
    {
      std::lock_guard<std::mutex> l(client->mu);
      auto it = client->models.find(model_name);
      if (it == client->models.end()) {
        client->last_error = client->state.current.empty()
                                 ? "no deployment is installed"
                                 : "model '" + std::string(model_name) + "' is not in deployment " +
                                       client->state.current;
        return RINGO_ERR_NOT_FOUND;
      }
      m = it->second;
    }
    if (version && version_len) {
      int rc = CopyOut(m.version, version, version_len);
      if (rc != RINGO_OK) return client->Fail(Err(rc, "version buffer too small"));
    }
    int rc = CopyOut(m.path, buf, len);
    if (rc != RINGO_OK) return client->Fail(Err(rc, "path buffer too small"));
    return static_cast<int>(RINGO_OK);
  });
}

int ringo_report_failure(ringo_client* client, const char* model, const char* error) {
  if (!client) return RINGO_ERR_INVALID;
  std::string notify = "\x01";
  int rc = Guard(client, [&]() -> int {
    if (!model || !*model) return client->Fail(Err(RINGO_ERR_INVALID, "model is required"));
    std::lock_guard<std::mutex> l(client->update_mu);
    Error e = client->ReportFailure(model, Str(error), &notify);
    if (!e.ok()) return client->Fail(e);
    return static_cast<int>(RINGO_OK);
  });
  if (notify != "\x01" && client->on_change) client->on_change(client->on_change_ctx, notify.c_str());
  return rc;
}

int ringo_record_event(ringo_client* client, const ringo_event* event) {
  if (!client) return RINGO_ERR_INVALID;
  return Guard(client, [&]() -> int {
    if (!event || !event->model || !*event->model) {
      return client->Fail(Err(RINGO_ERR_INVALID, "event needs a model"));
    }
    if (event->kind < RINGO_EVENT_DOWNLOADED || event->kind > RINGO_EVENT_FEEDBACK) {
      return client->Fail(Err(RINGO_ERR_INVALID, "unknown event kind"));
    }
    if (event->kind == RINGO_EVENT_FEEDBACK && event->correct != 0 && event->correct != 1) {
      return client->Fail(Err(RINGO_ERR_INVALID, "a feedback event needs correct 0 or 1"));
    }
    std::lock_guard<std::mutex> l(client->mu);
    std::string version = Str(event->version);
    if (version.empty()) {
      auto it = client->models.find(event->model);
      if (it == client->models.end()) {
        client->last_error = "no version given and model '" + std::string(event->model) +
                             "' is not in the current deployment";
        return RINGO_ERR_INVALID;
      }
      version = it->second.version;
    }
    int correct = event->kind == RINGO_EVENT_FEEDBACK ? event->correct : -1;
    Error e = client->QueueEventLocked(client->EventLine(event->kind, event->model, version,
                                                         event->latency_ms, Str(event->compute_unit),
                                                         Str(event->error), correct));
    if (!e.ok()) {
      client->last_error = e.message;
      return e.code;
    }
    return static_cast<int>(RINGO_OK);
  });
}

int ringo_flush_telemetry(ringo_client* client, size_t* sent) {
  if (!client) return RINGO_ERR_INVALID;
  if (sent) *sent = 0;
  return Guard(client, [&]() -> int {
    std::lock_guard<std::mutex> l(client->update_mu);
    Error e = client->Flush(sent);
    if (!e.ok()) return client->Fail(e);
    return static_cast<int>(RINGO_OK);
  });
}

size_t ringo_pending_events(ringo_client* client) {
  if (!client) return 0;
  std::lock_guard<std::mutex> l(client->mu);
  return client->events.size();
}

}  // extern "C"
