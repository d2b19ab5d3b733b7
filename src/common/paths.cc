// Safe relative paths and atomic file writes.
#include "common/paths.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/util.h"

namespace ringo {

namespace fs = std::filesystem;

Result<std::string> CleanRelativePath(std::string_view path) {
  // Names travel in JSON listings and MLflow clients decode them as UTF-8: a name that is not
  // would make its whole folder unlistable.
  if (!IsValidUtf8(path)) {
    return InvalidArgument("invalid path: it is not valid UTF-8");
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\') {
      return InvalidArgument("invalid path '" + std::string(path) +
                             "': control characters and backslashes are not allowed");
    }
  }
  if (!path.empty() && path.front() == '/') {
    return InvalidArgument("invalid path '" + std::string(path) +
                           "': absolute paths are not allowed");
  }
  if (path.size() >= 2 && path[1] == ':') {
    return InvalidArgument("invalid path '" + std::string(path) +
                           "': drive prefixes are not allowed");
  }
  std::string out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view seg = path.substr(pos, next - pos);
    if (seg == "..") {
      return InvalidArgument("invalid path '" + std::string(path) + "': '..' is not allowed");
    }
    if (!seg.empty() && seg != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(seg);
    }
    pos = next + 1;
  }
  return out;
}

Result<fs::path> ResolveUnder(const fs::path& root, std::string_view relative) {
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  std::error_code ec;
  fs::path canonical_root = fs::weakly_canonical(root, ec);
  if (ec) return Internal("cannot resolve root '" + root.string() + "': " + ec.message());
  fs::path full = clean.empty() ? canonical_root : canonical_root / clean;
  // weakly_canonical follows every existing symlink; the result must stay under the root.
  fs::path resolved = fs::weakly_canonical(full, ec);
  if (ec) return Internal("cannot resolve '" + std::string(relative) + "': " + ec.message());
  auto [root_end, unused] =
      std::mismatch(canonical_root.begin(), canonical_root.end(), resolved.begin(), resolved.end());
  if (root_end != canonical_root.end()) {
    return InvalidArgument("invalid path '" + std::string(relative) +
                           "': it resolves outside the artifact root");
  }
  // weakly_canonical takes a dangling symlink for a missing name and keeps it, yet creating a
  // file through it would land wherever it points: refuse any dangling component.
  fs::path prefix = canonical_root;
  for (const fs::path& part : fs::path(clean)) {
    prefix /= part;
    fs::file_status st = fs::symlink_status(prefix, ec);
    if (ec || !fs::exists(st)) break;
    if (fs::is_symlink(st) && !fs::exists(prefix, ec)) {
      return InvalidArgument("invalid path '" + std::string(relative) +
                             "': it passes through a dangling symlink");
    }
  }
  return full;
}

Status WriteFileAtomic(const fs::path& target, std::string_view data) {
  // A bare file name lives in the current directory.
  const fs::path path = target.has_parent_path() ? target : fs::path(".") / target;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Internal("cannot create '" + path.parent_path().string() + "': " + ec.message());
  std::string tmp_name = path.filename().string();
  tmp_name.insert(0, 1, '.');
  tmp_name.append(".tmp-");
  tmp_name.append(NewId());
  fs::path tmp = path.parent_path() / tmp_name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot create '" + tmp.string() + "': " + std::strerror(errno));
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Internal("cannot write '" + tmp.string() + "': " + std::strerror(err));
    }
    written += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Internal("cannot flush '" + tmp.string() + "': " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Internal("cannot rename to '" + path.string() + "': " + std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace ringo
