// Artifacts in an S3-compatible bucket: signed requests, paged listings, multipart uploads and
// a local cache of fetched objects keyed by ETag.
#include "artifacts/s3_repository.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "common/hash.h"
#include "common/mapped_file.h"
#include "common/paths.h"
#include "common/util.h"

namespace ringo::artifacts {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

// What the signature says of a request's body. Over TLS, which already guards the bytes on the
// way, a body goes unsigned (as boto3 sends it): its SHA-256 cost ringo and the store a
// pass over every byte of every part. Over plain HTTP the store checks the hash.
std::string PayloadHash(std::string_view body, bool encrypted) {
  if (body.empty()) return std::string(kEmptySha256);
  return encrypted ? std::string(kUnsignedPayload) : Sha256Hex(body);
}

std::string DecodeEntities(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back('&');
      continue;
    }
    std::string_view name = s.substr(i + 1, semi - i - 1);
    if (name == "amp") out.push_back('&');
    else if (name == "lt") out.push_back('<');
    else if (name == "gt") out.push_back('>');
    else if (name == "quot") out.push_back('"');
    else if (name == "apos") out.push_back('\'');
    else if (name.size() > 1 && name[0] == '#') {
      bool hex = name[1] == 'x' || name[1] == 'X';
      unsigned long code = std::strtoul(std::string(name.substr(hex ? 2 : 1)).c_str(), nullptr,
                                        hex ? 16 : 10);
      // Keys are UTF-8: write the code point as UTF-8.
      if (code < 0x80) {
        out.push_back(static_cast<char>(code));
      } else if (code < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (code >> 6)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      } else if (code < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (code >> 12)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (code >> 18)));
        out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

// S3's error answer: <Error><Code>NoSuchBucket</Code><Message>...</Message></Error>.
Status S3Error(const std::string& what, const Reply& r) {
  std::string code = XmlText(r.body, "Code");
  std::string message = XmlText(r.body, "Message");
  std::string detail = "S3 " + what + " answered " + std::to_string(r.status) +
                       (code.empty() ? "" : " " + code) + (message.empty() ? "" : ": " + message);
  if (r.status == 404) return NotFound(detail);
  if (r.status == 403 || r.status == 401) return PermissionDenied(detail);
  if (r.status >= 500 || r.status == 429) return Unavailable(detail);
  return Internal(detail);
}

}  // namespace

std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string_view::npos) {
    size_t start = at + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(start, end - start));
    at = end + close.size();
  }
  return out;
}

std::string XmlText(std::string_view xml, std::string_view tag) {
  auto elements = XmlElements(xml, tag);
  return elements.empty() ? "" : DecodeEntities(elements.front());
}

S3Repository::S3Repository(S3Options options, std::unique_ptr<Transport> transport)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      cache_bound_(options_.cache_dir, options_.cache_max_bytes, options_.cache_grace_seconds) {}

std::string S3Repository::Describe() const {
  return "s3://" + options_.bucket + (options_.prefix.empty() ? "" : "/" + options_.prefix);
}

std::string S3Repository::Key(std::string_view clean) const {
  if (options_.prefix.empty()) return std::string(clean);
  return clean.empty() ? options_.prefix : options_.prefix + "/" + std::string(clean);
}

Result<Reply> S3Repository::Call(const std::string& method, const std::string& key,
                                 const Pairs& query, std::string_view body, Pairs headers,
                                 const fs::path& response_file) const {
  SignRequest sign;
  sign.method = method;
  sign.path = "/" + PercentEncode(options_.bucket, false) + (key.empty() ? "" : "/" + PercentEncode(key, true));
  sign.query = query;
  sign.payload_sha256 = PayloadHash(body, transport_->encrypted());
  sign.amz_date = AmzDateNow();
  sign.region = options_.region;
  sign.access_key_id = options_.access_key_id;
  sign.secret_access_key = options_.secret_access_key;
  headers.emplace_back("host", transport_->host_header());
  headers.emplace_back("x-amz-date", sign.amz_date);
  headers.emplace_back("x-amz-content-sha256", sign.payload_sha256);
  if (!options_.session_token.empty()) {
    headers.emplace_back("x-amz-security-token", options_.session_token);
  }
  sign.headers = headers;
  Exchange ex;
  ex.method = method;
  std::string q = CanonicalQuery(query);
  ex.target = sign.path + (q.empty() ? "" : "?" + q);
  for (auto& h : headers) {
    if (h.first != "host") ex.headers.push_back(h);
  }
  ex.headers.emplace_back("authorization", Authorization(sign));
  ex.body = body;
  ex.response_file = response_file;
  return transport_->Send(ex);
}

Result<std::string> S3Repository::PresignGet(std::string_view relative, int64_t seconds,
                                            const std::string& endpoint_url) const {
  if (seconds < 1 || seconds > 7 * 24 * 3600) {
    return InvalidArgument("a presigned URL lives 1 s to 7 days, not " + std::to_string(seconds));
  }
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  Endpoint endpoint;
  ASSIGN_OR_RETURN(endpoint,
                   ParseEndpoint(endpoint_url.empty() ? options_.endpoint_url : endpoint_url));
  SignRequest sign;
  sign.method = "GET";
  sign.path = "/" + PercentEncode(options_.bucket, false) + "/" + PercentEncode(Key(clean), true);
  sign.headers = {{"host", HostHeader(endpoint)}};
  sign.amz_date = AmzDateNow();
  sign.region = options_.region;
  sign.access_key_id = options_.access_key_id;
  sign.secret_access_key = options_.secret_access_key;
  return std::string(endpoint.tls ? "https://" : "http://") + HostHeader(endpoint) + sign.path +
         "?" + PresignedQuery(sign, seconds, options_.session_token);
}

Status S3Repository::Init() {
  ASSIGN_OR_RETURN(Reply r, Call("HEAD", "", {}));
  if (r.status == 404) {
    return Unavailable("S3 bucket '" + options_.bucket + "' does not exist at the endpoint");
  }
  if (r.status / 100 != 2) return S3Error("bucket '" + options_.bucket + "'", r);
  std::error_code ec;
  fs::create_directories(options_.cache_dir / "tmp", ec);
  if (ec) return Internal("cannot create '" + options_.cache_dir.string() + "': " + ec.message());
  return Status::Ok();
}

Result<std::optional<S3Repository::Object>> S3Repository::Head(const std::string& key) const {
  ASSIGN_OR_RETURN(Reply r, Call("HEAD", key, {}));
  if (r.status == 404) return std::optional<Object>();
  if (r.status / 100 != 2) return S3Error("HEAD of '" + key + "'", r);
  Object o;
  o.key = key;
  o.etag = r.Header("etag");
  o.size = ParseInt64(r.Header("content-length")).value_or(0);
  return std::optional<Object>(o);
}

Result<S3Repository::Listing> S3Repository::ListKeys(const std::string& prefix,
                                                     bool delimited) const {
  Listing out;
  std::string token;
  do {
    Pairs query = {{"list-type", "2"}, {"prefix", prefix}};
    if (delimited) query.emplace_back("delimiter", "/");
    if (!token.empty()) query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(Reply r, Call("GET", "", query));
    if (r.status / 100 != 2) return S3Error("listing of '" + prefix + "'", r);
    for (std::string_view c : XmlElements(r.body, "Contents")) {
      Object o;
      o.key = XmlText(c, "Key");
      o.size = ParseInt64(XmlText(c, "Size")).value_or(0);
      o.etag = XmlText(c, "ETag");
      out.objects.push_back(std::move(o));
    }
    for (std::string_view p : XmlElements(r.body, "CommonPrefixes")) {
      out.prefixes.push_back(XmlText(p, "Prefix"));
    }
    token = XmlText(r.body, "IsTruncated") == "true" ? XmlText(r.body, "NextContinuationToken")
                                                      : "";
  } while (!token.empty());
  return out;
}

Result<std::vector<FileInfo>> S3Repository::List(std::string_view relative, bool* is_file) const {
  if (is_file) *is_file = false;
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  std::string key = Key(clean);
  std::string prefix = key.empty() ? "" : key + "/";
  ASSIGN_OR_RETURN(Listing listing, ListKeys(prefix, true));
  std::vector<FileInfo> out;
  auto child = [&clean](std::string_view name) {
    return clean.empty() ? std::string(name) : clean + "/" + std::string(name);
  };
  for (const auto& p : listing.prefixes) {
    std::string name = p.substr(prefix.size());
    while (!name.empty() && name.back() == '/') name.pop_back();
    if (!name.empty() && CleanRelativePath(child(name)).ok()) out.push_back({child(name), true, 0});
  }
  for (const auto& o : listing.objects) {
    std::string name = o.key.substr(prefix.size());
    // Keys that are no clean relative path (written by other tools) are not shown.
    if (!name.empty() && CleanRelativePath(child(name)).ok()) {
      out.push_back({child(name), false, o.size});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  if (out.empty() && !clean.empty()) {
    ASSIGN_OR_RETURN(auto head, Head(key));
    if (head && is_file) *is_file = true;
  }
  return out;
}

Status S3Repository::Put(std::string_view relative, std::string_view data) {
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  if (clean.empty()) return InvalidArgument("an artifact path must name a file");
  ASSIGN_OR_RETURN(Reply r, Call("PUT", Key(clean), {}, data));
  if (r.status / 100 != 2) return S3Error("upload of '" + clean + "'", r);
  return Status::Ok();
}

Status S3Repository::PutFile(std::string_view relative, const fs::path& source) {
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  std::error_code ec;
  if (clean.empty()) {
    fs::remove(source, ec);
    return InvalidArgument("an artifact path must name a file");
  }
  int64_t size = static_cast<int64_t>(fs::file_size(source, ec));
  if (ec) return Internal("cannot read upload '" + source.string() + "': " + ec.message());
  Object o;
  o.key = Key(clean);
  o.size = size;
  Status s;
  // Bodies are sent from the mapped file: no copy of the upload in the process's memory.
  auto mapped = MappedFile::Open(source);
  if (!mapped.ok()) {
    s = Internal("cannot read upload '" + source.string() + "': " + mapped.status().message());
  } else if (size <= options_.part_size) {
    auto r = Call("PUT", o.key, {}, mapped->bytes());
    s = !r.ok() ? r.status()
                : r->status / 100 == 2 ? Status::Ok() : S3Error("upload of '" + clean + "'", *r);
    if (r.ok()) o.etag = r->Header("etag");
  } else {
    s = PutParts(o.key, mapped->bytes(), &o.etag);
  }
  if (s.ok() && !o.etag.empty()) {
    KeepInCache(o, source);
  } else {
    fs::remove(source, ec);
  }
  return s;
}

// Up to kPartsInFlight parts go up at once, each on a connection of its own: a part's request
// waits on the store's disk and checksums, which the others overlap.
constexpr int kPartsInFlight = 4;

Result<std::vector<std::string>> S3Repository::UploadParts(const std::string& key,
                                                           const std::string& upload_id,
                                                           std::string_view source) const {
  const auto size = static_cast<int64_t>(source.size());
  const int64_t parts = (size + options_.part_size - 1) / options_.part_size;
  std::vector<std::string> etags(static_cast<size_t>(parts));
  std::mutex mu;
  int64_t next = 0;
  Status failed;
  auto work = [&] {
    for (;;) {
      int64_t i;
      {
        std::lock_guard lock(mu);
        if (next == parts || !failed.ok()) return;
        i = next++;
      }
      int64_t offset = i * options_.part_size;
      auto part = source.substr(static_cast<size_t>(offset),
                                static_cast<size_t>(std::min(options_.part_size, size - offset)));
      auto r = Call("PUT", key, {{"partNumber", std::to_string(i + 1)}, {"uploadId", upload_id}},
                    part);
      Status s = !r.ok() ? r.status()
                 : r->status / 100 != 2 ? S3Error("part " + std::to_string(i + 1), *r)
                                        : Status::Ok();
      if (s.ok()) etags[static_cast<size_t>(i)] = r->Header("etag");
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (failed.ok()) failed = s;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < std::min<int64_t>(kPartsInFlight, parts); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (!failed.ok()) return failed;
  return etags;
}

Status S3Repository::PutParts(const std::string& key, std::string_view source,
                              std::string* etag) {
  ASSIGN_OR_RETURN(Reply created, Call("POST", key, {{"uploads", ""}}));
  if (created.status / 100 != 2) return S3Error("multipart upload of '" + key + "'", created);
  std::string upload_id = XmlText(created.body, "UploadId");
  if (upload_id.empty()) return Internal("S3 multipart upload of '" + key + "' gave no UploadId");
  auto abort = [&](Status why) {
    (void)Call("DELETE", key, {{"uploadId", upload_id}});
    return why;
  };
  auto etags = UploadParts(key, upload_id, source);
  if (!etags.ok()) return abort(etags.status());
  std::string complete = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags->size(); ++i) {
    complete += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
                (*etags)[i] + "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  auto r = Call("POST", key, {{"uploadId", upload_id}}, complete,
                {{"content-type", "application/xml"}});
  if (!r.ok()) return abort(r.status());
  // S3 may answer 200 with an <Error> body when completing fails late.
  if (r->status / 100 != 2 || !XmlText(r->body, "Code").empty()) {
    return abort(S3Error("completing the upload of '" + key + "'", *r));
  }
  *etag = XmlText(r->body, "ETag");
  return Status::Ok();
}

Status S3Repository::Delete(std::string_view relative) {
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  if (clean.empty()) return InvalidArgument("refusing to delete the artifact root");
  std::string key = Key(clean);
  ASSIGN_OR_RETURN(auto head, Head(key));
  ASSIGN_OR_RETURN(Listing below, ListKeys(key + "/", false));
  if (!head && below.objects.empty()) return NotFound("artifact '" + clean + "' not found");
  if (head) below.objects.push_back(*head);
  for (const auto& o : below.objects) {
    ASSIGN_OR_RETURN(Reply r, Call("DELETE", o.key, {}));
    if (r.status / 100 != 2 && r.status != 404) return S3Error("delete of '" + o.key + "'", r);
  }
  return Status::Ok();
}

fs::path S3Repository::CachePath(const Object& o) const {
  // The file keeps its name: readers go by its extension (.mlmodel, .json, ...).
  std::string name = Sha256Hex(o.key + '\n' + o.etag);
  size_t slash = o.key.rfind('/');
  std::string base = slash == std::string::npos ? o.key : o.key.substr(slash + 1);
  return options_.cache_dir / "objects" / name.substr(0, 2) / name / base;
}

void S3Repository::KeepInCache(const Object& o, const fs::path& source) const {
  fs::path dest = CachePath(o);
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  if (ec || std::rename(source.c_str(), dest.c_str()) != 0) {
    fs::remove(source, ec);
    return;
  }
  cache_bound_.Added(o.size);
}

Result<fs::path> S3Repository::Cached(const Object& o) const {
  fs::path dest = CachePath(o);
  std::error_code ec;
  if (fs::exists(dest, ec)) {
    cache_bound_.Touch(dest);
    return dest;
  }
  fs::path tmp = options_.cache_dir / "tmp" / NewId();
  fs::create_directories(tmp.parent_path(), ec);
  auto r = Call("GET", o.key, {}, {}, {}, tmp);
  if (!r.ok() || r->status / 100 != 2) {
    fs::remove(tmp, ec);
    if (!r.ok()) return r.status();
    return S3Error("download of '" + o.key + "'", *r);
  }
  fs::create_directories(dest.parent_path(), ec);
  if (std::rename(tmp.c_str(), dest.c_str()) != 0) {
    fs::remove(tmp, ec);
    return Internal("cannot keep a copy of '" + o.key + "' in '" + dest.string() + "'");
  }
  cache_bound_.Added(static_cast<int64_t>(fs::file_size(dest, ec)));
  return dest;
}

Result<fs::path> S3Repository::Resolve(std::string_view relative) const {
  ASSIGN_OR_RETURN(std::string clean, CleanRelativePath(relative));
  std::string key = Key(clean);
  if (!clean.empty()) {
    ASSIGN_OR_RETURN(auto head, Head(key));
    if (head) return Cached(*head);
  }
  // A "directory": its objects, linked into a tree named by every key and ETag in it.
  std::string prefix = key.empty() ? "" : key + "/";
  ASSIGN_OR_RETURN(Listing listing, ListKeys(prefix, false));
  std::string identity = prefix;
  for (const auto& o : listing.objects) identity += "\n" + o.key + "\n" + o.etag;
  // Named like the directory it copies: readers go by its extension (.mlpackage).
  size_t slash = key.rfind('/');
  std::string base = slash == std::string::npos ? key : key.substr(slash + 1);
  fs::path tree = options_.cache_dir / "trees" / Sha256Hex(identity) / (base.empty() ? "root" : base);
  std::error_code ec;
  if (listing.objects.empty()) return tree;
  if (fs::exists(tree, ec)) {
    cache_bound_.Touch(tree);
    return tree;
  }
  fs::path tmp = options_.cache_dir / "tmp" / NewId();
  for (const auto& o : listing.objects) {
    auto rel = CleanRelativePath(o.key.substr(prefix.size()));
    if (!rel.ok() || rel->empty()) continue;
    ASSIGN_OR_RETURN(fs::path copy, Cached(o));
    fs::path dest = tmp / *rel;
    fs::create_directories(dest.parent_path(), ec);
    fs::create_hard_link(copy, dest, ec);
    if (ec) fs::copy_file(copy, dest, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      fs::remove_all(tmp, ec);
      return Internal("cannot assemble '" + clean + "' in the S3 cache");
    }
  }
  fs::create_directories(tree.parent_path(), ec);
  if (std::rename(tmp.c_str(), tree.c_str()) != 0) fs::remove_all(tmp, ec);  // built by another
  return tree;
}

}  // namespace ringo::artifacts
