// A command-line device over the SDK, for black-box tests against a real server:
//   device_tool --server URL --dir DIR --collection C --channel CH --key BASE64 [--device-id ID]
//               [--die-after-bytes N] check | current | path MODEL | fail MODEL [ERROR] | flush
// Prints one JSON object; exit code 0 on success, 1 on an SDK error, 2 on bad usage.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "device/ringo_device.h"

namespace {

// With --die-after-bytes the process kills itself (SIGKILL) once that many blob bytes have been
// handed to the SDK: a download interrupted the hardest way, for the resume test.
long long g_die_after = -1;

struct Dying {
  long long seen = 0;
  ringo_response* inner = nullptr;  // the SDK's response
  ringo_response* outer = nullptr;  // what the transport fills
};

int DyingHeader(void* sink, const char* name, const char* value) {
  auto* d = static_cast<Dying*>(sink);
  d->inner->status = d->outer->status;
  return d->inner->on_header(d->inner->sink, name, value);
}

int DyingBody(void* sink, const void* data, size_t len) {
  auto* d = static_cast<Dying*>(sink);
  d->inner->status = d->outer->status;
  size_t n = len;
  if (d->seen + static_cast<long long>(len) >= g_die_after) n = static_cast<size_t>(g_die_after - d->seen);
  int rc = d->inner->on_body(d->inner->sink, data, n);
  d->seen += static_cast<long long>(n);
  if (d->seen >= g_die_after) std::raise(SIGKILL);
  return rc;
}

int DyingGet(void*, const char* url, const char* const* headers, ringo_response* out) {
  if (g_die_after < 0 || std::strstr(url, "/blobs/") == nullptr) {
    return ringo_transport_posix()->get(nullptr, url, headers, out);
  }
  ringo_response wrapped{};
  Dying d;
  d.inner = out;
  d.outer = &wrapped;
  wrapped.sink = &d;
  wrapped.on_header = DyingHeader;
  wrapped.on_body = DyingBody;
  int rc = ringo_transport_posix()->get(nullptr, url, headers, &wrapped);
  out->status = wrapped.status;
  return rc;
}

int Post(void*, const char* url, const char* const* headers, const void* body, size_t len,
         ringo_response* out) {
  return ringo_transport_posix()->post(nullptr, url, headers, body, len, out);
}

const ringo_transport kTransport = {DyingGet, Post};

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

int Usage() {
  std::fprintf(stderr,
               "usage: device_tool --server URL --dir DIR --collection C --channel CH --key BASE64\n"
               "                   [--device-id ID] [--die-after-bytes N]\n"
               "                   check | current | path MODEL | fail MODEL [ERROR] | flush\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return Usage();
      opt[a.substr(2)] = argv[++i];
    } else {
      args.push_back(a);
    }
  }
  for (const char* k : {"server", "dir", "collection", "channel", "key"}) {
    if (!opt.count(k)) return Usage();
  }
  if (args.empty()) return Usage();
  if (opt.count("die-after-bytes")) g_die_after = std::atoll(opt["die-after-bytes"].c_str());

  ringo_config c{};
  c.base_url = opt["server"].c_str();
  c.collection = opt["collection"].c_str();
  c.channel = opt["channel"].c_str();
  c.storage_dir = opt["dir"].c_str();
  c.public_key = opt["key"].c_str();
  c.device.id = opt.count("device-id") ? opt["device-id"].c_str() : "device-tool";
  c.device.device_class = "Linux";
  c.device.os = "Linux";
  c.transport = &kTransport;
  c.crypto = ringo_crypto_openssl();
  char err[512];
  ringo_client* client = ringo_client_create(&c, err, sizeof err);
  if (!client) {
    std::printf("{\"status\":\"RINGO_ERR_INVALID\",\"error\":%s}\n", Quote(err).c_str());
    return 1;
  }
  int rc = RINGO_ERR_INVALID;
  std::string extra;
  const std::string& cmd = args[0];
  if (cmd == "check") {
    ringo_update_result r{};
    rc = ringo_check_for_update(client, &r);
    extra = ",\"changed\":" + std::to_string(r.changed) + ",\"deployment_id\":" + Quote(r.deployment_id) +
            ",\"previous_deployment_id\":" + Quote(r.previous_deployment_id) +
            ",\"models_downloaded\":" + std::to_string(r.models_downloaded) +
            ",\"bytes_downloaded\":" + std::to_string(r.bytes_downloaded);
  } else if (cmd == "current") {
    char buf[64];
    rc = ringo_current_deployment(client, buf, sizeof buf);
    extra = ",\"deployment_id\":" + Quote(buf);
  } else if (cmd == "path" && args.size() == 2) {
    char buf[4096] = "", version[64] = "";
    rc = ringo_model_path(client, args[1].c_str(), buf, sizeof buf, version, sizeof version);
    extra = ",\"path\":" + Quote(buf) + ",\"version\":" + Quote(version);
  } else if (cmd == "fail" && (args.size() == 2 || args.size() == 3)) {
    rc = ringo_report_failure(client, args[1].c_str(), args.size() == 3 ? args[2].c_str() : "failed");
    char buf[64] = "";
    ringo_current_deployment(client, buf, sizeof buf);
    extra = ",\"deployment_id\":" + Quote(buf);
  } else if (cmd == "flush") {
    size_t sent = 0;
    rc = ringo_flush_telemetry(client, &sent);
    extra = ",\"sent\":" + std::to_string(sent) +
            ",\"pending\":" + std::to_string(ringo_pending_events(client));
  } else {
    ringo_client_destroy(client);
    return Usage();
  }
  std::string error = rc < 0 || rc == RINGO_NO_UPDATE ? ringo_last_error(client) : "";
  std::printf("{\"status\":%s,\"error\":%s%s}\n", Quote(ringo_status_name(rc)).c_str(),
              Quote(error).c_str(), extra.c_str());
  ringo_client_destroy(client);
  return rc < 0 ? 1 : 0;
}
