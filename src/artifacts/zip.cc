// Zip archives of artifact trees, streamed: stored entries, CRC-32 taken while the files are read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "artifacts/artifacts.h"

namespace ringo::artifacts {

namespace fs = std::filesystem;

namespace {

// Sizes fixed by the format (APPNOTE 4.3.7, 4.3.9, 4.3.12, 4.3.16), names excluded.
constexpr uint64_t kLocalHeader = 30;
constexpr uint64_t kDescriptor = 16;
constexpr uint64_t kCentralHeader = 46;
constexpr uint64_t kEnd = 22;
// Bit 3: sizes and CRC follow the data; bit 11: names are UTF-8.
constexpr uint16_t kFileFlags = 0x0808;
constexpr uint16_t kDirFlags = 0x0800;
constexpr uint16_t kVersion = 20;              // 2.0: directories, data descriptors
constexpr uint16_t kMadeByUnix = (3 << 8) | 20;
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01: archives are reproducible

const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t c = n;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}

uint32_t Crc32(uint32_t crc, const char* p, size_t n) {
  const auto& t = CrcTable();
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = t[(crc ^ static_cast<uint8_t>(p[i])) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void Put16(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>(v & 0xFF));
  s.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void Put32(std::string& s, uint32_t v) {
  Put16(s, v & 0xFFFF);
  Put16(s, v >> 16);
}

struct Entry {
  std::string name;  // directories end in '/'
  fs::path file;     // empty for directories
  uint64_t size = 0;
  uint64_t offset = 0;  // of its local header
  uint32_t crc = 0;
};

uint64_t EntryBytes(const Entry& e) {
  uint64_t n = e.name.size();
  return kLocalHeader + n + kCentralHeader + n + (e.file.empty() ? 0 : e.size + kDescriptor);
}

class Stream final : public ZipStream {
 public:
  explicit Stream(std::vector<Entry> entries) : entries_(std::move(entries)) {
    for (Entry& e : entries_) {
      e.offset = size_;
      size_ += kLocalHeader + e.name.size() + (e.file.empty() ? 0 : e.size + kDescriptor);
    }
    central_offset_ = size_;
    for (const Entry& e : entries_) size_ += kCentralHeader + e.name.size();
    size_ += kEnd;
  }
  ~Stream() override {
    if (fd_ >= 0) ::close(fd_);
  }

  uint64_t size() const override { return size_; }

  Result<size_t> Read(std::span<char> out) override {
    size_t n = 0;
    while (n < out.size()) {
      if (pending_pos_ < pending_.size()) {
        size_t k = std::min(out.size() - n, pending_.size() - pending_pos_);
        std::memcpy(out.data() + n, pending_.data() + pending_pos_, k);
        pending_pos_ += k;
        n += k;
      } else if (fd_ >= 0) {
        ASSIGN_OR_RETURN(size_t k, ReadFile(out.subspan(n)));
        n += k;
      } else {
        ASSIGN_OR_RETURN(bool more, Advance());
        if (!more) break;
      }
    }
    return n;
  }

 private:
  Result<size_t> ReadFile(std::span<char> out) {
    Entry& e = entries_[next_ - 1];
    size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), left_));
    ssize_t k = want == 0 ? 0 : ::read(fd_, out.data(), want);
    if (k < 0 && errno == EINTR) return size_t{0};
    if (k < 0) return Internal("cannot read '" + e.name + "': " + std::strerror(errno));
    if (k == 0 && left_ > 0) {
      return FailedPrecondition("artifact '" + e.name + "' shrank while it was being zipped");
    }
    e.crc = Crc32(e.crc, out.data(), size_t(k));
    left_ -= uint64_t(k);
    if (left_ == 0) {
      ::close(fd_);
      fd_ = -1;
      SetPending(Descriptor(e));
    }
    return size_t(k);
  }

  // The next piece: an entry's header (and its file opened), or the central directory. False at
  // the end.
  Result<bool> Advance() {
    if (next_ < entries_.size()) {
      Entry& e = entries_[next_++];
      SetPending(Header(e, false));
      if (e.file.empty()) return true;
      fd_ = ::open(e.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd_ < 0 && (errno == ENOENT || errno == ELOOP)) {
        return FailedPrecondition("artifact '" + e.name + "' went away while it was being zipped");
      }
      if (fd_ < 0) return Internal("cannot open '" + e.name + "': " + std::strerror(errno));
      struct stat st{};
      if (::fstat(fd_, &st) != 0 || uint64_t(st.st_size) != e.size) {
        return FailedPrecondition("artifact '" + e.name + "' changed while it was being zipped");
      }
      left_ = e.size;
      if (left_ == 0) {
        ::close(fd_);
        fd_ = -1;
        pending_ += Descriptor(e);
      }
      return true;
    }
    if (done_) return false;
    done_ = true;
    std::string central;
    for (const Entry& e : entries_) central += Header(e, true);
    Put32(central, 0x06054b50);
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, uint32_t(entries_.size()));
    Put16(central, uint32_t(entries_.size()));
    Put32(central, uint32_t(size_ - kEnd - central_offset_));
    Put32(central, uint32_t(central_offset_));
    Put16(central, 0);
    SetPending(std::move(central));
    return true;
  }

  void SetPending(std::string s) {
    pending_ = std::move(s);
    pending_pos_ = 0;
  }

  // A local header, or with `central` the entry's record in the central directory. A local header
  // of a file leaves CRC and sizes zero: they follow its data.
  static std::string Header(const Entry& e, bool central) {
    bool dir = e.file.empty();
    std::string h;
    Put32(h, central ? 0x02014b50 : 0x04034b50);
    if (central) Put16(h, kMadeByUnix);
    Put16(h, kVersion);
    Put16(h, dir ? kDirFlags : kFileFlags);
    Put16(h, 0);  // stored
    Put16(h, 0);  // time 00:00
    Put16(h, kDosDate);
    bool known = central || dir;
    Put32(h, known ? e.crc : 0);
    Put32(h, known ? uint32_t(e.size) : 0);
    Put32(h, known ? uint32_t(e.size) : 0);
    Put16(h, uint32_t(e.name.size()));
    Put16(h, 0);  // extra
    if (central) {
      Put16(h, 0);  // comment
      Put16(h, 0);  // disk
      Put16(h, 0);  // internal attributes
      Put32(h, (dir ? 040755u : 0100644u) << 16);
      Put32(h, uint32_t(e.offset));
    }
    h += e.name;
    return h;
  }

  static std::string Descriptor(const Entry& e) {
    std::string d;
    Put32(d, 0x08074b50);
    Put32(d, e.crc);
    Put32(d, uint32_t(e.size));
    Put32(d, uint32_t(e.size));
    return d;
  }

  std::vector<Entry> entries_;
  uint64_t size_ = 0;
  uint64_t central_offset_ = 0;
  size_t next_ = 0;
  int fd_ = -1;
  uint64_t left_ = 0;
  std::string pending_;
  size_t pending_pos_ = 0;
  bool done_ = false;
};

// Running totals against the limits; a refusal names the tree and the limit.
struct Budget {
  const ZipLimits& limits;
  std::string what;
  uint64_t bytes = kEnd;
  int64_t entries = 0;

  Status Add(const Entry& e) {
    bytes += EntryBytes(e);
    entries++;
    if (entries > limits.max_entries) {
      return FailedPrecondition("'" + what + "' has more than " +
                                std::to_string(limits.max_entries) +
                                " files and folders, more than a zip download holds");
    }
    if (bytes > uint64_t(limits.max_bytes)) {
      return FailedPrecondition("'" + what + "' makes a zip over " +
                                std::to_string(limits.max_bytes) +
                                " bytes, more than a zip download holds; download its files");
    }
    return Status::Ok();
  }
};

// Sizes the tree through the repository's listings, so an object store's tree over the limits is
// refused before any of it is fetched.
Status SizeTree(const Repository& repo, const std::string& dir, size_t strip, Budget& budget) {
  ASSIGN_OR_RETURN(std::vector<FileInfo> files, repo.List(dir));
  for (const FileInfo& f : files) {
    Entry e;
    e.name = f.path.substr(strip) + (f.is_dir ? "/" : "");
    if (!f.is_dir) e.file = "-";
    e.size = uint64_t(std::max<int64_t>(0, f.file_size));
    RETURN_IF_ERROR(budget.Add(e));
    if (f.is_dir) RETURN_IF_ERROR(SizeTree(repo, f.path, strip, budget));
  }
  return Status::Ok();
}

// Every entry under local directory `dir`, depth first in name order.
Status WalkLocal(const fs::path& dir, const std::string& name, Budget& budget,
                 std::vector<Entry>& out) {
  std::error_code ec;
  std::vector<fs::path> children;
  for (const auto& c : fs::directory_iterator(dir, ec)) children.push_back(c.path());
  if (ec) return Internal("cannot list '" + name + "': " + ec.message());
  std::sort(children.begin(), children.end());
  for (const fs::path& c : children) {
    std::string child = name + "/" + c.filename().string();
    fs::file_status st = fs::symlink_status(c, ec);
    if (ec) return Internal("cannot read '" + child + "': " + ec.message());
    Entry e;
    if (fs::is_directory(st)) {
      e.name = child + "/";
      RETURN_IF_ERROR(budget.Add(e));
      out.push_back(e);
      RETURN_IF_ERROR(WalkLocal(c, child, budget, out));
      continue;
    }
    if (!fs::is_regular_file(st)) {
      return InvalidArgument("artifact '" + child + "' is not a regular file or directory");
    }
    e.name = child;
    e.file = c;
    e.size = fs::file_size(c, ec);
    if (ec) return Internal("cannot read '" + child + "': " + ec.message());
    RETURN_IF_ERROR(budget.Add(e));
    out.push_back(std::move(e));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ZipStream>> ZipTree(const Repository& repo, std::string_view relative,
                                           const ZipLimits& limits) {
  std::string rel(relative);
  if (rel.empty()) return InvalidArgument("a zip needs a file or directory, not the root");
  ZipLimits bounded{std::min<int64_t>(limits.max_bytes, 0xFFFFFFFF),
                    std::min<int64_t>(limits.max_entries, 0xFFFF)};
  size_t slash = rel.rfind('/');
  std::string top = slash == std::string::npos ? rel : rel.substr(slash + 1);
  Budget listed{bounded, top};
  bool is_file = false;
  ASSIGN_OR_RETURN(std::vector<FileInfo> files, repo.List(rel, &is_file));
  if (!is_file && !files.empty()) {
    RETURN_IF_ERROR(SizeTree(repo, rel, rel.size() - top.size(), listed));
  }
  ASSIGN_OR_RETURN(fs::path local, repo.Resolve(rel));
  std::error_code ec;
  fs::file_status st = fs::symlink_status(local, ec);
  if (ec || !fs::exists(st)) return NotFound("artifact '" + top + "' not found");
  Budget budget{bounded, top};
  std::vector<Entry> entries;
  Entry e;
  if (fs::is_directory(st)) {
    e.name = top + "/";
    RETURN_IF_ERROR(budget.Add(e));
    entries.push_back(e);
    RETURN_IF_ERROR(WalkLocal(local, top, budget, entries));
  } else if (fs::is_regular_file(st)) {
    e.name = top;
    e.file = local;
    e.size = fs::file_size(local, ec);
    if (ec) return Internal("cannot read '" + top + "': " + ec.message());
    RETURN_IF_ERROR(budget.Add(e));
    entries.push_back(std::move(e));
  } else {
    return InvalidArgument("artifact '" + top + "' is not a regular file or directory");
  }
  return std::unique_ptr<ZipStream>(std::make_unique<Stream>(std::move(entries)));
}

}  // namespace ringo::artifacts
