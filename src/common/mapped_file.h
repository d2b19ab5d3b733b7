// A file mapped read-only, for reading it without copying it into the process.
#ifndef RINGO_COMMON_MAPPED_FILE_H_
#define RINGO_COMMON_MAPPED_FILE_H_

#include <filesystem>
#include <string_view>

#include "common/status.h"

namespace ringo {

// A whole file mapped read-only and private, advised for sequential reading; the file stays
// open for copying from it in the kernel. Unmapped and closed on destruction. Movable, not
// copyable.
class MappedFile {
 public:
  // kNotFound when the file does not exist or cannot be opened; kInternal when mapping fails.
  static Result<MappedFile> Open(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view bytes() const { return {data_, size_}; }
  int fd() const { return fd_; }
  bool Holds(std::string_view part) const {
    return part.data() >= data_ && part.data() + part.size() <= data_ + size_;
  }
  // The pages read so far leave the process's resident set (the page cache keeps them; reading
  // them again maps them again). Reading a few bytes may map a whole large folio of page cache,
  // megabytes, so readers of the mapping call this after each piece they are done with.
  void Release() const;

 private:
  MappedFile(int fd, const char* data, size_t size) : fd_(fd), data_(data), size_(size) {}
  int fd_ = -1;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ringo

#endif  // RINGO_COMMON_MAPPED_FILE_H_
