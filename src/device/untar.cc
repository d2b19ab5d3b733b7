// Safe ustar extraction: the blob is verified by sha256 first, but the archive format itself is
// where path traversal hides, so every entry is checked as if the server were hostile.
#include "device/untar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

namespace ringo::device {

namespace {

bool ParseOctal(const char* field, size_t width, uint64_t* out) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < width && (field[i] == ' ' || field[i] == '\0')) ++i;
  bool any = false;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (v > (UINT64_MAX >> 3)) return false;
    v = v * 8 + static_cast<uint64_t>(field[i] - '0');
    any = true;
  }
  for (; i < width; ++i) {
    if (field[i] != ' ' && field[i] != '\0') return false;
  }
  *out = v;
  return any;
}

std::string Field(const char* p, size_t width) { return std::string(p, strnlen(p, width)); }

// Splits a relative path into components, refusing anything that could leave `dest`.
bool SafeComponents(const std::string& path, std::vector<std::string>* parts) {
  if (path.empty() || path[0] == '/' || path.find('\\') != std::string::npos) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string c = path.substr(start, end - start);
    if (c.empty()) {
      // Only a trailing '/' (directory entries) may leave an empty component.
      if (end != path.size()) return false;
    } else {
      if (c == "." || c == "..") return false;
      parts->push_back(c);
    }
    start = end + 1;
  }
  return !parts->empty();
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

std::string ExtractTar(const std::string& archive, const std::string& dest, std::string* top) {
  FILE* f = std::fopen(archive.c_str(), "rb");
  if (!f) return "cannot open archive: " + std::string(std::strerror(errno));
  struct Closer {
    FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  std::set<std::string> dirs;  // directories created so far, relative to dest
  std::set<std::string> files;
  top->clear();
  std::vector<char> buf(1 << 16);
  int zero_blocks = 0;
  for (;;) {
    char h[512];
    if (std::fread(h, 1, 512, f) != 512) return "archive truncated (no end marker)";
    bool zero = true;
    for (char c : h) zero = zero && c == '\0';
    if (zero) {
      if (++zero_blocks == 2) break;
      continue;
    }
    if (zero_blocks) return "data after an end-of-archive block";
    uint64_t want = 0;
    if (!ParseOctal(h + 148, 8, &want)) return "bad header checksum field";
    uint64_t sum = 0;
    for (int i = 0; i < 512; ++i) {
      sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    }
    if (sum != want) return "header checksum mismatch";
    std::string name = Field(h, 100);
    if (std::memcmp(h + 257, "ustar", 5) == 0) {
      std::string prefix = Field(h + 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    char type = h[156];
    uint64_t size = 0;
    if (!ParseOctal(h + 124, 12, &size)) return "bad size field for '" + name + "'";
    std::vector<std::string> parts;
    if (!SafeComponents(name, &parts)) return "unsafe path in archive: '" + name + "'";
    if (top->empty()) *top = parts[0];
    if (parts[0] != *top) return "archive has more than one top-level entry: '" + name + "'";
    // Parents must be entries seen before (the server archives directories first), so no path
    // component can be something other than a directory this function made.
    std::string parent;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      parent += (i ? "/" : "") + parts[i];
      if (!dirs.count(parent)) return "entry '" + name + "' comes before its directory";
    }
    std::string rel;
    for (size_t i = 0; i < parts.size(); ++i) rel += (i ? "/" : "") + parts[i];
    std::string full = dest + "/" + rel;
    if (dirs.count(rel) || files.count(rel)) return "duplicate entry '" + name + "'";
    if (type == '5') {
      if (size != 0) return "directory entry with data: '" + name + "'";
      if (::mkdir(full.c_str(), 0755) != 0) {
        return "cannot create '" + rel + "': " + std::strerror(errno);
      }
      dirs.insert(rel);
      continue;
    }
    if (type != '0' && type != '\0') {
      return "unsupported entry type '" + std::string(1, type ? type : '0') + "' for '" + name +
             "' (only files and directories)";
    }
    if (parts.size() < 2) return "top-level entry must be a directory: '" + name + "'";
    int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return "cannot create '" + rel + "': " + std::strerror(errno);
    files.insert(rel);
    uint64_t left = size;
    bool ok = true;
    while (left > 0 && ok) {
      size_t n = left < buf.size() ? static_cast<size_t>(left) : buf.size();
      if (std::fread(buf.data(), 1, n, f) != n) {
        ::close(fd);
        return "archive truncated in '" + name + "'";
      }
      ok = WriteAll(fd, buf.data(), n);
      left -= n;
    }
    ok = ok && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return "cannot write '" + rel + "': " + std::strerror(errno);
    size_t pad = static_cast<size_t>((512 - size % 512) % 512);
    if (pad && std::fread(buf.data(), 1, pad, f) != pad) return "archive truncated";
  }
  if (top->empty()) return "empty archive";
  return "";
}

}  // namespace ringo::device
