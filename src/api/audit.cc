// The audit log: recording changes as they are answered, flushing them to the store, listing.
#include "api/audit.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>
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

constexpr std::array<std::string_view, 14> kTargetKeys = {
    "experiment_id", "run_id",  "name",    "version",       "model_id",
    "alias",         "key",     "path",    "collection",    "channel",
    "deployment_id", "scope",   "id",      "new_name"};
constexpr size_t kMaxTargetValue = 200;

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  return i;
}

// A JSON string opening at `open`: its text between the quotes (escapes as written) and the index
// just past its closing quote; when the text is cut short, the rest of it and its end.
struct JsonString {
  std::string_view text;
  size_t end;
  bool closed;
};
JsonString ReadString(std::string_view s, size_t open) {
  size_t i = open + 1;
  while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
  if (i >= s.size()) return {s.substr(open + 1), s.size(), false};
  return {s.substr(open + 1, i - open - 1), i + 1, true};
}

// The raw value starting at `i`: a string's text, or a number or literal as written.
std::string_view RawValue(std::string_view s, size_t i) {
  if (i >= s.size()) return {};
  if (s[i] == '"') return ReadString(s, i).text;
  size_t end = i;
  while (end < s.size() && (std::isalnum(static_cast<unsigned char>(s[end])) || s[end] == '-' ||
                            s[end] == '.')) {
    ++end;
  }
  return s.substr(i, end - i);
}

// The values of the target keys among the members of the JSON text `body`, read in one pass
// over its strings: a string followed by a colon names a member; each key's first member counts.
std::array<std::string_view, kTargetKeys.size()> ScanMembers(std::string_view body) {
  std::array<std::string_view, kTargetKeys.size()> values{};
  std::array<bool, kTargetKeys.size()> seen{};
  for (size_t i = body.find('"'); i != std::string_view::npos; i = body.find('"', i)) {
    const JsonString name = ReadString(body, i);
    i = name.end;
    const size_t colon = SkipSpace(body, name.end);
    if (!name.closed || colon >= body.size() || body[colon] != ':') continue;
    auto key = std::find(kTargetKeys.begin(), kTargetKeys.end(), name.text);
    if (key == kTargetKeys.end()) continue;
    const auto k = static_cast<size_t>(key - kTargetKeys.begin());
    if (seen[k]) continue;
    seen[k] = true;
    values[k] = RawValue(body, SkipSpace(body, colon + 1));
  }
  return values;
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
  std::string_view body(req.body);
  const size_t first = SkipSpace(body, 0);
  const bool json_body = first < body.size() && body[first] == '{';
  std::array<std::string_view, kTargetKeys.size()> values{};
  if (json_body) values = ScanMembers(body.substr(0, 4096));
  auto query = req.query.empty() ? std::nullopt : http::ParseQuery(req.query);
  std::string out;
  for (size_t k = 0; k < kTargetKeys.size(); ++k) {
    std::string_view v;
    std::string from_query;
    if (query) {
      for (const auto& [name, value] : *query) {
        if (name == kTargetKeys[k]) from_query = value;
      }
      v = from_query;
    }
    if (v.empty()) v = values[k];
    if (v.empty()) continue;
    if (!out.empty()) out += ' ';
    out.append(kTargetKeys[k]).append("=").append(v.substr(0, kMaxTargetValue));
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
  if (!batch.empty()) {
    std::lock_guard lock(in_flight_->mu);
    in_flight_->entries += batch.size();
  }
  for (const auto& [k, s] : batch) {
    json e = {{"time", s.first},     {"actor", k.actor},   {"origin", k.origin},
              {"method", k.method},  {"route", k.route},   {"path", k.path},
              {"target", k.target},  {"status", k.status}, {"count", s.count}};
    if (s.count > 1) e["last"] = s.last;
    // The store's writer commits them with whatever else it has queued.
    // Paths and bodies are the caller's bytes: anything not UTF-8 is written as U+FFFD.
    std::string line = e.dump(-1, ' ', false, json::error_handler_t::replace);
    store_->AppendEvent(kKind, HourKey(s.first), std::move(line),
                        [flight = in_flight_](const Status& status) {
                          std::lock_guard lock(flight->mu);
                          if (!status.ok() && flight->failed++ % 1000 == 0) {
                            std::cerr << "ringo: audit log entries not written: "
                                      << flight->failed << " so far; " << status.ToString()
                                      << std::endl;
                          }
                          if (--flight->entries == 0) flight->done.notify_all();
                        });
  }
  if (!wait) return;
  std::unique_lock lock(in_flight_->mu);
  in_flight_->done.wait(lock, [this] { return in_flight_->entries == 0; });
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
