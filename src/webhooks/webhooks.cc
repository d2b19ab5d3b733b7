// Webhook sender: URLs, HMAC signatures, and the background sender with its retries.
#include "webhooks/webhooks.h"

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

namespace ringo::webhooks {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  HttpUrl out;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return InvalidArgument("webhook URL '" + url + "' must start with http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  // An IPv6 literal comes in brackets ("[::1]:8080"); the host is what is inside them.
  size_t close = authority.rfind(']');
  size_t colon = authority.rfind(':');
  bool bracketed = !authority.empty() && authority[0] == '[' && close != std::string::npos;
  if (bracketed && colon < close) colon = std::string::npos;
  out.host = authority.substr(0, colon);
  out.port = colon == std::string::npos ? (out.tls ? "443" : "80") : authority.substr(colon + 1);
  if (bracketed) {
    if (out.host.back() != ']') return InvalidArgument("webhook URL '" + url + "' has no valid host");
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  auto n = ParseInt64(out.port);
  if (!n || *n < 1 || *n > 65535)
    return InvalidArgument("webhook URL '" + url + "' has an invalid port");
  if (out.host.empty() || out.host.find_first_of(" @[]") != std::string::npos)
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

std::string HmacSha256Base64(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

namespace {

// One attempt of a delivery: OK on a 2xx answer. `*http_status` gets the answer's status.
Status Deliver(const Request& r, int* http_status) {
  ASSIGN_OR_RETURN(Answer a, PostOnce(r));
  *http_status = a.status;
  if (a.status < 200 || a.status >= 300)
    return Unavailable(r.url + " answered " + std::to_string(a.status));
  return Status::Ok();
}

}  // namespace

Sender::Sender(Lookup lookup, Report report, Outbox outbox)
    : lookup_(std::move(lookup)),
      report_(std::move(report)),
      outbox_(std::move(outbox)),
      claimer_(NewId()) {
  thread_ = std::thread([this] { Loop(); });
}

Sender::~Sender() { Stop(); }

void Sender::Enqueue(std::string key, std::string payload) {
  Change change{std::move(key), std::move(payload)};
  // In the outbox the change waits for a claim (this sender's next look, or another server's).
  if (outbox_.store) return Persist(std::move(change));
  Keep(std::move(change), false);
}

void Sender::Keep(Change change, bool persisted) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    if (persisted) {
      next_claim_ms_ = 0;
    } else {
      changes_.push_back(std::move(change));
    }
  }
  cv_.notify_one();
}

void Sender::Stop() {
  {
    std::unique_lock lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    // The store answers every write; the callbacks of those in flight still use this object.
    cv_.wait(lock, [this] { return persisting_ == 0; });
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (outbox_.store) ReleaseClaims();
  size_t memory_only = 0;
  for (const auto& c : changes_) memory_only += c.outbox_key.empty();
  for (const auto& d : deliveries_) memory_only += d.outbox_key.empty();
  if (memory_only > 0) {
    std::cerr << "ringo: webhooks: dropping " << memory_only << " pending deliveries at shutdown"
              << std::endl;
  }
}

// Turns queued changes into deliveries (the lookup reads the store, so not under the lock).
void Sender::Expand(std::unique_lock<std::mutex>& lock) {
  while (!changes_.empty()) {
    Change change = std::move(changes_.front());
    changes_.pop_front();
    lock.unlock();
    std::vector<Request> requests;
    try {
      requests = lookup_(change.key, change.payload);
    } catch (const std::exception& e) {
      std::cerr << "ringo: webhooks: " << e.what() << std::endl;
    }
    lock.lock();
    for (auto& r : requests) {
      deliveries_.push_back(Delivery{std::move(r), 0, 0, change.outbox_key});
    }
    if (!change.outbox_key.empty()) {
      // One more than the requests, taken back at once: a change with nothing to send is done.
      outstanding_[change.outbox_key] = static_cast<int>(requests.size()) + 1;
      DeliveryFinished(lock, change.outbox_key);
    }
  }
}

void Sender::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (outbox_.store && NowMillis() >= next_claim_ms_) {
      next_claim_ms_ = NowMillis() + 1000;
      ClaimOutbox(lock);
    }
    Expand(lock);
    int64_t now = NowMillis();
    int64_t next_due = outbox_.store ? next_claim_ms_ : now + 60000;
    size_t pick = deliveries_.size();
    for (size_t i = 0; i < deliveries_.size(); ++i) {
      if (deliveries_[i].due_ms <= now) {
        pick = i;
        break;
      }
      next_due = std::min(next_due, deliveries_[i].due_ms);
    }
    if (pick == deliveries_.size()) {
      cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(next_due - now, 1)),
                   [this] { return stop_ || !changes_.empty() || next_claim_ms_ == 0; });
      continue;
    }
    Delivery d = std::move(deliveries_[pick]);
    deliveries_.erase(deliveries_.begin() + static_cast<std::ptrdiff_t>(pick));
    lock.unlock();
    Status s = Internal("not sent");
    int http_status = 0;
    int64_t started = NowMillis();
    try {
      s = Deliver(d.request, &http_status);
    } catch (const std::exception& e) {
      s = Internal(e.what());
    }
    if (report_) {
      Attempt a{d.request.url, d.attempt + 1, s.ok() || d.attempt + 1 >= kAttempts, http_status,
                s.ok() ? std::string() : s.message(), NowMillis() - started};
      report_(a);
    }
    lock.lock();
    bool final = s.ok() || d.attempt + 1 >= kAttempts;
    if (final && !d.outbox_key.empty()) DeliveryFinished(lock, d.outbox_key);
    if (s.ok()) continue;
    if (++d.attempt >= kAttempts) {
      std::cerr << "ringo: webhook " << d.request.url << " failed " << kAttempts
                << " times, giving up: " << s.message() << std::endl;
      continue;
    }
    d.due_ms = NowMillis() + 1000 * (int64_t{1} << (d.attempt - 1));
    deliveries_.push_back(std::move(d));
  }
}

}  // namespace ringo::webhooks
