// CopyTree: one repository's tree into another (ringo store copy), resumable and verified.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "artifacts/artifacts.h"
#include "common/hash.h"
#include "common/util.h"

namespace ringo::artifacts {

namespace {

namespace fs = std::filesystem;

std::string Join(std::string_view dir, std::string_view rel) {
  if (dir.empty()) return std::string(rel);
  if (rel.empty()) return std::string(dir);
  return std::string(dir) + "/" + std::string(rel);
}

// Every file under `dir` with its size, as paths relative to `dir`.
Status Walk(const Repository& repo, const std::string& dir, const std::string& rel,
            std::map<std::string, int64_t>* files) {
  ASSIGN_OR_RETURN(std::vector<FileInfo> entries, repo.List(Join(dir, rel)));
  for (const FileInfo& e : entries) {
    std::string name = e.path.substr(e.path.rfind('/') + 1);
    std::string child = rel.empty() ? name : rel + "/" + name;
    // Files a writer is still producing are not part of the store yet.
    if (name.rfind(".tmp-", 0) == 0) continue;
    if (e.is_dir) {
      RETURN_IF_ERROR(Walk(repo, dir, child, files));
    } else {
      (*files)[child] = e.file_size;
    }
  }
  return Status::Ok();
}

// A private copy of `path` for PutFile to consume.
Result<fs::path> Stage(const fs::path& path) {
  fs::path tmp = fs::temp_directory_path() / ("ringo-copy-" + NewId());
  std::error_code ec;
  fs::create_hard_link(path, tmp, ec);
  if (ec) fs::copy_file(path, tmp, ec);
  if (ec) return Internal("cannot stage '" + path.string() + "': " + ec.message());
  return tmp;
}

Result<std::string> HashOf(const Repository& repo, const std::string& rel) {
  ASSIGN_OR_RETURN(fs::path local, repo.Resolve(rel));
  return HashPath(local);
}

}  // namespace

Result<CopyReport> CopyTree(const Repository& from, std::string_view from_dir, Repository& to,
                            std::string_view to_dir,
                            const std::function<void(const CopyReport&)>& progress) {
  std::map<std::string, int64_t> src, dst;
  RETURN_IF_ERROR(Walk(from, std::string(from_dir), "", &src));
  RETURN_IF_ERROR(Walk(to, std::string(to_dir), "", &dst));
  CopyReport report;
  for (const auto& [rel, size] : src) {
    ++report.files;
    report.bytes += size;
    auto there = dst.find(rel);
    if (there != dst.end() && there->second == size) {
      ++report.skipped;
    } else {
      ASSIGN_OR_RETURN(fs::path local, from.Resolve(Join(from_dir, rel)));
      ASSIGN_OR_RETURN(fs::path staged, Stage(local));
      Status put = to.PutFile(Join(to_dir, rel), staged);
      if (!put.ok()) {
        std::error_code ec;
        fs::remove(staged, ec);
        return put;
      }
    }
    if (progress) progress(report);
  }
  for (const auto& [rel, size] : src) {
    ASSIGN_OR_RETURN(std::string want, HashOf(from, Join(from_dir, rel)));
    ASSIGN_OR_RETURN(std::string got, HashOf(to, Join(to_dir, rel)));
    if (want != got) {
      return FailedPrecondition("'" + rel + "' does not verify: SHA-256 " + want + " in " +
                                from.Describe() + ", " + got + " in " + to.Describe());
    }
  }
  return report;
}

}  // namespace ringo::artifacts
