// The default transport: HTTP/1.1 over POSIX sockets, plain or TLS, for http:// and https:// URLs
// (Linux, tests, tools). Apps on Apple platforms pass a URLSession-backed table instead.
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "device/ringo_device.h"
#include "device/transport_tls.h"

namespace {

using ringo::device::TlsSession;

thread_local std::string last_error;

constexpr int kTimeoutSeconds = 30;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

struct Url {
  std::string host, port, target;
  bool tls = false;
};

bool ParseUrl(const std::string& url, Url* out) {
  out->tls = url.compare(0, 8, "https://") == 0;
  if (!out->tls && url.compare(0, 7, "http://") != 0) return false;
  const std::string default_port = out->tls ? "443" : "80";
  size_t start = out->tls ? 8 : 7;
  size_t slash = url.find('/', start);
  size_t end = slash == std::string::npos ? std::string::npos : slash - start;
  std::string authority = url.substr(start, end);
  out->target = slash == std::string::npos ? "/" : url.substr(slash);
  if (authority.empty()) return false;
  if (authority[0] == '[') {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    out->host = authority.substr(1, close - 1);
    bool has_port = close + 1 < authority.size() && authority[close + 1] == ':';
    out->port = has_port ? authority.substr(close + 2) : default_port;
  } else {
    size_t colon = authority.rfind(':');
    out->host = authority.substr(0, colon);
    out->port = colon == std::string::npos ? default_port : authority.substr(colon + 1);
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

// One connection: the socket, and the TLS session on it for https.
struct Conn {
  int fd = -1;
  std::unique_ptr<TlsSession> tls;
  ~Conn() {
    tls.reset();  // before the socket it uses
    if (fd >= 0) close(fd);
  }
  ssize_t Recv(char* p, size_t n) { return tls ? tls->Read(p, n) : recv(fd, p, n, 0); }
  ssize_t Send(const char* p, size_t n) {
    return tls ? tls->Write(p, n) : send(fd, p, n, MSG_NOSIGNAL);
  }
};

bool SendAll(Conn& c, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = c.Send(p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// A buffered reader over the socket.
struct Reader {
  Conn* conn;
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
      ssize_t r = conn->Recv(tmp, sizeof tmp);
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

// Connects (and for https handshakes); nullptr with last_error set when that fails.
std::unique_ptr<Conn> Open(const Url& u, const ringo_transport_posix_options* options) {
  auto c = std::make_unique<Conn>();
  c->fd = Connect(u);
  if (c->fd < 0) {
    last_error = "cannot connect to " + u.host + ":" + u.port + ": " + std::strerror(errno);
    return nullptr;
  }
  if (u.tls) {
    c->tls = std::make_unique<TlsSession>();
    if (!c->tls->Connect(c->fd, u.host, options, &last_error)) return nullptr;
  }
  return c;
}

int Exchange(const ringo_transport_posix_options* options, const char* method, const char* url,
             const char* const* headers, const void* body, size_t body_len, ringo_response* out) {
  last_error.clear();
  Url u;
  if (!url || !out || !ParseUrl(url, &u)) {
    last_error = std::string("unsupported URL: ") + (url ? url : "(null)");
    return 1;
  }
  bool default_port = u.port == (u.tls ? "443" : "80");
  std::string req = std::string(method) + " " + u.target + " HTTP/1.1\r\nHost: " + u.host +
                    (default_port ? "" : ":" + u.port) + "\r\nConnection: close\r\n";
  for (const char* const* h = headers; h && *h; ++h) req += std::string(*h) + "\r\n";
  if (body) req += "Content-Length: " + std::to_string(body_len) + "\r\n";
  req += "\r\n";
  std::unique_ptr<Conn> conn = Open(u, options);
  if (!conn) return 1;
  if (!SendAll(*conn, req.data(), req.size())) return 1;
  if (body && !SendAll(*conn, static_cast<const char*>(body), body_len)) return 1;

  Reader r{conn.get(), {}};
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

const ringo_transport_posix_options* Options(void* ctx) {
  return static_cast<const ringo_transport_posix_options*>(ctx);
}

// Every failure leaves a reason for ringo_transport_posix_last_error.
int Noted(int rc, const char* method, const char* url) {
  if (rc != 0 && last_error.empty()) {
    last_error = std::string(method) + " " + (url ? url : "") + ": the exchange failed";
  }
  return rc;
}

int Get(void* ctx, const char* url, const char* const* headers, ringo_response* out) {
  return Noted(Exchange(Options(ctx), "GET", url, headers, nullptr, 0, out), "GET", url);
}

int Post(void* ctx, const char* url, const char* const* headers, const void* body, size_t len,
         ringo_response* out) {
  int rc = Exchange(Options(ctx), "POST", url, headers, body ? body : "", len, out);
  return Noted(rc, "POST", url);
}

const ringo_transport kPosix = {Get, Post};

}  // namespace

extern "C" const ringo_transport* ringo_transport_posix(void) { return &kPosix; }

extern "C" const char* ringo_transport_posix_last_error(void) { return last_error.c_str(); }
