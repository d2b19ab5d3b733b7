// `ringo webhooks add|list|remove`: channel changes POSTed to URLs.
#include <iostream>
#include <memory>

#include "cli/command.h"

namespace ringo::cli {

void AddWebhooksCommand(CLI::App& app, Context& ctx) {
  using client::Json;
  struct WebhookFlags {
    std::string url, secret, collection, id;
    int64_t after = 0, limit = 100;
  };
  auto f = std::make_shared<WebhookFlags>();
  auto* webhooks = app.add_subcommand("webhooks", "POST channel changes to URLs");
  webhooks->require_subcommand(1);
  auto* add = webhooks->add_subcommand("add", "Add a webhook; prints its id");
  add->add_option("url", f->url, "http:// URL")->required();
  add->add_option("--secret", f->secret,
                  "Sign bodies: X-Ringo-Webhook-Signature: sha256=HMAC-SHA256 hex");
  add->add_option("--collection", f->collection, "Only this collection (default: all)");
  auto* list = webhooks->add_subcommand("list", "List webhooks");
  list->add_option("--collection", f->collection, "Those called for this collection");
  auto* remove = webhooks->add_subcommand("remove", "Remove a webhook");
  remove->add_option("id", f->id, "Webhook id, as `webhooks list` shows it")->required();
  auto* deliveries = webhooks->add_subcommand(
      "deliveries", "Every delivery attempt (ringo's and MLflow's webhooks), oldest first");
  deliveries->add_option("--after", f->after, "Only attempts after this sequence number");
  deliveries->add_option("--limit", f->limit, "At most this many (1-1000, default 100)");
  for (auto* c : {add, list, remove, deliveries}) AddServerFlags(c, &ctx);

  Context* x = &ctx;
  OnRun(add, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      Json body{{"url", f->url}, {"collection", f->collection}};
      if (!f->secret.empty()) body["secret"] = f->secret;
      ASSIGN_OR_RETURN(Json out, c.Post("/api/ringo/v1/webhooks", body));
      std::cout << (x->json ? out.dump(2) : out["webhook"].value("id", "")) << "\n";
      return Status::Ok();
    });
  });
  OnRun(list, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Get("/api/ringo/v1/webhooks", {{"collection", f->collection}}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
        return Status::Ok();
      }
      for (const Json& w : out.value("webhooks", Json::array())) {
        std::string scope = w.value("collection", "");
        std::cout << w.value("id", "") << "  " << w.value("url", "") << "  "
                  << (scope.empty() ? "(all collections)" : scope)
                  << (w.value("has_secret", false) ? "  signed" : "") << "\n";
      }
      return Status::Ok();
    });
  });
  OnRun(deliveries, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Get("/api/ringo/v1/webhook-deliveries",
                                       {{"after", std::to_string(f->after)},
                                        {"limit", std::to_string(f->limit)}}));
      if (x->json) {
        std::cout << out.dump(2) << "\n";
        return Status::Ok();
      }
      for (const Json& d : out.value("deliveries", Json::array())) {
        const Json& a = d.value("attempt", Json::object());
        int status = a.value("status", 0);
        std::cout << d.value("seq", int64_t{0}) << "  " << FormatTime(d.value("time", int64_t{0}))
                  << "  " << a.value("source", "") << "  " << a.value("url", "") << "  try "
                  << a.value("attempt", 0) << "  "
                  << (status ? std::to_string(status) : std::string("no answer"))
                  << (a.value("error", "").empty() ? "" : "  " + a.value("error", "")) << "\n";
      }
      return Status::Ok();
    });
  });
  OnRun(remove, x, [x, f] {
    return WithClient(*x, [&](client::Client& c) -> Status {
      ASSIGN_OR_RETURN(Json out, c.Post("/api/ringo/v1/webhooks/delete", Json{{"id", f->id}}));
      if (x->json) std::cout << out.dump(2) << "\n";
      return Status::Ok();
    });
  });
}

}  // namespace ringo::cli
