// Artifacts through the tracking API (list, get-artifact, upload-artifact) and the
// mlflow-artifacts proxy.
#include <filesystem>
#include <memory>
#include <span>

#include "api/handlers.h"
#include "api/routes.h"
#include "common/json_writer.h"
#include "common/paths.h"
#include "common/util.h"

namespace ringo::api {

namespace {

// MLflow's answer on a proxy endpoint of a server started with --no-serve-artifacts.
Status ProxyServed(const Services& s, const Request& req) {
  if (s.serve_artifacts) return Status::Ok();
  return Unavailable("Endpoint: " + req.path +
                     " disabled due to the mlflow server running with `--no-serve-artifacts`. To "
                     "enable artifacts server functionality, run `ringo server` with "
                     "`--serve-artifacts`");
}

// ---------------- artifacts through the tracking API ----------------

Result<Response> ListArtifacts(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  ASSIGN_OR_RETURN(auto path, f.String("path"));
  ASSIGN_OR_RETURN(std::string rel, ArtifactPathField(path.value_or("")));
  ASSIGN_OR_RETURN(store::Run run, s.store->GetRun(id));
  ASSIGN_OR_RETURN(std::string root, RunArtifactRoot(s.store, s.artifacts, id));
  bool is_file = false;
  ASSIGN_OR_RETURN(auto files, s.artifacts->List(JoinRelative(root, rel), &is_file));
  return FileListing(run.info.artifact_uri, root, files);
}

Result<Response> GetArtifact(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(RunArtifact a, ReadRunArtifact(req, s.store, s.artifacts));
  return UntrustedFileResponse(req, a.full, a.rel);
}

Result<Response> UploadArtifact(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
  // MLflow's checks and wording for this endpoint, in its order.
  ASSIGN_OR_RETURN(auto run_uuid, f.String("run_uuid"));
  ASSIGN_OR_RETURN(auto run_id, f.String("run_id"));
  std::string id = run_uuid.value_or(run_id.value_or(""));
  if (id.empty()) return InvalidArgument("Request must specify run_uuid.");
  ASSIGN_OR_RETURN(auto path, f.String("path"));
  if (!path || path->empty()) return InvalidArgument("Request must specify path.");
  ASSIGN_OR_RETURN(std::string rel, ArtifactPathField(*path));
  if (rel.empty()) return InvalidArgument("Invalid path");
  std::error_code ec;
  if (std::filesystem::file_size(req.body_file, ec) == 0 || ec) {
    return InvalidArgument("Request must specify data.");
  }
  ASSIGN_OR_RETURN(std::string root, RunArtifactRoot(s.store, s.artifacts, id));
  RETURN_IF_ERROR(s.artifacts->PutFile(JoinRelative(root, rel), req.body_file));
  return EmptyObject();
}

// A run's artifact directory (a .mlpackage, a folder) or file as one zip, streamed while the
// files are read; with no path, all of the run's artifacts. Run and path are checked as for
// get-artifact.
Result<Response> DownloadZip(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
  ASSIGN_OR_RETURN(std::string id, RunIdField(f));
  ASSIGN_OR_RETURN(std::string path, f.StringOr("path", ""));
  ASSIGN_OR_RETURN(std::string rel, ArtifactPathField(path));
  ASSIGN_OR_RETURN(std::string root, RunArtifactRoot(s.store, s.artifacts, id));
  auto zip = artifacts::ZipTree(*s.artifacts, JoinRelative(root, rel));
  if (zip.status().code() == Code::kNotFound) {
    return NotFound("run '" + id + "' has no artifact '" + rel + "'");
  }
  RETURN_IF_ERROR(zip.status());
  std::string name = rel.empty() ? id + "-artifacts" : rel.substr(rel.rfind('/') + 1);
  // The header's quoted string holds any name but a quote or backslash.
  for (char& c : name) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
  }
  Response r;
  r.content_type = "application/zip";
  r.stream_length = (*zip)->size();
  r.stream = [z = std::shared_ptr<artifacts::ZipStream>(std::move(*zip))](std::span<char> out) {
    return z->Read(out);
  };
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + ".zip\"");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

// ---------------- mlflow-artifacts proxy ----------------

Result<Response> ListProxied(const Services& s, const Request& req) {
  RETURN_IF_ERROR(ProxyServed(s, req));
  ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
  ASSIGN_OR_RETURN(auto path, f.String("path"));
  ASSIGN_OR_RETURN(std::string rel, CleanRelativePath(path.value_or("")));
  bool is_file = false;
  ASSIGN_OR_RETURN(auto files, s.artifacts->List(rel, &is_file));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  if (!files.empty()) {
    w.Key("files").BeginArray();
    for (const auto& fi : files) {
      size_t slash = fi.path.rfind('/');
      std::string name = slash == std::string::npos ? fi.path : fi.path.substr(slash + 1);
      w.BeginObject().Field("path", name).FieldBool("is_dir", fi.is_dir);
      if (!fi.is_dir) w.Field("file_size", fi.file_size);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return JsonResponse(std::move(body));
}

// The suffix after ".../artifacts/" is percent-decoded once; encoded separators or dots
// then meet the same checks as literal ones.
Result<std::string> ProxyPath(const Request& req) {
  auto decoded = PercentDecode(req.route_suffix, false);
  if (!decoded) return InvalidArgument("malformed percent-encoding in artifact path");
  if (decoded->find('\0') != std::string::npos) {
    return InvalidArgument("invalid artifact path: NUL bytes are not allowed");
  }
  return CleanRelativePath(*decoded);
}

Result<Response> DownloadProxied(const Services& s, const Request& req) {
  RETURN_IF_ERROR(ProxyServed(s, req));
  ASSIGN_OR_RETURN(std::string rel, ProxyPath(req));
  if (rel.empty()) return InvalidArgument("artifact path must name a file");
  ASSIGN_OR_RETURN(auto full, s.artifacts->Resolve(rel));
  std::error_code ec;
  if (std::filesystem::is_directory(full, ec)) {
    return InvalidArgument("artifact path '" + rel + "' is a directory; list it with ?path=");
  }
  size_t slash = rel.rfind('/');
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  Response r = http::FileResponse(req, full.string(), artifacts::GuessContentType(name));
  if (r.status == 404) return NotFound("artifact '" + rel + "' not found");
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + "\"");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Content-Security-Policy", "sandbox");
  return r;
}

Result<Response> UploadProxied(const Services& s, const Request& req) {
  RETURN_IF_ERROR(ProxyServed(s, req));
  ASSIGN_OR_RETURN(std::string rel, ProxyPath(req));
  if (rel.empty()) return InvalidArgument("artifact path must name a file");
  RETURN_IF_ERROR(s.artifacts->PutFile(rel, req.body_file));
  return EmptyObject();
}

Result<Response> DeleteProxied(const Services& s, const Request& req) {
  RETURN_IF_ERROR(ProxyServed(s, req));
  ASSIGN_OR_RETURN(std::string rel, ProxyPath(req));
  RETURN_IF_ERROR(s.artifacts->Delete(rel));
  return EmptyObject();
}

// Multipart upload needs an object store behind the proxy; the client falls back to a
// single PUT when the error message says it is unsupported.
Result<Response> MultipartUnsupported(const Services& s, const Request& req) {
  RETURN_IF_ERROR(ProxyServed(s, req));
  return http::JsonError(501, "NOT_IMPLEMENTED",
                         "Multipart upload is not supported for the current artifact repository");
}

}  // namespace

// get-artifact and upload-artifact are where MLflow's web UI calls them, not under /api/2.0/.
// Uploads name run and path in the query, never in trailing path segments.
std::span<const Route> ArtifactRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kGet, "artifacts/list", kRead, ListArtifacts},
      {kGet, "/ajax-api/2.0/mlflow/get-artifact", kRead, GetArtifact},
      {kGet, "/get-artifact", kRead, GetArtifact},
      {kPost, "/ajax-api/2.0/mlflow/upload-artifact", kWrite, Streamed(UploadArtifact)},
      {kGet, "/api/ringo/v1/artifacts/zip", kRead, DownloadZip},
      {kGet, "/api/2.0/mlflow-artifacts/artifacts", kRead, ListProxied},
      {kGet, "/api/2.0/mlflow-artifacts/artifacts/", kRead, ListProxied},
      {kGet, "/api/2.0/mlflow-artifacts/artifacts/*", kRead, DownloadProxied},
      {kPut, "/api/2.0/mlflow-artifacts/artifacts/*", kWrite, Streamed(UploadProxied)},
      {kDelete, "/api/2.0/mlflow-artifacts/artifacts/*", kWrite, DeleteProxied},
      // The same under /ajax-api, where MLflow's web UI reaches the proxy.
      {kGet, "/ajax-api/2.0/mlflow-artifacts/artifacts", kRead, ListProxied},
      {kGet, "/ajax-api/2.0/mlflow-artifacts/artifacts/", kRead, ListProxied},
      {kGet, "/ajax-api/2.0/mlflow-artifacts/artifacts/*", kRead, DownloadProxied},
      {kPut, "/ajax-api/2.0/mlflow-artifacts/artifacts/*", kWrite, Streamed(UploadProxied)},
      {kDelete, "/ajax-api/2.0/mlflow-artifacts/artifacts/*", kWrite, DeleteProxied},
      // The client posts to mpu/<op>/<artifact path>.
      {kPost, "/api/2.0/mlflow-artifacts/mpu/create", kWrite, MultipartUnsupported},
      {kPost, "/api/2.0/mlflow-artifacts/mpu/create/*", kWrite, MultipartUnsupported},
      {kPost, "/api/2.0/mlflow-artifacts/mpu/complete", kWrite, MultipartUnsupported},
      {kPost, "/api/2.0/mlflow-artifacts/mpu/complete/*", kWrite, MultipartUnsupported},
      {kPost, "/api/2.0/mlflow-artifacts/mpu/abort", kWrite, MultipartUnsupported},
      {kPost, "/api/2.0/mlflow-artifacts/mpu/abort/*", kWrite, MultipartUnsupported},
  };
  return kRoutes;
}

}  // namespace ringo::api
