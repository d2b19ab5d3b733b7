// The bound on an S3 repository's local cache (private to artifacts/): its entries
// (objects/<xx>/<hash>/ and trees/<hash>/) are removed least recently used first once the cache
// outgrows its size, never one used within the grace period (a reader may be about to open it;
// one that has it open keeps reading after the removal).
#ifndef RINGO_ARTIFACTS_S3_CACHE_H_
#define RINGO_ARTIFACTS_S3_CACHE_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>

namespace ringo::artifacts {

class CacheBound {
 public:
  // `max_bytes` <= 0: no bound.
  CacheBound(std::filesystem::path dir, int64_t max_bytes, int64_t grace_seconds)
      : dir_(std::move(dir)), max_bytes_(max_bytes), grace_seconds_(grace_seconds) {}

  // Marks the entry holding `path` (a file or tree the cache handed out) as used now.
  void Touch(const std::filesystem::path& path) const;

  // Counts the cache after `added` bytes came in; past the bound, trims it to 90% of it. One
  // trim at a time; returns the bytes the cache holds afterwards (or the running estimate).
  int64_t Added(int64_t added) const;

  // Scans and trims now; the bytes the cache holds afterwards.
  int64_t Trim() const;

 private:
  std::filesystem::path EntryOf(const std::filesystem::path& path) const;

  const std::filesystem::path dir_;
  const int64_t max_bytes_;
  const int64_t grace_seconds_;
  mutable std::mutex trim_mu_;
  mutable std::atomic<int64_t> estimate_{-1};  // -1: not scanned yet
};

}  // namespace ringo::artifacts

#endif  // RINGO_ARTIFACTS_S3_CACHE_H_
