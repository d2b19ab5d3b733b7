// CacheBound: least-recently-used trimming of the S3 cache.
#include "artifacts/s3_cache.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>
#include <vector>

namespace ringo::artifacts {

namespace fs = std::filesystem;

namespace {

struct Entry {
  fs::path path;
  fs::file_time_type used;
  int64_t bytes = 0;
};

// The bytes of the files under `dir` not counted before (hard links share one inode).
int64_t Bytes(const fs::path& dir, std::set<std::pair<dev_t, ino_t>>* seen) {
  int64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (seen->insert({st.st_dev, st.st_ino}).second) total += st.st_size;
  }
  return total;
}

// objects/<xx>/<hash> and trees/<hash> directories.
std::vector<Entry> Entries(const fs::path& root) {
  std::vector<Entry> out;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  // Objects first: trees are hard links to them, and count only what they add.
  for (auto shard = fs::directory_iterator(root / "objects", ec); !ec && shard != fs::end(shard);
       shard.increment(ec)) {
    std::error_code ec2;
    for (auto e = fs::directory_iterator(shard->path(), ec2); !ec2 && e != fs::end(e);
         e.increment(ec2)) {
      out.push_back({e->path(), fs::last_write_time(e->path(), ec2), Bytes(e->path(), &seen)});
    }
  }
  for (auto e = fs::directory_iterator(root / "trees", ec); !ec && e != fs::end(e);
       e.increment(ec)) {
    std::error_code ec2;
    out.push_back({e->path(), fs::last_write_time(e->path(), ec2), Bytes(e->path(), &seen)});
  }
  return out;
}

}  // namespace

fs::path CacheBound::EntryOf(const fs::path& path) const {
  fs::path rel = path.lexically_relative(dir_);
  auto it = rel.begin();
  if (it == rel.end()) return {};
  fs::path entry = dir_ / *it;
  size_t depth = *it == "objects" ? 2 : *it == "trees" ? 1 : 0;
  for (size_t i = 0; i < depth; ++i) {
    if (++it == rel.end()) return {};
    entry /= *it;
  }
  return depth ? entry : fs::path();
}

void CacheBound::Touch(const fs::path& path) const {
  fs::path entry = EntryOf(path);
  std::error_code ec;
  if (!entry.empty()) fs::last_write_time(entry, fs::file_time_type::clock::now(), ec);
}

int64_t CacheBound::Added(int64_t added) const {
  if (max_bytes_ <= 0) return 0;
  int64_t now = estimate_.load();
  if (now >= 0) now = estimate_.fetch_add(added) + added;
  if (now >= 0 && now <= max_bytes_) return now;
  std::unique_lock lock(trim_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return now;  // another thread is trimming
  return Trim();
}

int64_t CacheBound::Trim() const {
  std::vector<Entry> entries = Entries(dir_);
  int64_t total = 0;
  for (const Entry& e : entries) total += e.bytes;
  if (max_bytes_ > 0 && total > max_bytes_) {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.used < b.used; });
    auto fresh = fs::file_time_type::clock::now() - std::chrono::seconds(grace_seconds_);
    const int64_t target = max_bytes_ / 10 * 9;
    for (const Entry& e : entries) {
      if (total <= target || e.used > fresh) break;
      std::error_code ec;
      fs::remove_all(e.path, ec);
      if (!ec) total -= e.bytes;
    }
  }
  estimate_.store(total);
  return total;
}

}  // namespace ringo::artifacts
