// HTTP/1.1 client of an S3 endpoint on Boost.Beast: connection reuse, TLS with the system's CAs,
// a deadline on every step, bodies streamed to a file when asked.
#include "artifacts/s3_transport.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <fstream>
#include <optional>

namespace ringo::artifacts {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Every step of an exchange (connect, handshake, write, read) must finish within this.
constexpr auto kStepTimeout = std::chrono::seconds(120);
// Bytes read (and written to the file) at a time when a body goes to a file.
constexpr size_t kFileReadSize = 256 * 1024;

std::string LowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Runs the asynchronous operation started by `start` to completion or the deadline; on the
// deadline `cancel` closes the socket so the operation ends with an error.
template <typename Start, typename Cancel>
beast::error_code RunStep(asio::io_context& ioc, Start start, Cancel cancel) {
  std::optional<beast::error_code> result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run_for(kStepTimeout);
  if (!result) {
    cancel();
    ioc.restart();
    ioc.run();
    return asio::error::timed_out;
  }
  return *result;
}

}  // namespace

struct Transport::Tls {
  asio::ssl::context ctx{asio::ssl::context::tls_client};
};

struct Transport::Conn {
  asio::io_context ioc;
  std::unique_ptr<beast::tcp_stream> tcp;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
  void Close() {
    beast::error_code ignored;
    lowest().socket().close(ignored);
  }
  template <typename Message>
  beast::error_code Write(Message& m) {
    return RunStep(
        ioc,
        [&](auto handler) {
          if (tls) {
            bhttp::async_write(*tls, m, handler);
          } else {
            bhttp::async_write(*tcp, m, handler);
          }
        },
        [this] { Close(); });
  }
  template <typename Parser>
  beast::error_code Read(Parser& p) {
    return RunStep(
        ioc,
        [&](auto handler) {
          if (tls) {
            bhttp::async_read(*tls, buffer, p, handler);
          } else {
            bhttp::async_read(*tcp, buffer, p, handler);
          }
        },
        [this] { Close(); });
  }
};

std::string Reply::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

Result<Endpoint> ParseEndpoint(const std::string& url) {
  Endpoint e;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    e.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return InvalidArgument("S3 endpoint '" + url + "' must be http://host[:port] or https://...");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos || rest.find('@') != std::string::npos) {
    return InvalidArgument("S3 endpoint '" + url + "' must be scheme://host[:port], no path");
  }
  size_t colon = rest.rfind(':');
  bool bracketed = rest.front() == '[';
  if (colon != std::string::npos && (!bracketed || colon > rest.find(']'))) {
    e.host = rest.substr(0, colon);
    e.port = rest.substr(colon + 1);
  } else {
    e.host = rest;
    e.port = e.tls ? "443" : "80";
  }
  if (bracketed && e.host.size() > 2 && e.host.back() == ']') {
    e.host = e.host.substr(1, e.host.size() - 2);
  }
  if (e.host.empty() || e.port.empty() ||
      e.port.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument("S3 endpoint '" + url + "' has no valid host and port");
  }
  return e;
}

std::string HostHeader(const Endpoint& e) {
  bool default_port = e.port == (e.tls ? "443" : "80");
  std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  return default_port ? host : host + ":" + e.port;
}

Transport::Transport(Endpoint endpoint)
    : endpoint_(std::move(endpoint)), host_header_(HostHeader(endpoint_)) {}

Transport::~Transport() = default;

Result<std::unique_ptr<Transport>> Transport::Create(const Endpoint& endpoint) {
  std::unique_ptr<Transport> t(new Transport(endpoint));
  if (endpoint.tls) {
    t->tls_ = std::make_unique<Tls>();
    auto& ctx = t->tls_->ctx;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    ctx.set_default_verify_paths(ec);
    if (!endpoint.ca_bundle.empty()) {
      ctx.load_verify_file(endpoint.ca_bundle, ec);
      if (ec) {
        return InvalidArgument("cannot read CA bundle '" + endpoint.ca_bundle +
                               "': " + ec.message());
      }
    }
  }
  return t;
}

Result<std::unique_ptr<Transport::Conn>> Transport::Connect() {
  auto conn = std::make_unique<Conn>();
  std::string where = endpoint_.host + ":" + endpoint_.port;
  tcp::resolver resolver(conn->ioc);
  beast::error_code ec;
  auto addresses = resolver.resolve(endpoint_.host, endpoint_.port, ec);
  if (ec) return Unavailable("cannot resolve S3 endpoint " + where + ": " + ec.message());
  if (tls_) {
    conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(conn->ioc, tls_->ctx);
    // SNI and the name the certificate must carry.
    if (!SSL_set_tlsext_host_name(conn->tls->native_handle(), endpoint_.host.c_str())) {
      return Internal("cannot set TLS server name for " + where);
    }
    conn->tls->set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
  } else {
    conn->tcp = std::make_unique<beast::tcp_stream>(conn->ioc);
  }
  Conn* c = conn.get();
  ec = RunStep(
      c->ioc, [&](auto handler) { c->lowest().async_connect(addresses, handler); },
      [c] { c->Close(); });
  if (ec) return Unavailable("cannot connect to S3 endpoint " + where + ": " + ec.message());
  if (tls_) {
    ec = RunStep(
        c->ioc,
        [&](auto handler) { c->tls->async_handshake(asio::ssl::stream_base::client, handler); },
        [c] { c->Close(); });
    if (ec) return Unavailable("TLS handshake with " + where + " failed: " + ec.message());
  }
  return conn;
}

Result<Reply> Transport::SendOn(Conn& conn, const Exchange& ex) {
  // The body goes from the caller's memory (a mapped file for parts): no copy of it here.
  bhttp::request<bhttp::span_body<const char>> req;
  req.method_string(ex.method);
  req.target(ex.target);
  req.version(11);
  req.set(bhttp::field::host, host_header_);
  for (const auto& [k, v] : ex.headers) req.set(k, v);
  req.body() = {ex.body.data(), ex.body.size()};
  req.prepare_payload();
  if (auto ec = conn.Write(req)) return Unavailable("S3 request failed: " + ec.message());

  Reply reply;
  auto take_header = [&reply, &conn](const auto& message) {
    reply.status = static_cast<int>(message.result_int());
    for (const auto& f : message) {
      reply.headers.emplace_back(LowerAscii(std::string(f.name_string())), std::string(f.value()));
    }
    if (!message.keep_alive()) conn.Close();
  };
  if (ex.method == "HEAD") {
    // A HEAD answer carries Content-Length but no body.
    bhttp::response_parser<bhttp::empty_body> p;
    p.skip(true);
    if (auto ec = conn.Read(p)) return Unavailable("S3 answer failed: " + ec.message());
    take_header(p.get());
  } else if (!ex.response_file.empty()) {
    // Streamed to the file; an error answer's body is read back from it for the message.
    bhttp::response_parser<bhttp::file_body> p;
    p.body_limit(std::numeric_limits<std::uint64_t>::max());
    // Beast reads at most the buffer's free room (512 bytes at least) at a time: without room,
    // a large object came in 584-byte reads, each written to the file on its own (~90 MB/s).
    conn.buffer.reserve(kFileReadSize);
    beast::error_code ec;
    p.get().body().open(ex.response_file.c_str(), beast::file_mode::write, ec);
    if (ec) return Internal("cannot write '" + ex.response_file.string() + "': " + ec.message());
    if (auto rec = conn.Read(p)) return Unavailable("S3 download failed: " + rec.message());
    p.get().body().close();
    take_header(p.get());
    if (reply.status / 100 != 2) {
      std::ifstream in(ex.response_file, std::ios::binary);
      reply.body.assign(std::istreambuf_iterator<char>(in), {});
    }
  } else {
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(64 << 20);
    if (auto ec = conn.Read(p)) return Unavailable("S3 answer failed: " + ec.message());
    take_header(p.get());
    reply.body = std::move(p.get().body());
  }
  return reply;
}

Result<Reply> Transport::Send(const Exchange& ex) {
  std::unique_ptr<Conn> conn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  bool reused = conn != nullptr;
  if (!conn) {
    ASSIGN_OR_RETURN(conn, Connect());
  }
  Result<Reply> reply = SendOn(*conn, ex);
  if (!reply.ok() && reused) {
    // The server may have closed an idle connection; one fresh attempt.
    ASSIGN_OR_RETURN(conn, Connect());
    reply = SendOn(*conn, ex);
  }
  if (reply.ok() && conn->lowest().socket().is_open()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < 16) idle_.push_back(std::move(conn));
  }
  return reply;
}

}  // namespace ringo::artifacts
