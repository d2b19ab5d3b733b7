// File responses: one byte range of a file per RFC 9110, sent later by sendfile.
#include <sys/stat.h>

#include <algorithm>

#include "common/util.h"
#include "http/http.h"

namespace ringo::http {

namespace {

Response RangeNotSatisfiable(uint64_t size) {
  Response e = JsonError(416, "INVALID_PARAMETER_VALUE", "range not satisfiable");
  e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
  return e;
}

}  // namespace

Response FileResponse(const Request& request, const std::string& path,
                      std::string_view content_type) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return JsonError(404, "RESOURCE_DOES_NOT_EXIST", "file not found");
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  Response r;
  r.content_type = content_type;
  r.file_path = path;
  r.file_offset = 0;
  r.file_length = size;
  r.headers.emplace_back("Accept-Ranges", "bytes");
  std::string_view range = request.Header("range");
  // An empty file has no byte to select: RFC 9110 lets a server ignore Range, and the whole
  // (empty) file in a 200 serves every reader better than a 416 for a file that exists.
  if (range.empty() || size == 0) return r;
  // One range only: "bytes=a-b", "bytes=a-", "bytes=-n". Anything else is served whole, as
  // RFC 9110 allows a server to ignore Range.
  if (range.substr(0, 6) != "bytes=" || range.find(',') != std::string_view::npos) return r;
  std::string_view spec = range.substr(6);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return r;
  std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
  uint64_t start = 0, end = 0;
  if (first.empty()) {
    auto n = ParseInt64(last);
    if (!n || *n < 0) return r;
    if (*n == 0) {
      return RangeNotSatisfiable(size);
    }
    uint64_t len = std::min<uint64_t>(uint64_t(*n), size);
    start = size - len;
    end = size - 1;
  } else {
    auto a = ParseInt64(first);
    if (!a || *a < 0) return r;
    start = uint64_t(*a);
    if (last.empty()) {
      end = size ? size - 1 : 0;
    } else {
      auto b = ParseInt64(last);
      if (!b || *b < *a) return r;
      end = std::min<uint64_t>(uint64_t(*b), size ? size - 1 : 0);
    }
    if (start >= size) {
      return RangeNotSatisfiable(size);
    }
  }
  r.status = 206;
  r.file_offset = start;
  r.file_length = end - start + 1;
  r.headers.emplace_back("Content-Range", "bytes " + std::to_string(start) + "-" +
                                              std::to_string(end) + "/" + std::to_string(size));
  return r;
}

}  // namespace ringo::http
