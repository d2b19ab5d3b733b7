// The audit log: recording changes as they are answered, flushing them to the store, listing.
#include "api/audit.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/util.h"

namespace ringo::api {

namespace {

using nlohmann::json;

constexpr const char* kKind = "audit";
constexpr int64_t kHourMs = 3600 * 1000;
constexpr size_t kMaxPending = 100000;  // beyond it entries are flushed at once

// The store key of the hour holding `ms`: "2026-12-06T14".
std::string HourKey(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm t {};
  gmtime_r(&secs, &t);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H", &t);
  return buf;
}

// The raw JSON string or number value following `"key":` in `body`, or empty.
std::string ScanValue(std::string_view body, std::string_view key) {
  std::string quoted = "\"" + std::string(key) + "\"";
  size_t at = body.find(quoted);
  if (at == std::string_view::npos) return "";
  size_t i = body.find_first_not_of(" \t\r\n", at + quoted.size());
  if (i == std::string_view::npos || body[i] != ':') return "";
  i = body.find_first_not_of(" \t\r\n", i + 1);
  if (i == std::string_view::npos) return "";
  size_t end = i;
  if (body[i] == '"') {
    end = i + 1;
    while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
    return std::string(body.substr(i + 1, std::min(end, body.size()) - i - 1)).substr(0, 200);
  }
  while (end < body.size() && (std::isalnum(static_cast<unsigned char>(body[end])) ||
                               body[end] == '-' || body[end] == '.')) {
    ++end;
  }
  return std::string(body.substr(i, end - i)).substr(0, 200);
}

}  // namespace

AuditLog::AuditLog(store::Store* store, int64_t flush_ms) : store_(store) {
  flusher_.Start(std::chrono::milliseconds(flush_ms), [this] { Flush(); });
}

bool AuditLog::Recorded(http::Method method, http::Access access) {
  if (method == http::Method::kGet || method == http::Method::kHead) return false;
  return access != http::Access::kRead;
}

std::string AuditLog::Target(const http::Request& req) {
  static constexpr std::array<std::string_view, 14> kKeys = {
      "experiment_id", "run_id",  "name",    "version",       "model_id",
      "alias",         "key",     "path",    "collection",    "channel",
      "deployment_id", "scope",   "id",      "new_name"};
  std::string_view body(req.body);
  bool json_body = !body.empty() && body.find_first_not_of(" \t\r\n") != std::string_view::npos &&
                   body[body.find_first_not_of(" \t\r\n")] == '{';
  body = body.substr(0, 4096);
  auto query = http::ParseQuery(req.query);
  std::string out;
  for (std::string_view key : kKeys) {
    std::string v;
    if (query) {
      for (const auto& [k, value] : *query) {
        if (k == key) v = value.substr(0, 200);
      }
    }
    if (v.empty() && json_body) v = ScanValue(body, key);
    if (!v.empty()) out += (out.empty() ? "" : " ") + std::string(key) + "=" + v;
  }
  return out;
}

void AuditLog::Observe(const http::Request& req, const http::Router::Match& match,
                       unsigned status) {
  if (match.route.empty() || !Recorded(req.method, match.access)) return;
  Key k;
  k.actor = req.principal.empty() ? "anonymous" : req.principal;
  // Devices are a fleet, not people: their reports are counted per token, not per address.
  if (match.access != http::Access::kDevice) {
    k.origin = req.peer;
    std::string_view forwarded = req.Header("x-forwarded-for");
    if (!forwarded.empty()) k.origin += " for " + std::string(forwarded.substr(0, 200));
  }
  k.method = std::string(http::MethodName(req.method));
  k.route = match.route;
  k.path = req.path.substr(0, 1024);
  k.target = Target(req);
  k.status = status;
  int64_t now = NowMillis();
  bool full;
  {
    std::lock_guard lock(mu_);
    Seen& s = pending_[std::move(k)];
    if (s.count++ == 0) s.first = now;
    s.last = now;
    full = pending_.size() >= kMaxPending;
  }
  if (full) Flush();
}

void AuditLog::Flush(bool wait) {
  std::map<Key, Seen> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return;
  struct Pending {
    std::mutex mu;
    std::condition_variable done;
    size_t left = 0;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = batch.size();
  for (const auto& [k, s] : batch) {
    json e = {{"time", s.first},     {"actor", k.actor},   {"origin", k.origin},
              {"method", k.method},  {"route", k.route},   {"path", k.path},
              {"target", k.target},  {"status", k.status}, {"count", s.count}};
    if (s.count > 1) e["last"] = s.last;
    // The store's writer commits them with whatever else it has queued.
    // Paths and bodies are the caller's bytes: anything not UTF-8 is written as U+FFFD.
    std::string line = e.dump(-1, ' ', false, json::error_handler_t::replace);
    store_->AppendEvent(kKind, HourKey(s.first), std::move(line), [pending](Status) {
      std::lock_guard lock(pending->mu);
      if (--pending->left == 0) pending->done.notify_all();
    });
  }
  if (!wait) return;
  std::unique_lock lock(pending->mu);
  pending->done.wait(lock, [&] { return pending->left == 0; });
}

void AuditLog::Stop() {
  flusher_.Stop();
  Flush(true);
}

Result<std::string> AuditLog::List(const Query& q) const {
  int64_t until = q.until > 0 ? q.until : NowMillis();
  int64_t since = q.since > 0 ? q.since : until - 24 * kHourMs;
  if (since > until) return InvalidArgument("'since' is after 'until'");
  if (until - since > 366 * 24 * kHourMs) {
    return InvalidArgument("at most a year of the audit log at once");
  }
  if (q.limit < 1 || q.limit > 10000) return InvalidArgument("limit must be 1 to 10000");
  json entries = json::array();
  for (int64_t hour = until / kHourMs * kHourMs; hour >= since / kHourMs * kHourMs;
       hour -= kHourMs) {
    ASSIGN_OR_RETURN(auto events, store_->ListEvents(kKind, HourKey(hour), 0, 10'000'000));
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      json e = json::parse(it->value, nullptr, false);
      if (!e.is_object()) continue;
      int64_t t = e.value("time", int64_t{0});
      if (t < since || t > until) continue;
      if (!q.actor.empty() && e.value("actor", "") != q.actor) continue;
      if (!q.route.empty() && e.value("route", "").find(q.route) == std::string::npos) continue;
      entries.push_back(std::move(e));
    }
    if (entries.size() >= static_cast<size_t>(q.limit)) break;
  }
  // Within an hour the store keeps them in the order flushed; newest first overall.
  std::stable_sort(entries.begin(), entries.end(), [](const json& a, const json& b) {
    return a.value("time", int64_t{0}) > b.value("time", int64_t{0});
  });
  if (entries.size() > static_cast<size_t>(q.limit)) {
    entries.erase(entries.begin() + q.limit, entries.end());
  }
  return json{{"entries", entries}}.dump();
}

}  // namespace ringo::api
