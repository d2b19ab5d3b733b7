// Outbound webhooks of channel changes: a background sender with retries (private to deploy/).
#ifndef RINGO_DEPLOY_WEBHOOKS_H_
#define RINGO_DEPLOY_WEBHOOKS_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace ringo::deploy {

struct HttpUrl {
  std::string host;
  std::string port;    // "80" unless given
  std::string target;  // path and query, at least "/"
};

// Parses http://HOST[:PORT][/PATH]. kInvalidArgument otherwise (https is not supported: the
// sender has no TLS).
Result<HttpUrl> ParseHttpUrl(const std::string& url);

// Lowercase hex HMAC-SHA256 of `body` under `secret`.
std::string HmacSha256Hex(const std::string& secret, const std::string& body);

// Sends payloads to the webhooks of a collection from one background thread: each delivery is a
// POST with a 5 s timeout, tried up to 3 times (1 s, then 2 s apart) until a 2xx answer.
// Nothing is persisted: deliveries pending at Stop() are dropped. Thread-safe.
class WebhookSender {
 public:
  struct Target {
    std::string url;
    std::string secret;
  };
  // Called on the sender thread to find the targets of a change of `collection`.
  using Lookup = std::function<std::vector<Target>(const std::string& collection)>;

  explicit WebhookSender(Lookup lookup);
  ~WebhookSender();

  // Queues a change; returns at once.
  void Enqueue(std::string collection, std::string payload);
  // Joins the thread; idempotent.
  void Stop();

  static constexpr int kAttempts = 3;

 private:
  struct Delivery {
    Target target;
    std::string payload;
    int attempt = 0;
    int64_t due_ms = 0;
  };
  void Loop();

  Lookup lookup_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<std::pair<std::string, std::string>> changes_;  // collection, payload
  std::vector<Delivery> deliveries_;
  std::thread thread_;
};

}  // namespace ringo::deploy

#endif  // RINGO_DEPLOY_WEBHOOKS_H_
