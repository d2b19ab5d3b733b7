// Local-filesystem artifact repository.
#include "artifacts/artifacts.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/paths.h"

namespace ringo::artifacts {

namespace fs = std::filesystem;

Status LocalRepository::Init() {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) return Internal("cannot create artifact root '" + root_.string() + "': " + ec.message());
  return Status::Ok();
}

std::string LocalRepository::FileUri() const {
  std::error_code ec;
  std::string dir = fs::absolute(root_, ec).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return "file://" + dir;
}

Result<fs::path> LocalRepository::Resolve(std::string_view relative) const {
  return ResolveUnder(root_, relative);
}

Result<std::vector<FileInfo>> LocalRepository::List(std::string_view relative,
                                                    bool* is_file) const {
  if (is_file) *is_file = false;
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  ASSIGN_OR_RETURN(fs::path dir, Resolve(clean));
  std::vector<FileInfo> out;
  std::error_code ec;
  auto status = fs::status(dir, ec);
  if (ec || !fs::exists(status)) return out;
  if (fs::is_regular_file(status)) {
    if (is_file) *is_file = true;
    return out;
  }
  if (!fs::is_directory(status)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    // Entries leading outside the root through a symlink are not shown.
    std::string child = clean.empty() ? name : clean + "/" + name;
    if (!Resolve(child).ok()) continue;
    FileInfo info;
    info.path = child;
    std::error_code sec;
    info.is_dir = entry.is_directory(sec);
    if (!info.is_dir) {
      if (!entry.is_regular_file(sec)) continue;
      info.file_size = static_cast<int64_t>(entry.file_size(sec));
    }
    out.push_back(std::move(info));
  }
  if (ec) return Internal("cannot list '" + clean + "': " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  return out;
}

Status LocalRepository::PutFile(std::string_view relative, const fs::path& source) {
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  if (clean.empty()) return InvalidArgument("an artifact path must name a file");
  ASSIGN_OR_RETURN(fs::path dest, Resolve(clean));
  std::error_code ec;
  if (fs::is_directory(dest, ec)) {
    return InvalidArgument("artifact path '" + clean + "' is a directory");
  }
  fs::create_directories(dest.parent_path(), ec);
  if (ec) return Internal("cannot create '" + dest.parent_path().string() + "': " + ec.message());
  // Parents now exist: check again that none of them is a symlink leading out of the root.
  ASSIGN_OR_RETURN(fs::path checked, Resolve(clean));
  if (std::rename(source.c_str(), checked.c_str()) == 0) return Status::Ok();
  if (errno != EXDEV) {
    return Internal("cannot move upload into '" + clean + "': " + std::strerror(errno));
  }
  // From another file system: copied beside its place first, so it still appears whole.
  fs::path tmp = checked.parent_path() / (".tmp-" + checked.filename().string());
  fs::copy_file(source, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, checked, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Internal("cannot copy upload into '" + clean + "': " + ec.message());
  }
  fs::remove(source, ec);
  return Status::Ok();
}

Result<std::string> LocalRepository::PresignGet(std::string_view, int64_t,
                                               const std::string&) const {
  return FailedPrecondition("artifacts in a local directory (" + root_.string() +
                            ") have no URLs to hand out; presigned URLs need an object store");
}

Status LocalRepository::Put(std::string_view relative, std::string_view data) {
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  if (clean.empty()) return InvalidArgument("an artifact path must name a file");
  ASSIGN_OR_RETURN(fs::path dest, Resolve(clean));
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec) return Internal("cannot create '" + dest.parent_path().string() + "': " + ec.message());
  ASSIGN_OR_RETURN(fs::path checked, Resolve(clean));
  return WriteFileAtomic(checked, data);
}

Status LocalRepository::Delete(std::string_view relative) {
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  if (clean.empty()) return InvalidArgument("refusing to delete the artifact root");
  ASSIGN_OR_RETURN(fs::path target, Resolve(clean));
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(target, ec))) {
    return NotFound("artifact '" + clean + "' not found");
  }
  fs::remove_all(target, ec);
  if (ec) return Internal("cannot delete '" + clean + "': " + ec.message());
  return Status::Ok();
}

Result<std::string> ArtifactUriPath(std::string_view uri, std::string_view file_root) {
  constexpr std::string_view kScheme = "mlflow-artifacts:";
  if (!file_root.empty() && uri.starts_with(file_root) &&
      (uri.size() == file_root.size() || uri[file_root.size()] == '/')) {
    uri.remove_prefix(file_root.size());
    while (!uri.empty() && uri.front() == '/') uri.remove_prefix(1);
    return CleanRelativePath(uri);
  }
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("artifact location '" + std::string(uri) +
                           "' is not served by this server (only mlflow-artifacts: URIs are)");
  }
  uri.remove_prefix(kScheme.size());
  // mlflow-artifacts://host:port/path carries a netloc; mlflow-artifacts:/path does not.
  if (uri.substr(0, 2) == "//") {
    size_t slash = uri.find('/', 2);
    uri = slash == std::string_view::npos ? std::string_view() : uri.substr(slash);
  }
  while (!uri.empty() && uri.front() == '/') uri.remove_prefix(1);
  return CleanRelativePath(uri);
}

std::string_view GuessContentType(std::string_view name) {
  size_t dot = name.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : std::string(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::pair<const char*, const char*> kTypes[] = {
      {"txt", "text/plain"},      {"log", "text/plain"},
      {"md", "text/markdown"},    {"json", "application/json"},
      {"yaml", "text/yaml"},      {"yml", "text/yaml"},
      {"csv", "text/csv"},        {"html", "text/html"},
      {"png", "image/png"},       {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},     {"gif", "image/gif"},
      {"svg", "image/svg+xml"},   {"pdf", "application/pdf"},
      {"py", "text/x-python"},    {"npy", "application/octet-stream"},
      {"gz", "application/gzip"}, {"zip", "application/zip"}};
  for (const auto& [e, type] : kTypes) {
    if (ext == e) return type;
  }
  return "application/octet-stream";
}

}  // namespace ringo::artifacts
