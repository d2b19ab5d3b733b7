// Artifacts through the tracking API (list, get-artifact, upload-artifact) and the
// mlflow-artifacts proxy.
#include <filesystem>

#include "api/handlers.h"
#include "common/json_writer.h"
#include "common/paths.h"
#include "common/util.h"

namespace ringo::api {

void RegisterArtifacts(http::Router& router, Store* st, artifacts::Repository* repo) {
  // ---------------- artifacts through the tracking API ----------------
  auto run_artifact_root = [st](const std::string& run_id) { return RunArtifactRoot(st, run_id); };

  AddMlflow(router, Method::kGet, "artifacts/list", Access::kRead,
       Sync([repo, run_artifact_root, st](const Request& req) -> Result<Response> {
         ASSIGN_OR_RETURN(Fields f, ReadFields(req));
         ASSIGN_OR_RETURN(std::string id, RunIdField(f));
         ASSIGN_OR_RETURN(auto path, f.String("path"));
         ASSIGN_OR_RETURN(std::string rel, ArtifactPathField(path.value_or("")));
         ASSIGN_OR_RETURN(store::Run run, st->GetRun(id));
         ASSIGN_OR_RETURN(std::string root, run_artifact_root(id));
         bool is_file = false;
         ASSIGN_OR_RETURN(auto files, repo->List(JoinRelative(root, rel), &is_file));
         return FileListing(run.info.artifact_uri, root, files);
       }));

  auto get_artifact = Sync([repo, st](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(RunArtifact a, ReadRunArtifact(req, st, repo));
    Response r = http::FileResponse(req, a.full.string(), artifacts::GuessContentType(a.rel));
    // Artifacts are whatever anyone with a write token uploaded: shown on the UI's origin, an
    // HTML or SVG file could run script there. The sandbox gives it an opaque origin without
    // scripts; images still display in <img>.
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Content-Security-Policy", "sandbox");
    return r;
  });
  router.Add(Method::kGet, "/ajax-api/2.0/mlflow/get-artifact", Access::kRead, get_artifact);
  router.Add(Method::kGet, "/get-artifact", Access::kRead, get_artifact);

  auto upload_artifact =
      Async([repo, run_artifact_root](Request& req, const Responder& res) -> Status {
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
        ASSIGN_OR_RETURN(std::string root, run_artifact_root(id));
        RETURN_IF_ERROR(repo->PutFile(JoinRelative(root, rel), req.body_file));
        res.Send(EmptyObject());
        return Status::Ok();
      });
  // An exact route: run and path travel in the query, never in trailing path segments.
  router.Add(Method::kPost, "/ajax-api/2.0/mlflow/upload-artifact", Access::kWrite, upload_artifact,
             /*stream_body=*/true);

  // ---------------- mlflow-artifacts proxy ----------------
  const std::string kProxy = "/api/2.0/mlflow-artifacts/artifacts";
  auto list_proxy = Sync([repo](const Request& req) -> Result<Response> {
    ASSIGN_OR_RETURN(Fields f, Fields::FromQuery(req.query));
    ASSIGN_OR_RETURN(auto path, f.String("path"));
    ASSIGN_OR_RETURN(std::string rel, CleanRelativePath(path.value_or("")));
    bool is_file = false;
    ASSIGN_OR_RETURN(auto files, repo->List(rel, &is_file));
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
  });
  router.Add(Method::kGet, kProxy, Access::kRead, list_proxy);
  router.Add(Method::kGet, kProxy + "/", Access::kRead, list_proxy);

  // The suffix after ".../artifacts/" is percent-decoded once; encoded separators or dots
  // then meet the same checks as literal ones.
  auto proxy_path = [](const Request& req) -> Result<std::string> {
    std::string_view suffix = req.route_suffix;
    auto decoded = PercentDecode(suffix, false);
    if (!decoded) return InvalidArgument("malformed percent-encoding in artifact path");
    if (decoded->find('\0') != std::string::npos) {
      return InvalidArgument("invalid artifact path: NUL bytes are not allowed");
    }
    return CleanRelativePath(*decoded);
  };

  router.AddPrefix(
      Method::kGet, kProxy + "/", Access::kRead, Sync([repo, proxy_path](const Request& req) -> Result<Response> {
        ASSIGN_OR_RETURN(std::string rel, proxy_path(req));
        if (rel.empty()) return InvalidArgument("artifact path must name a file");
        ASSIGN_OR_RETURN(auto full, repo->Resolve(rel));
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
      }));

  router.AddPrefix(
      Method::kPut, kProxy + "/", Access::kWrite,
      [repo, proxy_path](Request& req, Responder res) {
        auto rel = proxy_path(req);
        Status s = rel.ok() ? (rel->empty() ? InvalidArgument("artifact path must name a file")
                                            : repo->PutFile(*rel, req.body_file))
                            : rel.status();
        res.Send(s.ok() ? EmptyObject() : HttpError(s));
      },
      /*stream_body=*/true);

  router.AddPrefix(Method::kDelete, kProxy + "/", Access::kWrite,
                   Sync([repo, proxy_path](const Request& req) -> Result<Response> {
                     ASSIGN_OR_RETURN(std::string rel, proxy_path(req));
                     RETURN_IF_ERROR(repo->Delete(rel));
                     return EmptyObject();
                   }));

  // Multipart upload needs an object store behind the proxy; the client falls back to a
  // single PUT when the error message says it is unsupported.
  // The client posts to mpu/<op>/<artifact path>.
  for (const char* op : {"create", "complete", "abort"}) {
    auto unsupported = Sync([](const Request&) -> Result<Response> {
      return http::JsonError(501, "NOT_IMPLEMENTED",
                             "Multipart upload is not supported for the current "
                             "artifact repository");
    });
    router.Add(Method::kPost, std::string("/api/2.0/mlflow-artifacts/mpu/") + op, Access::kWrite,
               unsupported);
    router.AddPrefix(Method::kPost, std::string("/api/2.0/mlflow-artifacts/mpu/") + op + "/",
                     Access::kWrite,
                     unsupported);
  }
}

}  // namespace ringo::api
