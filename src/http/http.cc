// HTTP server on Boost.Beast: connections, routing, limits, Range/HEAD, sendfile.
#include "http/http.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <thread>
#include <utility>  // must precede Asio with GCC 12 + C++20 (see reference/limits.md)

#include "common/json_writer.h"
#include "common/util.h"

namespace ringo::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      return "OTHER";
  }
  return "OTHER";
}

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < q.size()) {
    size_t amp = q.find('&', pos);
    if (amp == std::string_view::npos) amp = q.size();
    std::string_view part = q.substr(pos, amp - pos);
    pos = amp + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto key = PercentDecode(part.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

Response JsonError(unsigned status, std::string_view error_code, std::string_view message) {
  Response r;
  r.status = status;
  JsonWriter w(&r.body);
  w.BeginObject().Field("error_code", error_code).Field("message", message).EndObject();
  return r;
}

Response FileResponse(const Request& request, const std::string& path, std::string content_type) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return JsonError(404, "RESOURCE_DOES_NOT_EXIST", "file not found");
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  Response r;
  r.content_type = std::move(content_type);
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
      Response e = JsonError(416, "INVALID_PARAMETER_VALUE", "range not satisfiable");
      e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      return e;
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
      Response e = JsonError(416, "INVALID_PARAMETER_VALUE", "range not satisfiable");
      e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      return e;
    }
  }
  r.status = 206;
  r.file_offset = start;
  r.file_length = end - start + 1;
  r.headers.emplace_back("Content-Range", "bytes " + std::to_string(start) + "-" +
                                              std::to_string(end) + "/" + std::to_string(size));
  return r;
}

// ---------------- Router ----------------

std::string_view AccessName(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kAnyCaller:
      return "any";
    case Access::kRead:
      return "read";
    case Access::kWrite:
      return "write";
    case Access::kAdmin:
      return "admin";
    case Access::kDevice:
      return "device";
  }
  return "?";
}

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 1;  // paths start with '/'
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::Add(Method method, std::string path, Access access, Handler handler,
                 bool stream_body) {
  if (path.find('{') != std::string::npos) {
    Pattern p{method, path, {}, Route{std::move(handler), access, stream_body}};
    for (std::string_view seg : Segments(path)) p.segments.emplace_back(seg);
    patterns_.push_back(std::move(p));
    return;
  }
  exact_[std::move(path)][method] = Route{std::move(handler), access, stream_body};
}

std::string_view Request::PathParam(std::string_view name) const {
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return {};
}

void Router::AddPrefix(Method method, std::string prefix, Access access, Handler handler,
                       bool stream_body) {
  prefixes_.push_back(
      Prefix{method, std::move(prefix), Route{std::move(handler), access, stream_body}});
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  for (const auto& [path, methods] : exact_) {
    for (const auto& [method, route] : methods) out.push_back({method, path, route.access});
  }
  for (const Pattern& p : patterns_) out.push_back({p.method, p.path, p.route.access});
  for (const Prefix& p : prefixes_) out.push_back({p.method, p.prefix + "*", p.route.access});
  return out;
}

Router::Match Router::Find(Method method, std::string_view path) const {
  Match m;
  // "//x" is "/x": clients that join a base URL ending in '/' with an absolute path send it, and
  // MLflow's server (werkzeug) takes it so.
  while (path.size() > 1 && path[0] == '/' && path[1] == '/') path.remove_prefix(1);
  // Where nothing answers, only a caller who could change something learns so for a change.
  bool reads = method == Method::kGet || method == Method::kHead || method == Method::kOptions;
  m.access = reads ? Access::kAnyCaller : Access::kWrite;
  // HEAD is served by the GET handler; the body is dropped when writing.
  Method lookup = method == Method::kHead ? Method::kGet : method;
  auto it = exact_.find(path);
  if (it != exact_.end()) {
    m.path_known = true;
    auto h = it->second.find(lookup);
    if (h != it->second.end()) {
      m.handler = &h->second.handler;
      m.access = h->second.access;
      m.stream_body = h->second.stream_body;
      m.route = it->first;
      return m;
    }
  }
  for (const Pattern& p : patterns_) {
    // Walks the path's segments in place (no allocation: device manifests come this way).
    size_t pos = 1, i = 0;
    bool match = !path.empty() && path.front() == '/';
    for (; match && i < p.segments.size(); ++i) {
      if (pos > path.size()) {
        match = false;
        break;
      }
      size_t next = path.find('/', pos);
      if (next == std::string_view::npos) next = path.size();
      std::string_view seg = path.substr(pos, next - pos);
      match = IsParam(p.segments[i]) ? !seg.empty() : p.segments[i] == seg;
      pos = next + 1;
    }
    if (!match || pos <= path.size()) continue;  // a mismatch, or segments left over
    m.path_known = true;
    if (p.method != lookup) continue;
    m.handler = &p.route.handler;
    m.access = p.route.access;
    m.stream_body = p.route.stream_body;
    m.route = p.path;
    std::vector<std::string_view> segs = Segments(path);
    for (size_t k = 0; k < segs.size(); ++k) {
      if (IsParam(p.segments[k])) {
        m.params.emplace_back(p.segments[k].substr(1, p.segments[k].size() - 2), segs[k]);
      }
    }
    return m;
  }
  const Prefix* best = nullptr;
  for (const Prefix& p : prefixes_) {
    if (path.substr(0, p.prefix.size()) != p.prefix) continue;
    m.path_known = true;
    if (p.method == lookup && (!best || p.prefix.size() > best->prefix.size())) best = &p;
  }
  if (best) {
    m.handler = &best->route.handler;
    m.access = best->route.access;
    m.route = best->prefix + "*";
    m.suffix = std::string(path.substr(best->prefix.size()));
    m.stream_body = best->route.stream_body;
    return m;
  }
  return m;
}

// ---------------- Metrics ----------------

void Metrics::Record(const std::string& route, Method method, unsigned status, double seconds) {
  std::lock_guard lock(mu_);
  ++counts_[{route, std::string(MethodName(method)), status}];
  size_t b = 0;
  while (b < std::size(kBucketsSeconds) && seconds > kBucketsSeconds[b]) ++b;
  ++buckets_[b];
  sum_seconds_ += seconds;
  ++observations_;
}

std::string Metrics::PrometheusText() const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP ringo_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE ringo_http_requests_total counter\n";
  for (const auto& [key, n] : counts_) {
    const auto& [route, method, status] = key;
    out += "ringo_http_requests_total{route=\"" + route + "\",method=\"" + method + "\",status=\"" +
           std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP ringo_http_request_duration_seconds Time from request read to response queued.\n";
  out += "# TYPE ringo_http_request_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(kBucketsSeconds); ++i) {
    cumulative += buckets_[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBucketsSeconds[i]);
    out += std::string("ringo_http_request_duration_seconds_bucket{le=\"") + le + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[std::size(kBucketsSeconds)];
  out += "ringo_http_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) +
         "\n";
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", sum_seconds_);
  out += std::string("ringo_http_request_duration_seconds_sum ") + sum + "\n";
  out += "ringo_http_request_duration_seconds_count " + std::to_string(observations_) + "\n";
  return out;
}

// ---------------- Connections ----------------

namespace {

Method ToMethod(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::patch:
      return Method::kPatch;
    case bhttp::verb::delete_:
      return Method::kDelete;
    case bhttp::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

class ServerImpl;

// True on the server's I/O threads: responses completed there are written directly.
thread_local bool tls_io_thread = false;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ServerImpl* server);
  ~Connection();
  void Start() { ReadHeader(); }
  void Close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }
  void Deliver(Response response);  // on the connection's strand

 private:
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void ReadBody();
  void OnBody(beast::error_code ec);
  void Dispatch();
  void SendEarly(Response r);  // an error before the body was read; closes afterwards
  void WriteBuffered(Response& r);
  void WriteFile(Response& r);
  void SendfileLoop();
  void AfterWrite(beast::error_code ec, bool close);
  void Linger();
  void Finish(unsigned status);

  beast::tcp_stream stream_;
  ServerImpl* server_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> header_parser_;
  std::optional<bhttp::request_parser<bhttp::string_body>> string_parser_;
  std::optional<bhttp::request_parser<bhttp::file_body>> file_parser_;
  Request request_;
  Router::Match match_;
  bool keep_alive_ = true;
  std::chrono::steady_clock::time_point started_;
  // Response in flight.
  std::shared_ptr<void> response_holder_;
  int file_fd_ = -1;
  uint64_t file_offset_ = 0;
  uint64_t file_remaining_ = 0;
  unsigned status_ = 0;
  std::atomic<bool> finished_once_{false};
  std::unique_ptr<std::array<char, 16384>> scratch_;  // for Linger
  size_t reserved_ = 0;  // body bytes accounted with the server for the current request
  void ReleaseReserved();
};

}  // namespace

struct Responder::State {
  std::shared_ptr<Connection> connection;
  std::atomic<bool> sent{false};
  ~State() {
    if (!sent.load() && connection) {
      connection->Deliver(JsonError(500, "INTERNAL_ERROR", "the handler produced no response"));
    }
  }
};

void Responder::Send(Response response) const {
  if (state_->sent.exchange(true)) return;
  state_->connection->Deliver(std::move(response));
}

namespace {

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, std::shared_ptr<const Router> router)
      : options_(options), router_(std::move(router)), acceptor_(ioc_) {}

  ~ServerImpl() override { Stop(); }

  Status Start() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return InvalidArgument("invalid host '" + options_.host + "': " + ec.message());
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                         ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] {
        tls_io_thread = true;
        // One safety net per worker thread: a throwing handler is caught in Dispatch, so
        // anything reaching here is a bug in the server itself.
        for (;;) {
          try {
            ioc_.run();
            break;
          } catch (const std::exception& e) {
            std::cerr << "ringo: http worker: " << e.what() << std::endl;
          }
        }
      });
    }
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }
  Metrics& metrics() override { return metrics_; }
  int64_t open_connections() const override { return open_.load(); }
  int threads() const override { return std::max(1, options_.threads); }

  void Stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    asio::post(ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    {
      std::lock_guard clock(conn_mu_);
      for (auto& weak : connections_) {
        if (auto c = weak.lock()) c->Close();
      }
    }
    // Give in-flight responses a moment, then stop the loop.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (open_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  // Responses completed on other threads (the store's writer) are handed over in batches: one
  // wake-up of the I/O loop per batch rather than one per response, which under load is the
  // difference between a context switch per request and one per group commit.
  void Defer(std::shared_ptr<Connection> c, Response r) {
    bool schedule = false;
    {
      std::lock_guard lock(deferred_mu_);
      schedule = deferred_.empty();
      deferred_.emplace_back(std::move(c), std::move(r));
    }
    if (schedule) asio::post(ioc_, [this] { DrainDeferred(); });
  }

  const ServerOptions& options() const { return options_; }
  const Router& router() const { return *router_; }
  // Accounts for `bytes` of body about to be buffered; false (nothing reserved) when that would
  // pass options().total_body_limit.
  bool ReserveBody(size_t bytes) {
    size_t now = buffered_.load();
    do {
      if (now + bytes > options_.total_body_limit) return false;
    } while (!buffered_.compare_exchange_weak(now, now + bytes));
    return true;
  }
  void ReleaseBody(size_t bytes) { buffered_.fetch_sub(bytes); }
  void ConnectionClosed() { open_.fetch_sub(1); }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      } else {
        beast::error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        open_.fetch_add(1);
        auto c = std::make_shared<Connection>(std::move(s), this);
        {
          std::lock_guard lock(conn_mu_);
          // Drop entries of closed connections now and then.
          if (connections_.size() > 1024) {
            std::erase_if(connections_, [](auto& w) { return w.expired(); });
          }
          connections_.push_back(c);
        }
        c->Start();
      }
      Accept();
    });
  }

  ServerOptions options_;
  std::shared_ptr<const Router> router_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  Metrics metrics_;
  std::atomic<int64_t> open_{0};
  std::atomic<size_t> buffered_{0};
  std::mutex conn_mu_;
  std::vector<std::weak_ptr<Connection>> connections_;
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::mutex deferred_mu_;
  std::vector<std::pair<std::shared_ptr<Connection>, Response>> deferred_;

  void DrainDeferred();
};

Connection::Connection(tcp::socket socket, ServerImpl* server)
    : stream_(std::move(socket)), server_(server) {}

Connection::~Connection() { ReleaseReserved(); }

void Connection::ReleaseReserved() {
  if (reserved_ > 0) server_->ReleaseBody(reserved_);
  reserved_ = 0;
}

void Connection::ReadHeader() {
  ReleaseReserved();
  request_.body.clear();
  request_.body.shrink_to_fit();
  header_parser_.emplace();
  header_parser_->header_limit(static_cast<uint32_t>(server_->options().header_limit));
  // Beast checks Content-Length against the body limit while parsing the header; the real
  // limit depends on the route, so it is applied once the route is known.
  header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  string_parser_.reset();
  file_parser_.reset();
  stream_.expires_after(server_->options().idle_timeout);
  bhttp::async_read_header(
      stream_, buffer_, *header_parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Connection::OnHeader(beast::error_code ec) {
  if (ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      request_ = Request{};
      match_ = Router::Match{};
      match_.route = "invalid";
      started_ = std::chrono::steady_clock::now();
      return SendEarly(JsonError(431, "BAD_REQUEST", "request header too large"));
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset) {
      return Finish(0);
    }
    keep_alive_ = false;
    request_ = Request{};
    match_ = Router::Match{};
    match_.route = "invalid";
    started_ = std::chrono::steady_clock::now();
    return SendEarly(JsonError(400, "BAD_REQUEST", "malformed HTTP request: " + ec.message()));
  }
  started_ = std::chrono::steady_clock::now();
  auto& h = header_parser_->get();
  request_ = Request{};
  request_.method = ToMethod(h.method());
  request_.target = std::string(h.target());
  {
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) request_.peer = remote.address().to_string();
  }
  size_t q = request_.target.find('?');
  request_.path = request_.target.substr(0, q);
  if (q != std::string::npos) request_.query = request_.target.substr(q + 1);
  for (const auto& field : h) {
    auto name = field.name_string();
    auto value = field.value();
    request_.headers.emplace_back(ToLower(std::string_view(name.data(), name.size())),
                                  std::string(value.data(), value.size()));
  }
  keep_alive_ = h.keep_alive();
  match_ = server_->router().Find(request_.method, request_.path);
  // Authentication comes before any body is read, for known and unknown paths alike, so no
  // stranger can make the server hold memory.
  if (const auto& guard = server_->router().guard()) {
    if (std::optional<Response> denied = guard(request_, match_.access)) {
      match_.route = "denied";
      return SendEarly(std::move(*denied));
    }
  }
  if (!match_.handler) {
    match_.route = "unmatched";
    // Nothing will read the body: answer now, and close the connection if one was announced
    // rather than reading it to keep the connection usable.
    bool has_body = header_parser_->chunked() ||
                    (header_parser_->content_length() && *header_parser_->content_length() > 0);
    if (has_body) keep_alive_ = false;
    stream_.expires_never();
    return Dispatch();
  }
  ReadBody();
}

void Connection::ReadBody() {
  stream_.expires_after(server_->options().request_timeout);
  bool expect_continue =
      beast::iequals(header_parser_->get()[bhttp::field::expect], "100-continue");
  if (match_.handler && match_.stream_body) {
    std::filesystem::path dir = server_->options().upload_dir;
    std::error_code fec;
    std::filesystem::create_directories(dir, fec);
    request_.body_file = (dir / ("upload-" + NewId())).string();
    file_parser_.emplace(std::move(*header_parser_));
    file_parser_->body_limit(server_->options().stream_body_limit);
    beast::error_code ec;
    file_parser_->get().body().open(request_.body_file.c_str(), beast::file_mode::write, ec);
    if (ec) {
      keep_alive_ = false;
      return SendEarly(
          JsonError(500, "INTERNAL_ERROR", "cannot open upload file: " + ec.message()));
    }
  } else {
    string_parser_.emplace(std::move(*header_parser_));
    string_parser_->body_limit(server_->options().body_limit);
    // Refuse a declared oversized body before reading it.
    auto len = string_parser_->content_length();
    if (len && *len > server_->options().body_limit) {
      keep_alive_ = false;
      return SendEarly(JsonError(413, "BAD_REQUEST",
                                 "request body of " + std::to_string(*len) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(server_->options().body_limit)));
    }
    // A body of unknown length may grow to the limit: account for that much.
    size_t want = len ? static_cast<size_t>(*len) : server_->options().body_limit;
    if (want > 0) {
      if (!server_->ReserveBody(want)) {
        keep_alive_ = false;
        Response busy = JsonError(503, "TEMPORARILY_UNAVAILABLE",
                                  "the server is receiving too many request bodies at once; retry");
        busy.headers.emplace_back("Retry-After", "1");
        return SendEarly(std::move(busy));
      }
      reserved_ = want;
    }
  }
  auto read = [self = shared_from_this()] {
    auto cb = [self](beast::error_code ec, size_t) { self->OnBody(ec); };
    if (self->file_parser_) {
      bhttp::async_read(self->stream_, self->buffer_, *self->file_parser_, cb);
    } else {
      bhttp::async_read(self->stream_, self->buffer_, *self->string_parser_, cb);
    }
  };
  if (expect_continue) {
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue),
                      [self = shared_from_this(), read](beast::error_code ec, size_t) {
                        if (ec) return self->Finish(0);
                        read();
                      });
  } else {
    read();
  }
}

void Connection::OnBody(beast::error_code ec) {
  if (ec) {
    if (!request_.body_file.empty()) {
      file_parser_->get().body().file().close(ec);
      std::error_code fec;
      std::filesystem::remove(request_.body_file, fec);
      request_.body_file.clear();
    }
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      return SendEarly(JsonError(413, "BAD_REQUEST", "request body exceeds the size limit"));
    }
    if (ec == beast::error::timeout) {
      keep_alive_ = false;
      return SendEarly(JsonError(408, "BAD_REQUEST", "request body not received in time"));
    }
    return Finish(0);
  }
  if (file_parser_) {
    beast::error_code cec;
    file_parser_->get().body().file().close(cec);
    keep_alive_ = file_parser_->keep_alive();
  } else {
    request_.body = std::move(string_parser_->get().body());
    keep_alive_ = string_parser_->keep_alive();
  }
  stream_.expires_never();
  Dispatch();
}

void Connection::Dispatch() {
  if (!match_.handler) {
    if (match_.path_known) {
      return Deliver(JsonError(405, "BAD_REQUEST",
                               "method " + std::string(MethodName(request_.method)) +
                                   " is not allowed for " + request_.path));
    }
    return Deliver(JsonError(404, "ENDPOINT_NOT_FOUND", "no endpoint at " + request_.path));
  }
  request_.route_suffix = match_.suffix;
  request_.path_params = std::move(match_.params);
  auto state = std::make_shared<Responder::State>();
  state->connection = shared_from_this();
  Responder responder(state);
  state.reset();
  // The one safety net for handlers: any exception becomes a 500 with a log line.
  try {
    (*match_.handler)(request_, responder);
  } catch (const std::exception& e) {
    std::cerr << "ringo: handler for " << request_.path << " failed: " << e.what() << std::endl;
    responder.Send(JsonError(500, "INTERNAL_ERROR", std::string("internal error: ") + e.what()));
  } catch (...) {
    std::cerr << "ringo: handler for " << request_.path << " failed" << std::endl;
    responder.Send(JsonError(500, "INTERNAL_ERROR", "internal error"));
  }
}

void ServerImpl::DrainDeferred() {
  std::vector<std::pair<std::shared_ptr<Connection>, Response>> batch;
  {
    std::lock_guard lock(deferred_mu_);
    batch.swap(deferred_);
  }
  for (auto& [c, r] : batch) c->Deliver(std::move(r));
}

void Connection::Deliver(Response response) {
  if (!tls_io_thread) {
    server_->Defer(shared_from_this(), std::move(response));
    return;
  }
  asio::dispatch(stream_.get_executor(), [self = shared_from_this(),
                                          r = std::move(response)]() mutable {
    if (!self->request_.body_file.empty()) {
      std::error_code ec;
      std::filesystem::remove(self->request_.body_file, ec);
      self->request_.body_file.clear();
    }
    self->status_ = r.status;
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - self->started_).count();
    self->server_->metrics().Record(self->match_.route, self->request_.method, r.status, secs);
    if (!r.file_path.empty() && r.status < 300) {
      self->WriteFile(r);
    } else {
      self->WriteBuffered(r);
    }
  });
}

void Connection::SendEarly(Response r) {
  keep_alive_ = false;
  Deliver(std::move(r));
}

template <typename Res>
void ApplyCommonHeaders(Res& res, const Response& r, bool keep_alive) {
  res.set(bhttp::field::server, "ringo");
  if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
}

void Connection::WriteBuffered(Response& r) {
  bool head = request_.method == Method::kHead;
  bool close = !keep_alive_;
  if (head) {
    auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(
        static_cast<bhttp::status>(r.status), 11);
    ApplyCommonHeaders(*res, r, keep_alive_);
    res->content_length(r.body.size());
    response_holder_ = res;
    auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
    bhttp::async_write_header(stream_, *sr,
                              [self = shared_from_this(), sr, close](beast::error_code ec, size_t) {
                                self->AfterWrite(ec, close);
                              });
    return;
  }
  auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
      static_cast<bhttp::status>(r.status), 11);
  ApplyCommonHeaders(*res, r, keep_alive_);
  res->body() = std::move(r.body);
  res->prepare_payload();
  response_holder_ = res;
  bhttp::async_write(stream_, *res,
                     [self = shared_from_this(), close](beast::error_code ec, size_t) {
                       self->AfterWrite(ec, close);
                     });
}

void Connection::WriteFile(Response& r) {
  int fd = ::open(r.file_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Response e = JsonError(404, "RESOURCE_DOES_NOT_EXIST", "file not found");
    return WriteBuffered(e);
  }
  bool close = !keep_alive_;
  auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(
      static_cast<bhttp::status>(r.status), 11);
  ApplyCommonHeaders(*res, r, keep_alive_);
  res->content_length(r.file_length);
  response_holder_ = res;
  if (request_.method == Method::kHead) {
    ::close(fd);
    fd = -1;
  }
  file_fd_ = fd;
  file_offset_ = r.file_offset;
  file_remaining_ = fd >= 0 ? r.file_length : 0;
  auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
  bhttp::async_write_header(stream_, *sr,
                            [self = shared_from_this(), sr, close](beast::error_code ec, size_t) {
                              if (ec || self->file_remaining_ == 0)
                                return self->AfterWrite(ec, close);
                              self->SendfileLoop();
                            });
}

// sendfile(2) straight from the page cache to the socket; on EAGAIN wait for writability.
void Connection::SendfileLoop() {
  bool close = !keep_alive_;
  auto& sock = stream_.socket();
  sock.native_non_blocking(true);
  while (file_remaining_ > 0) {
    off_t off = static_cast<off_t>(file_offset_);
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(file_remaining_, 1u << 30));
    ssize_t n = ::sendfile(sock.native_handle(), file_fd_, &off, chunk);
    if (n > 0) {
      file_offset_ += uint64_t(n);
      file_remaining_ -= uint64_t(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      stream_.expires_after(server_->options().request_timeout);
      sock.async_wait(tcp::socket::wait_write, [self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->AfterWrite(ec, true);
        self->SendfileLoop();
      });
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    // n == 0 (file shrank) or a hard error: the response cannot be completed.
    return AfterWrite(beast::error_code(n == 0 ? EIO : errno, beast::system_category()), true);
  }
  AfterWrite({}, close);
}

void Connection::AfterWrite(beast::error_code ec, bool close) {
  if (file_fd_ >= 0) {
    ::close(file_fd_);
    file_fd_ = -1;
  }
  response_holder_.reset();
  if (ec || close) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!ec) return Linger();
    return Finish(status_);
  }
  ReadHeader();
}

// Closing a socket with unread input makes the kernel send a reset, which can destroy the
// response before the client reads it (a client still sending a refused body). So the rest of
// the input is read into a small scratch buffer and dropped, for a short while, then the socket
// closes. Memory held: the scratch buffer, whatever the client sends.
void Connection::Linger() {
  if (!scratch_) {
    scratch_ = std::make_unique<std::array<char, 16384>>();
    stream_.expires_after(std::chrono::seconds(2));
  }
  stream_.async_read_some(asio::buffer(*scratch_), [self = shared_from_this()](
                                                       beast::error_code ec, size_t) {
    if (ec) return self->Finish(self->status_);
    self->Linger();
  });
}

void Connection::Finish(unsigned) {
  if (!request_.body_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(request_.body_file, ec);
  }
  beast::error_code ignored;
  stream_.socket().close(ignored);
  if (!finished_once_.exchange(true)) server_->ConnectionClosed();
}

}  // namespace

Result<std::unique_ptr<Server>> StartServer(const ServerOptions& options,
                                            std::shared_ptr<const Router> router) {
  auto server = std::make_unique<ServerImpl>(options, std::move(router));
  RETURN_IF_ERROR(server->Start());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace ringo::http
