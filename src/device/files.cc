// The device client's file operations: atomic writes, fsync of trees, hashing a file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "device/client_impl.h"

namespace ringo::device {

namespace fs = std::filesystem;

bool FsyncPath(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), {});
  return !in.bad();
}

// The ccache AtomicFile shape: write beside the target, fsync, rename over it, fsync the directory,
// so a crash leaves either the old or the new content, never a mix.
Error WriteFileAtomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Err(RINGO_ERR_IO, "cannot write '" + tmp + "': " + std::strerror(errno));
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      ::close(fd);
      return Err(RINGO_ERR_IO, "cannot write '" + tmp + "': " + std::strerror(e));
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Err(RINGO_ERR_IO, "cannot sync '" + tmp + "': " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Err(RINGO_ERR_IO, "cannot rename '" + tmp + "': " + std::strerror(errno));
  }
  FsyncPath(fs::path(path).parent_path().string(), true);
  return {};
}

// fsyncs every file and directory under `root` (the staged deployment) before it is published.
bool FsyncTree(const std::string& root) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!FsyncPath(it->path().string(), it->is_directory())) return false;
  }
  return !ec && FsyncPath(root, true);
}

Error Sha256File(const ringo_crypto* crypto, void* ctx, const std::string& path, std::string* hex,
                 int64_t* size) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Err(RINGO_ERR_IO, "cannot read '" + path + "': " + std::strerror(errno));
  void* st = crypto->sha256_begin(ctx);
  if (!st) {
    std::fclose(f);
    return Err(RINGO_ERR_INTERNAL, "sha256_begin failed");
  }
  std::vector<char> buf(1 << 16);
  int64_t total = 0;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    crypto->sha256_update(ctx, st, buf.data(), n);
    total += static_cast<int64_t>(n);
  }
  bool read_error = std::ferror(f);
  std::fclose(f);
  uint8_t digest[32];
  if (crypto->sha256_end(ctx, st, digest) != 0) return Err(RINGO_ERR_INTERNAL, "sha256_end failed");
  if (read_error) return Err(RINGO_ERR_IO, "cannot read '" + path + "'");
  *hex = Hex(digest, 32);
  *size = total;
  return {};
}

}  // namespace ringo::device
