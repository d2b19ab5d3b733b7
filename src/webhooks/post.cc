// One webhook POST over http or https: the destination check on the addresses connected to, the
// TLS verification, one deadline for everything.
#include <utility>
// GCC 12 + C++20: <utility> before Asio.
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <mutex>
#include <type_traits>

#include "common/tls.h"
#include "webhooks/webhooks.h"

namespace ringo::webhooks {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

std::mutex ca_mu;
std::string& ExtraCa() {
  static std::string path;
  return path;
}

// The exchange of `req` with the destination on `stream` (plain or TLS), every step under the
// stream's 5 s deadline. Returns the answer or why none came.
template <typename Stream>
Result<Answer> Exchange(asio::io_context& ioc, Stream& stream, const HttpUrl& u,
                        const std::string& url, bhttp::request<bhttp::string_body>& req) {
  constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  beast::error_code result;
  bool handshake_failed = false;
  auto policy = CurrentDestinationPolicy();
  Status refused;
  auto exchange = [&] {
    bhttp::async_write(stream, req, [&](beast::error_code ec, size_t) {
      if (ec) return void(result = ec);
      bhttp::async_read(stream, buffer, res, [&](beast::error_code ec2, size_t) { result = ec2; });
    });
  };
  tcp.expires_after(std::chrono::seconds(5));
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, auto endpoints) {
    if (ec) return void(result = ec);
    // The addresses connected to are the ones checked: a name that resolved to a public address
    // when the webhook was made may point inside since.
    for (const auto& e : endpoints) {
      Status s = policy->CheckAddress(e.endpoint().address().to_string());
      if (!s.ok()) return void(refused = s);
    }
    tcp.async_connect(endpoints, [&](beast::error_code ec2, auto) {
      if (ec2) return void(result = ec2);
      if constexpr (kTls) {
        stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec3) {
          if (ec3) {
            handshake_failed = true;
            return void(result = ec3);
          }
          exchange();
        });
      } else {
        exchange();
      }
    });
  });
  ioc.run();
  beast::error_code ignored;
  tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  if (!refused.ok()) return refused;
  if (handshake_failed) {
    if constexpr (kTls) {
      return Unavailable(url + ": TLS handshake with " + u.host + " failed: " +
                         TlsFailureReason(stream.native_handle(), result.message()));
    }
  }
  if (result) return Unavailable(url + ": " + result.message());
  Answer answer;
  answer.status = static_cast<int>(res.result_int());
  answer.body = res.body().substr(0, 64 * 1024);
  return answer;
}

}  // namespace

Status SetExtraCaFile(const std::string& path) {
  if (!path.empty()) {
    // Read once now so a bad file stops the server at start, not the first delivery.
    asio::ssl::context probe(asio::ssl::context::tls_client);
    Status s = ConfigureTlsClient(probe.native_handle(), {.ca_file = path});
    if (!s.ok()) return InvalidArgument("--webhook-ca-cert: " + s.message());
  }
  std::lock_guard lock(ca_mu);
  ExtraCa() = path;
  return Status::Ok();
}

Result<Answer> PostOnce(const Request& r) {
  ASSIGN_OR_RETURN(HttpUrl u, ParseHttpUrl(r.url));
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, u.target, 11};
  req.set(bhttp::field::host,
          (u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host) + ":" + u.port);
  req.set(bhttp::field::user_agent, "ringo-webhook");
  req.set(bhttp::field::content_type, "application/json");
  for (const auto& [name, value] : r.headers) req.set(name, value);
  req.body() = r.body;
  req.prepare_payload();
  asio::io_context ioc;
  if (!u.tls) {
    beast::tcp_stream stream(ioc);
    return Exchange(ioc, stream, u, r.url, req);
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  TlsClientOptions options;
  {
    std::lock_guard lock(ca_mu);
    options.ca_file = ExtraCa();
  }
  RETURN_IF_ERROR(ConfigureTlsClient(ctx.native_handle(), options));
  TlsStream stream(ioc, ctx);
  RETURN_IF_ERROR(PrepareTlsConnection(stream.native_handle(), u.host));
  return Exchange(ioc, stream, u, r.url, req);
}

}  // namespace ringo::webhooks
