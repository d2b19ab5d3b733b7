// MLflow 3's webhooks: stored as documents, fired on registry events, signed as MLflow signs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/util.h"
#include "registry/registry.h"
#include "webhooks/webhooks.h"

namespace ringo::registry {

namespace {

using nlohmann::json;

constexpr const char* kKind = "mlflow_webhook";

// MLflow's valid (entity, action) pairs.
const std::vector<WebhookEvent> kEvents = {
    {"registered_model", "created"},      {"model_version", "created"},
    {"model_version_tag", "set"},         {"model_version_tag", "deleted"},
    {"model_version_alias", "created"},   {"model_version_alias", "deleted"},
    {"prompt", "created"},                {"prompt_version", "created"},
    {"prompt_tag", "set"},                {"prompt_tag", "deleted"},
    {"prompt_version_tag", "set"},        {"prompt_version_tag", "deleted"},
    {"prompt_alias", "created"},          {"prompt_alias", "deleted"},
    {"budget_policy", "exceeded"},
};

json ToDoc(const Webhook& w) {
  json events = json::array();
  for (const WebhookEvent& e : w.events) events.push_back({{"entity", e.entity}, {"action", e.action}});
  return {{"webhook_id", w.webhook_id}, {"name", w.name},
          {"description", w.description}, {"url", w.url},
          {"events", events},           {"status", w.status},
          {"secret", w.secret},         {"creation_timestamp", w.creation_timestamp},
          {"last_updated_timestamp", w.last_updated_timestamp}};
}

Webhook FromDoc(const json& j) {
  Webhook w;
  w.webhook_id = j.value("webhook_id", "");
  w.name = j.value("name", "");
  w.description = j.value("description", "");
  w.url = j.value("url", "");
  w.status = j.value("status", "ACTIVE");
  w.secret = j.value("secret", "");
  w.creation_timestamp = j.value("creation_timestamp", int64_t{0});
  w.last_updated_timestamp = j.value("last_updated_timestamp", int64_t{0});
  if (j.contains("events") && j["events"].is_array()) {
    for (const json& e : j["events"]) w.events.push_back({e.value("entity", ""), e.value("action", "")});
  }
  return w;
}

Status ValidateName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && std::isalnum(static_cast<unsigned char>(name.front())) &&
            std::isalnum(static_cast<unsigned char>(name.back()));
  for (unsigned char c : name) ok = ok && (std::isalnum(c) || c == '.' || c == '_' || c == '-');
  if (ok) return Status::Ok();
  return InvalidArgument("Webhook name '" + name +
                         "' is invalid. It must start and end with a letter or digit, be less "
                         "than 63 characters long, and contain only letters, digits, dots (.), "
                         "underscores (_), and hyphens (-).");
}

Status ValidateUrl(const std::string& url) {
  if (url.find_first_not_of(" \t\r\n") == std::string::npos) {
    return InvalidArgument("Webhook URL cannot be empty or just whitespace: '" + url + "'");
  }
  return webhooks::CheckDestination(url);
}

Status ValidateWebhook(const Webhook& w) {
  RETURN_IF_ERROR(ValidateName(w.name));
  RETURN_IF_ERROR(ValidateUrl(w.url));
  if (w.events.empty()) {
    return InvalidArgument("Webhook events must be a non-empty list of WebhookEvent objects.");
  }
  if (w.status != "ACTIVE" && w.status != "DISABLED") {
    return InvalidArgument("Invalid webhook status '" + w.status + "': expected ACTIVE or DISABLED");
  }
  return Status::Ok();
}

// "2026-12-05T12:00:00.123456+00:00", as Python's isoformat() of an aware UTC time.
std::string IsoTimestamp() {
  auto now = std::chrono::system_clock::now();
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros % 1000000));
  return buf;
}

// A UUID-shaped delivery id.
std::string DeliveryId() {
  std::string h = NewId();
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

webhooks::Request SignedRequest(const Webhook& w, const WebhookEvent& e, const json& data) {
  json body = {{"entity", e.entity}, {"action", e.action}, {"timestamp", IsoTimestamp()}, {"data", data}};
  webhooks::Request r;
  r.url = w.url;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string id = DeliveryId();
  std::string ts = std::to_string(NowMillis() / 1000);
  r.headers = {{"X-MLflow-Delivery-Id", id}, {"X-MLflow-Timestamp", ts}};
  if (!w.secret.empty()) {
    r.headers.emplace_back("X-MLflow-Signature",
                           "v1," + webhooks::HmacSha256Base64(w.secret, id + "." + ts + "." + r.body));
  }
  return r;
}

// MLflow's example payload of each event, sent by a test.
json ExamplePayload(const WebhookEvent& e) {
  const json tags = {{"example_key", "example_value"}};
  const bool prompt = e.entity.rfind("prompt", 0) == 0;
  const std::string name = prompt ? "example_prompt" : "example_model";
  if (e.entity == "registered_model" || e.entity == "prompt") {
    return {{"name", name}, {"tags", tags}, {"description", "An example " + std::string(prompt ? "prompt" : "registered model")}};
  }
  if (e.entity == "model_version" || e.entity == "prompt_version") {
    json j = {{"name", name}, {"version", "1"}, {"tags", tags}, {"description", "An example version"}};
    if (!prompt) j.update({{"source", "models:/123"}, {"run_id", "abcd1234abcd5678"}});
    return j;
  }
  if (e.entity.ends_with("_tag")) {
    json j = {{"name", name}, {"key", "example_key"}};
    if (e.entity != "prompt_tag") j["version"] = "1";
    if (e.action == "set") j["value"] = "example_value";
    return j;
  }
  if (e.entity.ends_with("_alias")) {
    json j = {{"name", name}, {"alias", "example_alias"}};
    if (e.action == "created") j["version"] = "1";
    return j;
  }
  return {{"name", "example_budget_policy"}};
}

bool Deleted(const store::Document& d) {
  json j = json::parse(d.value, nullptr, false);
  return !j.is_object() || j.value("deleted", false);
}

}  // namespace

Result<WebhookEvent> ParseWebhookEvent(std::string_view entity, std::string_view action) {
  WebhookEvent e{ToLower(entity), ToLower(action)};
  if (std::find(kEvents.begin(), kEvents.end(), e) != kEvents.end()) return e;
  return InvalidArgument("Invalid webhook event (entity '" + std::string(entity) + "', action '" +
                         std::string(action) + "'): valid events are registered_model.created, "
                         "model_version.created, model_version_tag.set|deleted, "
                         "model_version_alias.created|deleted and the prompt events");
}

struct MlflowWebhooks::Impl {
  store::Store* store;
  webhooks::Sender sender;

  explicit Impl(store::Store* s)
      : store(s),
        sender([this](const std::string& key,
                      const std::string& data) { return Requests(key, data); },
               webhooks::StoreDeliveryLog(s, "mlflow"), webhooks::Outbox{s, "mlflow"}) {}

  // On the sender thread: the signed requests of one event for its subscribers.
  std::vector<webhooks::Request> Requests(const std::string& key, const std::string& data) {
    std::vector<webhooks::Request> out;
    size_t dot = key.find('.');
    WebhookEvent event{key.substr(0, dot), key.substr(dot + 1)};
    auto docs = store->ListDocuments(kKind, "");
    if (!docs.ok()) return out;
    json payload = json::parse(data, nullptr, false);
    for (const store::Document& d : *docs) {
      if (Deleted(d)) continue;
      Webhook w = FromDoc(json::parse(d.value, nullptr, false));
      bool subscribed = std::find(w.events.begin(), w.events.end(), event) != w.events.end();
      if (w.status == "ACTIVE" && subscribed) out.push_back(SignedRequest(w, event, payload));
    }
    return out;
  }

  Status Put(const Webhook& w, int64_t expected) {
    return store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
             store->PutDocument(kKind, w.webhook_id, ToDoc(w).dump(), expected, "", std::move(done));
           })
        .status();
  }
};

MlflowWebhooks::MlflowWebhooks(store::Store* store) : impl_(std::make_unique<Impl>(store)) {}
MlflowWebhooks::~MlflowWebhooks() { Stop(); }

void MlflowWebhooks::Stop() { impl_->sender.Stop(); }

Result<Webhook> MlflowWebhooks::Create(Webhook w) {
  RETURN_IF_ERROR(ValidateWebhook(w));
  w.webhook_id = NewId();
  w.creation_timestamp = w.last_updated_timestamp = NowMillis();
  RETURN_IF_ERROR(impl_->Put(w, 0));
  return w;
}

Result<std::vector<Webhook>> MlflowWebhooks::List(int64_t max_results,
                                                  const std::string& page_token,
                                                  std::string* next_page_token) {
  if (max_results == 0) max_results = 100;
  if (max_results < 1 || max_results > 1000) {
    return InvalidArgument("max_results must be between 1 and 1000.");
  }
  ASSIGN_OR_RETURN(int64_t offset, store::DecodeOffsetToken(page_token));
  ASSIGN_OR_RETURN(std::vector<store::Document> docs, impl_->store->ListDocuments(kKind, ""));
  std::vector<Webhook> all;
  for (const store::Document& d : docs) {
    if (!Deleted(d)) all.push_back(FromDoc(json::parse(d.value, nullptr, false)));
  }
  std::stable_sort(all.begin(), all.end(), [](const Webhook& a, const Webhook& b) {
    return a.creation_timestamp > b.creation_timestamp;
  });
  std::vector<Webhook> page;
  for (int64_t i = offset; i < int64_t(all.size()) && i < offset + max_results; ++i) {
    page.push_back(all[size_t(i)]);
  }
  next_page_token->clear();
  if (offset + max_results < int64_t(all.size())) {
    *next_page_token = store::EncodeOffsetToken(offset + max_results);
  }
  return page;
}

Result<Webhook> MlflowWebhooks::Get(const std::string& webhook_id) {
  auto doc = impl_->store->GetDocument(kKind, webhook_id);
  if (!doc.ok() && doc.status().code() != Code::kNotFound) return doc.status();
  if (!doc.ok() || Deleted(*doc)) return NotFound("Webhook with ID " + webhook_id + " not found.");
  return FromDoc(json::parse(doc->value, nullptr, false));
}

Result<Webhook> MlflowWebhooks::Update(const std::string& webhook_id, const WebhookUpdate& u) {
  auto doc = impl_->store->GetDocument(kKind, webhook_id);
  if (!doc.ok() || Deleted(*doc)) return Get(webhook_id).status();
  Webhook w = FromDoc(json::parse(doc->value, nullptr, false));
  if (u.name) w.name = *u.name;
  if (u.description) w.description = *u.description;
  if (u.url) w.url = *u.url;
  if (u.secret) w.secret = *u.secret;
  if (u.status) w.status = *u.status;
  if (u.events) w.events = *u.events;
  RETURN_IF_ERROR(ValidateWebhook(w));
  w.last_updated_timestamp = NowMillis();
  RETURN_IF_ERROR(impl_->Put(w, doc->revision));
  return w;
}

Status MlflowWebhooks::Delete(const std::string& webhook_id) {
  // The store keeps documents; a deleted webhook stays as a tombstone without URL or secret.
  auto doc = impl_->store->GetDocument(kKind, webhook_id);
  if (!doc.ok() || Deleted(*doc)) return Get(webhook_id).status();
  Webhook gone;
  gone.webhook_id = webhook_id;
  json j = ToDoc(gone);
  j["deleted"] = true;
  return store::WaitFor<int64_t>([&](store::DoneWith<int64_t> done) {
           impl_->store->PutDocument(kKind, webhook_id, j.dump(), doc->revision, "",
                                     std::move(done));
         })
      .status();
}

Result<WebhookTestResult> MlflowWebhooks::Test(const std::string& webhook_id,
                                               const std::optional<WebhookEvent>& event) {
  ASSIGN_OR_RETURN(Webhook w, Get(webhook_id));
  WebhookEvent e = event ? *event : w.events.front();
  WebhookTestResult result;
  auto answer = webhooks::PostOnce(SignedRequest(w, e, ExamplePayload(e)));
  if (!answer.ok()) {
    result.error_message = "Failed to test webhook: " + answer.status().message();
    return result;
  }
  result.response_status = answer->status;
  result.response_body = answer->body;
  result.success = answer->status < 400;
  return result;
}

void MlflowWebhooks::Fire(const WebhookEvent& event, std::string data) {
  impl_->sender.Enqueue(event.entity + "." + event.action, std::move(data));
}

}  // namespace ringo::registry
