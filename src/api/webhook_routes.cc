// MLflow 3's webhooks REST API (create, list, get, update, delete, test) over the registry's
// MLflow webhooks.
#include "api/handlers.h"
#include "api/routes.h"
#include "common/json_writer.h"
#include "common/util.h"
#include "registry/registry.h"

namespace ringo::api {

namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void WriteWebhook(JsonWriter& w, const registry::Webhook& h) {
  w.BeginObject().Field("webhook_id", h.webhook_id).Field("name", h.name);
  if (!h.description.empty()) w.Field("description", h.description);
  w.Field("url", h.url).Key("events").BeginArray();
  for (const registry::WebhookEvent& e : h.events) {
    w.BeginObject().Field("entity", Upper(e.entity)).Field("action", Upper(e.action)).EndObject();
  }
  w.EndArray()
      .Field("status", h.status)
      .Field("creation_timestamp", h.creation_timestamp)
      .Field("last_updated_timestamp", h.last_updated_timestamp)
      .EndObject();
}

Response WebhookResponse(const registry::Webhook& h) {
  return ObjectResponse("webhook", h, WriteWebhook);
}

Result<registry::WebhookEvent> ReadEvent(simdjson::dom::element e) {
  ASSIGN_OR_RETURN(auto entity, Fields::String(e, "entity"));
  ASSIGN_OR_RETURN(auto action, Fields::String(e, "action"));
  return registry::ParseWebhookEvent(entity.value_or(""), action.value_or(""));
}

Result<std::vector<registry::WebhookEvent>> ReadEvents(const Fields& f) {
  ASSIGN_OR_RETURN(auto elems, f.Objects("events"));
  std::vector<registry::WebhookEvent> out;
  for (simdjson::dom::element e : elems) {
    ASSIGN_OR_RETURN(registry::WebhookEvent event, ReadEvent(e));
    out.push_back(std::move(event));
  }
  return out;
}

// "ACTIVE" / "DISABLED", also as the enum numbers 1 / 2.
Result<std::optional<std::string>> ReadStatus(const Fields& f) {
  if (!f.Has("status")) return std::optional<std::string>();
  auto text = f.String("status");
  if (text.ok()) return std::optional<std::string>(Upper(text->value_or("")));
  ASSIGN_OR_RETURN(auto number, f.Int64("status"));
  if (number == 1) return std::optional<std::string>("ACTIVE");
  if (number == 2) return std::optional<std::string>("DISABLED");
  return InvalidArgument("Invalid value for parameter 'status': expected ACTIVE or DISABLED");
}

std::string WebhookId(const Request& req) { return std::string(req.PathParam("webhook_id")); }

Result<Response> CreateWebhook(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  registry::Webhook h;
  ASSIGN_OR_RETURN(h.name, f.RequiredString("name"));
  ASSIGN_OR_RETURN(h.url, f.RequiredString("url"));
  ASSIGN_OR_RETURN(h.events, ReadEvents(f));
  ASSIGN_OR_RETURN(h.description, f.StringOr("description", ""));
  ASSIGN_OR_RETURN(h.secret, f.StringOr("secret", ""));
  ASSIGN_OR_RETURN(auto status, ReadStatus(f));
  h.status = status.value_or("ACTIVE");
  ASSIGN_OR_RETURN(registry::Webhook created, s.hooks->Create(std::move(h)));
  return WebhookResponse(created);
}

Result<Response> ListWebhooks(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  ASSIGN_OR_RETURN(auto max, f.Int64("max_results"));
  ASSIGN_OR_RETURN(auto token, f.String("page_token"));
  std::string next;
  ASSIGN_OR_RETURN(auto page, s.hooks->List(max.value_or(0), token.value_or(""), &next));
  return PageResponse("webhooks", page, next, WriteWebhook);
}

Result<Response> GetWebhook(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(registry::Webhook h, s.hooks->Get(WebhookId(req)));
  return WebhookResponse(h);
}

Result<Response> UpdateWebhook(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  registry::WebhookUpdate u;
  ASSIGN_OR_RETURN(auto name, f.String("name"));
  if (name && !name->empty()) u.name = name;
  ASSIGN_OR_RETURN(u.description, f.String("description"));
  ASSIGN_OR_RETURN(auto url, f.String("url"));
  if (url && !url->empty()) u.url = url;
  ASSIGN_OR_RETURN(u.secret, f.String("secret"));
  ASSIGN_OR_RETURN(u.status, ReadStatus(f));
  ASSIGN_OR_RETURN(auto events, ReadEvents(f));
  if (!events.empty()) u.events = std::move(events);
  ASSIGN_OR_RETURN(registry::Webhook h, s.hooks->Update(WebhookId(req), u));
  return WebhookResponse(h);
}

Result<Response> DeleteWebhook(const Services& s, const Request& req) {
  RETURN_IF_ERROR(s.hooks->Delete(WebhookId(req)));
  return EmptyObject();
}

Result<Response> TestWebhook(const Services& s, const Request& req) {
  ASSIGN_OR_RETURN(Fields f, ReadFields(req));
  std::optional<registry::WebhookEvent> event;
  ASSIGN_OR_RETURN(auto object, f.Object("event"));
  if (object) {
    ASSIGN_OR_RETURN(event, ReadEvent(*object));
  }
  ASSIGN_OR_RETURN(registry::WebhookTestResult r, s.hooks->Test(WebhookId(req), event));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("result").BeginObject().FieldBool("success", r.success);
  if (r.response_status) w.Field("response_status", int64_t{r.response_status});
  if (!r.response_body.empty()) w.Field("response_body", r.response_body);
  if (!r.error_message.empty()) w.Field("error_message", r.error_message);
  w.EndObject().EndObject();
  return JsonResponse(std::move(body));
}

}  // namespace

// Webhook URLs and secrets are delivery management: admin, like ringo's own webhooks.
std::span<const Route> WebhookRoutes() {
  using enum Method;
  using enum Access;
  static constexpr Route kRoutes[] = {
      {kPost, "webhooks", kAdmin, CreateWebhook},
      {kGet, "webhooks", kAdmin, ListWebhooks},
      {kGet, "webhooks/{webhook_id}", kAdmin, GetWebhook},
      {kPatch, "webhooks/{webhook_id}", kAdmin, UpdateWebhook},
      {kDelete, "webhooks/{webhook_id}", kAdmin, DeleteWebhook},
      {kPost, "webhooks/{webhook_id}/test", kAdmin, TestWebhook},
  };
  return kRoutes;
}

}  // namespace ringo::api
