// The Sender's outbox: changes persisted in the store until delivered, claimed by one server.
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/util.h"
#include "webhooks/webhooks.h"

namespace ringo::webhooks {

namespace {

constexpr const char* kOutboxKind = "webhook_outbox";
// A claim older than this belongs to a server that died: a delivery of three attempts (5 s each,
// 1 s and 2 s apart) ends well within it.
constexpr int64_t kClaimExpiryMs = 60000;

std::string OutboxValue(const std::string& key, const std::string& payload,
                        const std::string& claimer, int64_t claimed_at) {
  nlohmann::json j = {{"key", key}, {"payload", payload}};
  if (!claimer.empty()) {
    j["claimed_by"] = claimer;
    j["claimed_at"] = claimed_at;
  }
  return j.dump();
}

}  // namespace

void Sender::Persist(Change change) {
  // Keys sort by enqueue time, so changes are claimed (and sent) in order.
  char when[24];
  std::snprintf(when, sizeof when, "%015lld", static_cast<long long>(NowMillis()));
  std::string doc_key = outbox_.source + "/" + when + "-" + NewId();
  std::string value = OutboxValue(change.key, change.payload, "", 0);
  auto shared = std::make_shared<Change>(std::move(change));
  {
    std::lock_guard lock(mu_);
    ++persisting_;
  }
  outbox_.store->PutDocument(kOutboxKind, doc_key, std::move(value), 0, "",
                             [this, shared](Result<int64_t> put) {
                               if (!put.ok()) {
                                 std::cerr << "ringo: webhooks: outbox unavailable, keeping a "
                                              "change in memory: "
                                           << put.status().message() << std::endl;
                               }
                               Keep(std::move(*shared), put.ok());
                               std::lock_guard lock(mu_);
                               --persisting_;
                               cv_.notify_all();
                             });
}

void Sender::ClaimOutbox(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  std::vector<Change> claimed;
  auto docs = outbox_.store->ListDocuments(kOutboxKind, outbox_.source + "/");
  int64_t now = NowMillis();
  for (const store::Document& d : docs.ok() ? *docs : std::vector<store::Document>{}) {
    auto j = nlohmann::json::parse(d.value, nullptr, false);
    if (!j.is_object()) continue;
    std::string by = j.value("claimed_by", "");
    if (by == claimer_ || (!by.empty() && now - j.value("claimed_at", int64_t{0}) < kClaimExpiryMs)) {
      continue;  // ours already, or another server's live claim
    }
    Change c{j.value("key", ""), j.value("payload", ""), d.key};
    auto put = store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
      outbox_.store->PutDocument(kOutboxKind, d.key, OutboxValue(c.key, c.payload, claimer_, now),
                                 d.revision, "", std::move(done));
    });
    if (put.ok()) claimed.push_back(std::move(c));  // else another server was quicker
  }
  lock.lock();
  for (auto& c : claimed) changes_.push_back(std::move(c));
}

void Sender::DeliveryFinished(std::unique_lock<std::mutex>& lock, const std::string& outbox_key) {
  auto it = outstanding_.find(outbox_key);
  if (it == outstanding_.end() || --it->second > 0) return;
  outstanding_.erase(it);
  lock.unlock();
  Status s = store::Wait([&](store::Done done) {
    outbox_.store->DeleteDocument(kOutboxKind, outbox_key, -1, std::move(done));
  });
  if (!s.ok() && s.code() != Code::kNotFound) {
    std::cerr << "ringo: webhooks: cannot clear outbox entry " << outbox_key << ": "
              << s.message() << std::endl;
  }
  lock.lock();
}

void Sender::ReleaseClaims() {
  // Whatever this sender claimed and has not finished goes back to the outbox for the next
  // sender (another server now, or this one after its restart).
  std::vector<std::string> keys;
  for (const auto& [key, n] : outstanding_) keys.push_back(key);
  for (const auto& c : changes_) {
    if (!c.outbox_key.empty()) keys.push_back(c.outbox_key);
  }
  for (const std::string& key : keys) {
    auto doc = outbox_.store->GetDocument(kOutboxKind, key);
    if (!doc.ok()) continue;
    auto j = nlohmann::json::parse(doc->value, nullptr, false);
    if (!j.is_object() || j.value("claimed_by", "") != claimer_) continue;
    (void)store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
      outbox_.store->PutDocument(kOutboxKind, key,
                                 OutboxValue(j.value("key", ""), j.value("payload", ""), "", 0),
                                 doc->revision, "", std::move(done));
    });
  }
  outstanding_.clear();
}

}  // namespace ringo::webhooks
