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

// Hash of a file's content, or of a directory tree: every regular file's relative path and
// content in sorted order, so equal trees hash equal wherever they are. Names in `skip` (at
// any depth) are left out. kNotFound if the path does not exist.
Result<std::string> HashPath(const std::filesystem::path& path,
                             const std::vector<std::string>& skip = {});

}  // namespace ringo

#endif  // RINGO_COMMON_HASH_H_
