// The default transport: HTTP/1.1 over POSIX sockets for http:// URLs (Linux, tests, tools). Apps
// on Apple platforms pass a URLSession-backed table instead, which also brings TLS.
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "device/ringo_device.h"

namespace {

constexpr int kTimeoutSeconds = 30;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

struct Url {
  std::string host, port, target;
};

bool ParseUrl(const std::string& url, Url* out) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return false;
  size_t start = scheme.size();
  size_t slash = url.find('/', start);
  std::string authority = url.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
  out->target = slash == std::string::npos ? "/" : url.substr(slash);
  if (authority.empty()) return false;
  if (authority[0] == '[') {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    out->host = authority.substr(1, close - 1);
    out->port = close + 1 < authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : "80";
  } else {
    size_t colon = authority.rfind(':');
    out->host = authority.substr(0, colon);
    out->port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  }
  return !out->host.empty() && !out->port.empty();
}

int Connect(const Url& u) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{kTimeoutSeconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// A buffered reader over the socket.
struct Reader {
  int fd;
  std::string buf;
  size_t pos = 0;
  bool eof = false;

  bool Fill() {
    if (pos > 0 && pos == buf.size()) {
      buf.clear();
      pos = 0;
    }
    char tmp[64 * 1024];
    for (;;) {
      ssize_t r = recv(fd, tmp, sizeof tmp, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return false;
      if (r == 0) {
        eof = true;
        return false;
      }
      buf.append(tmp, static_cast<size_t>(r));
      return true;
    }
  }

  bool Line(std::string* line) {
    for (;;) {
      size_t nl = buf.find("\r\n", pos);
      if (nl != std::string::npos) {
        *line = buf.substr(pos, nl - pos);
        pos = nl + 2;
        return true;
      }
      if (buf.size() - pos > kMaxHeaderBytes || !Fill()) return false;
    }
  }

  // Delivers exactly n bytes (or everything until EOF when n < 0) to the sink.
  bool Body(long long n, ringo_response* out) {
    for (;;) {
      size_t avail = buf.size() - pos;
      if (n >= 0 && static_cast<long long>(avail) > n) avail = static_cast<size_t>(n);
      if (avail > 0) {
        if (out->on_body(out->sink, buf.data() + pos, avail) != 0) return false;
        pos += avail;
        if (n >= 0) n -= static_cast<long long>(avail);
      }
      if (n == 0) return true;
      if (!Fill()) return n < 0 && eof;
    }
  }
};

int Exchange(const char* method, const char* url, const char* const* headers, const void* body,
             size_t body_len, ringo_response* out) {
  Url u;
  if (!url || !out || !ParseUrl(url, &u)) return 1;
  std::string req = std::string(method) + " " + u.target + " HTTP/1.1\r\nHost: " + u.host +
                    (u.port == "80" ? "" : ":" + u.port) + "\r\nConnection: close\r\n";
  for (const char* const* h = headers; h && *h; ++h) req += std::string(*h) + "\r\n";
  if (body) req += "Content-Length: " + std::to_string(body_len) + "\r\n";
  req += "\r\n";
  int fd = Connect(u);
  if (fd < 0) return 1;
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (!SendAll(fd, req.data(), req.size())) return 1;
  if (body && !SendAll(fd, static_cast<const char*>(body), body_len)) return 1;

  Reader r{fd, {}};
  std::string line;
  if (!r.Line(&line) || line.compare(0, 5, "HTTP/") != 0) return 1;
  size_t sp = line.find(' ');
  if (sp == std::string::npos) return 1;
  out->status = std::atoi(line.c_str() + sp + 1);
  long long length = -1;
  bool chunked = false;
  for (;;) {
    if (!r.Line(&line)) return 1;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    size_t v = line.find_first_not_of(" \t", colon + 1);
    std::string value = v == std::string::npos ? "" : line.substr(v);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    if (strcasecmp(name.c_str(), "Content-Length") == 0) length = std::atoll(value.c_str());
    if (strcasecmp(name.c_str(), "Transfer-Encoding") == 0 &&
        strcasestr(value.c_str(), "chunked") != nullptr) {
      chunked = true;
    }
    if (out->on_header && out->on_header(out->sink, name.c_str(), value.c_str()) != 0) return 1;
  }
  if (out->status == 204 || out->status == 304 || std::strcmp(method, "HEAD") == 0) return 0;
  if (!chunked) return r.Body(length, out) ? 0 : 1;
  for (;;) {
    if (!r.Line(&line)) return 1;
    char* end = nullptr;
    long long n = std::strtoll(line.c_str(), &end, 16);
    if (end == line.c_str() || n < 0) return 1;
    if (n == 0) return 0;  // trailers are ignored; the connection closes anyway
    if (!r.Body(n, out) || !r.Line(&line) || !line.empty()) return 1;
  }
}

int Get(void*, const char* url, const char* const* headers, ringo_response* out) {
  return Exchange("GET", url, headers, nullptr, 0, out);
}

int Post(void*, const char* url, const char* const* headers, const void* body, size_t len,
         ringo_response* out) {
  return Exchange("POST", url, headers, body ? body : "", len, out);
}

const ringo_transport kPosix = {Get, Post};

}  // namespace

extern "C" const ringo_transport* ringo_transport_posix(void) { return &kPosix; }
