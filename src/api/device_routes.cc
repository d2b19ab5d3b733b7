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

Status GetManifest(const Services& s, Request& req, const Responder& res) {
  std::string collection(req.PathParam("collection"));
  std::string channel(req.PathParam("channel"));
  ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
  deploy::DeviceQuery q;
  std::pair<const char*, std::string*> fields[] = {
      {"device_id", &q.device_id},   {"device_class", &q.device_class}, {"os", &q.os},
      {"os_version", &q.os_version}, {"app_version", &q.app_version},   {"region", &q.region},
      {"language", &q.language}};
  for (auto& [name, out] : fields) {
    ASSIGN_OR_RETURN(auto v, f.String(name));
    *out = v.value_or("");
  }
  ASSIGN_OR_RETURN(auto wait, f.Int64("wait"));
  if (wait && *wait < 0) return InvalidArgument("wait must be a number of seconds >= 0");
  std::string inm(req.Header("if-none-match"));
  uint64_t generation = s.waiters->generation();
  ASSIGN_OR_RETURN(deploy::Manifest m, s.deploy->ManifestFor(collection, channel, q));
  if (wait && *wait > 0 && !inm.empty() && inm == m.etag) {
    // Unchanged: hold the request (not the thread) until it changes or the wait ends.
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(std::min<int64_t>(*wait, 300));
    s.waiters->Add(res, collection, channel, q, m.etag, deadline, generation);
    return Status::Ok();
  }
  res.Send(ManifestResponse(std::move(m), inm));
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
