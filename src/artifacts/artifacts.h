// Artifact repositories: files of runs under one root, on a local disk or in an S3-compatible
// object store, no path escaping it.
#ifndef RINGO_ARTIFACTS_ARTIFACTS_H_
#define RINGO_ARTIFACTS_ARTIFACTS_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
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

// Where run artifacts live. Every relative path is checked with CleanRelativePath first
// ("..", absolute paths, control bytes: kInvalidArgument), so nothing outside the root is ever
// read or written. Implementations are thread-safe.
class Repository {
 public:
  virtual ~Repository() = default;

  // Prepares the root (creates the directory; checks the bucket answers). kInternal or
  // kUnavailable on failure, naming the root.
  virtual Status Init() = 0;

  // What the root is, for messages and logs ("/data/artifacts", "s3://bucket/prefix").
  virtual std::string Describe() const = 0;

  // True when other servers may share this repository (an object store), so what one server
  // must find written by another goes here rather than to its own disk.
  virtual bool IsShared() const = 0;

  // A local path holding the bytes of `relative`: the file itself on a local disk; for an
  // object store a cached copy, fetched when missing or changed (a "directory" is fetched
  // whole). The path need not exist when nothing is stored there.
  virtual Result<std::filesystem::path> Resolve(std::string_view relative) const = 0;

  // Lists the direct children of directory `relative` ("" = root), sorted by name. A path
  // naming a file gives an empty list with *is_file set; a missing path gives an empty list.
  // Entries' `path` is `relative/child` (or `child` at the root).
  virtual Result<std::vector<FileInfo>> List(std::string_view relative,
                                             bool* is_file = nullptr) const = 0;

  // Stores the finished temporary file `source` at `relative`; `source` is consumed (moved
  // or removed). Readers see the whole file or none of it.
  virtual Status PutFile(std::string_view relative, const std::filesystem::path& source) = 0;
  // Writes `data` at `relative`, atomically as above.
  virtual Status Put(std::string_view relative, std::string_view data) = 0;
  // Deletes a file or a directory tree. kNotFound when absent.
  virtual Status Delete(std::string_view relative) = 0;

  // A URL from which anyone may GET the file at `relative` for the next `seconds` without
  // credentials: an object store's presigned URL, signed for `endpoint_url` when given (the
  // address clients reach the store by, if not the server's), else for the repository's own
  // endpoint. The file is not checked. kFailedPrecondition for a local directory.
  virtual Result<std::string> PresignGet(std::string_view relative, int64_t seconds,
                                         const std::string& endpoint_url) const = 0;
  // For a repository on a local disk, the file:// URI of its root directory (no trailing '/'),
  // under which clients that write directly (MLflow's non-proxied artifact root) find the same
  // files; empty otherwise.
  virtual std::string FileUri() const { return {}; }
};

// Local-filesystem repository. Besides the path checks above, symlinks leading out of the
// root are refused (kInvalidArgument). Writes are atomic (temporary file + rename).
class LocalRepository : public Repository {
 public:
  explicit LocalRepository(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }

  Status Init() override;
  std::string Describe() const override { return root_.string(); }
  bool IsShared() const override { return false; }
  std::string FileUri() const override;
  Result<std::filesystem::path> Resolve(std::string_view relative) const override;
  Result<std::vector<FileInfo>> List(std::string_view relative,
                                     bool* is_file = nullptr) const override;
  Status PutFile(std::string_view relative, const std::filesystem::path& source) override;
  Status Put(std::string_view relative, std::string_view data) override;
  Status Delete(std::string_view relative) override;
  Result<std::string> PresignGet(std::string_view relative, int64_t seconds,
                                 const std::string& endpoint_url) const override;

 private:
  std::filesystem::path root_;
};

// An S3-compatible object store (AWS S3, MinIO, Ceph, R2, versitygw, ...), addressed path-style
// (endpoint/bucket/key) and signed with AWS Signature Version 4.
struct S3Options {
  std::string bucket;
  std::string prefix;        // key prefix without leading or trailing '/', may be empty
  std::string endpoint_url;  // http[s]://host[:port]; empty = https://s3.<region>.amazonaws.com
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // sent as x-amz-security-token when set
  std::string ca_bundle;      // PEM file trusted for https besides the system's CAs
  std::filesystem::path cache_dir;  // where Resolve keeps fetched copies
  // The most the cache may hold (least recently used copies go first; <= 0: no bound), and how
  // long a copy handed out is kept whatever the bound.
  int64_t cache_max_bytes = int64_t{10} << 30;
  int64_t cache_grace_seconds = 60;
  int64_t part_size = 16 << 20;     // files larger than this go up in parts of this size
};

// Reads `uri` ("s3://bucket[/prefix]") and the standard environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_DEFAULT_REGION or AWS_REGION,
// MLFLOW_S3_ENDPOINT_URL or AWS_ENDPOINT_URL, AWS_CA_BUNDLE); `endpoint_url` when not empty
// wins over the environment. kInvalidArgument naming what is wrong (no bucket, no
// credentials, an endpoint that is not http(s)://host[:port]).
Result<S3Options> S3OptionsFrom(const std::string& uri, const std::string& endpoint_url,
                                const std::filesystem::path& cache_dir);

// The repository for an `--artifacts-destination`: S3 for "s3://...", else a local directory.
// Nothing is touched until Init().
Result<std::unique_ptr<Repository>> OpenRepository(const std::string& destination,
                                                   const std::string& s3_endpoint_url,
                                                   const std::filesystem::path& cache_dir,
                                                   int64_t cache_max_bytes = int64_t{10} << 30);

// The repository path an `mlflow-artifacts:` URI names ("mlflow-artifacts:/1/r/artifacts/x" or
// "mlflow-artifacts://host:port/1/r/artifacts/x" -> "1/r/artifacts/x"), cleaned like any
// user path. With `file_root` (a local repository's FileUri()), a file: URI beneath it names
// the same files ("<file_root>/1/r/artifacts/x" -> "1/r/artifacts/x"). kInvalidArgument for
// other URIs (the file is not in this repository) and for escaping paths.
Result<std::string> ArtifactUriPath(std::string_view uri, std::string_view file_root = {});

// What CopyTree did.
struct CopyReport {
  int64_t files = 0;    // files in the source tree
  int64_t bytes = 0;    // their bytes
  int64_t skipped = 0;  // files already in the destination with the same size (not copied)
};

// Copies every file under directory `from_dir` of `from` ("" = the root) to the same relative
// place under `to_dir` of `to`; files the destination already holds with the same size are left
// as they are (so an interrupted copy is resumed by running it again). Then every file is
// verified by SHA-256 on both sides (an object store's copy is fetched back to be hashed).
// `progress` (may be empty) is called after each file with the counts so far.
// kFailedPrecondition naming the first file that does not verify; errors of either side as
// they come.
Result<CopyReport> CopyTree(const Repository& from, std::string_view from_dir, Repository& to,
                            std::string_view to_dir,
                            const std::function<void(const CopyReport&)>& progress);

// What ZipTree takes at most. A zip without its 64-bit extension counts entries and offsets in
// 16 and 32 bits, so these are also the format's own bounds (values above them are lowered).
struct ZipLimits {
  int64_t max_bytes = 0xFFFFFFFF;  // the whole archive, headers included
  int64_t max_entries = 0xFFFF;    // files and directories
};

// A zip archive produced piece by piece, never held whole: entries are stored (not compressed),
// so its size is known before the first byte; each file's CRC-32 is taken as it is read and
// sent after its data (a data descriptor) and in the central directory. Not thread-safe.
class ZipStream {
 public:
  virtual ~ZipStream() = default;
  // The archive's size in bytes.
  virtual uint64_t size() const = 0;
  // Fills the front of `out` with the next bytes; returns how many (0 only at the end).
  // kFailedPrecondition when a file changed size or went away since the archive was planned;
  // kInternal for a read error.
  virtual Result<size_t> Read(std::span<char> out) = 0;
};

// A zip of the file or directory `relative` of `repo`, its entries named by their path from
// `relative`'s parent ("a/m.mlpackage" gives "m.mlpackage/", "m.mlpackage/Manifest.json", ...;
// directories have entries too, so empty ones survive). The tree is sized through List before
// anything is fetched (an object store's tree is then fetched whole, by Resolve). kNotFound when
// nothing is there; kInvalidArgument for the root or for a symlink or special file in the tree;
// kFailedPrecondition naming the limit a tree passes.
Result<std::unique_ptr<ZipStream>> ZipTree(const Repository& repo, std::string_view relative,
                                           const ZipLimits& limits = {});

// Content-Type for a file name by extension (application/octet-stream when unknown); static text.
std::string_view GuessContentType(std::string_view name);

}  // namespace ringo::artifacts

#endif  // RINGO_ARTIFACTS_ARTIFACTS_H_
