// SHA-256 of bytes, files and directory trees (OpenSSL).
#ifndef RINGO_COMMON_HASH_H_
#define RINGO_COMMON_HASH_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ringo {

// Incremental SHA-256. Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  // Lowercase hex digest; the object must not be used afterwards.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view data);

// The tree hash of a directory (see HashPath), built file by file: AddFile must be called for
// every regular file, in sorted order of relative path, with the file's content SHA-256.
class TreeHash {
 public:
  TreeHash() { h_.Update("dir\n"); }
  void AddFile(std::string_view relative_path, std::string_view content_sha256_hex);
  std::string HexDigest() { return h_.HexDigest(); }

 private:
  Sha256 h_;
};

// The hash of a path, lowercase hex. For a regular file it is the file's SHA-256, exactly what
// `shasum -a 256 FILE` prints. For a directory it is the tree hash (called `tree_sha256` wherever
// it is shown): the SHA-256 over every regular file's relative path and content SHA-256 in
// sorted order, so equal trees hash equal wherever they are; names in `skip` (at any depth) are
// left out. kNotFound if the path does not exist, kInternal if it cannot be read.
Result<std::string> HashPath(const std::filesystem::path& path,
                             const std::vector<std::string>& skip = {});

}  // namespace ringo

#endif  // RINGO_COMMON_HASH_H_
