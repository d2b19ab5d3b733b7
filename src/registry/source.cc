// Registry sources: where a version's model lives in the artifact store, and what ringo records
// of it when the version is created.
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/json_writer.h"
#include "common/util.h"
#include "coreml/coreml.h"
#include "registry/registry.h"

namespace ringo::registry {

namespace fs = std::filesystem;

namespace {

// models:/<model_id> (MLflow 3's logged models, "m-..."), not models:/<name>/<version>: a
// registered model's name may start with "m-" too.
bool IsLoggedModelUri(const std::string& source) {
  if (source.rfind("models:/m-", 0) != 0) return false;
  std::string rest = source.substr(8);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  return rest.find('/') == std::string::npos;
}

// The <name> and <version> of a copy's source `models:/<name>/<version>`; nullopt otherwise.
std::optional<std::pair<std::string, int64_t>> CopiedVersion(const std::string& source) {
  if (source.rfind("models:/", 0) != 0 || IsLoggedModelUri(source)) return std::nullopt;
  std::string rest = source.substr(8);
  size_t slash = rest.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  auto number = ParseInt64(rest.substr(slash + 1));
  if (!number) return std::nullopt;
  return std::make_pair(rest.substr(0, slash), *number);
}

}  // namespace

std::string OriginalSource(store::Store* store, const std::string& source) {
  std::string uri = source;
  for (int hop = 0; hop < 8; ++hop) {
    auto copied = CopiedVersion(uri);
    if (!copied) break;
    auto target = store->GetModelVersion(copied->first, copied->second);
    if (!target.ok()) break;
    uri = target->source;
  }
  return uri;
}

Result<std::string> SourceArtifactPath(store::Store* store, const artifacts::Repository* artifacts,
                                       const std::string& source) {
  std::string rel;
  const std::string file_root = artifacts->FileUri();
  if (source.rfind("runs:/", 0) == 0) {
    std::string rest = source.substr(6);
    size_t slash = rest.find('/');
    ASSIGN_OR_RETURN(store::Run run, store->GetRun(rest.substr(0, slash)));
    auto root = artifacts::ArtifactUriPath(run.info.artifact_uri, file_root);
    if (!root.ok())
      return FailedPrecondition("source '" + source + "' is not in ringo's artifact store");
    rel = *root + (slash == std::string::npos ? "" : "/" + rest.substr(slash + 1));
  } else if (source.rfind("mlflow-artifacts:", 0) == 0) {
    ASSIGN_OR_RETURN(rel, artifacts::ArtifactUriPath(source));
  } else if (!file_root.empty() && (source.rfind("file:", 0) == 0 || source.rfind("/", 0) == 0)) {
    // Written directly by a client of a non-proxied local artifact root: only files beneath
    // the repository's directory are ringo's.
    std::string uri = source[0] == '/' ? "file://" + source : source;
    auto path = artifacts::ArtifactUriPath(uri, file_root);
    if (!path.ok()) {
      return FailedPrecondition("source '" + source + "' is not in ringo's artifact store");
    }
    rel = *path;
  } else if (IsLoggedModelUri(source)) {
    // MLflow 3 registers a logged model as models:/<model_id>; its files are at the artifact
    // location the api component's logged-model document records.
    std::string id = source.substr(8);
    while (!id.empty() && id.back() == '/') id.pop_back();
    auto doc = store->GetDocument("logged_model", id);
    if (!doc.ok()) {
      return FailedPrecondition("source '" + source + "' names no logged model of this server");
    }
    auto j = nlohmann::json::parse(doc->value, nullptr, false);
    std::string uri = j.is_object() ? j.value("artifact_uri", "") : "";
    ASSIGN_OR_RETURN(rel, artifacts::ArtifactUriPath(uri, file_root));
  } else if (source.rfind("models:/", 0) == 0) {
    // A copied version (models:/<name>/<version>): the files of the version it copies.
    auto copied = CopiedVersion(source);
    if (!copied) return FailedPrecondition("source '" + source + "' names no model version");
    ASSIGN_OR_RETURN(store::ModelVersion v, store->GetModelVersion(copied->first, copied->second));
    std::string original = OriginalSource(store, v.source);
    if (CopiedVersion(original)) {
      return FailedPrecondition("source '" + source + "' copies a version that no longer exists");
    }
    return SourceArtifactPath(store, artifacts, original);
  } else {
    return FailedPrecondition("source '" + source + "' is not in ringo's artifact store");
  }
  return rel;
}

Result<fs::path> ResolveModelSource(store::Store* store, artifacts::Repository* artifacts,
                                    const std::string& source) {
  ASSIGN_OR_RETURN(std::string rel, SourceArtifactPath(store, artifacts, source));
  ASSIGN_OR_RETURN(fs::path p, artifacts->Resolve(rel));
  auto is_model = [](const fs::path& f) {
    std::string ext = ToLower(f.extension().string());
    return ext == ".mlmodel" || ext == ".mlpackage";
  };
  if (is_model(p)) return p;
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    for (auto it = fs::recursive_directory_iterator(p, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec || it.depth() > 2) break;
      if (is_model(it->path())) return it->path();
    }
  }
  return FailedPrecondition("source '" + source + "' holds no .mlmodel or .mlpackage");
}

Status DescribeSource(store::Store* st, artifacts::Repository* repo,
                      store::ModelVersion* v) {
  // Relative segments were refused by CheckSourceRules; a name like "...." is a name.
  if (v->source.rfind("runs:/", 0) == 0 && v->run_id.empty()) {
    v->run_id = v->source.substr(6, v->source.find('/', 6) - 6);
  }
  // Like MLflow, the registry takes any source: one outside the store, of a run this store does
  // not know, or without a Core ML model is registered unread.
  auto found = ResolveModelSource(st, repo, v->source);
  if (!found.ok()) return Status::Ok();
  const std::filesystem::path& model_path = *found;
  auto model = coreml::Load(model_path);
  if (!model.ok()) {
    // A broken Core ML model is still registered; the problem is recorded on the version (and
    // a deployment naming it is refused with it).
    std::string problem;
    AppendJsonString(&problem, "not a readable Core ML model: " + model.status().message());
    v->coreml = "{\"problem\":" + problem + "}";
    return Status::Ok();
  }
  coreml::Info info = coreml::Inspect(*model, model_path);
  v->coreml = coreml::InfoToJson(info);
  v->size = info.file_size;
  // One name per digest: a file's is its SHA-256; a package directory's is a tree hash.
  std::error_code ec;
  bool dir = std::filesystem::is_directory(model_path, ec);
  ASSIGN_OR_RETURN(std::string digest, HashPath(model_path));
  (dir ? v->tree_sha256 : v->sha256) = std::move(digest);
  return Status::Ok();
}


}  // namespace ringo::registry
