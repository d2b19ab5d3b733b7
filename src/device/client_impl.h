// The device client's private parts, shared by its files: errors, files, the manifest, transport
// sinks, persisted state, and the Client behind the C API's ringo_client.
#ifndef RINGO_DEVICE_CLIENT_IMPL_H_
#define RINGO_DEVICE_CLIENT_IMPL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "device/ringo_device.h"

namespace ringo::device {

inline constexpr size_t kMaxBadDeployments = 32;
inline constexpr size_t kMaxErrorBody = 4096;

// A failure inside the client: a code from ringo_status and a message naming the thing.
struct Error {
  int code = RINGO_OK;
  std::string message;
  bool ok() const { return code == RINGO_OK; }
};

inline Error Err(int code, std::string message) { return Error{code, std::move(message)}; }

inline std::string Str(const char* s) { return s ? s : ""; }

// ---- encoding.cc ----

bool Base64Decode(const std::string& in, std::string* out);
std::string Hex(const uint8_t* p, size_t n);
std::string UrlEncode(const std::string& s);
bool SafeName(const std::string& s);
bool IsSha256Hex(const std::string& s);

// ---- files.cc ----

bool FsyncPath(const std::string& path, bool dir);
bool ReadFile(const std::string& path, std::string* out);
Error WriteFileAtomic(const std::string& path, const std::string& data);
bool FsyncTree(const std::string& root);
Error Sha256File(const ringo_crypto* crypto, void* ctx, const std::string& path, std::string* hex,
                 int64_t* size);

// ---- manifest.cc ----

struct ModelEntry {
  std::string name, version, sha256, format, url;
  int64_t size = 0;
};

struct Manifest {
  std::string deployment_id;
  std::vector<ModelEntry> models;
  int64_t sequence = 0;    // the channel's: grows with every change of it
  int64_t issued_at = 0;   // ms since the epoch
  int64_t expires_at = 0;  // ms since the epoch
};

Error ParseManifest(const std::string& body, const std::string& collection,
                    const std::string& channel, Manifest* out);

// ---- transport.cc: sinks for the app's ringo_transport ----

struct Collected {
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  size_t body_limit = 1 << 24;
  bool too_big = false;
};

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
  std::string location;  // a redirect's Location
};

int CollectHeader(void* sink, const char* name, const char* value);
int CollectBody(void* sink, const void* data, size_t len);
int BlobHeader(void*, const char*, const char*);
int BlobBody(void* sink, const void* data, size_t len);

// ---- the client's persisted state ----

struct InstalledModel {
  std::string version, sha256, path;  // path: absolute
};

struct State {
  std::string current, previous, etag;
  std::vector<std::string> bad;
  // The newest manifest accepted: for which collection/channel, its sequence and expiry.
  std::string manifest_channel;
  int64_t manifest_sequence = 0;
  int64_t manifest_expires_at = 0;
};

// Refuses a manifest for `channel_key` (collection/channel) older than the newest accepted one
// (a replay: it could hold the device on, or take it back to, an old model) or past its expiry
// at `now_ms`. A rollback is a new manifest with a higher sequence, so it passes.
Error CheckFresh(const Manifest& m, const State& s, const std::string& channel_key,
                 int64_t now_ms);
// Ed25519 public keys from a config string: base64 keys separated by commas or spaces (two
// during a key rotation), each 32 bytes. False when there is none or one is malformed.
bool ParsePublicKeys(const std::string& text, std::vector<std::string>* keys);

struct Event {
  uint64_t seq;
  std::string line;
};

// Everything a ringo_client holds; its behaviour lives in transport.cc, state.cc, telemetry.cc
// and update.cc. `mu` guards the fields after it; `update_mu` serialises the operations that
// talk to the server.
struct Client {
  // Configuration (immutable after create).
  std::string base_url, token, collection, channel, dir;
  std::vector<std::pair<std::string, std::string>> device;  // query parameters
  std::string device_class;
  std::string device_id;  // sent as X-Ringo-Device-Id (rate limits)
  std::vector<std::string> public_keys;  // 32 raw bytes each; any may sign a manifest
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

  int Fail(const Error& e);

  // `extra` with the device's identity; with `authorized`, its token too (never sent to the
  // object store a blob is redirected to: a presigned URL carries its own authorization).
  std::vector<std::string> Headers(std::vector<std::string> extra, bool authorized = true) const;

  int Get(const std::string& url, const std::vector<std::string>& headers, ringo_response* r) const;

  std::string AbsoluteUrl(const std::string& url) const;

  // ---- persistent state ----

  Error SaveState(const State& s);

  static State LoadStateFile(const std::string& path);

  // Reads deployments/<id>/ringo.json; false when the deployment is missing or damaged.
  bool LoadDeployment(const std::string& id, std::map<std::string, InstalledModel>* out) const;

  // ---- telemetry ----

  std::string EventLine(ringo_event_kind kind, const std::string& model, const std::string& version,
                        double latency_ms, const std::string& compute_unit,
                        const std::string& error, int correct = -1) const;

  Error RewriteEventsLocked();

  // Caller holds mu.
  Error QueueEventLocked(std::string line);

  void LoadEvents();

  // ---- update ----

  Error FetchBlob(const ModelEntry& m, ringo_update_result* result);

  // Builds staging-<id>/ from verified blobs and publishes it as deployments/<id>/.
  Error Stage(const Manifest& m);

  // Deletes deployments other than current/previous, leftover staging dirs, and blobs no kept
  // deployment needs; partial downloads only when `partial` (they are what a restart resumes).
  // Failures here cost space, never correctness.
  void CollectGarbage(const State& s, bool partial);

  // Moves the pointer: persist first, then publish in memory.
  Error Switch(const State& next, std::string* notify);

  Error VerifySignature(const Collected& c) const;
  Error CheckForUpdate(ringo_update_result* result, std::string* notify, bool* no_update);

  Error ReportFailure(const std::string& model, const std::string& error, std::string* notify);

  Error Flush(size_t* sent);
};

}  // namespace ringo::device

#endif  // RINGO_DEVICE_CLIENT_IMPL_H_
