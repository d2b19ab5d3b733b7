// HTTP server on Boost.Beast: routing, limits, timeouts, keep-alive, Range/HEAD, sendfile.
#ifndef RINGO_HTTP_HTTP_H_
#define RINGO_HTTP_HTTP_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "common/prometheus.h"
#include "common/status.h"

namespace ringo::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

std::string_view MethodName(Method m);

// What a route needs from its caller. Every route states one; the router's guard maps the
// caller's credentials onto it. kAnyCaller is what unknown paths get: any known caller learns
// that nothing is there, no one else learns anything.
enum class Access {
  kPublic,     // no credentials (health, the UI's static files)
  kAnyCaller,  // any valid credential of any scope
  kRead,       // reads of tracking, registry and delivery state
  kWrite,      // changes to tracking and registry state
  kAdmin,      // delivery management, tokens, webhooks
  kDevice,     // the device API
};

std::string_view AccessName(Access a);

// A parsed request as handlers see it.
struct Request {
  Method method = Method::kGet;
  std::string target;  // as received: path and query
  std::string path;    // raw (still percent-encoded) path, no query
  std::string query;   // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // lowercase names
  std::string body;          // the body, unless the route streams it to a file
  std::string body_file;     // for streaming routes: a temporary file holding the body; the
                             // handler may rename it away, the server deletes what is left
  std::string route_suffix;  // for prefix routes: the raw path after the prefix
  std::string principal;     // who is calling, as the guard established it; empty without one
  std::string scope;         // what the guard let the caller reach (admin, write, user...)
  std::string peer;          // the connection's remote address ("127.0.0.1", "::1"); may be empty
  bool tls = false;          // the connection speaks TLS
  // For routes with {name} segments: each name and the raw (still percent-encoded) segment.
  std::vector<std::pair<std::string, std::string>> path_params;

  // First header value with this (lowercase) name, or empty.
  std::string_view Header(std::string_view lowercase_name) const;
  // The raw segment matched by {name} in the route's path, or empty.
  std::string_view PathParam(std::string_view name) const;
};

// Decoded query parameters in order; repeated keys repeat. nullopt on malformed escapes.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view q);

// A body made while it is sent, for answers too large to hold (a zip of an artifact tree). Each
// call, on the connection's I/O thread, fills the front of `out` and returns how many bytes it
// wrote, at least one while any of the promised length is left; an error, or no bytes, cuts the
// connection (the client sees a short body). A body of kLengthUnknown ends when the source
// returns no bytes; it goes out in HTTP/1.1's chunked coding (to an HTTP/1.0 client, until the
// connection closes), so the answer can start before its length is known.
using BodySource = std::function<Result<size_t>(std::span<char> out)>;
inline constexpr uint64_t kLengthUnknown = ~uint64_t{0};

// A response. Either `body`, a file range (`file_path`, sent with sendfile(2)), or `stream_length`
// bytes (or kLengthUnknown) from `stream`.
struct Response {
  unsigned status = 200;
  // Static text (a literal or a table's entry): set on every answer, it costs no allocation.
  // Empty: no Content-Type.
  std::string_view content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Header lines formatted once ("Name: value\r\n" each), sent after `headers`: an answer
  // repeated many times (a manifest's 304) shares them instead of building them each time.
  std::shared_ptr<const std::string> header_lines{};
  std::string file_path;
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
  BodySource stream{};
  uint64_t stream_length = 0;
};

// Builds a response serving `path` for a GET or HEAD request, honouring a single
// `Range: bytes=a-b` (206 with Content-Range; 416 when unsatisfiable). 404 when the file
// does not exist or is not a regular file.
Response FileResponse(const Request& request, const std::string& path,
                      std::string_view content_type);

// Completes one request, exactly once, from any thread. If dropped unsent, the client gets a
// 500 (a handler bug must not hang a connection).
class Responder {
 public:
  struct State;
  explicit Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // A responder that hands the response to `then` (which must send it on), e.g. to look at or
  // change an answer before it leaves.
  static Responder Then(std::function<void(Response)> then);
  void Send(Response response) const;
  // Says, from the handler before it returns, that the answer may be long in coming (a
  // long-poll): the connection then watches for its client going away and closes at once.
  void Hold() const;
  // True once the client of a held request went away: whoever holds the responder may answer
  // now (the answer goes nowhere) and so let the connection go, rather than at the wait's end.
  bool Gone() const;

 private:
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(Request&, Responder)>;

// Maps (method, path) to handlers: exact paths, paths with {name} segments (each matching one
// non-empty segment, e.g. "/collections/{collection}/channels/{channel}/manifest"), and prefixes
// for trees such as artifact paths. An exact or parameterised path never matches a longer one
// ("/x/upload" does not answer "/x/upload/search"). Exact paths win over parameterised ones,
// which win over prefixes.
// Register everything before Server::Start; lookups are then read-only and thread-safe.
class Router {
 public:
  // `stream_body` routes receive their body in a temporary file (Request::body_file).
  void Add(Method method, std::string path, Access access, Handler handler,
           bool stream_body = false);
  // Matches every path starting with `prefix`; Request::route_suffix gets the rest.
  void AddPrefix(Method method, std::string prefix, Access access, Handler handler,
                 bool stream_body = false);

  // Checked for every request once its header is read, before its body, with the access the
  // matched route states (for unknown paths and methods: kAnyCaller to read, kWrite to change
  // anything): a returned response (401, 403...) is
  // sent instead of running the route and the connection is closed. It may set
  // Request::principal. For authentication.
  using Guard = std::function<std::optional<Response>(Request&, Access)>;
  void SetGuard(Guard guard) { guard_ = std::move(guard); }
  const Guard& guard() const { return guard_; }

  struct Match {
    const Handler* handler = nullptr;
    std::string_view route;  // the registered pattern (owned by the router), for metrics
    std::string suffix;
    std::vector<std::pair<std::string, std::string>> params;  // {name} segments, raw
    Access access = Access::kAnyCaller;
    bool stream_body = false;
    bool path_known = false;  // some method matches this path (405 rather than 404)
  };

  // Every registered route, for tests and documentation: (method, pattern, access), prefix
  // patterns ending in '*'.
  struct RouteInfo {
    Method method;
    std::string pattern;
    Access access;
  };
  std::vector<RouteInfo> Routes() const;
  Match Find(Method method, std::string_view path) const;
  // The same into `out`, reusing its storage (a connection keeps one per request it reads).
  void Find(Method method, std::string_view path, Match* out) const;

  // Told of every answered request (refusals by the guard included) with the route it matched
  // (empty route: none) and the status sent, on the I/O thread that sends it: must be quick.
  // For the audit log.
  using Observer = std::function<void(const Request&, const Match&, unsigned status)>;
  void SetObserver(Observer observer) { observer_ = std::move(observer); }
  const Observer& observer() const { return observer_; }

 private:
  struct Route {
    Handler handler;
    Access access;
    bool stream_body;
  };
  struct Prefix {
    Method method;
    std::string prefix;
    std::string pattern;  // prefix + "*", as metrics name it
    Route route;
  };
  struct Pattern {
    Method method;
    std::string path;
    std::vector<std::string> segments;  // "{name}" or a literal
    Route route;
  };
  // path -> method -> route; transparent so a request's path is looked up without a copy.
  std::map<std::string, std::map<Method, Route>, std::less<>> exact_;
  std::vector<Pattern> patterns_;
  Guard guard_;
  Observer observer_;
  std::vector<Prefix> prefixes_;
};

// Request counters and a latency histogram, for /metrics. Thread-safe.
class Metrics {
 public:
  static constexpr const auto& kBucketsSeconds = kLatencyBoundsSeconds;
  void Record(std::string_view route, Method method, unsigned status, double seconds);
  // Prometheus text exposition of ringo_http_requests_total and
  // ringo_http_request_duration_seconds.
  std::string PrometheusText() const;

 private:
  mutable std::mutex mu_;
  // Orders (route, method, status) keys whether held as strings or viewed: a request's counter
  // is found without building its key.
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      int c = std::string_view(std::get<0>(a)).compare(std::get<0>(b));
      if (c == 0) c = std::string_view(std::get<1>(a)).compare(std::get<1>(b));
      return c != 0 ? c < 0 : std::get<2>(a) < std::get<2>(b);
    }
  };
  std::map<std::tuple<std::string, std::string, unsigned>, uint64_t, KeyLess> counts_;
  uint64_t buckets_[std::size(kBucketsSeconds) + 1] = {};
  double sum_seconds_ = 0;
  uint64_t observations_ = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;  // 0: ephemeral
  int threads = 1;
  size_t header_limit = 16 * 1024;
  size_t body_limit = 16 * 1024 * 1024;                     // buffered bodies
  // All bodies being buffered in memory at once, across connections; past it a request gets
  // 503 with Retry-After instead of more memory.
  size_t total_body_limit = 256 * 1024 * 1024;
  uint64_t stream_body_limit = 64ull * 1024 * 1024 * 1024;  // streamed uploads
  std::chrono::seconds idle_timeout{120};
  std::chrono::seconds request_timeout{300};
  std::string upload_dir;  // where streamed bodies land; same filesystem as their destination
  // HTTPS: a PEM certificate chain and its private key. Both or neither; with them every
  // connection speaks TLS (1.2 or later) and files are sent by read and write, not sendfile.
  std::string tls_cert_file{};
  std::string tls_key_file{};
};

// An HTTP/1.1 server. Start() binds and runs `threads` I/O threads; Stop() closes the
// listener and open connections and joins the threads. Thread-safe.
class Server {
 public:
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;
  virtual Metrics& metrics() = 0;
  // Number of connections open now.
  virtual int64_t open_connections() const = 0;
  // Number of I/O threads serving.
  virtual int threads() const = 0;
  // True when connections speak TLS.
  virtual bool tls() const = 0;
  // Reads the certificate and key files again: connections accepted afterwards use them, open
  // ones keep theirs. On failure (kInvalidArgument naming the file and OpenSSL's reason) the
  // certificate in use stays. kFailedPrecondition without TLS.
  [[nodiscard]] virtual Status ReloadTls() = 0;
  virtual void Stop() = 0;
};

// kUnavailable when the address cannot be bound (message names it); kInvalidArgument when only
// one of the TLS files is given, or they cannot be loaded (see Server::ReloadTls).
Result<std::unique_ptr<Server>> StartServer(const ServerOptions& options,
                                            std::shared_ptr<const Router> router);

// A JSON error body as MLflow writes it: {"error_code": ..., "message": ...}.
Response JsonError(unsigned status, std::string_view error_code, std::string_view message);

}  // namespace ringo::http

#endif  // RINGO_HTTP_HTTP_H_
