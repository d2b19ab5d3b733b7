// The device SDK's C API: argument checks, one safety net per entry point, and copies out to the
// caller's buffers. The client behind it (client_impl.h) does the work.
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "device/client_impl.h"
#include "device/ringo_device.h"

namespace fs = std::filesystem;
using ringo::device::Base64Decode;
using ringo::device::Err;
using ringo::device::Error;
using ringo::device::InstalledModel;
using ringo::device::Str;

// The C API's opaque handle is the client itself.
struct ringo_client : ringo::device::Client {};

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
    if (!ringo::device::ParsePublicKeys(c.public_key, &client->public_keys)) {
      return fail("public_key is not base64 of a 32-byte Ed25519 key (or of up to 8, separated "
                  "by commas, during a key rotation)");
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
    client->device_id = Str(c.device.id);
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
