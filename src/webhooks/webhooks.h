// Outbound webhooks: signed HTTP POSTs of JSON payloads, sent from a background thread with
// retries. Used by delivery (channel changes) and the registry (MLflow's webhook events).
#ifndef RINGO_WEBHOOKS_WEBHOOKS_H_
#define RINGO_WEBHOOKS_WEBHOOKS_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace ringo::webhooks {

struct HttpUrl {
  std::string host;
  std::string port;    // "80" (http) or "443" (https) unless given
  std::string target;  // path and query, at least "/"
  bool tls = false;    // https
};

// Parses http[s]://HOST[:PORT][/PATH]. kInvalidArgument otherwise.
Result<HttpUrl> ParseHttpUrl(const std::string& url);

// CA certificates (a PEM file) https webhooks trust besides the system's (OpenSSL's default
// verify paths): set once at startup (ringo server --webhook-ca-cert), before any webhook is
// sent; "" trusts the system's alone. kInvalidArgument naming the file when it cannot be read
// or holds no certificate (the setting is then unchanged).
[[nodiscard]] Status SetExtraCaFile(const std::string& path);

// Where webhooks may be sent. Public addresses always; loopback, link-local (the cloud metadata
// address 169.254.169.254 among them), private (10/8, 172.16/12, 192.168/16, fc00::/7),
// carrier-grade NAT (100.64/10), "this network" (0/8), unspecified, multicast and reserved
// addresses only when an allowed range covers them: a webhook must not become a way into the
// server's own network. IPv4-mapped IPv6 addresses are judged as the IPv4 address. Immutable
// once made; thread-safe.
class DestinationPolicy {
 public:
  // The default: nothing allowed beyond public addresses.
  DestinationPolicy() = default;
  // `allow`: ranges in CIDR form ("127.0.0.1/32", "10.0.0.0/8", "::1/128") or single
  // addresses. kInvalidArgument naming a malformed one.
  static Result<DestinationPolicy> Make(const std::vector<std::string>& allow);
  // OK for an address (text form) webhooks may reach; kInvalidArgument naming the address and
  // why it is refused otherwise (and for text that is no address).
  Status CheckAddress(const std::string& ip) const;

 private:
  struct Range {
    std::vector<uint8_t> net;  // 4 or 16 bytes
    int bits = 0;
  };
  std::vector<Range> allow_;
};

// The policy of this process: set once at startup (ringo server --webhook-allow), before any
// webhook is created or sent. Until then, the default policy.
void SetDestinationPolicy(DestinationPolicy policy);
// The policy in force.
std::shared_ptr<const DestinationPolicy> CurrentDestinationPolicy();

// Checks a webhook URL as it stands now: parses it (ParseHttpUrl), resolves its host and checks
// every address under the process's policy. kInvalidArgument for a bad URL or a refused
// address; Ok for a host that does not resolve (yet). Deliveries (PostOnce) check again the
// addresses they are about to connect to, so a name that resolves elsewhere later is refused.
Status CheckDestination(const std::string& url);

// HMAC-SHA256 of `body` under `secret`: lowercase hex, or base64.
std::string HmacSha256Hex(const std::string& secret, const std::string& body);
std::string HmacSha256Base64(const std::string& secret, const std::string& body);

using Headers = std::vector<std::pair<std::string, std::string>>;

// One POST of a JSON body.
struct Request {
  std::string url;
  std::string body;
  Headers headers;  // besides Host, User-Agent, Content-Type and Content-Length
};

struct Answer {
  int status = 0;
  std::string body;  // at most the first 64 kB
};

// Sends one request and waits for the answer (5 s for everything, the TLS handshake included);
// redirects are not followed. https verifies the server's certificate and name (system CAs and
// SetExtraCaFile's). kInvalidArgument for a bad URL or a destination the policy refuses (checked
// on the resolved addresses); kUnavailable when no HTTP answer came (a refused certificate:
// "certificate verify failed: <OpenSSL's reason>"). Any HTTP status is an answer.
Result<Answer> PostOnce(const Request& request);

// Where a Sender keeps the changes it has yet to deliver: documents of kind "webhook_outbox" in
// `store`, keyed "<source>/<enqueue time>-<id>". A change is written there before Enqueue
// returns; one sender at a time (of all the servers sharing the store) claims it, by writing the
// document at the revision it read; the document is deleted once every request of the change
// has had its final attempt. A sender that stops releases its claims, and a claim older than a
// minute (its server died; a delivery ends within ~25 s) is taken over. So a change survives
// restarts and is delivered by one server: at least once, and exactly once unless a server dies
// in the middle of a delivery.
struct Outbox {
  store::Store* store = nullptr;  // nullptr: changes live in memory only
  std::string source;
};

// Sends requests from one background thread: each is tried up to 3 times (1 s, then 2 s apart)
// until a 2xx answer. Without an Outbox nothing is persisted: requests pending at Stop() are
// dropped (and counted on stderr). Thread-safe.
class Sender {
 public:
  // Called on the sender thread to turn one queued change into requests (it may read the store;
  // the code that queued the change never waits for it).
  using Lookup = std::function<std::vector<Request>(const std::string& key,
                                                    const std::string& payload)>;

  // What became of one attempt of a delivery, for a delivery log.
  struct Attempt {
    std::string url;
    int attempt = 0;      // 1-based
    bool final = false;   // no further attempt follows (delivered, or given up)
    int status = 0;       // the HTTP status answered; 0 when none came
    std::string error{};  // empty when delivered (a 2xx answer)
    int64_t duration_ms = 0;
  };
  // Called on the sender thread after every attempt; must not block for long.
  using Report = std::function<void(const Attempt&)>;

  explicit Sender(Lookup lookup, Report report = nullptr, Outbox outbox = {});
  ~Sender();

  // Queues a change; returns at once.
  void Enqueue(std::string key, std::string payload);
  // Joins the thread; idempotent.
  void Stop();

  static constexpr int kAttempts = 3;

 private:
  struct Change {
    std::string key;
    std::string payload;
    std::string outbox_key{};  // its outbox document; empty when kept in memory only
  };
  struct Delivery {
    Request request;
    int attempt = 0;
    int64_t due_ms = 0;
    std::string outbox_key{};
  };
  void Loop();
  void Expand(std::unique_lock<std::mutex>& lock);
  // The outbox (outbox.cc). ClaimOutbox and DeliveryFinished drop `lock` around their store
  // calls; ReleaseClaims runs after the thread is joined.
  // Writes the change to the outbox without waiting (Enqueue may run on the store's own writer
  // thread), then Keep()s it: as persisted, or in memory when the store refused it.
  void Persist(Change change);
  void Keep(Change change, bool persisted);
  void ClaimOutbox(std::unique_lock<std::mutex>& lock);
  void DeliveryFinished(std::unique_lock<std::mutex>& lock, const std::string& outbox_key);
  void ReleaseClaims();

  Lookup lookup_;
  Report report_;
  Outbox outbox_;
  std::string claimer_;        // this sender's name in the claims it writes
  int64_t next_claim_ms_ = 0;  // when the outbox is read next (0: at once)
  std::map<std::string, int> outstanding_;  // outbox key -> deliveries without a final attempt
  int persisting_ = 0;  // outbox writes whose answer has not come (Stop waits for them)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<Change> changes_;
  std::vector<Delivery> deliveries_;
  std::thread thread_;
};

// The delivery log: the events of kind kDeliveryKind, key kDeliveryKey in the store, one per
// attempt: {"source", "url", "attempt", "final", "status", "error", "duration_ms"}.
inline constexpr char kDeliveryKind[] = "webhook_delivery";
inline constexpr char kDeliveryKey[] = "log";
// A Sender report that appends each attempt to the store's delivery log, `source` naming the
// sender ("delivery", "mlflow"). A failing append is dropped: the log never holds up a delivery.
Sender::Report StoreDeliveryLog(store::Store* store, std::string source);

}  // namespace ringo::webhooks

#endif  // RINGO_WEBHOOKS_WEBHOOKS_H_
