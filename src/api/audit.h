// The audit log (private to api/): every change made through the API — who, when, what, from
// where, and the answer — kept in the store as events per hour, so replicas sharing a store
// share it. Requests that only read are not recorded.
#ifndef RINGO_API_AUDIT_H_
#define RINGO_API_AUDIT_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "common/periodic.h"
#include "common/status.h"
#include "http/http.h"
#include "store/store.h"

namespace ringo::api {

class AuditLog {
 public:
  // Identical changes (same actor, origin, route, target and status) within a flush interval
  // are kept as one entry with a count: a training loop logging 10,000 metrics a second is a
  // line a second, not 10,000.
  explicit AuditLog(store::Store* store, int64_t flush_ms = 1000);
  ~AuditLog() { Stop(); }

  // The router's observer: records `req` when its route changes state.
  void Observe(const http::Request& req, const http::Router::Match& match, unsigned status);
  // Writes what is buffered to the store (also done every flush interval and by Stop); with
  // `wait`, returns once it is committed, and so is every flush begun before (the periodic one
  // may have taken the buffer a moment before). Entries the store fails to write are reported on
  // stderr (the first, then one in a thousand, with the count).
  void Flush(bool wait = false);
  void Stop();

  struct Query {
    int64_t since = 0;  // ms since the epoch; 0: a day before `until`
    int64_t until = 0;  // ms since the epoch; 0: now
    std::string actor{};  // exact; empty: everyone
    std::string route{};  // substring of the route pattern; empty: every route
    int limit = 100;
  };
  // Entries newest first, as a JSON object {"entries": [...]}.
  Result<std::string> List(const Query& q) const;

  // Whether a route is recorded: every method but GET and HEAD, except the reads MLflow's
  // clients POST (their route's access is read).
  static bool Recorded(http::Method method, http::Access access);
  // Identifiers a request names, "key=value" pairs in a fixed order, from its query and the
  // first 4 KB of a JSON body (experiment_id, run_id, name, version...).
  static std::string Target(const http::Request& req);

 private:
  struct Key {
    std::string actor, origin, method, route, path, target;
    unsigned status;
    auto Tie() const { return std::tie(actor, origin, method, route, path, target, status); }
    bool operator<(const Key& o) const { return Tie() < o.Tie(); }
  };
  struct Seen {
    int64_t first = 0, last = 0, count = 0;
  };

  // Entries handed to the store and not yet answered; shared with the store's callbacks.
  struct InFlight {
    std::mutex mu;
    std::condition_variable done;
    size_t entries = 0;
    int64_t failed = 0;
  };

  store::Store* store_;
  std::mutex mu_;
  std::map<Key, Seen> pending_;
  std::shared_ptr<InFlight> in_flight_ = std::make_shared<InFlight>();
  Periodic flusher_;
};

}  // namespace ringo::api

#endif  // RINGO_API_AUDIT_H_
