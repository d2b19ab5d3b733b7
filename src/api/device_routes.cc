// The device API of over-the-air delivery: signed manifests (long-polled), blobs, telemetry and
// the public key manifests are signed with.
#include <algorithm>
#include <chrono>

#include "api/handlers.h"
#include "api/manifest_waiters.h"
#include "api/routes.h"
#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::api {

namespace {

Response KeysResponse(const deploy::SigningKeys& keys) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Field("algorithm", "Ed25519").Field("public_key", keys.current);
  // During a rotation: apps built now should carry both keys.
  if (!keys.next.empty()) w.Field("next_public_key", keys.next);
  w.EndObject();
  return JsonResponse(std::move(body));
}

Result<Response> GetKeys(const Services& s, const Request&) {
  return KeysResponse(s.deploy->Keys());
}

Result<Response> RotateKeys(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto finish, f.Bool("finish"));
  ASSIGN_OR_RETURN(deploy::SigningKeys keys, s.deploy->RotateKeys(finish.value_or(false)));
  return KeysResponse(keys);
}

// Reads the device's attributes from a query without escapes ('%', '+') in place: the first of
// each name wins, as with Fields. False (nothing read) for any other query, and for one asking
// to wait, which Fields reads.
bool ReadPlainQuery(std::string_view query, deploy::DeviceQuery* q) {
  if (query.find_first_of("%+") != std::string_view::npos) return false;
  std::pair<std::string_view, std::string*> fields[] = {
      {"device_id", &q->device_id},   {"device_class", &q->device_class}, {"os", &q->os},
      {"os_version", &q->os_version}, {"app_version", &q->app_version},   {"region", &q->region},
      {"language", &q->language}};
  bool seen[std::size(fields)] = {};
  while (!query.empty()) {
    std::string_view part = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), part.size() + 1));
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    if (key == "wait") return false;
    for (size_t i = 0; i < std::size(fields); ++i) {
      if (key != fields[i].first || seen[i]) continue;
      seen[i] = true;
      fields[i].second->assign(value);
    }
  }
  return true;
}

Status ReadDeviceQuery(std::string_view query, deploy::DeviceQuery* q,
                       std::optional<int64_t>* wait) {
  if (ReadPlainQuery(query, q)) return Status::Ok();
  ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(query));
  std::pair<const char*, std::string*> fields[] = {
      {"device_id", &q->device_id},   {"device_class", &q->device_class}, {"os", &q->os},
      {"os_version", &q->os_version}, {"app_version", &q->app_version},   {"region", &q->region},
      {"language", &q->language}};
  for (auto& [name, out] : fields) {
    ASSIGN_OR_RETURN(auto v, f.String(name));
    *out = v.value_or("");
  }
  ASSIGN_OR_RETURN(*wait, f.Int64("wait"));
  if (*wait && **wait < 0) return InvalidArgument("wait must be a number of seconds >= 0");
  return Status::Ok();
}

// A fleet polls this with the manifest it holds: the common answer is a 304 from the cached
// channel and manifest, built without allocating (the strings below are each I/O thread's).
Status GetManifest(const Services& s, Request& req, const Responder& res) {
  thread_local std::string collection, channel;
  thread_local deploy::DeviceQuery q;
  collection.assign(req.PathParam("collection"));
  channel.assign(req.PathParam("channel"));
  for (std::string* f : {&q.device_id, &q.device_class, &q.os, &q.os_version, &q.app_version,
                         &q.region, &q.language}) {
    f->clear();
  }
  std::optional<int64_t> wait;
  RETURN_IF_ERROR(ReadDeviceQuery(req.query, &q, &wait));
  std::string_view inm = req.Header("if-none-match");
  uint64_t generation = s.waiters->generation();
  ASSIGN_OR_RETURN(std::shared_ptr<const deploy::Manifest> m,
                   s.deploy->ManifestFor(collection, channel, q));
  if (wait && *wait > 0 && !inm.empty() && inm == m->etag) {
    // Unchanged: hold the request (not the thread) until it changes or the wait ends.
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(std::min<int64_t>(*wait, 300));
    res.Hold();
    s.waiters->Add(res, collection, channel, q, m->etag, deadline, generation);
    return Status::Ok();
  }
  res.Send(ManifestResponse(m, inm));
  return Status::Ok();
}

Result<Response> GetBlob(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(std::optional<std::string> url, s.deploy->BlobRedirect(req.route_suffix));
  if (url) {
    // The object store carries the bytes. The URL expires: no cache may keep this answer.
    Response r;
    r.status = 302;
    r.headers.emplace_back("Location", *url);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }
  ASSIGN_OR_RETURN(auto path, s.deploy->BlobPath(req.route_suffix));
  Response r = http::FileResponse(req, path.string(), "application/octet-stream");
  if (r.status == 404) return NotFound("no blob " + req.route_suffix);
  // Content-addressed: a blob never changes, so any cache may keep it forever.
  r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
  r.headers.emplace_back("ETag", "\"" + req.route_suffix + "\"");
  return r;
}

Result<Response> RecordTelemetry(const Services& s, const Request& req) {
  RETURN_IF_ERROR(s.deploy->RecordTelemetry(req.body));
  return EmptyObject();
}

}  // namespace

// The key that signs manifests is no secret: any caller with a token may fetch it. Rotating it
// decides which apps can verify their updates: admin's.
std::span<const Route> DeviceRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kGet, "/api/deploy/v1/keys", kAnyCaller, GetKeys},
      {kPost, "/api/ringo/v1/signing-keys/rotate", kAdmin, RotateKeys},
      {kGet, "/api/deploy/v1/collections/{collection}/channels/{channel}/manifest", kDevice,
       GetManifest},
      {kGet, "/api/deploy/v1/blobs/*", kDevice, GetBlob},
      {kPost, "/api/deploy/v1/telemetry", kDevice, RecordTelemetry},
  };
  return kRoutes;
}

}  // namespace ringo::api
