// The S3-compatible artifact repository (private to artifacts/; made by OpenRepository).
#ifndef RINGO_ARTIFACTS_S3_REPOSITORY_H_
#define RINGO_ARTIFACTS_S3_REPOSITORY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "artifacts/artifacts.h"
#include "artifacts/s3_cache.h"
#include "artifacts/s3_transport.h"

namespace ringo::artifacts {

// Objects at <prefix>/<relative path> of one bucket. Files go up in one PUT, or in parts above
// part_size; Resolve keeps fetched copies under cache_dir named by key and ETag, so a changed
// object (another replica wrote it) is fetched again and an unchanged one never is. There are no
// directories in S3: a "directory" is the common prefix of its keys.
class S3Repository : public Repository {
 public:
  S3Repository(S3Options options, std::unique_ptr<Transport> transport);

  Status Init() override;
  std::string Describe() const override;
  bool IsShared() const override { return true; }
  Result<std::filesystem::path> Resolve(std::string_view relative) const override;
  Result<std::vector<FileInfo>> List(std::string_view relative,
                                     bool* is_file = nullptr) const override;
  Status PutFile(std::string_view relative, const std::filesystem::path& source) override;
  Status Put(std::string_view relative, std::string_view data) override;
  Status Delete(std::string_view relative) override;
  Result<std::string> PresignGet(std::string_view relative, int64_t seconds,
                                 const std::string& endpoint_url) const override;

 private:
  struct Object {
    std::string key;
    int64_t size = 0;
    std::string etag;
  };
  struct Listing {
    std::vector<Object> objects;
    std::vector<std::string> prefixes;  // common prefixes, with their trailing '/'
  };

  std::string Key(std::string_view clean) const;
  // A signed request for `key` ("" = the bucket itself).
  Result<Reply> Call(const std::string& method, const std::string& key, const Pairs& query,
                     std::string_view body = {}, Pairs headers = {},
                     const std::filesystem::path& response_file = {}) const;
  // HEAD of a key: its ETag, or nullopt when there is no such object.
  Result<std::optional<Object>> Head(const std::string& key) const;
  // Every page of a ListObjectsV2 below `prefix`, grouped at '/' when `delimited`.
  Result<Listing> ListKeys(const std::string& prefix, bool delimited) const;
  Status PutParts(const std::string& key, std::string_view source, std::string* etag);
  // Every part of a multipart upload, several at once; their ETags in part order.
  Result<std::vector<std::string>> UploadParts(const std::string& key,
                                               const std::string& upload_id,
                                               std::string_view source) const;
  // The cached copy of an object, fetched when absent.
  Result<std::filesystem::path> Cached(const Object& object) const;
  std::filesystem::path CachePath(const Object& object) const;
  // Keeps `source` as the cached copy of `object` (moved; removed when that fails).
  void KeepInCache(const Object& object, const std::filesystem::path& source) const;

  S3Options options_;
  std::unique_ptr<Transport> transport_;
  CacheBound cache_bound_;
};

// What S3's XML answers carry (private helpers, tested alone): the inner text of each
// <tag>...</tag> in `xml`, in order, and entity-decoded text.
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);
std::string XmlText(std::string_view xml, std::string_view tag);

}  // namespace ringo::artifacts

#endif  // RINGO_ARTIFACTS_S3_REPOSITORY_H_
