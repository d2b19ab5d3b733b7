// A model's bytes for devices, streamed: the file itself, or a deterministic ustar of a package.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "common/hash.h"
#include "registry/registry.h"

namespace ringo::registry {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunk = 1 << 16;

void OctalField(char* field, size_t width, uint64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

// A tar entry name an extractor can only place inside its target: relative, no "..".
bool SafeTarName(std::string_view name) {
  if (name.empty() || name.front() == '/') return false;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t next = name.find('/', pos);
    if (next == std::string_view::npos) next = name.size();
    if (name.substr(pos, next - pos) == "..") return false;
    pos = next + 1;
  }
  return true;
}

// The 512-byte ustar header of one entry.
Result<std::string> TarHeader(const std::string& name, bool dir, uint64_t size) {
  if (!SafeTarName(name)) return InvalidArgument("unsafe name in package: '" + name + "'");
  char header[512] = {};
  std::string path = dir ? name + "/" : name;
  if (path.size() > 100) {
    // ustar splits long names into prefix (155) and name (100) at a '/'.
    size_t split = path.rfind('/', path.size() - 2 > 155 ? 155 : path.size() - 2);
    if (split == std::string::npos || path.size() - split - 1 > 100 || split > 155) {
      return InvalidArgument("path too long for the package archive: " + path);
    }
    std::memcpy(header + 345, path.data(), split);
    std::memcpy(header, path.data() + split + 1, path.size() - split - 1);
  } else {
    std::memcpy(header, path.data(), path.size());
  }
  OctalField(header + 100, 8, dir ? 0755 : 0644);
  OctalField(header + 108, 8, 0);
  OctalField(header + 116, 8, 0);
  OctalField(header + 124, 12, dir ? 0 : size);
  OctalField(header + 136, 12, 0);  // mtime 0: the same package always archives the same
  header[156] = dir ? '5' : '0';
  std::memcpy(header + 257, "ustar", 6);
  std::memcpy(header + 263, "00", 2);
  std::memset(header + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  std::snprintf(header + 148, 8, "%06o", sum);
  header[155] = ' ';
  return std::string(header, 512);
}

// Counts and hashes what goes to the sink.
class Out {
 public:
  explicit Out(const std::function<Status(std::string_view)>& sink) : sink_(sink) {}
  Status Write(std::string_view bytes) {
    sha_.Update(bytes);
    size_ += static_cast<int64_t>(bytes.size());
    return sink_(bytes);
  }
  int64_t size() const { return size_; }
  std::string HexDigest() { return sha_.HexDigest(); }

 private:
  const std::function<Status(std::string_view)>& sink_;
  Sha256 sha_;
  int64_t size_ = 0;
};

// Copies a file to `out` in chunks; returns the file's own SHA-256.
Result<std::string> CopyFile(const fs::path& path, Out& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Internal("cannot read '" + path.string() + "'");
  Sha256 content;
  std::vector<char> buf(kChunk);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::string_view chunk(buf.data(), static_cast<size_t>(in.gcount()));
    if (chunk.empty()) break;
    content.Update(chunk);
    RETURN_IF_ERROR(out.Write(chunk));
  }
  if (in.bad()) return Internal("cannot read '" + path.string() + "'");
  return content.HexDigest();
}

// The package's entries, relative and sorted: (path, is_directory, size).
struct Entry {
  std::string rel;
  bool dir;
  uint64_t size;
  bool operator<(const Entry& o) const { return std::tie(rel, dir) < std::tie(o.rel, o.dir); }
};

Result<std::vector<Entry>> ListPackage(const fs::path& dir) {
  std::vector<Entry> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Internal("cannot read '" + dir.string() + "': " + ec.message());
    fs::file_status st = it->symlink_status(ec);
    std::string rel = it->path().lexically_relative(dir).generic_string();
    if (!SafeTarName(rel)) return InvalidArgument("unsafe name in package: '" + rel + "'");
    if (fs::is_directory(st)) {
      entries.push_back({rel, true, 0});
    } else if (fs::is_regular_file(st)) {
      entries.push_back({rel, false, static_cast<uint64_t>(it->file_size(ec))});
    } else {
      return InvalidArgument("package entry '" + rel + "' is not a regular file or folder");
    }
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

Status PackDirectory(const fs::path& dir, Out& out, std::string* tree_digest) {
  ASSIGN_OR_RETURN(std::vector<Entry> entries, ListPackage(dir));
  std::string top = dir.filename().string();
  ASSIGN_OR_RETURN(std::string header, TarHeader(top, true, 0));
  RETURN_IF_ERROR(out.Write(header));
  TreeHash tree;
  for (const Entry& e : entries) {
    ASSIGN_OR_RETURN(header, TarHeader(top + "/" + e.rel, e.dir, e.size));
    RETURN_IF_ERROR(out.Write(header));
    if (e.dir) continue;
    int64_t before = out.size();
    ASSIGN_OR_RETURN(std::string content, CopyFile(dir / e.rel, out));
    if (static_cast<uint64_t>(out.size() - before) != e.size) {
      return FailedPrecondition("package file '" + e.rel + "' changed while it was packed");
    }
    tree.AddFile(e.rel, content);
    RETURN_IF_ERROR(out.Write(std::string((512 - e.size % 512) % 512, '\0')));
  }
  RETURN_IF_ERROR(out.Write(std::string(1024, '\0')));
  *tree_digest = tree.HexDigest();
  return Status::Ok();
}

}  // namespace

Status RefuseSymlinks(const fs::path& path) {
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(path, ec))) {
    return InvalidArgument("model file '" + path.filename().string() +
                           "' is a symbolic link; links are never packaged");
  }
  if (!fs::is_directory(fs::symlink_status(path, ec))) return Status::Ok();
  for (auto it = fs::recursive_directory_iterator(path, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Internal("cannot read '" + path.string() + "': " + ec.message());
    if (it->is_symlink(ec)) {
      return InvalidArgument("package '" + path.filename().string() + "' holds a symbolic link ('" +
                             fs::relative(it->path(), path, ec).generic_string() +
                             "'); links are never packaged");
    }
  }
  return Status::Ok();
}

Result<Packed> PackModel(const fs::path& model,
                         const std::function<Status(std::string_view)>& sink) {
  RETURN_IF_ERROR(RefuseSymlinks(model));
  Packed packed;
  Out out(sink);
  std::error_code ec;
  if (fs::is_directory(model, ec)) {
    packed.format = "mlpackage.tar";
    RETURN_IF_ERROR(PackDirectory(model, out, &packed.content_digest));
  } else {
    packed.format = "mlmodel";
    ASSIGN_OR_RETURN(packed.content_digest, CopyFile(model, out));
  }
  packed.size = out.size();
  packed.sha256 = out.HexDigest();
  return packed;
}

}  // namespace ringo::registry
