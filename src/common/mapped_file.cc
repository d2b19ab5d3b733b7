// Mapping a file read-only with mmap.
#include "common/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ringo {

namespace fs = std::filesystem;

Result<MappedFile> MappedFile::Open(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("cannot open '" + path.string() + "'");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return NotFound("'" + path.string() + "' is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = nullptr;
  if (size > 0) {
    p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return Internal("cannot map '" + path.string() + "'");
    }
    // Weights are read front to back, once: read ahead and drop pages behind.
    ::madvise(p, size, MADV_SEQUENTIAL);
  }
  return MappedFile(fd, static_cast<const char*>(p), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : fd_(other.fd_), data_(other.data_), size_(other.size_) {
  other.fd_ = -1;
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::Release() const {
  // Cheap on the parts not mapped: the kernel skips empty page tables.
  if (data_) ::madvise(const_cast<char*>(data_), size_, MADV_DONTNEED);
}

}  // namespace ringo
