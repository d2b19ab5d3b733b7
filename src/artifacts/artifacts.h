// Artifact repository: files of runs under one root directory, no path escaping it.
#ifndef RINGO_ARTIFACTS_ARTIFACTS_H_
#define RINGO_ARTIFACTS_ARTIFACTS_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ringo::artifacts {

struct FileInfo {
  std::string path;  // relative to the listed directory's parent root, as requested
  bool is_dir = false;
  int64_t file_size = 0;  // files only
};

// Local-filesystem artifact repository. Every relative path passes CleanRelativePath and
// symlink checks before use, so nothing outside the root is ever read or written (paths with
// "..", absolute paths, control bytes and symlinks leading out fail with kInvalidArgument).
// Writes are atomic (temporary file + rename). Thread-safe: operations are independent
// filesystem calls.
class LocalRepository {
 public:
  explicit LocalRepository(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }

  // Creates the root if needed. kInternal on failure.
  Status Init();

  // The absolute path for `relative`, checked as above. The file need not exist.
  Result<std::filesystem::path> Resolve(std::string_view relative) const;

  // Lists the direct children of directory `relative` ("" = root), sorted by name. A path
  // naming a regular file gives an empty list with *is_file set; a missing path gives an
  // empty list. Entries' `path` is `relative/child` (or `child` at the root).
  Result<std::vector<FileInfo>> List(std::string_view relative, bool* is_file = nullptr) const;

  // Moves the finished temporary file `source` into place at `relative` (same filesystem).
  Status PutFile(std::string_view relative, const std::filesystem::path& source);
  // Writes `data` at `relative` atomically.
  Status Put(std::string_view relative, std::string_view data);
  // Deletes a file or a directory tree. kNotFound when absent.
  Status Delete(std::string_view relative);

 private:
  std::filesystem::path root_;
};

// The repository path an `mlflow-artifacts:` URI names ("mlflow-artifacts:/1/r/artifacts/x" or
// "mlflow-artifacts://host:port/1/r/artifacts/x" -> "1/r/artifacts/x"), cleaned like any
// user path. kInvalidArgument for other schemes (the file is not in this repository) and for
// escaping paths.
Result<std::string> ArtifactUriPath(std::string_view uri);

// Content-Type for a file name by extension (application/octet-stream when unknown).
std::string GuessContentType(std::string_view name);

}  // namespace ringo::artifacts

#endif  // RINGO_ARTIFACTS_ARTIFACTS_H_
