// The device client's side of the app's transport: requests, and sinks for headers and bodies.
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include "device/client_impl.h"

namespace ringo::device {

int CollectHeader(void* sink, const char* name, const char* value) {
  auto* c = static_cast<Collected*>(sink);
  std::string n = Str(name);
  for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  c->headers[n] = Str(value);
  return 0;
}

int CollectBody(void* sink, const void* data, size_t len) {
  auto* c = static_cast<Collected*>(sink);
  if (c->body.size() + len > c->body_limit) {
    c->too_big = true;
    return 1;
  }
  c->body.append(static_cast<const char*>(data), len);
  return 0;
}

int BlobHeader(void* sink, const char* name, const char* value) {
  if (strcasecmp(name, "location") == 0) static_cast<BlobSink*>(sink)->location = value;
  return 0;
}

int BlobBody(void* sink, const void* data, size_t len) {
  auto* s = static_cast<BlobSink*>(sink);
  int status = s->resp->status;
  if (status != 200 && status != 206) {
    if (s->error_body.size() < kMaxErrorBody) s->error_body.append(static_cast<const char*>(data), len);
    return 0;
  }
  if (!s->started) {
    s->started = true;
    if (status == 200 && s->offset != 0) {
      if (::ftruncate(s->fd, 0) != 0 || ::lseek(s->fd, 0, SEEK_SET) != 0) {
        s->io_error = true;
        return 1;
      }
      s->offset = 0;
    }
  }
  if (s->offset + static_cast<int64_t>(len) > s->expected) {
    s->overflow = true;
    return 1;
  }
  const char* p = static_cast<const char*>(data);
  size_t left = len;
  while (left > 0) {
    ssize_t w = ::write(s->fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      s->io_error = true;
      return 1;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  s->offset += static_cast<int64_t>(len);
  s->received += static_cast<int64_t>(len);
  return 0;
}

int Client::Fail(const Error& e) {
  std::lock_guard<std::mutex> l(mu);
  last_error = e.message;
  return e.code;
}

std::vector<std::string> Client::Headers(std::vector<std::string> extra, bool authorized) const {
  if (authorized && !token.empty()) extra.push_back("Authorization: Bearer " + token);
  // The server's per-device rate limit counts by it (not sent to a redirect's object store).
  if (authorized && !device_id.empty()) extra.push_back("X-Ringo-Device-Id: " + device_id);
  extra.push_back("User-Agent: ringo-device/0.1");
  return extra;
}

int Client::Get(const std::string& url, const std::vector<std::string>& headers,
                ringo_response* r) const {
  std::vector<const char*> h;
  for (const auto& s : headers) h.push_back(s.c_str());
  h.push_back(nullptr);
  return transport->get(transport_ctx, url.c_str(), h.data(), r);
}

std::string Client::AbsoluteUrl(const std::string& url) const {
  return url[0] == '/' ? base_url + url : url;
}

}  // namespace ringo::device
