// Webhook sender: HTTP/1.1 POSTs on Boost.Beast with timeouts, HMAC signatures, retries.
#include "deploy/webhooks.h"

// GCC 12 + C++20: <utility> before Asio.
#include <utility>
// Asio and Beast follow.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>

#include "common/util.h"

namespace ringo::deploy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    return InvalidArgument("webhook URL '" + url + "' must start with http:// (https is not " +
                           "supported; put a TLS proxy in front)");
  }
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpUrl out;
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
    auto n = ParseInt64(out.port);
    if (!n || *n < 1 || *n > 65535)
      return InvalidArgument("webhook URL '" + url + "' has an invalid port");
  } else {
    out.host = authority;
    out.port = "80";
  }
  if (out.host.empty() || out.host.find_first_of(" @") != std::string::npos)
    return InvalidArgument("webhook URL '" + url + "' has no valid host");
  if (out.target.find_first_of(" \r\n") != std::string::npos)
    return InvalidArgument("webhook URL '" + url + "' has an invalid path");
  return out;
}

std::string HmacSha256Hex(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

namespace {

// One POST; OK on a 2xx answer.
Status Post(const WebhookSender::Target& t, const std::string& payload) {
  ASSIGN_OR_RETURN(HttpUrl u, ParseHttpUrl(t.url));
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, u.target, 11};
  req.set(bhttp::field::host, u.host + ":" + u.port);
  req.set(bhttp::field::user_agent, "ringo-webhook");
  req.set(bhttp::field::content_type, "application/json");
  if (!t.secret.empty())
    req.set("X-Ringo-Webhook-Signature", "sha256=" + HmacSha256Hex(t.secret, payload));
  req.body() = payload;
  req.prepare_payload();
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  beast::error_code result;
  // Async operations so the stream's deadline bounds every step.
  stream.expires_after(std::chrono::seconds(5));
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, auto endpoints) {
    if (ec) return void(result = ec);
    stream.async_connect(endpoints, [&](beast::error_code ec2, auto) {
      if (ec2) return void(result = ec2);
      bhttp::async_write(stream, req, [&](beast::error_code ec3, size_t) {
        if (ec3) return void(result = ec3);
        bhttp::async_read(stream, buffer, res,
                          [&](beast::error_code ec4, size_t) { result = ec4; });
      });
    });
  });
  ioc.run();
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  if (result) return Unavailable(t.url + ": " + result.message());
  if (res.result_int() < 200 || res.result_int() >= 300)
    return Unavailable(t.url + " answered " + std::to_string(res.result_int()));
  return Status::Ok();
}

}  // namespace

WebhookSender::WebhookSender(Lookup lookup) : lookup_(std::move(lookup)) {
  thread_ = std::thread([this] { Loop(); });
}

WebhookSender::~WebhookSender() { Stop(); }

void WebhookSender::Enqueue(std::string collection, std::string payload) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    changes_.emplace_back(std::move(collection), std::move(payload));
  }
  cv_.notify_one();
}

void WebhookSender::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (!deliveries_.empty() || !changes_.empty()) {
    std::cerr << "ringo: webhooks: dropping " << deliveries_.size() + changes_.size()
              << " pending deliveries at shutdown" << std::endl;
  }
}

void WebhookSender::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    // Turn queued changes into deliveries (the lookup reads the store, so not under the lock).
    while (!changes_.empty()) {
      auto [collection, payload] = std::move(changes_.front());
      changes_.pop_front();
      lock.unlock();
      std::vector<Target> targets;
      try {
        targets = lookup_(collection);
      } catch (const std::exception& e) {
        std::cerr << "ringo: webhooks: " << e.what() << std::endl;
      }
      lock.lock();
      for (auto& t : targets) deliveries_.push_back(Delivery{std::move(t), payload, 0, 0});
    }
    int64_t now = NowMillis();
    int64_t next_due = now + 60000;
    size_t pick = deliveries_.size();
    for (size_t i = 0; i < deliveries_.size(); ++i) {
      if (deliveries_[i].due_ms <= now) {
        pick = i;
        break;
      }
      next_due = std::min(next_due, deliveries_[i].due_ms);
    }
    if (pick == deliveries_.size()) {
      cv_.wait_for(lock, std::chrono::milliseconds(next_due - now),
                   [this] { return stop_ || !changes_.empty(); });
      continue;
    }
    Delivery d = std::move(deliveries_[pick]);
    deliveries_.erase(deliveries_.begin() + static_cast<std::ptrdiff_t>(pick));
    lock.unlock();
    Status s = Internal("not sent");
    try {
      s = Post(d.target, d.payload);
    } catch (const std::exception& e) {
      s = Internal(e.what());
    }
    lock.lock();
    if (s.ok()) continue;
    if (++d.attempt >= kAttempts) {
      std::cerr << "ringo: webhook " << d.target.url << " failed " << kAttempts
                << " times, giving up: " << s.message() << std::endl;
      continue;
    }
    d.due_ms = NowMillis() + 1000 * (int64_t{1} << (d.attempt - 1));
    deliveries_.push_back(std::move(d));
  }
}

}  // namespace ringo::deploy
